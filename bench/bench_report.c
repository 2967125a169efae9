/* bench_report.c - imm-bench's tables, CSV, Markdown and gnuplot script (see bench_report.h). */
#include "bench_report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void br_cell_init(br_cell *c) {
    memset(c, 0, sizeof *c);
    br_stat none = {NAN, NAN, NAN};
    c->dist = c->solve = c->permute = c->total = none;
    c->mean_before = c->mean_after = c->mean_opt = c->mean_perm_opt = NAN;
    c->quality = NAN;
    c->vs_exact = NAN;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

br_stat br_stat_of(double *ms, int n) {
    qsort(ms, (size_t)n, sizeof *ms, cmp_double);
    br_stat s;
    s.median = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
    s.min = ms[0];
    s.max = ms[n - 1];
    return s;
}

/* ---- number formatting: one place, so every output agrees -------------------------------- */

/* ms with 3 significant-ish digits; "-" for NaN. */
static const char *fmt_ms(double v, char *buf, size_t len) {
    if (isnan(v))
        snprintf(buf, len, "-");
    else if (v < 10.0)
        snprintf(buf, len, "%.2f", v);
    else if (v < 1000.0)
        snprintf(buf, len, "%.1f", v);
    else
        snprintf(buf, len, "%.0f", v);
    return buf;
}

static const char *fmt_range(br_stat s, char *buf, size_t len) {
    char a[32], b[32];
    if (isnan(s.min))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%s-%s", fmt_ms(s.min, a, sizeof a), fmt_ms(s.max, b, sizeof b));
    return buf;
}

/* A same-run speed ratio: "1.23x"; "-" for NaN. */
static const char *fmt_ratio(double v, char *buf, size_t len) {
    if (isnan(v))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.2fx", v);
    return buf;
}

static const char *fmt_mean(double v, char *buf, size_t len) {
    if (isnan(v))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.4f", v);
    return buf;
}

static const char *fmt_quality(double q, char *buf, size_t len) {
    if (isnan(q))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.4f%%", 100.0 * q);
    return buf;
}

static const char *fmt_threads(const br_cell *c, char *buf, size_t len) {
    if (c->threads_all)
        snprintf(buf, len, "all(%d)", c->threads);
    else
        snprintf(buf, len, "%d", c->threads);
    return buf;
}

