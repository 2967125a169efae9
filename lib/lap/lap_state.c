/* lap_state.c - workspace layout and the setup steps shared by the auction and the exact solver. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/layout.h"
#include "lap/lap_state.h"

#define SPREAD_SAMPLE_ROWS 16
/* Below this many columns a dense row scan is cheaper than keeping lists (image-noise costs,
   exact solver, 1 thread: 1.4 vs 4.0 ms at 256 columns, 13 vs 18 ms at 1024; at 2048 lists win,
   46 vs 58 ms, and at 4096, 153 vs 266 ms). */
#define LIST_MIN_COLS 2048
#define LIST_CUT_BLOCKS (2 * (LAP_CANDIDATES + 1)) /* blocks guess_cut() splits a row into */
#define LIST_FILTER_CAP 512 /* most columns a guessed cut-off may let through */

static size_t list_length(size_t cols) { return cols < LAP_CANDIDATES ? cols : LAP_CANDIDATES; }

/* The workspace of a rows x cols state: 5 double and 8 int32 arrays of cols entries, the dummy
   rows' zero costs, then the candidate lists (rows thresholds, rows x k columns and costs). */
typedef struct {
    size_t dbl, i32, zeros, thr, cand_j, cand_c, total;
} state_layout;

static state_layout layout_of(size_t rows, size_t cols) {
    const size_t k = list_length(cols);
    imi_layout l = IMI_LAYOUT_INIT;
    state_layout s;
    s.dbl = imi_layout_add(&l, 5 * cols, sizeof(double), sizeof(double));
    s.i32 = imi_layout_add(&l, 8 * cols, sizeof(int32_t), sizeof(int32_t));
    s.zeros = imi_layout_add(&l, cols, sizeof(float), sizeof(float));
    s.thr = imi_layout_add(&l, rows, sizeof(double), sizeof(double));
    s.cand_j = imi_layout_add(&l, rows * k, sizeof(int32_t), sizeof(int32_t)); /* rows <= cols */
    s.cand_c = imi_layout_add(&l, rows * k, sizeof(float), sizeof(float));
    s.total = imi_layout_total(&l, sizeof(double));
    return s;
}

size_t imi_lap_state_bytes(size_t rows, size_t cols) { return layout_of(rows, cols).total; }

void imi_lap_state_init(lap_state *s, const float *cost, size_t rows, size_t cols, int threads,
                        void *work) {
    const size_t n = cols;
    const state_layout l = layout_of(rows, cols);
    unsigned char *base = work;
    double *dp = (double *)(base + l.dbl);
    s->cost = cost;
    s->rows = rows;
    s->n = n;
    s->m = (cols - rows) * 8 <= cols ? n : rows; /* see lap_state.h */
    s->kern = imi_lap_kernels();
    s->threads = threads;
    s->forbidden = false;
    s->cmin = s->cmax = 0.0;
    s->v = dp;
    s->d = dp + n;
    s->sc = dp + 2 * n;
    s->bid_val = dp + 3 * n;
    s->win_val = dp + 4 * n;
    int32_t *ip = (int32_t *)(base + l.i32);
    s->x = ip;
    s->y = ip + n;
    s->pred = ip + 2 * n;
    s->scanned = ip + 3 * n;
    s->free_ = ip + 4 * n;
    s->free2 = ip + 5 * n;
    s->bid_col = ip + 6 * n;
    s->win_k = ip + 7 * n;
    float *zeros = (float *)(base + l.zeros);
    memset(zeros, 0, n * sizeof(float));
    s->zeros = zeros;
    s->k = n >= LIST_MIN_COLS ? list_length(n) : 0; /* k = 0: dense scans only */
    s->cand_thr = (double *)(base + l.thr);
    s->cand_j = (int32_t *)(base + l.cand_j);
    s->cand_c = (float *)(base + l.cand_c);
    for (size_t i = 0; i < rows; i++)
        s->cand_thr[i] = NAN;
}

/* Max-heap on (h, j), lexicographic: the root is the largest of the smallest entries kept. */
typedef struct {
    double h;
    int32_t j;
} entry;

static bool above(entry a, entry b) { return a.h > b.h || (a.h == b.h && a.j > b.j); }

static void sift_down(entry *heap, size_t len, size_t at) {
    for (;;) {
        size_t l = 2 * at + 1, big = at;
        if (l < len && above(heap[l], heap[big]))
            big = l;
        if (l + 1 < len && above(heap[l + 1], heap[big]))
            big = l + 1;
        if (big == at)
            return;
        entry t = heap[at];
        heap[at] = heap[big];
        heap[big] = t;
        at = big;
    }
}

