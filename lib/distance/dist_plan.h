/* dist_plan.h - what the distance front end decides once per call, shared by its parts:
 * distance.c (validation, plan, workspace layout), dist_prepare.c (the pre-pass: NaN/Inf, ranges,
 * prescale, overflow), dist_tiles.c (the blocked parallel loop) and the per-ISA stamps of
 * dist_pack_body.h (packing) and dist_finish_body.h (dot products -> distances).
 *
 * The loop (BLIS order): for each round of kpack dimensions (a few blocks of kc), y is packed once
 * into a shared buffer and each task packs its mc rows of x into its own; for each block of kc
 * dimensions in the round, the micro-kernels store (first block) or add the block's dot products
 * into `out`, which thus holds x.y when all blocks are done; a last pass turns each into a
 * distance in place. Memory is O(m kpack + threads mc kpack + n + m), m kpack within
 * DIST_YBUF_BYTES packed unless one block needs more; INT8 calls pack all of x in the pre-pass
 * instead, up to DIST_XALL_BYTES (see `xprepacked`).
 */
#ifndef IMM_DISTANCE_DIST_PLAN_H
#define IMM_DISTANCE_DIST_PLAN_H

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "distance/dist_kernels.h"

/* Outputs with d^2 < DIST_FIXUP_RATIO * (|x|^2 + |y|^2) lose too many digits to cancellation in
   |x|^2 + |y|^2 - 2 x.y; they are recomputed as sum (x_k - y_k)^2 in double. Image-noise pairs
   sit near ratio 1 and never take this path. */
#define DIST_FIXUP_RATIO 0.0625

/* FP32 / BF16 pairs with |x|^2 + |y|^2 < dim * DIST_TINY_NORMS (as the kernels see the rows) may
   have lost products to fp32 underflow (each lost product is below 2^-126): recomputed directly. */
#define DIST_TINY_NORMS 0x1p-100

/* In a call scaled by a power of two (prescale != 1), a BF16 row whose largest |v| falls below
   DIST_SCALED_ROW_MIN after the scaling may have elements flushed at 2^-40 that the unscaled
   rounding keeps: its pairs are recomputed directly. Above it, what the scaling flushes is below
   2^-40 of the row's largest element. */
#define DIST_SCALED_ROW_MIN 1.0

/* x and y are scaled by an exact power of two while packing when max|v| sqrt(dim) exceeds
   2^60 (FP32, BF16): no fp32 product or partial sum can then overflow. */
#define DIST_PRESCALE_LIMIT 0x1p60

/* Packing buffers: y's panels of a round within DIST_YBUF_BYTES, a task's rows of x within
   DIST_XBUF_BYTES (unless one block of dimensions needs more). Each round costs two barriers,
   and on a shared machine a barrier can cost a scheduler slice. */
#define DIST_YBUF_BYTES ((size_t)4 << 20)
#define DIST_XBUF_BYTES ((size_t)1 << 20)

/* INT8 plans pack all of x's panels in the pre-pass when they fit this many bytes (else x is
   packed per task, as for the other precisions). The workspace always holds the smaller of x's
   panels and this, so that it grows with n and dim (distance.c). */
#define DIST_XALL_BYTES ((size_t)64 << 20)

/* Rows of x per scratch chunk of the packer and its L1 transposition buffer. */
#define DIST_PACK_SCRATCH 20480

typedef struct dist_plan_s {
    const dist_kernel *k;
    imm_precision prec;
    bool root;        /* L2: square root of the clamped d^2 */
    bool swap_pairs;  /* BF16 emulated with the fp32 kernel: odd element of each pair first */
    size_t n, m, dim; /* x is n x dim, y is m x dim */
    size_t kc;        /* dimensions per block (fixed by the precision: the arithmetic) */
    size_t kpack;     /* dimensions packed per round, a multiple of kc (fewer barriers) */
    size_t group;     /* packing group: kgroup, or 2 when swapping pairs */
    size_t elem;      /* bytes per packed element */
    size_t nib, njb;  /* tasks: nib blocks of x's micro-panels by njb blocks of y's */
    size_t mc;        /* the most rows of x in a task (a multiple of mr) */
    size_t ypanels;   /* ceil(m / nr) */
    int threads;
    /* INT8 (exact sums, so the packer can sum q and q^2 as it goes). xprepacked: all of x fits
       DIST_XALL_BYTES packed; the pre-pass packs each panel of x, all its dimensions, right
       after its rows' max, while the rows are still in cache (each row of x is read from memory
       once, not twice), into xpacked, and the packer stores the rows' sums; the rounds read
       their part of it. yprepacked: besides, y fits one round; its panels are packed the same
       way, into bblock, and the round packs nothing. */
    bool xprepacked, yprepacked;

    /* Workspace pieces (set by the layout in distance.c). */
    unsigned char *bblock;  /* ypanels panels of nr x kpack: y's current round */
    unsigned char *ablock;  /* threads x (mc x kpack): each task's rows of x (not xprepacked) */
    unsigned char *xpacked; /* xprepacked: x's panels, ceil(n / mr) x (mr x all dimensions) */
    unsigned char *scratch; /* threads x DIST_PACK_SCRATCH */
    void *edge;             /* threads x mr x nr: partial tiles */
    uint32_t *xmax, *ymax;  /* per row: max |v| as float bits */
    double *xn, *yn;        /* squared norms of the rows as the kernels see them */
    double *xs, *ys;        /* INT8 row scales max|v| / 127 */
    double *xsum, *ysum;    /* INT8: sum of q per row, exact (x's removes the offset of q_y + 128) */

    /* Set by the pre-pass. */
    float prescale;     /* power of two applied to x and y before rounding (1 normally) */
    double rescale;     /* 1 / prescale^2, applied to d^2 */
    bool suspects;      /* some output might overflow float: those are computed directly */
    double bound_limit; /* pair (i, j) is a suspect when bx_i + by_j >= this */
} dist_plan;

