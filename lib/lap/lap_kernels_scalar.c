/* lap_kernels_scalar.c - the reference row scans, and the scalar tails the vector variants end
 * with. */
#include <math.h>

#include "lap/lap_kernels.h"

void imi_lap_two_smallest_tail(const float *c, const double *v, size_t from, size_t n,
                               lap_min2 *m) {
    for (size_t j = from; j < n; j++)
        lap_min2_push(m, (double)c[j] - v[j], (int32_t)j);
}

void imi_lap_two_smallest_f32_tail(const float *c, const float *vf, size_t from, size_t n,
                                   lap_min2 *m) {
    for (size_t j = from; j < n; j++)
        lap_min2_push(m, (double)(c[j] - vf[j]), (int32_t)j);
}

static void two_smallest_f32_scalar(const float *c, const float *vf, size_t n, lap_min2 *out) {
    lap_min2 m = {INFINITY, INFINITY, -1, -1};
    imi_lap_two_smallest_f32_tail(c, vf, 0, n, &m);
    *out = m;
}

static void two_smallest_scalar(const float *c, const double *v, size_t n, lap_min2 *out) {
    lap_min2 m = {INFINITY, INFINITY, -1, -1};
    imi_lap_two_smallest_tail(c, v, 0, n, &m);
    *out = m;
}

int32_t imi_lap_relax_tail(const float *c, const double *v, const double *sc, double r, int32_t row,
                           size_t from, size_t n, double *d, int32_t *pred, double best,
                           int32_t bestj) {
    for (size_t j = from; j < n; j++) {
        double t = ((double)c[j] - v[j]) - r + sc[j];
        if (t < d[j]) {
            d[j] = t;
            pred[j] = row;
        }
        double key = d[j] + sc[j];
        if (key < best) {
            best = key;
            bestj = (int32_t)j;
        }
    }
    return bestj;
}

static void relax_scalar(const float *c, const double *v, const double *sc, double r, int32_t row,
                         size_t n, double *d, int32_t *pred, int32_t *bestj) {
    *bestj = imi_lap_relax_tail(c, v, sc, r, row, 0, n, d, pred, INFINITY, -1);
}

size_t imi_lap_filter_tail(const float *c, const double *v, size_t from, size_t n, double cut,
                           double *h, int32_t *col, size_t cnt, size_t cap) {
    for (size_t j = from; j < n; j++) {
        double t = (double)c[j] - v[j];
        if (t <= cut) {
            if (cnt == cap)
                return cap + 1;
            h[cnt] = t;
            col[cnt++] = (int32_t)j;
        }
    }
    return cnt;
}

size_t imi_lap_filter_decide(const float *c, const double *v, double cut, const int32_t *cand,
                             size_t nc, double *h, int32_t *col, size_t cnt, size_t cap) {
    for (size_t k = 0; k < nc; k++) {
        const int32_t j = cand[k];
        const double t = (double)c[j] - v[j];
        h[cnt] = t; /* cnt <= cap here, and the buffers hold cap + 8 */
        col[cnt] = j;
        cnt += t <= cut;
        if (cnt > cap)
            return cap + 1;
    }
    return cnt;
}

static size_t filter_scalar(const float *c, const lap_pots *p, size_t n, double cut, double *h,
                            int32_t *col, size_t cap) {
    return imi_lap_filter_tail(c, p->v, 0, n, cut, h, col, 0, cap);
}

static void block_min_scalar(const float *c, const double *v, size_t n, size_t nb, double *mins) {
    for (size_t b = 0; b < nb; b++) {
        double m = INFINITY;
        for (size_t j = lap_block_start(b, n, nb); j < lap_block_start(b + 1, n, nb); j++) {
            double h = (double)c[j] - v[j];
            m = h < m ? h : m;
        }
        mins[b] = m;
    }
}

/* At most this many blocks (the lists keep LAP_CANDIDATES + 1 <= 33 entries). */
#define CUT_BLOCKS_MAX 66

double imi_lap_cut_blocks(const float *c, const double *v, size_t n, size_t keep,
                          lap_block_min_fn block_min) {
    const size_t blocks = 2 * keep;
    if (n < 4 * blocks || blocks > CUT_BLOCKS_MAX)
        return INFINITY;
    double mins[CUT_BLOCKS_MAX];
    block_min(c, v, n, blocks, mins); /* keep of the blocks have their minimum at the cut or below */
    return imi_lap_kth_smallest(mins, blocks, keep - 1);
}

void imi_lap_select_heap(const double *h, const int32_t *col, size_t cnt, size_t keep,
                         lap_entry *out) {
    lap_entry e[LAP_SELECT_MAX];
    for (size_t t = 0; t < cnt; t++)
        e[t] = (lap_entry){h[t], col[t]};
    imi_lap_keep_smallest(e, cnt, keep, out);
}

void imi_lap_list_min2_scalar(const float *lc, const int32_t *lj, const double *v, size_t len,
                              lap_min2 *out) {
    lap_min2 r = {INFINITY, INFINITY, -1, -1};
    for (size_t t = 0; t < len; t++)
        lap_min2_push(&r, (double)lc[t] - v[lj[t]], lj[t]);
    *out = r;
}

static double cut_scalar(const float *c, const lap_pots *p, size_t n, size_t keep) {
    return imi_lap_cut_blocks(c, p->v, n, keep, block_min_scalar);
}

void imi_lap_col_add_tail(const float *c, double *v, size_t from, size_t n, float *lo, float *hi) {
    float l = *lo, h = *hi;
    for (size_t j = from; j < n; j++) {
        v[j] += (double)c[j];
        l = c[j] < l ? c[j] : l;
        h = c[j] > h ? c[j] : h;
    }
    *lo = l;
    *hi = h;
}

static void col_add_scalar(const float *c, double *v, size_t n, float *lo, float *hi) {
    imi_lap_col_add_tail(c, v, 0, n, lo, hi);
}

const lap_kernels imi_lap_kernels_scalar = {.two_smallest = two_smallest_scalar,
                                            .relax = relax_scalar,
                                            .filter = filter_scalar,
                                            .cut = cut_scalar,
                                            .col_add = col_add_scalar,
                                            .two_smallest_f32 = two_smallest_f32_scalar,
                                            .bid_f32 = two_smallest_f32_scalar,
                                            .select = imi_lap_select_heap,
                                            .list_min2 = imi_lap_list_min2_scalar,
                                            .list_bid_min2 = imi_lap_list_min2_scalar};
