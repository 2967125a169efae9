/* dist_tiles.c - the blocked, parallel part of a distance call.
 *
 * The n x m output is cut into blocks of mc x nc; a block is one OpenMP task. Inside a block,
 * for each accumulation block of kc dimensions, every NR-panel of y meets every MR-panel of x
 * in the micro-kernel, which adds its MR x NR dot products to the block's double tile. Then
 * d^2 = (|x|^2 + |y|^2) - 2 x.y, fixed up where cancellation ate the digits, clamped at 0,
 * square-rooted for L2 and written out.
 *
 * Which thread runs a block, and the block sizes, change nothing: every output goes through the
 * same operations in the same order. Compiled without ISA flags (shared by every variant).
 */
#include <math.h>
#include <omp.h>

#include "distance/dist_convert.h"
#include "distance/dist_plan.h"

/* sum (x_k - y_k)^2 of the packed values, in double, fixed 8-lane order. Only for outputs that
   cancellation spoiled (nearly equal rows); one loop per rounding so that each vectorises. */
#define DIRECT_LOOP(ROUND)                                                                         \
    do {                                                                                           \
        size_t k = 0;                                                                              \
        for (; k + 8 <= dim; k += 8)                                                               \
            for (int j = 0; j < 8; j++) {                                                          \
                double t = (double)ROUND(a[k + j]) - (double)ROUND(b[k + j]);                      \
                l[j] += t * t;                                                                     \
            }                                                                                      \
        for (; k < dim; k++) {                                                                     \
            double t = (double)ROUND(a[k]) - (double)ROUND(b[k]);                                  \
            l[k & 7] += t * t;                                                                     \
        }                                                                                          \
    } while (0)

static double direct_sq(const dist_plan *p, const float *a, const float *b) {
    const size_t dim = p->dim;
    const float s = p->prescale;
    double l[8] = {0};
#define SCALED(v) ((v)*s)
#define BF16(v) dist_round_bf16((v)*s)
    switch (p->prec) {
    case IMM_PRECISION_FP16: DIRECT_LOOP(dist_round_half); break;
    case IMM_PRECISION_BF16: DIRECT_LOOP(BF16); break;
    default: DIRECT_LOOP(SCALED); break;
    }
#undef SCALED
#undef BF16
    return dist_lanes8(l);
}

#define DIST_NR_MAX 64

/* Distances of block rows [i0, i0 + rows) x columns [j0, j0 + cols) from its tile. */
static bool finish_block(const dist_plan *p, const double *tile, size_t njr, size_t i0, size_t rows,
                         size_t j0, size_t cols, const float *x, const float *y, float *out,
                         bool dry) {
    const size_t MR = p->k->mr, NR = p->k->nr;
    const bool int8 = p->prec == IMM_PRECISION_INT8;
    bool overflow = false;
    double d2[DIST_NR_MAX];
    for (size_t r = 0; r < rows; r++) {
        const size_t i = i0 + r;
        const double xn = p->xn[i];
        for (size_t jr = 0; jr * NR < cols; jr++) {
            const double *c = tile + ((r / MR) * njr + jr) * MR * NR + (r % MR) * NR;
            const size_t jb = j0 + jr * NR, cnt = cols - jr * NR < NR ? cols - jr * NR : NR;
            const double *yn = p->yn + jb;
            bool fix = false;
            if (int8) {
                const double xs = p->xs[i], corr = 128.0 * p->xq[i];
                const double *ys = p->ys + jb;
                for (size_t q = 0; q < cnt; q++)
                    d2[q] = (xn + yn[q]) - 2.0 * ((xs * ys[q]) * (c[q] - corr));
            } else {
                for (size_t q = 0; q < cnt; q++) {
                    d2[q] = (xn + yn[q]) - 2.0 * c[q];
                    fix |= d2[q] < DIST_FIXUP_RATIO * (xn + yn[q]);
                }
            }
            if (fix)
                for (size_t q = 0; q < cnt; q++)
                    if (d2[q] < DIST_FIXUP_RATIO * (xn + yn[q]))
                        d2[q] = direct_sq(p, x + i * p->dim, y + (jb + q) * p->dim);
            float *o = out + i * p->m + jb;
            for (size_t q = 0; q < cnt; q++) {
                double v = (d2[q] > 0.0 ? d2[q] : 0.0) * p->rescale;
                float f = p->root ? (float)sqrt(v) : (float)v;
                if (dry)
                    overflow |= isinf(f);
                else
                    o[q] = f;
            }
        }
    }
    return overflow;
}

/* Block (ib, jb): rows [ib * mc, ...) of x against rows [jb * nc, ...) of y. */
static bool run_block(const dist_plan *p, size_t ib, size_t jb, double *tile, const float *x,
                      const float *y, float *out, bool dry) {
    const dist_kernel *k = p->k;
    const size_t MR = k->mr, NR = k->nr;
    const size_t i0 = ib * p->mc, j0 = jb * p->nc;
    const size_t rows = p->n - i0 < p->mc ? p->n - i0 : p->mc;
    const size_t cols = p->m - j0 < p->nc ? p->m - j0 : p->nc;
    const size_t nir = (rows + MR - 1) / MR, njr = (cols + NR - 1) / NR;
    const size_t xpanel = MR * p->dp * p->elem, ypanel = NR * p->dp * p->elem;
    const unsigned char *px = (const unsigned char *)p->px + (i0 / MR) * xpanel;
    const unsigned char *py = (const unsigned char *)p->py + (j0 / NR) * ypanel;
    for (size_t pc = 0; pc < p->dp; pc += p->kc) {
        const size_t kb = p->dp - pc < p->kc ? p->dp - pc : p->kc;
        for (size_t jr = 0; jr < njr; jr++) {
            const unsigned char *b = py + jr * ypanel + pc * NR * p->elem;
            for (size_t ir = 0; ir < nir; ir++) {
                const unsigned char *a = px + ir * xpanel + pc * MR * p->elem;
                k->tile(a, b, kb, tile + (ir * njr + jr) * MR * NR, pc == 0);
            }
        }
    }
    return finish_block(p, tile, njr, i0, rows, j0, cols, x, y, out, dry);
}

bool imm_dist_tiles(const dist_plan *p, const float *x, const float *y, float *out, bool dry) {
    const size_t nib = (p->n + p->mc - 1) / p->mc, njb = (p->m + p->nc - 1) / p->nc;
    const long tasks = (long)(nib * njb);
    const bool big = tasks > 1 && (double)p->n * (double)p->m * (double)p->dim > 2e6;
    int overflow = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(p->threads) if (big)                     \
    reduction(|                                                                                    \
              : overflow)
    for (long t = 0; t < tasks; t++) {
        double *tile = p->ctile + (size_t)omp_get_thread_num() * p->mc * p->nc;
        overflow |= run_block(p, (size_t)t / njb, (size_t)t % njb, tile, x, y, out, dry);
    }
    return overflow != 0;
}
