/* dist_finish_body.h - the last pass: rows of `out` holding dot products become distances.
 * d^2 = (|x|^2 + |y|^2) - 2 x.y (INT8: the offset of q_y + 128 removed and the scales applied),
 * recomputed directly where cancellation spoiled it or where it might overflow, clamped at 0,
 * square-rooted (in double) for L2, rounded to float. Stamped once per ISA like
 * dist_pack_body.h (define DIST_FINISH_ROWS, then include); plain IEEE operations in a fixed
 * order, so every stamp writes the same bits.
 */
#include <math.h>
#include <string.h>

#include "distance/dist_convert.h"
#include "distance/dist_plan.h"

#ifndef DIST_FINISH_ROWS
#error "define DIST_FINISH_ROWS before including dist_finish_body.h"
#endif

#define FINISH_CHUNK 64

void DIST_FINISH_ROWS(const dist_plan *p, size_t i0, size_t i1, const float *x, const float *y,
                      float *out) {
    const size_t m = p->m;
    const bool int8 = p->prec == IMM_PRECISION_INT8;
    /* tiny norms matter for FP32 / BF16 only (dist_tiny_pair): -1 never triggers */
    const bool fp = p->prec == IMM_PRECISION_FP32 || p->prec == IMM_PRECISION_BF16;
    const double tiny = fp ? (double)p->dim * DIST_TINY_NORMS : -1.0;
    const bool scaled_bf16 = p->prec == IMM_PRECISION_BF16 && p->prescale != 1.0f;
    double d2[FINISH_CHUNK], s[FINISH_CHUNK];
    for (size_t i = i0; i < i1; i++) {
        const double xn = p->xn[i];
        const double bx = p->suspects ? dist_row_bound(p, p->xmax[i]) : 0.0;
        for (size_t j0 = 0; j0 < m; j0 += FINISH_CHUNK) {
            const size_t cnt = m - j0 < FINISH_CHUNK ? m - j0 : FINISH_CHUNK;
            float *o = out + i * m + j0;
            const double *yn = p->yn + j0;
            int fix = 0;
            for (size_t q = 0; q < cnt; q++)
                s[q] = xn + yn[q];
            /* The dot products are read in the arithmetic itself: a separate copy of the chunk
               became rep movsq, a quarter of this pass. */
            if (int8 && p->k->store == DIST_STORE_I8_AMX) {
                /* x held q + 128: the offset is 128 sum(q_y) per column. dot - corr is the same
                   exact integer x.y as below, so the same bits follow. */
                const double xs = p->xs[i];
                const double *ys = p->ys + j0;
                const double *ysum = p->ysum + j0;
                for (size_t q = 0; q < cnt; q++) {
                    int32_t dot;
                    memcpy(&dot, o + q, sizeof dot);
                    d2[q] = s[q] - 2.0 * ((xs * ys[q]) * ((double)dot - 128.0 * ysum[q]));
                }
            } else if (int8) {
                const double xs = p->xs[i], corr = 128.0 * p->xsum[i];
                const double *ys = p->ys + j0;
                for (size_t q = 0; q < cnt; q++) {
                    int32_t dot; /* INT8: out holds int32 sums */
                    memcpy(&dot, o + q, sizeof dot);
                    d2[q] = s[q] - 2.0 * ((xs * ys[q]) * ((double)dot - corr));
                }
            } else {
                for (size_t q = 0; q < cnt; q++)
                    d2[q] = s[q] - 2.0 * (double)o[q];
                for (size_t q = 0; q < cnt; q++)
                    fix |= d2[q] < DIST_FIXUP_RATIO * s[q];
                for (size_t q = 0; q < cnt; q++)
                    fix |= s[q] < tiny;
                fix |= scaled_bf16;
            }
            if (fix || p->suspects)
                for (size_t q = 0; q < cnt; q++) {
                    const bool suspect =
                        p->suspects && bx + dist_row_bound(p, p->ymax[j0 + q]) >= p->bound_limit;
                    if (suspect ||
                        (!int8 && (d2[q] < DIST_FIXUP_RATIO * s[q] ||
                                   dist_tiny_pair(p, s[q], p->xmax[i], p->ymax[j0 + q]))))
                        d2[q] = imi_dist_direct(p, i, j0 + q, x, y);
                }
            if (!p->root) {
                for (size_t q = 0; q < cnt; q++)
                    o[q] = (float)((d2[q] > 0.0 ? d2[q] : 0.0) * p->rescale);
                continue;
            }
            /* dist_root(), with the common case (every d^2 a normal float or 0) in one loop the
               compiler vectorises: vcvtpd2ps, vsqrtps */
            int outside = 0;
            for (size_t q = 0; q < cnt; q++) {
                d2[q] = (d2[q] > 0.0 ? d2[q] : 0.0) * p->rescale;
                outside |= !dist_root_in_float(d2[q]);
            }
            if (!outside)
                for (size_t q = 0; q < cnt; q++)
                    o[q] = sqrtf((float)d2[q]);
            else
                for (size_t q = 0; q < cnt; q++)
                    o[q] = dist_root(d2[q]);
        }
    }
}
