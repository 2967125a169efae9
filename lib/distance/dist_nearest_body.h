/* dist_nearest_body.h - the portable fused row kernel (dist_nearest.h): the reference the AVX2
 * and AVX-512 kernels match bit for bit, stamped for scalar (dist_nearest_scalar.c): define
 * DIST_NEAR_ROWS to the entry point's name, then include.
 *
 * Per row: max |v|, then the rounded row into a scratch row padded with zeros to whole blocks,
 * and its norm (lane k % 8 adds the squares in k order, dist_convert.h); then the dot product
 * with x's rounded row, the blocks side by side: each block's fp32 accumulator takes its products
 * in increasing k with fmaf() (BF16: the odd element of each pair first), as the micro-kernels
 * do. The padding only adds fmaf(0, 0, acc) after a block's last product, which can turn a -0
 * sum into +0 and nothing else; the finish reads the dot product only as s - 2 dot, where the
 * sign of a zero is lost. INT8: exact integer sums, in any order. Plain IEEE operations and
 * fmaf() (the files are compiled with -ffp-contract=off), so every stamp writes the same bits.
 */
#include <math.h>
#include <string.h>

#include "distance/dist_convert.h"
#include "distance/dist_kernels.h"
#include "distance/dist_nearest.h"

#ifndef DIST_NEAR_ROWS
#error "define DIST_NEAR_ROWS before including dist_nearest_body.h"
#endif

#define KC DIST_KC_FLOAT
#define SIDE 64 /* blocks side by side per pass of the dot product (accumulators on the stack) */

static uint32_t near_max_bits(const float *v, size_t n) {
    uint32_t m = 0;
    for (size_t k = 0; k < n; k++) {
        const uint32_t b = dist_bits(v[k]) & 0x7fffffffu;
        m = b > m ? b : m;
    }
    return m;
}

/* Row v rounded as the kernels see it into out[0..dim), zeros up to `padded`; returns the norm. */
static double near_round_row(imm_precision prec, const float *v, size_t dim, size_t padded,
                             float *out) {
    switch (prec) {
    case IMM_PRECISION_FP16:
        for (size_t k = 0; k < dim; k++)
            out[k] = dist_round_half(v[k]);
        break;
    case IMM_PRECISION_BF16:
        for (size_t k = 0; k < dim; k++)
            out[k] = dist_round_bf16(v[k]);
        break;
    default: memcpy(out, v, dim * sizeof *out); break;
    }
    for (size_t k = dim; k < padded; k++)
        out[k] = 0.0f;
    double l[8] = {0};
    size_t k = 0;
    for (; k + 8 <= dim; k += 8)
        for (int j = 0; j < 8; j++)
            l[j] += (double)out[k + j] * (double)out[k + j];
    for (; k < dim; k++)
        l[k & 7] += (double)out[k] * (double)out[k];
    return dist_lanes8(l);
}

/* x~.y~ over nb blocks of KC (both rows padded with zeros to whole blocks), fp32. */
static float near_dot(const float *xc, const float *yc, size_t nb, bool swap) {
    float tot = 0.0f;
    for (size_t b0 = 0; b0 < nb; b0 += SIDE) {
        const size_t n = nb - b0 < SIDE ? nb - b0 : SIDE;
        const float *xb = xc + b0 * KC, *yb = yc + b0 * KC;
        float acc[SIDE] = {0};
        if (swap) {
            for (size_t k = 0; k < KC; k += 2)
                for (size_t b = 0; b < n; b++) {
                    acc[b] = fmaf(xb[b * KC + k + 1], yb[b * KC + k + 1], acc[b]);
                    acc[b] = fmaf(xb[b * KC + k], yb[b * KC + k], acc[b]);
                }
        } else {
            for (size_t k = 0; k < KC; k++)
                for (size_t b = 0; b < n; b++)
                    acc[b] = fmaf(xb[b * KC + k], yb[b * KC + k], acc[b]);
        }
        for (size_t b = 0; b < n; b++)
            tot = b0 + b == 0 ? acc[b] : tot + acc[b];
    }
    return tot;
}

bool DIST_NEAR_ROWS(imm_precision prec, const float *x, const float *y, size_t k, size_t dim,
                    const float *next_x, void *scratch, dist_near_row *xr, dist_near_row *yr) {
    (void)next_x; /* a hint the portable body does not use */
    xr->maxbits = near_max_bits(x, dim);
    xr->dot = 0.0;
    if (xr->maxbits >= 0x7f800000u)
        return false;
    if (prec == IMM_PRECISION_INT8) {
        int32_t *qx = scratch;
        const double inv = dist_quantize_inv(xr->maxbits), s = dist_quantize_scale(xr->maxbits);
        int64_t sq = 0;
        for (size_t e = 0; e < dim; e++) {
            qx[e] = dist_quantize(x[e], inv);
            sq += qx[e] * qx[e];
        }
        xr->norm = (s * s) * (double)sq;
        for (size_t t = 0; t < k; t++) {
            const float *v = y + t * dim;
            dist_near_row *r = yr + t;
            r->maxbits = near_max_bits(v, dim);
            if (r->maxbits >= 0x7f800000u)
                return false;
            const double iv = dist_quantize_inv(r->maxbits), sv = dist_quantize_scale(r->maxbits);
            int64_t vsq = 0, dot = 0; /* |sums| < 127^2 DIST_INT8_MAX_DIM < 2^31 */
            for (size_t e = 0; e < dim; e++) {
                const int32_t q = dist_quantize(v[e], iv);
                vsq += q * q;
                dot += q * qx[e];
            }
            r->norm = (sv * sv) * (double)vsq;
            r->dot = (double)dot;
        }
        return true;
    }
    const size_t nb = (dim + KC - 1) / KC;
    float *xc = scratch, *yc = xc + nb * KC;
    const bool swap = prec == IMM_PRECISION_BF16;
    xr->norm = near_round_row(prec, x, dim, nb * KC, xc);
    for (size_t t = 0; t < k; t++) {
        const float *v = y + t * dim;
        dist_near_row *r = yr + t;
        r->maxbits = near_max_bits(v, dim);
        if (r->maxbits >= 0x7f800000u)
            return false;
        r->norm = near_round_row(prec, v, dim, nb * KC, yc);
        r->dot = (double)near_dot(xc, yc, nb, swap);
    }
    return true;
}

#undef KC
#undef SIDE