static const char *fmt_dim(size_t dim, char *buf, size_t len) {
    if (dim == 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%zu", dim);
    return buf;
}

static const char *status_text(const br_cell *c) {
    switch (c->status) {
    case BR_OK: return "ok";
    case BR_UNSUPPORTED: return "unsupported";
    default: return "failed";
    }
}

/* ---- terminal ---------------------------------------------------------------------------- */

void br_print_grid_header(FILE *f) {
    fprintf(f, "%-8s %5s %6s %-13s %-5s %-7s %9s %9s %8s %9s %-17s %9s %9s %9s %9s %9s\n",
            "workload", "B", "D", "method", "prec", "threads", "dist", "solve", "permute", "total",
            "total min-max", "mean id", "mean got", "mean opt", "perm opt", "quality");
}

void br_print_grid_row(FILE *f, const br_cell *c) {
    char m[32], d[24], t[24], a[32], b[32], e[32], g[32], r[80], q[24], m1[24], m2[24], m3[24],
        m4[24];
    bg_method_name(c->method, m, sizeof m);
    fprintf(f, "%-8s %5zu %6s %-13s %-5s %-7s ", bg_workload_name(c->workload), c->batch,
            fmt_dim(c->dim, d, sizeof d), m,
            c->workload == BG_WORKLOAD_UNIFORM ? "-" : bg_precision_name(c->precision),
            fmt_threads(c, t, sizeof t));
    if (c->status != BR_OK) {
        fprintf(f, "%s%s%s\n", status_text(c), c->note[0] ? ": " : "", c->note);
        return;
    }
    fprintf(f, "%9s %9s %8s %9s %-17s %9s %9s %9s %9s %9s\n", fmt_ms(c->dist.median, a, sizeof a),
            fmt_ms(c->solve.median, b, sizeof b), fmt_ms(c->permute.median, e, sizeof e),
            fmt_ms(c->total.median, g, sizeof g), fmt_range(c->total, r, sizeof r),
            fmt_mean(c->mean_before, m1, sizeof m1), fmt_mean(c->mean_after, m2, sizeof m2),
            fmt_mean(c->mean_opt, m3, sizeof m3), fmt_mean(c->mean_perm_opt, m4, sizeof m4),
            fmt_quality(c->quality, q, sizeof q));
}

void br_print_lap_header(FILE *f) {
    fprintf(f, "%5s %-13s %-7s %10s %-17s %10s %9s\n", "B", "solver", "threads", "solve ms",
            "min-max", "quality", "vs exact");
}

void br_print_lap_row(FILE *f, const br_cell *c) {
    char m[32], t[24], a[32], r[80], q[24], x[32];
    bg_method_name(c->method, m, sizeof m);
    fprintf(f, "%5zu %-13s %-7s ", c->batch, m, fmt_threads(c, t, sizeof t));
    if (c->status != BR_OK) {
        fprintf(f, "%s%s%s\n", status_text(c), c->note[0] ? ": " : "", c->note);
        return;
    }
    fprintf(f, "%10s %-17s %10s %9s\n", fmt_ms(c->solve.median, a, sizeof a),
            fmt_range(c->solve, r, sizeof r), fmt_quality(c->quality, q, sizeof q),
            fmt_ratio(c->vs_exact, x, sizeof x));
}

/* ---- headline ---------------------------------------------------------------------------- */

static int same_method(bg_method a, bg_method b) { return a.kind == b.kind && a.param == b.param; }

static const br_cell *find_cell(const br_cell *cells, size_t n, bg_workload w, size_t dim,
                                size_t batch, bg_method m, bg_precision p, int threads) {
    for (size_t i = 0; i < n; i++) {
        const br_cell *c = &cells[i];
        if (c->section == BR_SECTION_GRID && c->workload == w && c->dim == dim &&
            c->batch == batch && same_method(c->method, m) && c->precision == p &&
            c->threads == threads)
            return c;
    }
    return NULL;
}

static int matches(const br_cell *c, bg_workload w, size_t dim) {
    return c->section == BR_SECTION_GRID && c->workload == w && c->dim == dim;
}

static int max_threads(const br_cell *cells, size_t n, bg_workload w, size_t dim) {
    int t = 0;
    for (size_t i = 0; i < n; i++)
        if (matches(&cells[i], w, dim) && cells[i].threads > t)
            t = cells[i].threads;
    return t;
}

/* Distinct batch sizes of the matching cells, ascending. */
static int batches_of(const br_cell *cells, size_t n, bg_workload w, size_t dim, size_t *out,
                      int cap) {
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!matches(&cells[i], w, dim))
            continue;
        int seen = 0;
        for (int j = 0; j < k; j++)
            seen |= out[j] == cells[i].batch;
        if (!seen && k < cap)
            out[k++] = cells[i].batch;
    }
    for (int i = 1; i < k; i++) /* insertion sort: a handful of values */
        for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
            size_t t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return k;
}

/* Quality, or for pool/knn (no permutation optimum to compare with) the achieved mean distance
 * next to the plain permutation's optimum. */
static const char *fmt_keep(const br_cell *c, char *buf, size_t len) {
    if (!c || c->status != BR_OK)
        snprintf(buf, len, "-");
    else if (!isnan(c->quality))
        fmt_quality(c->quality, buf, len);
    else if (!isnan(c->mean_after) && !isnan(c->mean_perm_opt))
        snprintf(buf, len, "mean %.3f (perm %.3f)", c->mean_after, c->mean_perm_opt);
    else
        snprintf(buf, len, "-");
    return buf;
}

static const char *fmt_total(const br_cell *c, char *buf, size_t len) {
    if (!c)
        snprintf(buf, len, "-");
    else if (c->status == BR_UNSUPPORTED)
        snprintf(buf, len, "unsupported");
    else if (c->status != BR_OK)
        snprintf(buf, len, "failed");
    else
        fmt_ms(c->total.median, buf, len);
    return buf;
}