/* Sorts e[0..len) by (h, j). */
static void insertion_sort(entry *e, size_t len) {
    for (size_t a = 1; a < len; a++) {
        entry x = e[a];
        size_t b = a;
        for (; b > 0 && above(e[b - 1], x); b--)
            e[b] = e[b - 1];
        e[b] = x;
    }
}

/* Puts the keep smallest of e[0..len) in out, sorted (bounded max-heap, then insertion sort). */
static void keep_smallest(const entry *e, size_t len, size_t keep, entry *out) {
    size_t got = 0;
    for (size_t t = 0; t < len; t++) {
        if (got < keep) {
            out[got++] = e[t];
            if (got == keep)
                for (size_t a = keep / 2 + 1; a-- > 0;)
                    sift_down(out, keep, a);
        } else if (above(out[0], e[t])) {
            out[0] = e[t];
            sift_down(out, keep, 0);
        }
    }
    insertion_sort(out, got);
}

/* A cut-off with at least keep reduced costs of the row at or below it, and not many more: the
   keep-th smallest of the minima of 2 * keep blocks of the row (each of those keep blocks has
   its minimum below the cut). +Inf when the row is too short for blocks to pay off. */
static double guess_cut(const lap_state *s, const float *ci, size_t keep) {
    const size_t n = s->n, blocks = 2 * keep;
    if (n < 4 * blocks || blocks > LIST_CUT_BLOCKS)
        return INFINITY;
    double mins[LIST_CUT_BLOCKS];
    s->kern->block_min(ci, s->v, n, blocks, mins);
    for (size_t a = 1; a < blocks; a++) { /* insertion sort: blocks is small */
        double x = mins[a];
        size_t b = a;
        for (; b > 0 && mins[b - 1] > x; b--)
            mins[b] = mins[b - 1];
        mins[b] = x;
    }
    return mins[keep - 1];
}

/* The keep smallest (h, j) of row i, sorted. A cut-off lets few columns through one cheap SIMD
   pass; only they are sorted. Any cut with at least keep columns below it gives the same list. */
static void smallest_sorted(const lap_state *s, const float *ci, size_t keep, entry *out) {
    entry buf[LIST_FILTER_CAP];
    const size_t n = s->n;
    const double cut = guess_cut(s, ci, keep);
    if (cut < INFINITY) {
        double hb[LIST_FILTER_CAP + 8];
        int32_t jb[LIST_FILTER_CAP + 8];
        size_t cnt = s->kern->filter(ci, s->v, n, cut, hb, jb, LIST_FILTER_CAP);
        if (cnt >= keep && cnt <= LIST_FILTER_CAP) {
            for (size_t t = 0; t < cnt; t++)
                buf[t] = (entry){hb[t], jb[t]};
            if (cnt <= 4 * keep) {
                insertion_sort(buf, cnt);
                memcpy(out, buf, keep * sizeof(entry));
            } else {
                keep_smallest(buf, cnt, keep, out);
            }
            return;
        }
    }
    /* Short rows (or a cut that let too many through): the whole row, a chunk at a time. */
    size_t have = 0, j = 0;
    while (j < n) {
        size_t len = have;
        memcpy(buf, out, have * sizeof(entry));
        for (; j < n && len < LIST_FILTER_CAP; j++)
            buf[len++] = (entry){(double)ci[j] - s->v[j], (int32_t)j};
        have = len < keep ? len : keep;
        keep_smallest(buf, len, have, out);
    }
}

/* Rebuilds row i's list: its k + 1 smallest reduced costs; the largest of them becomes the
   threshold (every column outside the list is at least that), unless the list holds the row. */
static void build_list(lap_state *s, size_t i) {
    const float *ci = s->cost + i * s->n;
    const size_t keep = s->k < s->n ? s->k + 1 : s->k;
    entry best[LAP_CANDIDATES + 1];
    smallest_sorted(s, ci, keep, best);
    s->cand_thr[i] = keep > s->k ? best[s->k].h : INFINITY;
    int32_t *lj = s->cand_j + i * s->k;
    float *lc = s->cand_c + i * s->k;
    for (size_t t = 0; t < s->k; t++) {
        lj[t] = best[t].j;
        lc[t] = ci[lj[t]];
    }
}

