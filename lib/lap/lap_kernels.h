/* lap_kernels.h - the row and list scans that take nearly all of the exact solver's time.
 *
 * One scalar reference (lap_kernels_scalar.c) and one file per ISA, each computing bitwise the
 * same results: the same double operations in the same order per element, comparisons by
 * (value, lowest index) within lanes and across them. Two kernels may differ between variants
 * where no result depends on it: the cut (any valid cut gives the same entries) and how a
 * filter screens its columns (it keeps exactly the columns the double scan keeps).
 */
#ifndef IMM_LAP_KERNELS_H
#define IMM_LAP_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "core/fpenv.h" /* refuses -ffast-math builds */
#include "lap/lap_sort.h"

typedef struct {
    double u1, u2;  /* smallest and second smallest of c[j] - v[j] */
    int32_t j1, j2; /* their columns (lowest index on ties); j2 = -1 when n == 1 */
} lap_min2;

/* Smallest two reduced costs of one row. */
typedef void (*lap_two_smallest_fn)(const float *c, const double *v, size_t n, lap_min2 *out);

/* The same in float: the two smallest h = c[j] - vf[j] (float subtraction), returned exactly as
   doubles. Twice the lanes of the double scan: for the auction's coarse phases, where float
   resolves the bids (auction.c decides when). */
typedef void (*lap_two_smallest_f32_fn)(const float *c, const float *vf, size_t n, lap_min2 *out);

/* What a bid needs of the same scan (lap_two_smallest_f32_fn's type): u1 and j1 as
   two_smallest_f32 gives them, bitwise; u2 equal in value (a zero may carry the other sign:
   a bid only uses u2 - u1 + eps, which a zero's sign cannot change); j2 >= 0 exactly when
   two_smallest_f32's is (a second value below +Inf), but not necessarily the runner-up's
   column. Lets a variant keep no second column per lane (AVX2, AVX-512; the scalar one is
   two_smallest_f32 itself). */
typedef lap_two_smallest_f32_fn lap_bid_f32_fn;

/* One Dijkstra step from row `row` in dense form. For every column j:
 *   t = ((double)c[j] - v[j]) - r + sc[j];  if (t < d[j]) { d[j] = t; pred[j] = row; }
 * and returns in *bestj the column with the smallest d[j] + sc[j] (lowest index on ties).
 * sc[j] is 0 for unscanned columns and +Inf for scanned ones, which freezes them. */
typedef void (*lap_relax_fn)(const float *c, const double *v, const double *sc, double r,
                             int32_t row, size_t n, double *d, int32_t *pred, int32_t *bestj);

/* The potentials a filtering scan reads: v, and possibly (vf non-NULL) v rounded to float, with
   cmag >= every |c[j]|. A variant may then screen columns in float (twice the lanes) and decide
   each candidate in double: |fl32(c[j] - vf[j]) - fl64(c[j] - v[j])| <= 2^-23 (cmag + |h|)
   (1 + 2^-20), so widening a cut by LAP_POTS_WIDEN(cmag, cut) keeps every column the double
   scan would keep. Results are those of v alone. */
typedef struct {
    const double *v;
    const float *vf;
    double cmag;
} lap_pots;

/* What a float screen widens a cut x by (a monotone bound of the error above, with room for
   the roundings of the bound itself); the screen is used only while cmag + |x| <=
   LAP_FLOAT_RANGE, the magnitudes up to which potentials and costs go through float at all
   (screens, the auction's float bids): far inside float's range. */
#define LAP_POTS_WIDEN(cmag, x) (0x1p-21 * ((cmag) + fabs(x)))
#define LAP_FLOAT_RANGE 0x1p64

/* The smallest float >= x (|x| <= 2^65): a float screen's cut. */
static inline float lap_float_at_least(double x) {
    const float f = (float)x;
    return (double)f < x ? nextafterf(f, INFINITY) : f;
}

