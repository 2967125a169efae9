/* dist_plan.h - what the distance front end decides once per call, shared by its three parts:
 * distance.c (validation, workspace layout), dist_pack.c (packing, norms, quantization) and
 * dist_tiles.c (blocked, parallel dot products and the final distances).
 */
#ifndef IMM_DISTANCE_DIST_PLAN_H
#define IMM_DISTANCE_DIST_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "distance/dist_kernels.h"

/* Outputs with d^2 < DIST_FIXUP_RATIO * (|x|^2 + |y|^2) lose too many digits to cancellation in
   |x|^2 + |y|^2 - 2 x.y; they are recomputed as sum (x_k - y_k)^2 in double. Image-noise pairs
   sit near ratio 1 and never take this path. */
#define DIST_FIXUP_RATIO 0.0625

/* Squared row norms above 2^120 could overflow the fp32 dot products: x and y are then scaled
   by an exact power of two while packing (FP32, BF16; FP16 and INT8 cannot get there). */
#define DIST_PRESCALE_LIMIT 0x1p120

typedef struct dist_plan_s {
    const dist_kernel *k;
    imm_precision prec;
    bool root;        /* L2: square root of the clamped d^2 */
    bool swap_pairs;  /* BF16 emulated with the fp32 kernel: odd element of each pair first */
    size_t n, m, dim; /* x is n x dim, y is m x dim */
    size_t dp;        /* dim rounded up to the packing group */
    size_t kc;        /* dimensions per accumulation block */
    size_t mc, nc;    /* cache block: rows of x, rows of y (multiples of mr, nr) */
    size_t xpanels, ypanels;
    size_t elem; /* bytes per packed element */
    int threads;

    /* Workspace pieces (set by imm_dist_bind). */
    void *px, *py;      /* packed panels */
    double *xn, *yn;    /* squared norms of the packed (rounded, scaled) rows */
    double *xs, *ys;    /* INT8 row scales */
    double *xq;         /* INT8: sum of q over each row of x (offset correction) */
    double *panel_raw;  /* per panel: largest squared norm of the raw rows, or NaN */
    double *panel_conv; /* per panel: largest squared norm of the packed rows */
    double *ctile;      /* threads x mc x nc doubles */
    void *sums;         /* threads x imm_dist_pack_scratch_bytes() (packing) */

    /* Set while packing. */
    float prescale; /* power of two applied to x and y before rounding (1 normally) */
    double rescale; /* 1 / prescale^2, applied to d^2 */
} dist_plan;

/* Packs x and y into p->px / p->py and fills norms, scales and the per-panel maxima; sets the
   prescale. IMM_OK, or IMM_ERR_NONFINITE (NaN/Inf input, or a value that rounds to Inf in the
   precision). Parallel. */
int imm_dist_pack(dist_plan *p, const float *x, const float *y);

/* Bytes of packing scratch per thread (the running sums of one panel; checked in the body). */
#define DIST_PACK_SCRATCH 12288

/* After packing: true when some distance might not fit in a float (then imm_dist_tiles must
   run dry first). */
bool imm_dist_may_overflow(const dist_plan *p);

/* Dot products, distances, fix-ups. With dry set, writes nothing and returns true when some
   distance would overflow float; otherwise writes out (n x m) and returns false. Parallel. */
bool imm_dist_tiles(const dist_plan *p, const float *x, const float *y, float *out, bool dry);

#endif
