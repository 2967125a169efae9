/* plot.c - line chart with bands (see plot.h): a small rasterizer on an RGB canvas, encoded by
 * libpng. Lines and dots are anti-aliased by coverage (distance of the pixel centre to the
 * segment); bands are filled column by column with alpha 0.22. */
#include "plot.h"
#include "png_grid.h"

#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the 5x7 font: one glyph per character, '#' = ink ------------------------------------- */

enum { GLYPH_W = 5, GLYPH_H = 7, GLYPH_ADVANCE = 6 };

typedef struct glyph {
    char c;
    const char *rows[GLYPH_H];
} glyph;

static const glyph font[] = {
    {' ', {".....", ".....", ".....", ".....", ".....", ".....", "....."}},
    {'0', {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."}},
    {'1', {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."}},
    {'2', {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"}},
    {'3', {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."}},
    {'4', {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."}},
    {'5', {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."}},
    {'6', {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."}},
    {'7', {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."}},
    {'8', {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."}},
    {'9', {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."}},
    {'.', {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."}},
    {',', {".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."}},
    {'-', {".....", ".....", ".....", ".###.", ".....", ".....", "....."}},
    {'+', {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."}},
    {'=', {".....", ".....", "#####", ".....", "#####", ".....", "....."}},
    {'%', {"##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"}},
    {'(', {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."}},
    {')', {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."}},
    {'[', {".###.", ".#...", ".#...", ".#...", ".#...", ".#...", ".###."}},
    {']', {".###.", "...#.", "...#.", "...#.", "...#.", "...#.", ".###."}},
    {':', {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."}},
    {';', {".....", ".##..", ".##..", ".....", ".##..", "..#..", ".#..."}},
    {'_', {".....", ".....", ".....", ".....", ".....", ".....", "#####"}},
    {'<', {"...#.", "..#..", ".#...", "#....", ".#...", "..#..", "...#."}},
    {'>', {".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#..."}},
    {'*', {".....", "..#..", "#.#.#", ".###.", "#.#.#", "..#..", "....."}},
    {'/', {".....", "....#", "...#.", "..#..", ".#...", "#....", "....."}},
    {'\'', {"..#..", "..#..", ".#...", ".....", ".....", ".....", "....."}},
    {'A', {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"}},
    {'B', {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."}},
    {'C', {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."}},
    {'D', {"###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###.."}},
    {'E', {"#####", "#....", "#....", "####.", "#....", "#....", "#####"}},
    {'F', {"#####", "#....", "#....", "####.", "#....", "#....", "#...."}},
    {'G', {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"}},
    {'H', {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"}},
    {'I', {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."}},
    {'J', {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."}},
    {'K', {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"}},
    {'L', {"#....", "#....", "#....", "#....", "#....", "#....", "#####"}},
    {'M', {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"}},
    {'N', {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"}},
    {'O', {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."}},
    {'P', {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."}},
    {'Q', {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"}},
    {'R', {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"}},
    {'S', {".####", "#....", "#....", ".###.", "....#", "....#", "####."}},
    {'T', {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."}},
    {'U', {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."}},
    {'V', {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."}},
    {'W', {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."}},
    {'X', {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"}},
    {'Y', {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."}},
    {'Z', {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"}},
    {'a', {".....", ".....", ".###.", "....#", ".####", "#...#", ".####"}},
    {'b', {"#....", "#....", "#.##.", "##..#", "#...#", "#...#", "####."}},
    {'c', {".....", ".....", ".###.", "#....", "#....", "#...#", ".###."}},
    {'d', {"....#", "....#", ".##.#", "#..##", "#...#", "#...#", ".####"}},
    {'e', {".....", ".....", ".###.", "#...#", "#####", "#....", ".###."}},
    {'f', {"..##.", ".#..#", ".#...", "###..", ".#...", ".#...", ".#..."}},
    {'g', {".....", ".####", "#...#", "#...#", ".####", "....#", ".###."}},
    {'h', {"#....", "#....", "#.##.", "##..#", "#...#", "#...#", "#...#"}},
    {'i', {"..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###."}},
    {'j', {"...#.", ".....", "..##.", "...#.", "...#.", "#..#.", ".##.."}},
    {'k', {"#....", "#....", "#..#.", "#.#..", "##...", "#.#..", "#..#."}},
    {'l', {".##..", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."}},
    {'m', {".....", ".....", "##.#.", "#.#.#", "#.#.#", "#...#", "#...#"}},
    {'n', {".....", ".....", "#.##.", "##..#", "#...#", "#...#", "#...#"}},
    {'o', {".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###."}},
    {'p', {".....", ".....", "####.", "#...#", "####.", "#....", "#...."}},
    {'q', {".....", ".....", ".##.#", "#..##", ".####", "....#", "....#"}},
    {'r', {".....", ".....", "#.##.", "##..#", "#....", "#....", "#...."}},
    {'s', {".....", ".....", ".###.", "#....", ".###.", "....#", "####."}},
    {'t', {".#...", ".#...", "###..", ".#...", ".#...", ".#..#", "..##."}},
    {'u', {".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#"}},
    {'v', {".....", ".....", "#...#", "#...#", "#...#", ".#.#.", "..#.."}},
    {'w', {".....", ".....", "#...#", "#...#", "#.#.#", "#.#.#", ".#.#."}},
    {'x', {".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#"}},
    {'y', {".....", ".....", "#...#", "#...#", ".####", "....#", ".###."}},
    {'z', {".....", ".....", "#####", "...#.", "..#..", ".#...", "#####"}},
};

/* A character the font lacks is drawn as a hollow box. */
static const glyph missing = {'?', {"#####", "#...#", "#...#", "#...#", "#...#", "#...#", "#####"}};

static const glyph *find_glyph(char c) {
    for (size_t i = 0; i < sizeof font / sizeof font[0]; i++)
        if (font[i].c == c)
            return &font[i];
    return &missing;
}

/* --- the canvas --------------------------------------------------------------------------- */

typedef struct canvas {
    int w, h;
    unsigned char *px; /* RGB, row-major */
} canvas;

typedef struct rgb {
    unsigned char r, g, b;
} rgb;

static const rgb black = {0, 0, 0}, grid_grey = {225, 225, 225}, text_grey = {90, 90, 90};

/* Paints colour c over pixel (x, y) with opacity a in [0, 1]. */
static void blend(canvas *cv, int x, int y, rgb c, double a) {
    if (x < 0 || y < 0 || x >= cv->w || y >= cv->h || !(a > 0))
        return;
    if (a > 1)
        a = 1;
    unsigned char *p = cv->px + 3 * ((size_t)y * (size_t)cv->w + (size_t)x);
    p[0] = (unsigned char)lrint(p[0] + a * (c.r - p[0]));
    p[1] = (unsigned char)lrint(p[1] + a * (c.g - p[1]));
    p[2] = (unsigned char)lrint(p[2] + a * (c.b - p[2]));
}

static void fill_rect(canvas *cv, int x0, int y0, int x1, int y1, rgb c, double a) {
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            blend(cv, x, y, c, a);
}

/* An anti-aliased segment of the given width: each pixel is covered by how far its centre is
   inside the stroke (distance to the segment vs. half the width, with a one-pixel ramp). */
static void draw_segment(canvas *cv, double x0, double y0, double x1, double y1, double width,
                         rgb c) {
    const double hw = 0.5 * width, dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    int xa = (int)floor(fmin(x0, x1) - hw - 1), xb = (int)ceil(fmax(x0, x1) + hw + 1);
    int ya = (int)floor(fmin(y0, y1) - hw - 1), yb = (int)ceil(fmax(y0, y1) + hw + 1);
    for (int y = ya; y <= yb; y++)
        for (int x = xa; x <= xb; x++) {
            double px = x + 0.5 - x0, py = y + 0.5 - y0;
            double t = len2 > 0 ? (px * dx + py * dy) / len2 : 0;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            double ex = px - t * dx, ey = py - t * dy, d = sqrt(ex * ex + ey * ey);
            blend(cv, x, y, c, hw + 0.5 - d);
        }
}

static void draw_text(canvas *cv, int x, int y, const char *s, int scale, rgb c) {
    for (; *s; s++, x += GLYPH_ADVANCE * scale) {
        const glyph *g = find_glyph(*s);
        for (int r = 0; r < GLYPH_H; r++)
            for (int k = 0; k < GLYPH_W; k++)
                if (g->rows[r][k] == '#')
                    fill_rect(cv, x + k * scale, y + r * scale, x + (k + 1) * scale - 1,
                              y + (r + 1) * scale - 1, c, 1.0);
    }
}

static int text_width(const char *s, int scale) {
    int n = (int)strlen(s);
    return n > 0 ? (n * GLYPH_ADVANCE - 1) * scale : 0;
}

/* --- axes ----------------------------------------------------------------------------------- */

double plot_nice_step(double lo, double hi, int max_ticks) {
    double span = hi - lo;
    if (!(span > 0) || max_ticks < 1)
        return 1.0;
    double raw = span / max_ticks, p = pow(10.0, floor(log10(raw)));
    static const double mult[] = {1, 2, 5, 10};
    for (int i = 0; i < 4; i++)
        if (mult[i] * p >= raw * (1 - 1e-12))
            return mult[i] * p;
    return 10 * p;
}

static void format_tick(char *buf, size_t n, double v, double step) {
    if (fabs(v) < 1e-9 * step)
        v = 0; /* no "-0" */
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, n, "%.*f", decimals, v);
}

/* --- PNG ------------------------------------------------------------------------------------ */

static int write_png(const char *path, const canvas *cv, char *err, size_t errlen) {
    png_bytep *rows = malloc((size_t)cv->h * sizeof *rows);
    if (rows == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    int status = png_write_file(path, cv->px, rows, (size_t)cv->w, (size_t)cv->h, 3, err, errlen);
    free(rows);
    return status;
}

/* --- the chart ------------------------------------------------------------------------------ */

static void widen(double v, double *lo, double *hi) {
    if (isfinite(v)) {
        *lo = fmin(*lo, v);
        *hi = fmax(*hi, v);
    }
}

int plot_write_png(const char *path, const plot_spec *spec, const plot_series *series, int n_series,
                   char *err, size_t errlen) {
    if (path == NULL || spec == NULL || series == NULL || n_series < 1 || n_series > 64) {
        snprintf(err, errlen, "plot_write_png: invalid arguments");
        return -1;
    }
    canvas cv = {spec->width > 0 ? spec->width : 900, spec->height > 0 ? spec->height : 560, NULL};
    if (cv.w < 200 || cv.h < 150 || cv.w > 8192 || cv.h > 8192) {
        snprintf(err, errlen, "plot_write_png: %d x %d is not a sensible size", cv.w, cv.h);
        return -1;
    }
    /* Data ranges: x from 0 to the last point, y over every line and band value. */
    double xmin = 0, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (int s = 0; s < n_series; s++) {
        const plot_series *p = &series[s];
        if (p->n < 1 || p->x == NULL || p->y == NULL) {
            snprintf(err, errlen, "plot_write_png: series %d has no points", s);
            return -1;
        }
        for (int i = 0; i < p->n; i++) {
            widen(p->x[i], &xmin, &xmax);
            widen(p->y[i], &ymin, &ymax);
            if (p->lo && p->hi) {
                widen(p->lo[i], &ymin, &ymax);
                widen(p->hi[i], &ymin, &ymax);
            }
        }
    }
    if (!isfinite(xmax) || !isfinite(ymin) || !(xmax > xmin)) {
        snprintf(err, errlen, "plot_write_png: nothing finite to plot");
        return -1;
    }
    if (spec->zero_line) {
        ymin = fmin(ymin, 0);
        ymax = fmax(ymax, 0);
    }
    if (!(ymax > ymin)) { /* a flat line: give it some room */
        ymin -= 1;
        ymax += 1;
    }
    double ystep = plot_nice_step(ymin, ymax, 8), xstep = plot_nice_step(xmin, xmax, 10);
    ymin = floor(ymin / ystep) * ystep;
    ymax = ceil(ymax / ystep) * ystep;
    xmax = ceil(xmax / xstep) * xstep;

    cv.px = malloc(3 * (size_t)cv.w * (size_t)cv.h);
    if (cv.px == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    memset(cv.px, 255, 3 * (size_t)cv.w * (size_t)cv.h);

    /* The plot area, with room for tick labels on the left and below, titles above. */
    const int left = 70, right = cv.w - 24, top = 62, bottom = cv.h - 52;
#define PX(v) (left + ((v)-xmin) / (xmax - xmin) * (right - left))
#define PY(v) (bottom - ((v)-ymin) / (ymax - ymin) * (bottom - top))
    char label[64];
    for (double v = ymin; v <= ymax + 0.5 * ystep; v += ystep) {
        int y = (int)lrint(PY(v));
        fill_rect(&cv, left, y, right, y, grid_grey, 1.0);
        fill_rect(&cv, left - 5, y, left - 1, y, black, 1.0);
        format_tick(label, sizeof label, v, ystep);
        draw_text(&cv, left - 9 - text_width(label, 1), y - 3, label, 1, black);
    }
    for (double v = xmin; v <= xmax + 0.5 * xstep; v += xstep) {
        int x = (int)lrint(PX(v));
        fill_rect(&cv, x, top, x, bottom, grid_grey, 1.0);
        fill_rect(&cv, x, bottom + 1, x, bottom + 5, black, 1.0);
        format_tick(label, sizeof label, v, xstep);
        draw_text(&cv, x - text_width(label, 1) / 2, bottom + 10, label, 1, black);
    }
    if (spec->zero_line)
        for (int x = left; x <= right; x += 8)
            fill_rect(&cv, x, (int)lrint(PY(0.0)), x + 3 < right ? x + 3 : right,
                      (int)lrint(PY(0.0)), black, 1.0);
    fill_rect(&cv, left, top, left, bottom, black, 1.0);     /* y axis */
    fill_rect(&cv, left, bottom, right, bottom, black, 1.0); /* x axis */

    /* Bands first (under every line), column by column between consecutive points. */
    for (int s = 0; s < n_series; s++) {
        const plot_series *p = &series[s];
        rgb c = {p->rgb[0], p->rgb[1], p->rgb[2]};
        if (p->lo == NULL || p->hi == NULL)
            continue;
        for (int i = 0; i + 1 < p->n; i++) {
            if (!isfinite(p->lo[i]) || !isfinite(p->hi[i]) || !isfinite(p->lo[i + 1]) ||
                !isfinite(p->hi[i + 1]))
                continue;
            int xa = (int)lrint(PX(p->x[i])), xb = (int)lrint(PX(p->x[i + 1]));
            for (int x = xa; x < xb || (x == xb && i + 2 == p->n); x++) {
                double f = xb > xa ? (double)(x - xa) / (xb - xa) : 0;
                double lo = p->lo[i] + f * (p->lo[i + 1] - p->lo[i]);
                double hi = p->hi[i] + f * (p->hi[i + 1] - p->hi[i]);
                fill_rect(&cv, x, (int)lrint(PY(hi)), x, (int)lrint(PY(lo)), c, 0.22);
            }
        }
    }
    for (int s = 0; s < n_series; s++) {
        const plot_series *p = &series[s];
        rgb c = {p->rgb[0], p->rgb[1], p->rgb[2]};
        for (int i = 0; i < p->n; i++) {
            if (!isfinite(p->y[i]))
                continue;
            if (i + 1 < p->n && isfinite(p->y[i + 1]))
                draw_segment(&cv, PX(p->x[i]), PY(p->y[i]), PX(p->x[i + 1]), PY(p->y[i + 1]), 2.5,
                             c);
            draw_segment(&cv, PX(p->x[i]), PY(p->y[i]), PX(p->x[i]), PY(p->y[i]), 7.0, c);
        }
    }
#undef PX
#undef PY

    /* Titles, axis labels and the legend (top right, inside the plot area). */
    if (spec->title)
        draw_text(&cv, left, 12, spec->title, 2, black);
    if (spec->subtitle)
        draw_text(&cv, left, 34, spec->subtitle, 1, text_grey);
    if (spec->ylabel)
        draw_text(&cv, left - 60, top - 16, spec->ylabel, 1, black);
    if (spec->xlabel)
        draw_text(&cv, (left + right - text_width(spec->xlabel, 1)) / 2, cv.h - 20, spec->xlabel, 1,
                  black);
    int legend_w = 0;
    for (int s = 0; s < n_series; s++) {
        int w = series[s].label ? text_width(series[s].label, 1) : 0;
        legend_w = w > legend_w ? w : legend_w;
    }
    int lx = right - legend_w - 52, ly = top + 10;
    fill_rect(&cv, lx - 8, ly - 8, right - 8, ly + 18 * n_series - 4, (rgb){255, 255, 255}, 0.9);
    for (int s = 0; s < n_series; s++, ly += 18) {
        rgb c = {series[s].rgb[0], series[s].rgb[1], series[s].rgb[2]};
        fill_rect(&cv, lx, ly - 2, lx + 28, ly + 8, c, 0.22);
        draw_segment(&cv, lx, ly + 3.5, lx + 28, ly + 3.5, 2.5, c);
        if (series[s].label)
            draw_text(&cv, lx + 36, ly, series[s].label, 1, black);
    }

    int status = write_png(path, &cv, err, errlen);
    free(cv.px);
    return status;
}