/* Stores, in increasing column order, every j with h = (double)c[j] - v[j] <= cut: h[k] and
 * col[k]. Returns the count, or cap + 1 as soon as more than cap qualify (h and col then need
 * room for cap + 8 entries). */
typedef size_t (*lap_filter_fn)(const float *c, const lap_pots *p, size_t n, double cut, double *h,
                                int32_t *col, size_t cap);

/* First column of block b of nb (b = nb gives n): blocks start on multiples of 8, so that the
   vector loops need no scalar tails inside the row; a block can be empty (its minimum is then
   +Inf) when n < 8 nb. */
static inline size_t lap_block_start(size_t b, size_t n, size_t nb) {
    return b >= nb ? n : (b * n / nb) & ~(size_t)7;
}

/* A cut-off with at least `keep` reduced costs h = (double)c[j] - v[j] at or below it and, on
   rows without heavy ties, not many more (a few times keep); +Inf when the row is too short for
   a cut to pay off (then the caller reads it all). Variants may find different cuts: no result
   depends on which (the columns at or below any valid cut include the keep smallest). */
typedef double (*lap_cut_fn)(const float *c, const lap_pots *p, size_t n, size_t keep);

/* The keep smallest of cnt entries (h[t], col[t]) by (h, column), sorted, into out
   (1 <= keep <= cnt <= LAP_SELECT_MAX; the columns are distinct). */
#define LAP_SELECT_MAX 512
typedef void (*lap_select_fn)(const double *h, const int32_t *col, size_t cnt, size_t keep,
                              lap_entry *out);

/* The two smallest (h, j) of len list entries, h = (double)lc[t] - v[lj[t]], by (h, column)
   (the columns are distinct; the entries in any order). */
typedef void (*lap_list_min2_fn)(const float *lc, const int32_t *lj, const double *v, size_t len,
                                 lap_min2 *out);

/* What a bid needs of a list scan, as lap_bid_f32_fn of the row scan: u1 and j1 as list_min2
   gives them, bitwise; u2 equal in value; j2 >= 0 exactly when list_min2's is, then another
   column of the list. */
typedef lap_list_min2_fn lap_list_bid_min2_fn;

/* One row's share of the column means: v[j] += (double)c[j] for every j (the same double sum,
 * in row order, in every variant), and *lo / *hi lowered / raised to the row's smallest and
 * largest cost. The costs are finite. */
typedef void (*lap_col_add_fn)(const float *c, double *v, size_t n, float *lo, float *hi);

typedef struct {
    lap_two_smallest_fn two_smallest;
    lap_relax_fn relax;
    lap_filter_fn filter;
    lap_cut_fn cut;
    lap_col_add_fn col_add;
    lap_two_smallest_f32_fn two_smallest_f32;
    lap_bid_f32_fn bid_f32;
    lap_select_fn select;
    lap_list_min2_fn list_min2;
    lap_list_bid_min2_fn list_bid_min2;
} lap_kernels;

/* One more column j into the two smallest so far, by (h, column): the scalar scans, every
   vector tail and the scalar list scan. In increasing column order the column never decides
   (strict comparisons keep the lower column on ties); lists come in any order. */
static inline void lap_min2_push(lap_min2 *m, double h, int32_t j) {
    if (h < m->u2 || (h == m->u2 && j < m->j2)) {
        if (h < m->u1 || (h == m->u1 && j < m->j1)) {
            m->u2 = m->u1;
            m->j2 = m->j1;
            m->u1 = h;
            m->j1 = j;
        } else {
            m->u2 = h;
            m->j2 = j;
        }
    }
}

/* The lane merge every vector variant ends with (shared bodies, same bits everywhere). */

/* Index of the lexicographically smallest (val[l], idx[l]) over `lanes` lanes. */
static inline int lap_lanes_argmin(const double *val, const int64_t *idx, int lanes) {
    int best = 0;
    for (int l = 1; l < lanes; l++)
        if (val[l] < val[best] || (val[l] == val[best] && idx[l] < idx[best]))
            best = l;
    return best;
}

