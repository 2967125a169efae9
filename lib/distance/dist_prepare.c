/* dist_prepare.c - the pre-pass of a distance call (NaN/Inf, the precision's range, the
 * power-of-two prescale, outputs that might overflow float) and the direct d^2 used where the
 * dot-product form cannot be trusted.
 */
#include <float.h>
#include <math.h>

#include "core/internal.h"
#include "distance/dist_convert.h"
#include "distance/dist_plan.h"

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
    case IMM_PRECISION_BF16: {
        /* rounded where the kernels round it (scaled: no overflow near FLT_MAX), unless the
           scaling would flush it: then the unscaled rounding, which keeps it */
        const float scaled = v * p->prescale;
        return fabsf(scaled) >= 0x1p-40f ? (double)dist_round_bf16(scaled)
                                         : (double)dist_round_bf16(v) * (double)p->prescale;
    }
    case IMM_PRECISION_INT8: return (double)dist_quantize(v, inv) * scale;
    default: return (double)v * (double)p->prescale; /* exact: no float underflow */
    }
}

double imi_dist_direct(const dist_plan *p, size_t i, size_t j, const float *x, const float *y) {
    const float *a = x + i * p->dim, *b = y + j * p->dim;
    double ia = 0, ib = 0, sa = 0, sb = 0;
    if (p->prec == IMM_PRECISION_INT8) {
        ia = dist_quantize_inv(p->xmax[i]), sa = dist_quantize_scale(p->xmax[i]);
        ib = dist_quantize_inv(p->ymax[j]), sb = dist_quantize_scale(p->ymax[j]);
    }
    double l[8] = {0};
    for (size_t k = 0; k < p->dim; k++) {
        double t = seen(p, a[k], ia, sa) - seen(p, b[k], ib, sb);
        l[k & 7] += t * t;
    }
    return dist_lanes8(l);
}

typedef struct {
    const dist_plan *p;
    const float *x, *y;
    bool max_known;
    int overflow; /* any_overflow(): set by any row that finds one */
} prepass_job;

/* Row i of x against every y whose norm bound allows an overflow (the finish computes exactly
   these pairs the same way, so the check and the output agree). */
static void overflow_row(long i, int tid, void *arg) {
    prepass_job *job = arg;
    const dist_plan *p = job->p;
    (void)tid;
    const double bx = dist_row_bound(p, p->xmax[i]);
    for (size_t j = 0; j < p->m; j++) {
        int seen_overflow;
#pragma omp atomic read
        seen_overflow = job->overflow;
        if (seen_overflow)
            return;
        if (bx + dist_row_bound(p, p->ymax[j]) < p->bound_limit)
            continue;
        double v = imi_dist_direct(p, (size_t)i, j, job->x, job->y) * p->rescale;
        float f = p->root ? dist_root(v) : (float)v;
        if (isinf(f)) {
#pragma omp atomic write
            job->overflow = 1;
        }
    }
}

/* Whether any output overflows float. */
static bool any_overflow(const dist_plan *p, const float *x, const float *y) {
    prepass_job job = {p, x, y, false, 0};
    imi_parallel_for(p->threads, (long)p->n, 1, overflow_row, &job);
    return job.overflow != 0;
}

/* Rows per unit of the statistics pass: the AVX-512 stamp interleaves four rows' norms (each
   row's sum is a fixed-order chain of adds; four chains keep the adder busy). */
#define STATS_ROWS 4

/* Statistics of `rows` rows of x or y from row i (sums = false: only the max and, INT8, the
   scale; the packer stores the rest, dist_kernels.h). */
static void stats_rows(const prepass_job *job, bool is_y, size_t i, size_t rows, bool sums) {
    dist_plan *p = (dist_plan *)job->p;
    p->k->stats(p, (is_y ? job->y : job->x) + i * p->dim, rows, job->max_known,
                (is_y ? p->ymax : p->xmax) + i, sums ? (is_y ? p->yn : p->xn) + i : NULL,
                (is_y ? p->ys : p->xs) + i, sums ? (is_y ? p->ysum : p->xsum) + i : NULL);
}

/* Statistics of unit u: rows [4u, 4u + 4) of x, or of y after x's units. */
static void stats_unit(long u, int tid, void *arg) {
    prepass_job *job = arg;
    const dist_plan *p = job->p;
    (void)tid;
    const size_t xunits = (p->n + STATS_ROWS - 1) / STATS_ROWS;
    const bool is_y = (size_t)u >= xunits;
    const size_t i = ((size_t)u - (is_y ? xunits : 0)) * STATS_ROWS, end = is_y ? p->m : p->n;
    stats_rows(job, is_y, i, end - i < STATS_ROWS ? end - i : STATS_ROWS, true);
}