/* INT8, rows packed in the pre-pass: the packer's sums of a row's q and q^2 (exact integers)
   into the row's statistics (the scale is the pre-pass's). */
static inline void dist_int8_sums(const dist_plan *p, bool is_y, size_t row, int64_t sum,
                                  int64_t sq) {
    const double s = (is_y ? p->ys : p->xs)[row];
    (is_y ? p->ysum : p->xsum)[row] = (double)sum; /* exact: |sum| <= 127 dim < 2^53 */
    (is_y ? p->yn : p->xn)[row] = (s * s) * (double)sq;
}

/* Pre-pass over x and y (parallel): max |v| per row, then IMM_ERR_NONFINITE for NaN/Inf (or
   FP16 values of 65520 and up, which round to Inf), the prescale, and - only when some distance
   might overflow float - the exact check of those: IMM_ERR_NONFINITE if one does. Writes nothing
   the caller passed in. */
int imi_dist_prepare(dist_plan *p, const float *x, const float *y);

/* Blocked parallel dot products into out, then distances in place. Cannot fail. */
void imi_dist_run(dist_plan *p, const float *x, const float *y, float *out);

/* Whether output (i, j) might overflow float: computed directly (both in the check and the
   finish, so they agree). bx: sqrt(dim) max|x_i| (1 + 2^-7), in the input's units. */
static inline double dist_dim_bound(size_t dim, uint32_t maxbits) {
    float a;
    memcpy(&a, &maxbits, sizeof a);
    return (double)a * sqrt((double)dim) * (1.0 + 0x1p-7);
}

static inline double dist_row_bound(const dist_plan *p, uint32_t maxbits) {
    return dist_dim_bound(p->dim, maxbits);
}

/* Pairs with bx + by >= this might overflow float (d <= |x| + |y| <= bx + by): half of FLT_MAX,
   in d^2 for SQL2, whatever the rounding of the computed d^2. */
static inline double dist_bound_limit(bool root) {
    return root ? 0.5 * (double)FLT_MAX : sqrt(0.5 * (double)FLT_MAX);
}

/* Whether a call whose largest |v| has bits `top` scales its rows (DIST_PRESCALE_LIMIT). */
static inline bool dist_needs_prescale(imm_precision prec, uint32_t top, size_t dim) {
    float a;
    memcpy(&a, &top, sizeof a);
    return (double)a * sqrt((double)dim) > DIST_PRESCALE_LIMIT &&
           (prec == IMM_PRECISION_FP32 || prec == IMM_PRECISION_BF16);
}

/* sum (x~_k - y~_k)^2 in double, fixed 8-lane order, of the rows as the header defines them
   (rounded to the precision without the prescale; INT8: q * scale), times prescale^2. Rarely
   called (cancellation, suspects, tiny rows). */
double imi_dist_direct(const dist_plan *p, size_t i, size_t j, const float *x, const float *y);

/* Whether the pair of rows (norms sum s = |x|^2 + |y|^2 as the kernels see them, max|v| bits of
   each row) must be computed directly: tiny norms (FP32, BF16), or a BF16 row shrunk by the
   scaling. Cancellation and overflow suspects are tested separately. */
static inline bool dist_tiny_pair(const dist_plan *p, double s, uint32_t xmax, uint32_t ymax) {
    if (p->prec != IMM_PRECISION_FP32 && p->prec != IMM_PRECISION_BF16)
        return false;
    if (s < (double)p->dim * DIST_TINY_NORMS)
        return true;
    if (p->prec != IMM_PRECISION_BF16 || p->prescale == 1.0f)
        return false;
    float a, b;
    memcpy(&a, &xmax, sizeof a);
    memcpy(&b, &ymax, sizeof b);
    return (double)a * p->prescale < DIST_SCALED_ROW_MIN ||
           (double)b * p->prescale < DIST_SCALED_ROW_MIN;
}

#endif