/* The two smallest of a row from per-lane minima (v1, i1) and runners-up (v2, i2): the smallest
   is the best lane minimum, the second that lane's runner-up or another lane's minimum. v1 and
   i1 are overwritten. */
static inline lap_min2 lap_lanes_min2(double *v1, int64_t *i1, const double *v2, const int64_t *i2,
                                      int lanes) {
    const int L = lap_lanes_argmin(v1, i1, lanes);
    lap_min2 m = {v1[L], INFINITY, (int32_t)i1[L], -1};
    v1[L] = v2[L];
    i1[L] = i2[L];
    const int S = lap_lanes_argmin(v1, i1, lanes);
    m.u2 = v1[S];
    m.j2 = (int32_t)i1[S];
    if (m.j2 < 0)
        m.u2 = INFINITY;
    return m;
}

/* The same from float lanes with int32 indices (at most 16 lanes): widened exactly, then merged
   as above. */
static inline lap_min2 lap_lanes_min2_f32(const float *v1, const int32_t *i1, const float *v2,
                                          const int32_t *i2, int lanes) {
    double d1[16], d2[16];
    int64_t e1[16], e2[16];
    for (int l = 0; l < lanes; l++) {
        d1[l] = v1[l];
        d2[l] = v2[l];
        e1[l] = i1[l];
        e2[l] = i2[l];
    }
    return lap_lanes_min2(d1, e1, d2, e2, lanes);
}

/* The table for the active SIMD variant (see core/cpu.h), chosen once (lap_dispatch.c). */
const lap_kernels *imi_lap_kernels(void);

/* Per-variant tables; the ISA ones exist only when the build compiled them. */
extern const lap_kernels imi_lap_kernels_scalar;
extern const lap_kernels imi_lap_kernels_avx2;
extern const lap_kernels imi_lap_kernels_avx512;

/* Scalar pieces the SIMD variants reuse for their tails. */
void imi_lap_two_smallest_tail(const float *c, const double *v, size_t from, size_t n, lap_min2 *m);
void imi_lap_two_smallest_f32_tail(const float *c, const float *vf, size_t from, size_t n,
                                   lap_min2 *m);
void imi_lap_col_add_tail(const float *c, double *v, size_t from, size_t n, float *lo, float *hi);
size_t imi_lap_filter_tail(const float *c, const double *v, size_t from, size_t n, double cut,
                           double *h, int32_t *col, size_t cnt, size_t cap);
/* The screened candidates cand[0 .. nc) (increasing columns) decided in double and appended to
   the filter's output at cnt; cap + 1 as soon as more than cap qualify. Branch-free but for the
   cap: whether a screened column passes is random, and a branch on it mispredicts. The vector
   filters collect LAP_FILTER_CANDS screened columns (and at most one group more) before they
   decide them. */
#define LAP_FILTER_CANDS 256
size_t imi_lap_filter_decide(const float *c, const double *v, double cut, const int32_t *cand,
                             size_t nc, double *h, int32_t *col, size_t cnt, size_t cap);
/* The cut from the minima of 2 keep blocks of the row (block_min: the variant's block scan),
   the selection by a bounded heap and the list scan: the scalar ways, which the vector
   variants fall back on. */
typedef void (*lap_block_min_fn)(const float *c, const double *v, size_t n, size_t nb,
                                 double *mins);
double imi_lap_cut_blocks(const float *c, const double *v, size_t n, size_t keep,
                          lap_block_min_fn block_min);
void imi_lap_list_min2_scalar(const float *lc, const int32_t *lj, const double *v, size_t len,
                              lap_min2 *out);
void imi_lap_select_heap(const double *h, const int32_t *col, size_t cnt, size_t keep,
                         lap_entry *out);
int32_t imi_lap_relax_tail(const float *c, const double *v, const double *sc, double r, int32_t row,
                           size_t from, size_t n, double *d, int32_t *pred, double best,
                           int32_t bestj);

#endif