/* Distinct thread counts of the matching cells, ascending. */
static int threads_of(const br_cell *cells, size_t n, bg_workload w, size_t dim, int *out,
                      int cap) {
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!matches(&cells[i], w, dim))
            continue;
        int seen = 0;
        for (int j = 0; j < k; j++)
            seen |= out[j] == cells[i].threads;
        if (!seen && k < cap)
            out[k++] = cells[i].threads;
    }
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
            int t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return k;
}

void br_write_headline(FILE *f, const br_cell *cells, size_t n, bg_workload w, size_t dim,
                       int markdown) {
    size_t batches[BG_MAX_LIST];
    int threads[BG_MAX_LIST];
    int nb = batches_of(cells, n, w, dim, batches, BG_MAX_LIST);
    int nt = threads_of(cells, n, w, dim, threads, BG_MAX_LIST);
    if (nb == 0)
        return;
    const char *sep = markdown ? " | " : "  ";
    fprintf(f,
            "Per-batch overhead, %s workload, D = %zu: median ms of the real call (distance + "
            "solve + permute) with t threads, and the share of the optimal distance reduction "
            "kept\n\n",
            bg_workload_name(w), dim);
    fprintf(f, "%s%-13s%s%-9s", markdown ? "| " : "", "method", sep, "precision");
    for (int b = 0; b < nb; b++) {
        for (int t = 0; t < nt; t++) {
            char h[48];
            snprintf(h, sizeof h, "B=%zu t=%d", batches[b], threads[t]);
            fprintf(f, "%s%11s", sep, h);
        }
        fprintf(f, "%s%-24s", sep, "quality");
    }
    fprintf(f, "%s\n", markdown ? " |" : "");
    if (markdown) {
        fprintf(f, "|---|---|");
        for (int b = 0; b < nb; b++) {
            for (int t = 0; t < nt; t++)
                fprintf(f, "---:|");
            fprintf(f, "---|");
        }
        fprintf(f, "\n");
    }
    /* Rows in the order the grid ran them: each (method, precision) once. */
    for (size_t i = 0; i < n; i++) {
        const br_cell *c = &cells[i];
        int first = matches(c, w, dim);
        for (size_t j = 0; j < i && first; j++)
            first = !(matches(&cells[j], w, dim) && same_method(cells[j].method, c->method) &&
                      cells[j].precision == c->precision);
        if (!first)
            continue;
        char m[32];
        bg_method_name(c->method, m, sizeof m);
        fprintf(f, "%s%-13s%s%-9s", markdown ? "| " : "", m, sep,
                w == BG_WORKLOAD_UNIFORM ? "-" : bg_precision_name(c->precision));
        for (int b = 0; b < nb; b++) {
            const br_cell *scored = NULL; /* results do not depend on the thread count */
            for (int t = 0; t < nt; t++) {
                const br_cell *cb =
                    find_cell(cells, n, w, dim, batches[b], c->method, c->precision, threads[t]);
                char ms[32];
                fprintf(f, "%s%11s", sep, fmt_total(cb, ms, sizeof ms));
                if (cb && (!scored || scored->status != BR_OK))
                    scored = cb;
            }
            char q[64];
            fprintf(f, "%s%-24s", sep, fmt_keep(scored, q, sizeof q));
        }
        fprintf(f, "%s\n", markdown ? " |" : "");
    }
}

/* ---- CSV --------------------------------------------------------------------------------- */

static void csv_num(FILE *f, double v) {
    if (isnan(v))
        fputs(",", f);
    else
        fprintf(f, ",%.6g", v);
}

static void csv_stat(FILE *f, br_stat s) {
    csv_num(f, s.median);
    csv_num(f, s.min);
    csv_num(f, s.max);
}

