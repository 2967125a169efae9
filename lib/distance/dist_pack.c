/* dist_pack.c - the pre-pass of a distance call (NaN/Inf, the precision's range, the power-of-two
 * prescale, outputs that might overflow float), the direct d^2 used where the dot-product form
 * cannot be trusted, and the scalar packer (the reference stamp of dist_pack_body.h).
 */
#include <float.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/internal.h"
#include "distance/dist_convert.h"
#include "distance/dist_plan.h"

#define DIST_PACK_PANEL imm_dist_pack_panel_scalar
#include "distance/dist_pack_body.h"

/* Largest |v| of a row as float bits; NaN/Inf give >= 0x7f800000. An integer max vectorises. */
static uint32_t max_abs_bits(const float *v, size_t n) {
    uint32_t m = 0;
    for (size_t k = 0; k < n; k++) {
        uint32_t b = dist_bits(v[k]) & 0x7fffffffu;
        m = b > m ? b : m;
    }
    return m;
}

static uint32_t max_of(const uint32_t *v, size_t n) {
    uint32_t m = 0;
    for (size_t i = 0; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

/* The value the kernels see for element v of a row (INT8: q * scale, in double). */
static double seen(const dist_plan *p, float v, double inv, double scale) {
    switch (p->prec) {
    case IMM_PRECISION_FP16: return (double)dist_round_half(v);
    case IMM_PRECISION_BF16: return (double)dist_round_bf16(v * p->prescale);
    case IMM_PRECISION_INT8: return (double)dist_quantize(v, inv) * scale;
    default: return (double)(v * p->prescale);
    }
}

double imm_dist_direct(const dist_plan *p, size_t i, size_t j, const float *x, const float *y) {
    const float *a = x + i * p->dim, *b = y + j * p->dim;
    double ia = 0, ib = 0, sa = 0, sb = 0;
    if (p->prec == IMM_PRECISION_INT8) {
        float ma, mb;
        memcpy(&ma, &p->xmax[i], sizeof ma);
        memcpy(&mb, &p->ymax[j], sizeof mb);
        ia = ma > 0.0f ? 127.0 / (double)ma : 0.0, sa = (double)ma / 127.0;
        ib = mb > 0.0f ? 127.0 / (double)mb : 0.0, sb = (double)mb / 127.0;
    }
    double l[8] = {0};
    for (size_t k = 0; k < p->dim; k++) {
        double t = seen(p, a[k], ia, sa) - seen(p, b[k], ib, sb);
        l[k & 7] += t * t;
    }
    return dist_lanes8(l);
}

/* Whether any output overflows float. Only pairs whose norm bound allows it are computed (the
   finish computes exactly these pairs the same way, so the check and the output agree). */
static bool any_overflow(const dist_plan *p, const float *x, const float *y) {
    int overflow = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(p->threads) reduction(| : overflow)
    for (long i = 0; i < (long)p->n; i++) {
        const double bx = dist_row_bound(p, p->xmax[i]);
        for (size_t j = 0; j < p->m && !overflow; j++) {
            if (bx + dist_row_bound(p, p->ymax[j]) < p->bound_limit)
                continue;
            double v = imm_dist_direct(p, (size_t)i, j, x, y) * p->rescale;
            float f = p->root ? (float)sqrt(v) : (float)v;
            overflow |= isinf(f);
        }
    }
    return overflow != 0;
}

int imm_dist_prepare(dist_plan *p, const float *x, const float *y) {
    const size_t n = p->n, m = p->m, dim = p->dim;
    const bool big = (n + m) * dim > 65536;
#pragma omp parallel for schedule(static) num_threads(p->threads) if (big)
    for (long r = 0; r < (long)(n + m); r++) {
        if ((size_t)r < n)
            p->xmax[r] = max_abs_bits(x + (size_t)r * dim, dim);
        else
            p->ymax[(size_t)r - n] = max_abs_bits(y + ((size_t)r - n) * dim, dim);
    }
    const uint32_t mx = max_of(p->xmax, n), my = max_of(p->ymax, m);
    const uint32_t top = mx > my ? mx : my;
    RETURN_ERROR_IF(top >= 0x7f800000u, IMM_ERR_NONFINITE);
    /* FP16: 65520 and up round to Inf in half. */
    RETURN_ERROR_IF(p->prec == IMM_PRECISION_FP16 && top >= 0x477ff000u, IMM_ERR_NONFINITE);

    p->prescale = 1.0f;
    p->rescale = 1.0;
    const double worst = (double)dist_float(top) * sqrt((double)dim);
    if (worst > DIST_PRESCALE_LIMIT &&
        (p->prec == IMM_PRECISION_FP32 || p->prec == IMM_PRECISION_BF16)) {
        int e;
        frexp(worst, &e); /* worst <= 2^e: scaled rows have |x| <= 2^60 */
        p->prescale = ldexpf(1.0f, 60 - e);
        p->rescale = ldexp(1.0, 2 * (e - 60));
    }

    /* d <= |x| + |y| <= bx + by: pairs under half of FLT_MAX (in d^2 for SQL2) cannot overflow,
       whatever the rounding of the computed d^2. */
    p->bound_limit = p->root ? 0.5 * (double)FLT_MAX : sqrt(0.5 * (double)FLT_MAX);
    p->suspects = dist_row_bound(p, mx) + dist_row_bound(p, my) >= p->bound_limit;
    RETURN_ERROR_IF(p->suspects && any_overflow(p, x, y), IMM_ERR_NONFINITE);

    memset(p->xlanes, 0, n * 8 * sizeof *p->xlanes);
    memset(p->ylanes, 0, m * 8 * sizeof *p->ylanes);
    memset(p->xsq, 0, n * sizeof *p->xsq);
    memset(p->ysq, 0, m * sizeof *p->ysq);
    memset(p->xsum, 0, n * sizeof *p->xsum);
    return IMM_OK;
}