/* A panel of x (or of y, in one round) packed in the pre-pass (dist_plan.h): its rows' max,
   then - all of them finite, else the call fails - the panel, all dimensions, packed while the
   rows are in cache; the packer stores the rows' sums. */
static void pack_panel(const prepass_job *job, bool is_y, size_t panel, int tid) {
    const dist_plan *p = job->p;
    const size_t P = is_y ? p->k->nr : p->k->mr, r0 = panel * P, end = is_y ? p->m : p->n;
    const size_t rows = end - r0 < P ? end - r0 : P;
    for (size_t r = 0; r < rows; r += STATS_ROWS)
        stats_rows(job, is_y, r0 + r, rows - r < STATS_ROWS ? rows - r : STATS_ROWS, false);
    const uint32_t *maxbits = (is_y ? p->ymax : p->xmax) + r0;
    for (size_t r = 0; r < rows; r++)
        if (maxbits[r] >= 0x7f800000u)
            return; /* NaN / Inf: an error, nothing to pack */
    const size_t bytes = P * ((p->dim + p->group - 1) / p->group * p->group) * p->elem;
    p->k->pack(p, is_y, r0, is_y ? job->y : job->x, 0, p->dim,
               (is_y ? p->bblock : p->xpacked) + panel * bytes,
               p->scratch + (size_t)tid * DIST_PACK_SCRATCH);
}

/* x prepacked: unit u is x's panel u, then y's panel (yprepacked) or y's rows [4u', 4u' + 4). */
static void packed_unit(long u, int tid, void *arg) {
    prepass_job *job = arg;
    const dist_plan *p = job->p;
    const size_t xpanels = (p->n + p->k->mr - 1) / p->k->mr;
    if ((size_t)u < xpanels) {
        pack_panel(job, false, (size_t)u, tid);
    } else if (p->yprepacked) {
        pack_panel(job, true, (size_t)u - xpanels, tid);
    } else {
        const size_t i = ((size_t)u - xpanels) * STATS_ROWS;
        stats_rows(job, true, i, p->m - i < STATS_ROWS ? p->m - i : STATS_ROWS, true);
    }
}

/* Row statistics of x and y (parallel over rows when there is enough of them); with x
   prepacked (INT8), its panels and, in one round, y's are packed here too. */
static void all_stats(dist_plan *p, const float *x, const float *y, bool max_known) {
    prepass_job job = {p, x, y, max_known, 0};
    const bool big = (p->n + p->m) * p->dim > 65536;
    if (p->xprepacked) { /* INT8: max_known is never set (no prescale) */
        const size_t yunits = p->yprepacked ? p->ypanels : (p->m + STATS_ROWS - 1) / STATS_ROWS;
        const long units = (long)((p->n + p->k->mr - 1) / p->k->mr + yunits);
        imi_parallel_for(big ? p->threads : 1, units, 1, packed_unit, &job);
        return;
    }
    const long units =
        (long)((p->n + STATS_ROWS - 1) / STATS_ROWS + (p->m + STATS_ROWS - 1) / STATS_ROWS);
    imi_parallel_for(big ? p->threads : 1, units, 4, stats_unit, &job);
}

int imi_dist_prepare(dist_plan *p, const float *x, const float *y) {
    const size_t n = p->n, m = p->m, dim = p->dim;
    p->prescale = 1.0f;
    p->rescale = 1.0;
    all_stats(p, x, y, false);
    const uint32_t mx = max_of(p->xmax, n), my = max_of(p->ymax, m);
    const uint32_t top = mx > my ? mx : my;
    RETURN_ERROR_IF(top >= 0x7f800000u, IMM_ERR_NONFINITE);
    /* FP16: 65520 and up round to Inf in half. */
    RETURN_ERROR_IF(p->prec == IMM_PRECISION_FP16 && top >= 0x477ff000u, IMM_ERR_NONFINITE);

    if (dist_needs_prescale(p->prec, top, dim)) {
        const double worst = (double)dist_float(top) * sqrt((double)dim);
        int e;
        frexp(worst, &e); /* worst <= 2^e: scaled rows have |x| <= 2^60 */
        p->prescale = ldexpf(1.0f, 60 - e);
        p->rescale = ldexp(1.0, 2 * (e - 60));
        all_stats(p, x, y, true); /* the norms of the scaled rows (rare) */
    }

    /* d <= |x| + |y| <= bx + by: pairs under half of FLT_MAX (in d^2 for SQL2) cannot overflow,
       whatever the rounding of the computed d^2. */
    p->bound_limit = dist_bound_limit(p->root);
    p->suspects = dist_row_bound(p, mx) + dist_row_bound(p, my) >= p->bound_limit;
    RETURN_ERROR_IF(p->suspects && any_overflow(p, x, y), IMM_ERR_NONFINITE);
    return IMM_OK;
}
