/* dist_pack.c - packing x and y (in parallel, with the kernel's own packer), the NaN/Inf and
 * overflow screening, the power-of-two prescale for huge inputs; and the scalar packer, the
 * reference stamp of dist_pack_body.h.
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

static void pack_all(dist_plan *p, const float *x, const float *y) {
    const long total = (long)(p->xpanels + p->ypanels);
    const bool big = (p->n + p->m) * p->dim > 65536;
#pragma omp parallel for schedule(dynamic, 4) num_threads(p->threads) if (big)
    for (long t = 0; t < total; t++) {
        void *ps = (unsigned char *)p->sums + (size_t)omp_get_thread_num() * DIST_PACK_SCRATCH;
        if ((size_t)t < p->xpanels)
            p->k->pack(p, false, (size_t)t, x, p->n, ps);
        else
            p->k->pack(p, true, (size_t)t - p->xpanels, y, p->m, ps);
    }
}

/* Largest of the per-panel maxima in [from, to). */
static double panel_max(const double *v, size_t from, size_t to) {
    double w = 0.0;
    for (size_t i = from; i < to; i++)
        w = v[i] > w ? v[i] : w;
    return w;
}

int imm_dist_pack(dist_plan *p, const float *x, const float *y) {
    const size_t np = p->xpanels + p->ypanels;
    p->prescale = 1.0f;
    p->rescale = 1.0;
    pack_all(p, x, y);
    double raw = panel_max(p->panel_raw, 0, np);
    RETURN_ERROR_IF(!(raw < INFINITY), IMM_ERR_NONFINITE);
    if (raw > DIST_PRESCALE_LIMIT &&
        (p->prec == IMM_PRECISION_FP32 || p->prec == IMM_PRECISION_BF16)) {
        int e;
        frexp(sqrt(raw), &e); /* sqrt(raw) <= 2^e: scaled norms stay <= 2^60 */
        p->prescale = ldexpf(1.0f, 60 - e);
        p->rescale = ldexp(1.0, 2 * (e - 60));
        pack_all(p, x, y);
    }
    /* FP16 values of 65520 or more round to Inf (BF16 near FLT_MAX too, without prescale). */
    RETURN_ERROR_IF(!(panel_max(p->panel_conv, 0, np) < INFINITY), IMM_ERR_NONFINITE);
    return IMM_OK;
}

bool imm_dist_may_overflow(const dist_plan *p) {
    /* d <= |x| + |y|; 2^-20 of margin covers the rounding of the computed d^2. */
    const double limit = (double)FLT_MAX * (1.0 - 0x1p-20);
    double nx = sqrt(panel_max(p->panel_conv, 0, p->xpanels) * p->rescale);
    double ny = sqrt(panel_max(p->panel_conv, p->xpanels, p->xpanels + p->ypanels) * p->rescale);
    double bound = nx + ny;
    return p->root ? !(bound < limit) : !(bound * bound < limit);
}