/* Notes are free text: quote them, doubling quotes (RFC 4180). */
static void csv_text(FILE *f, const char *s) {
    fputs(",\"", f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void br_write_csv(FILE *f, const br_cell *cells, size_t n) {
    fputs("section,workload,batch,dim,method,precision,threads,reps,status,"
          "dist_ms_median,dist_ms_min,dist_ms_max,solve_ms_median,solve_ms_min,solve_ms_max,"
          "permute_ms_median,permute_ms_min,permute_ms_max,total_ms_median,total_ms_min,"
          "total_ms_max,mean_before,mean_after,mean_opt,mean_perm_opt,quality,vs_exact,note\n",
          f);
    for (size_t i = 0; i < n; i++) {
        const br_cell *c = &cells[i];
        char m[32];
        bg_method_name(c->method, m, sizeof m);
        fprintf(f, "%s,%s,%zu,", c->section == BR_SECTION_LAP ? "lap" : "grid",
                bg_workload_name(c->workload), c->batch);
        if (c->dim)
            fprintf(f, "%zu", c->dim);
        fprintf(f, ",%s,%s,%d,%d,%s", m,
                c->workload == BG_WORKLOAD_UNIFORM ? "" : bg_precision_name(c->precision),
                c->threads, c->reps, status_text(c));
        csv_stat(f, c->dist);
        csv_stat(f, c->solve);
        csv_stat(f, c->permute);
        csv_stat(f, c->total);
        csv_num(f, c->mean_before);
        csv_num(f, c->mean_after);
        csv_num(f, c->mean_opt);
        csv_num(f, c->mean_perm_opt);
        csv_num(f, c->quality);
        csv_num(f, c->vs_exact);
        csv_text(f, c->note);
        fputc('\n', f);
    }
}

/* ---- Markdown ---------------------------------------------------------------------------- */

static void md_grid_row(FILE *f, const br_cell *c) {
    char m[32], d[24], t[24], a[32], b[32], e[32], g[32], r[80], q[24], m1[24], m2[24], m3[24],
        m4[24];
    bg_method_name(c->method, m, sizeof m);
    fprintf(f, "| %s | %zu | %s | %s | %s | %s | ", bg_workload_name(c->workload), c->batch,
            fmt_dim(c->dim, d, sizeof d), m,
            c->workload == BG_WORKLOAD_UNIFORM ? "-" : bg_precision_name(c->precision),
            fmt_threads(c, t, sizeof t));
    if (c->status != BR_OK) {
        fprintf(f, "%s%s%s | | | | | | | | |\n", status_text(c), c->note[0] ? ": " : "", c->note);
        return;
    }
    fprintf(f, "%s | %s | %s | %s (%s) | %s | %s | %s | %s | %s |\n",
            fmt_ms(c->dist.median, a, sizeof a), fmt_ms(c->solve.median, b, sizeof b),
            fmt_ms(c->permute.median, e, sizeof e), fmt_ms(c->total.median, g, sizeof g),
            fmt_range(c->total, r, sizeof r), fmt_mean(c->mean_before, m1, sizeof m1),
            fmt_mean(c->mean_after, m2, sizeof m2), fmt_mean(c->mean_opt, m3, sizeof m3),
            fmt_mean(c->mean_perm_opt, m4, sizeof m4), fmt_quality(c->quality, q, sizeof q));
}

static void md_lap_row(FILE *f, const br_cell *c) {
    char m[32], t[24], a[32], r[80], q[24], x[32];
    bg_method_name(c->method, m, sizeof m);
    fprintf(f, "| %zu | %s | %s | ", c->batch, m, fmt_threads(c, t, sizeof t));
    if (c->status != BR_OK) {
        fprintf(f, "%s%s%s | | | |\n", status_text(c), c->note[0] ? ": " : "", c->note);
        return;
    }
    fprintf(f, "%s | %s | %s | %s |\n", fmt_ms(c->solve.median, a, sizeof a),
            fmt_range(c->solve, r, sizeof r), fmt_quality(c->quality, q, sizeof q),
            fmt_ratio(c->vs_exact, x, sizeof x));
}

void br_write_markdown(FILE *f, const br_cell *cells, size_t n) {
    int grid = 0, lap = 0;
    for (size_t i = 0; i < n; i++) {
        grid += cells[i].section == BR_SECTION_GRID;
        lap += cells[i].section == BR_SECTION_LAP;
    }
    if (grid) {
        fprintf(f, "| workload | B | D | method | precision | threads | distance ms | solve ms | "
                   "permute ms | total ms (min-max) | mean identity | mean achieved | "
                   "mean optimum | mean perm. optimum | quality |\n"
                   "|---|---:|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (size_t i = 0; i < n; i++)
            if (cells[i].section == BR_SECTION_GRID)
                md_grid_row(f, &cells[i]);
    }
    if (lap) {
        fprintf(f,
                "%s| B | solver | threads | solve ms (median) | min-max | quality | "
                "vs exact (same run) |\n|---:|---|---|---:|---:|---:|---:|\n",
                grid ? "\n" : "");
        for (size_t i = 0; i < n; i++)
            if (cells[i].section == BR_SECTION_LAP)
                md_lap_row(f, &cells[i]);
    }
}

/* ---- gnuplot ----------------------------------------------------------------------------- */

int br_write_gnuplot(FILE *f, const br_cell *cells, size_t n, bg_workload w, size_t dim,
                     const char *png_path) {
    int threads = max_threads(cells, n, w, dim);
    size_t batches[BG_MAX_LIST];
    int nb = batches_of(cells, n, w, dim, batches, BG_MAX_LIST);
    /* One data block per (method, precision) that has at least one measured point. */
    int lines = 0;
    char titles[BG_MAX_LIST * BG_MAX_LIST][48];
    for (size_t i = 0; i < n && lines < BG_MAX_LIST * BG_MAX_LIST; i++) {
        const br_cell *c = &cells[i];
        if (!matches(c, w, dim) || c->threads != threads || c->status != BR_OK ||
            isnan(c->total.median))
            continue;
        int first = 1; /* the first measured B of this (method, precision) opens its block */
        for (size_t j = 0; j < i && first; j++) {
            const br_cell *o = &cells[j];
            first = !(matches(o, w, dim) && o->threads == threads && o->status == BR_OK &&
                      !isnan(o->total.median) && same_method(o->method, c->method) &&
                      o->precision == c->precision);
        }
        if (!first)
            continue;
        char m[32];
        bg_method_name(c->method, m, sizeof m);
        snprintf(titles[lines], sizeof titles[lines], "%s %s", m,
                 w == BG_WORKLOAD_UNIFORM ? "" : bg_precision_name(c->precision));
        fprintf(f, "$d%d << EOD\n", lines);
        for (int b = 0; b < nb; b++) {
            const br_cell *cb =
                find_cell(cells, n, w, dim, batches[b], c->method, c->precision, threads);
            if (cb && cb->status == BR_OK && !isnan(cb->total.median))
                fprintf(f, "%zu %.6g\n", cb->batch, cb->total.median);
        }
        fprintf(f, "EOD\n");
        lines++;
    }
    if (lines == 0)
        return 0;
    fprintf(f,
            "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
            "    set terminal pngcairo size 1000,650 noenhanced\n"
            "} else {\n"
            "    set terminal png size 1000,650 noenhanced\n"
            "}\n"
            "set output '%s'\n"
            "set title 'imm-bench: ms per batch (median of the real call), %s, D = %zu, "
            "%d thread%s'\n"
            "set xlabel 'batch size B'\nset ylabel 'ms per batch'\n"
            "set logscale xy\nset grid\nset key outside right top\nset xtics (",
            png_path, bg_workload_name(w), dim, threads, threads == 1 ? "" : "s");
    for (int b = 0; b < nb; b++)
        fprintf(f, "%s%zu", b ? ", " : "", batches[b]);
    fprintf(f, ")\nset xrange [%g:%g]\nplot ", 0.8 * (double)batches[0],
            1.25 * (double)batches[nb - 1]);
    for (int l = 0; l < lines; l++)
        fprintf(f, "%s$d%d using 1:2 with linespoints title '%s'", l ? ", \\\n     " : "", l,
                titles[l]);
    fprintf(f, "\n");
    return lines;
}
