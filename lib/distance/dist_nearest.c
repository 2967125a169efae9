/* dist_nearest.c - imi_dist_nearest(): which of k rows is nearest to a row x, by the distances
 * imi_dist_compute(x, 1, y, k) gives, in one fused pass over the rows (dist_nearest.h).
 *
 * The kernel returns each row's max |v|, norm and dot product with x exactly as the general
 * path's pre-pass and micro-kernels form them; this file repeats the general path's decisions on
 * them (dist_prepare.c) and its finish (dist_finish_body.h) for one row of x. Every case that
 * path handles another way goes back to the caller, which runs it: a row with NaN / Inf or out of
 * the precision's range (an error), a call that would scale its rows by a power of two, pairs
 * that might overflow float, and outputs it recomputes directly (cancellation, tiny norms). None
 * of these occur for image-noise rows of ordinary magnitude.
 */
#include <math.h>

#include "core/cpu.h"
#include "core/layout.h"
#include "distance/dist_convert.h"
#include "distance/dist_nearest.h"
#include "distance/dist_plan.h"
#include "distance/distance.h"

size_t imi_dist_near_scratch_bytes(size_t dim) {
    const size_t nb = dim / DIST_KC_FLOAT + (dim % DIST_KC_FLOAT != 0);
    const size_t groups = (nb + DIST_NEAR_LANES - 1) / DIST_NEAR_LANES;
    imi_layout l = IMI_LAYOUT_INIT;
    imi_layout_add(&l, groups, DIST_NEAR_LANES * DIST_KC_FLOAT * sizeof(float), 64);
    imi_layout_add(&l, 2 * ((nb + 3) / 4 * 4), DIST_KC_FLOAT * sizeof(float), 64);
    return imi_layout_total(&l, 64);
}

size_t imi_dist_nearest_bytes(size_t k, size_t dim) {
    const size_t kernel = imi_dist_near_scratch_bytes(dim);
    imi_layout l = IMI_LAYOUT_INIT;
    imi_layout_add(&l, kernel, 1, 64);
    imi_layout_add(&l, k, sizeof(dist_near_row), 64);
    return kernel == 0 ? 0 : imi_layout_total(&l, 64);
}

/* The kernel of the active variant (a pure function of it, like imi_dist_kernel()). */
static dist_near_fn near_kernel(void) {
    switch (imi_active_arch()) {
#if defined(IMM_HAVE_AVX512)
    case IMI_ARCH_AVX512: return imi_dist_near_rows_avx512;
#endif
#if defined(IMM_HAVE_AVX2)
    case IMI_ARCH_AVX2: return imi_dist_near_rows_avx2;
#endif
    default: return imi_dist_near_rows_scalar;
    }
}

bool imi_dist_nearest(const float *x, const float *y, size_t k, size_t dim, const imm_options *o,
                      const float *next_x, void *scratch, int32_t *best) {
    const imm_precision prec = o->precision;
    dist_near_row xr;
    dist_near_row *yr =
        (dist_near_row *)((unsigned char *)scratch + imi_dist_near_scratch_bytes(dim));
    if (!near_kernel()(prec, x, y, k, dim, next_x, scratch, &xr, yr))
        return false; /* NaN / Inf */
    /* The pre-pass (dist_prepare.c) on this call's rows. */
    uint32_t my = 0;
    for (size_t t = 0; t < k; t++)
        my = yr[t].maxbits > my ? yr[t].maxbits : my;
    const uint32_t top = xr.maxbits > my ? xr.maxbits : my;
    if (prec == IMM_PRECISION_FP16 && top >= 0x477ff000u)
        return false; /* rounds to Inf in half: an error */
    if (dist_needs_prescale(prec, top, dim))
        return false;
    const bool root = o->metric == IMM_METRIC_L2;
    if (dist_dim_bound(dim, xr.maxbits) + dist_dim_bound(dim, my) >= dist_bound_limit(root))
        return false; /* overflow suspects: checked and computed directly */
    /* The finish (dist_finish_body.h) for row 0, prescale 1. */
    const bool int8 = prec == IMM_PRECISION_INT8;
    const bool fp = prec == IMM_PRECISION_FP32 || prec == IMM_PRECISION_BF16;
    const double tiny = fp ? (double)dim * DIST_TINY_NORMS : -1.0;
    const double xs = dist_quantize_scale(xr.maxbits);
    float dbest = 0.0f;
    int32_t tbest = 0;
    for (size_t t = 0; t < k; t++) {
        const double s = xr.norm + yr[t].norm;
        double d2;
        if (int8) {
            const double ys = dist_quantize_scale(yr[t].maxbits);
            d2 = s - 2.0 * ((xs * ys) * yr[t].dot);
        } else {
            d2 = s - 2.0 * yr[t].dot;
            if (d2 < DIST_FIXUP_RATIO * s || s < tiny)
                return false; /* computed directly */
        }
        const double v = d2 > 0.0 ? d2 : 0.0;
        const float d = root ? dist_root(v) : (float)v;
        if (t == 0 || d < dbest) { /* the first on ties */
            dbest = d;
            tbest = (int32_t)t;
        }
    }
    *best = tbest;
    return true;
}