/* Two smallest over the list, by (value, column). */
static void list_min2(const lap_state *s, size_t i, lap_min2 *m) {
    const int32_t *lj = s->cand_j + i * s->k;
    const float *lc = s->cand_c + i * s->k;
    lap_min2 r = {INFINITY, INFINITY, -1, -1};
    for (size_t t = 0; t < s->k; t++) {
        double h = (double)lc[t] - s->v[lj[t]];
        int32_t j = lj[t];
        if (h < r.u2 || (h == r.u2 && j < r.j2)) {
            if (h < r.u1 || (h == r.u1 && j < r.j1)) {
                r.u2 = r.u1;
                r.j2 = r.j1;
                r.u1 = h;
                r.j1 = j;
            } else {
                r.u2 = h;
                r.j2 = j;
            }
        }
    }
    *m = r;
}

void imi_lap_row_min2(lap_state *s, size_t i, lap_min2 *m) {
    if (i >= s->rows || s->k < 2) { /* dummy rows are cheap: v is in cache */
        s->kern->two_smallest(lap_row(s, i), s->v, s->n, m);
        return;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        if (attempt > 0 || isnan(s->cand_thr[i])) {
            build_list(s, i);
        }
        list_min2(s, i, m);
        if (m->u2 < s->cand_thr[i]) /* both minima are below every column outside the list */
            return;
    }
    /* Ties at the threshold: only the dense scan knows the lowest index. */
    s->kern->two_smallest(lap_row(s, i), s->v, s->n, m);
}

size_t imi_lap_free_all(lap_state *s) {
    for (size_t j = 0; j < s->n; j++)
        s->y[j] = -1;
    for (size_t i = 0; i < s->m; i++) {
        s->x[i] = -1;
        s->free_[i] = (int32_t)i;
    }
    return s->m;
}

/* Column means of the finite costs (dummy rows' zeros included); columns with none get 0. */
static void column_means_finite(lap_state *s) {
    const size_t n = s->n, dummies = s->m - s->rows;
    double lo = dummies > 0 ? 0.0 : INFINITY, hi = dummies > 0 ? 0.0 : -INFINITY;
    double *count = s->d; /* scratch until the exact phases */
    for (size_t j = 0; j < n; j++) {
        s->v[j] = 0.0;
        count[j] = (double)dummies;
    }
    for (size_t i = 0; i < s->rows; i++) {
        const float *ci = s->cost + i * n;
        for (size_t j = 0; j < n; j++)
            if (ci[j] < INFINITY) {
                s->v[j] += (double)ci[j];
                count[j] += 1.0;
                lo = fmin(lo, (double)ci[j]);
                hi = fmax(hi, (double)ci[j]);
            }
    }
    for (size_t j = 0; j < n; j++)
        s->v[j] = count[j] > 0.0 ? s->v[j] / count[j] : 0.0;
    s->cmin = lo < INFINITY ? lo : 0.0;
    s->cmax = hi > -INFINITY ? hi : 0.0;
}

void imi_lap_column_means(lap_state *s) {
    const size_t n = s->n;
    if (s->forbidden) {
        column_means_finite(s);
        return;
    }
    double lo = s->rows < n ? 0.0 : INFINITY, hi = s->rows < n ? 0.0 : -INFINITY;
    memset(s->v, 0, n * sizeof(double));
    for (size_t i = 0; i < s->rows; i++) {
        const float *ci = s->cost + i * n;
        float rlo = ci[0], rhi = ci[0];
        for (size_t j = 0; j < n; j++) {
            s->v[j] += (double)ci[j];
            rlo = ci[j] < rlo ? ci[j] : rlo; /* costs are finite: no NaN rules needed */
            rhi = ci[j] > rhi ? ci[j] : rhi;
        }
        lo = fmin(lo, (double)rlo);
        hi = fmax(hi, (double)rhi);
    }
    for (size_t j = 0; j < n; j++)
        s->v[j] /= (double)n;
    s->cmin = lo;
    s->cmax = hi;
}

double imi_lap_spread(const lap_state *s) {
    const size_t sample = s->n < SPREAD_SAMPLE_ROWS ? s->n : SPREAD_SAMPLE_ROWS;
    double spread = 0.0;
    for (size_t i = 0; i < sample; i++) {
        const float *ci = lap_row(s, i);
        double lo = INFINITY, sum = 0.0;
        for (size_t j = 0; j < s->n; j++) {
            double h = (double)ci[j] - s->v[j];
            sum += h;
            lo = fmin(lo, h);
        }
        spread += sum / (double)s->n - lo;
    }
    return spread / (double)sample;
}

bool imi_lap_potentials_usable(const lap_state *s) {
    const double limit = LAP_V_BAND * fmax(fabs(s->cmin), fabs(s->cmax));
    for (size_t j = 0; j < s->n; j++)
        if (!(fabs(s->v[j]) <= limit))
            return false;
    return true;
}
