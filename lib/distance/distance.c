/* distance.c - imm_distance(): validation, the call's plan and workspace, then pack and tile.
 *
 * The steps, each in its own file: dist_prepare.c (pre-pass: NaN/Inf, ranges, prescale, overflow),
 * dist_tiles.c (blocked parallel loop), dist_pack_body.h and dist_finish_body.h (packing, and
 * dot products -> distances, stamped per ISA), dist_kernels_<isa>.c (micro-kernels, one table
 * per variant, chosen once in dist_dispatch.c). See dist_plan.h for the loop. One row against
 * a few (KNN) has its own fused path with the same arithmetic: dist_nearest.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/internal.h"
#include "core/layout.h"
#include "distance/dist_plan.h"
#include "distance/distance.h"

static size_t round_up(size_t v, size_t unit) { return (v + unit - 1) / unit * unit; }

static size_t store_bytes(dist_store s) {
    return s == DIST_STORE_F32 ? 4 : s == DIST_STORE_I8 || s == DIST_STORE_I8_AMX ? 1 : 2;
}

/* Bytes of all of x's packed panels (rows to whole panels, dimensions to whole blocks), or 0
   when over DIST_XALL_BYTES. */
static size_t xall_bytes(size_t n, size_t dim, size_t mr, size_t kc, size_t elem) {
    if (dim > DIST_XALL_BYTES || n > DIST_XALL_BYTES)
        return 0;
    const size_t row = round_up(dim, kc) * elem; /* small: dim <= DIST_XALL_BYTES */
    if (row > DIST_XALL_BYTES)
        return 0;
    const size_t rows = round_up(n, mr);
    return rows <= DIST_XALL_BYTES / row ? rows * row : 0;
}

/* Everything but the workspace pointers. False when a size overflows. */
static bool make_plan(dist_plan *p, size_t n, size_t m, size_t dim, const imm_options *o) {
    const dist_kernel *k = imi_dist_kernel(o->precision);
    memset(p, 0, sizeof *p);
    p->k = k;
    p->prec = o->precision;
    p->root = o->metric == IMM_METRIC_L2;
    p->swap_pairs = o->precision == IMM_PRECISION_BF16 && k->store == DIST_STORE_F32;
    p->n = n;
    p->m = m;
    p->dim = dim;
    p->group = p->swap_pairs ? 2 : k->kgroup;
    p->kc = dist_store_int(k->store) ? DIST_KC_INT8 : DIST_KC_FLOAT;
    p->elem = store_bytes(k->store);
    p->ypanels = (m + k->nr - 1) / k->nr;
    /* As many blocks per packing round as keep y's and each task's x's packed rows within
       their buffers (dist_plan.h). Grows with m and dim (the workspace must). */
    const size_t blocks = (dim + p->kc - 1) / p->kc, rows = p->ypanels * k->nr;
    const size_t ycap = DIST_YBUF_BYTES / p->elem, xcap = DIST_XBUF_BYTES / p->elem;
    size_t fit = rows * p->kc >= ycap ? 1 : ycap / (rows * p->kc);
    const size_t xrows = round_up(k->mc, k->mr) * p->kc,
                 xfit = xrows >= xcap ? 1 : xcap / xrows;
    /* INT8: x packed whole in the pre-pass when it fits DIST_XALL_BYTES (x's cap then does
       not apply), and y too when it fits one round (dist_plan.h). */
    p->xprepacked = dist_store_int(k->store) && xall_bytes(n, dim, k->mr, p->kc, p->elem) != 0;
    fit = fit < xfit || p->xprepacked ? fit : xfit;
    p->kpack = p->kc * (fit < blocks ? fit : blocks);
    p->yprepacked = p->xprepacked && blocks <= fit;
    p->threads = imi_threads(o);
    /* Row blocks of at most the kernel's mc rows, as many as a multiple of the threads when
       there are enough: the blocks' micro-panels are dealt out evenly (dist_tiles.c), so every
       thread gets the same work between two barriers (10 blocks of 8, 8, ..., 1 panels left one
       thread idle for most of a task in each round). */
    const size_t T = (size_t)p->threads, xpanels = (n + k->mr - 1) / k->mr;
    size_t nib = (n + k->mc - 1) / k->mc;
    if (nib >= T && nib % T != 0)
        nib = nib / T * T + T;
    nib = nib < xpanels ? nib : xpanels;
    /* Tasks cover all of y unless there are too few row blocks to keep the threads busy; then
       columns are split too (each split repacks its rows of x). */
    const size_t want = 2 * T;
    size_t njb = nib >= want ? 1 : (want + nib - 1) / nib;
    njb = njb < p->ypanels ? njb : p->ypanels;
    p->nib = nib;
    p->njb = njb;
    p->mc = (xpanels + nib - 1) / nib * k->mr;
    /* INT8 sums are int32: exact up to DIST_INT8_MAX_DIM dimensions. */
    return n <= SIZE_MAX / 64 && m <= SIZE_MAX / 64 && p->ypanels <= SIZE_MAX / k->nr &&
           (o->precision != IMM_PRECISION_INT8 || dim <= DIST_INT8_MAX_DIM);
}

/* Lays the pieces out from `base` (NULL: just measure). Returns the total, 0 on overflow. */
static size_t layout(dist_plan *p, unsigned char *base) {
    const size_t T = (size_t)p->threads, n = p->n, m = p->m;
    /* A task's rows of x are at most the kernel's block (sized for it, not for the balanced
       block, so that the workspace grows with n and m). */
    const size_t mr = p->k->mr, amax = round_up(p->k->mc, mr) < round_up(n, mr)
                                           ? round_up(p->k->mc, mr)
                                           : round_up(n, mr);
    /* Caps of the rounds (make_plan), not the rounds themselves, which step down as m grows:
       the workspace must grow with n, m and dim. */
    const size_t rows = p->ypanels * p->k->nr, dimp = round_up(p->dim, p->kc);
    const size_t ycap = DIST_YBUF_BYTES / p->elem, xcap = DIST_XBUF_BYTES / p->elem;
    size_t bcap = rows * p->kc > ycap ? rows * p->kc : ycap;
    size_t acap = amax * p->kc > xcap ? amax * p->kc : xcap;
    size_t bfull, afull;
    if (!imi_mul_size(rows, dimp, &bfull) || !imi_mul_size(amax, dimp, &afull))
        return 0;
    bcap = bcap < bfull ? bcap : bfull;
    acap = acap < afull ? acap : afull;
    imi_layout l = IMI_LAYOUT_INIT;
    const size_t at_b = imi_layout_add(&l, bcap, p->elem, 64);
    /* acap * elem: < bytes of x. INT8: room for x's panels too (xprepacked), or for
       DIST_XALL_BYTES when they are larger, so that the workspace grows with n and dim (a
       context warmed on a larger call must not allocate for a smaller one). */
    size_t abytes;
    if (!imi_mul_size(T, acap * p->elem, &abytes))
        return 0;
    if (dist_store_int(p->k->store)) {
        const size_t xall = xall_bytes(n, p->dim, mr, p->kc, p->elem);
        const size_t room = xall != 0 ? xall : DIST_XALL_BYTES;
        abytes = abytes > room ? abytes : room;
    }
    const size_t at_a = imi_layout_add(&l, 1, abytes, 64);
    const size_t at_scratch = imi_layout_add(&l, T, DIST_PACK_SCRATCH, 64);
    const size_t at_edge = imi_layout_add(&l, T, (size_t)mr * p->k->nr * 4, 64);
    const size_t at_xmax = imi_layout_add(&l, n, 4, 64), at_ymax = imi_layout_add(&l, m, 4, 64);
    const size_t at_xn = imi_layout_add(&l, n, 8, 64), at_yn = imi_layout_add(&l, m, 8, 64);
    const size_t at_xs = imi_layout_add(&l, n, 8, 64), at_ys = imi_layout_add(&l, m, 8, 64);
    const size_t at_xsum = imi_layout_add(&l, n, 8, 64), at_ysum = imi_layout_add(&l, m, 8, 64);
    const size_t total = imi_layout_total(&l, 64);
    if (base != NULL && total != 0) {
        p->bblock = base + at_b;
        p->ablock = p->xprepacked ? NULL : base + at_a;
        p->xpacked = p->xprepacked ? base + at_a : NULL;
        p->scratch = base + at_scratch, p->edge = base + at_edge;
        p->xmax = (uint32_t *)(base + at_xmax), p->ymax = (uint32_t *)(base + at_ymax);
        p->xn = (double *)(base + at_xn), p->yn = (double *)(base + at_yn);
        p->xs = (double *)(base + at_xs), p->ys = (double *)(base + at_ys);
        p->xsum = (double *)(base + at_xsum), p->ysum = (double *)(base + at_ysum);
    }
    return total;
}

size_t imi_dist_workspace_bytes(size_t n, size_t m, size_t dim, const imm_options *o) {
    dist_plan p;
    if (n == 0 || m == 0 || dim == 0)
        return 0;
    return make_plan(&p, n, m, dim, o) ? layout(&p, NULL) : 0;
}

int imi_dist_compute_scaled(const float *x, size_t n, const float *y, size_t m, size_t dim,
                            const imm_options *o, void *work, float *out, bool *scaled) {
    dist_plan p;
    RETURN_ERROR_IF(!make_plan(&p, n, m, dim, o), IMM_ERR_TOO_LARGE);
    layout(&p, work);
    FORWARD_IF_ERROR(imi_dist_prepare(&p, x, y)); /* every error is found here: out untouched */
    imi_dist_run(&p, x, y, out);
    *scaled = p.prescale != 1.0f;
    return IMM_OK;
}

int imi_dist_compute(const float *x, size_t n, const float *y, size_t m, size_t dim,
                     const imm_options *o, void *work, float *out) {
    bool scaled;
    return imi_dist_compute_scaled(x, n, y, m, dim, o, work, out, &scaled);
}

/* One code path for the one-shot call (ctx NULL: opts, a workspace allocated and freed here) and
   the context call (its options and growing workspace), so both give the same bits. */
static int distance(imm_ctx *ctx, const float *x, size_t n, const float *y, size_t m, size_t dim,
                    const imm_options *opts, float *out) {
    imm_options o;
    size_t nx, ny, nm;
    if (ctx != NULL)
        o = ctx->opts;
    else
        FORWARD_IF_ERROR(imi_options_resolve(opts, &o));
    RETURN_ERROR_IF(!imi_mul_size(n, dim, &nx) || !imi_mul_size(m, dim, &ny) ||
                        !imi_mul_size(n, m, &nm) || !imi_mul_size(nm, sizeof(float), &nm) ||
                        !imi_mul_size(nx, sizeof(float), &nx) ||
                        !imi_mul_size(ny, sizeof(float), &ny),
                    IMM_ERR_TOO_LARGE);
    RETURN_ERROR_IF(n > (size_t)INT32_MAX || m > (size_t)INT32_MAX, IMM_ERR_TOO_LARGE);
    if (n == 0 || m == 0)
        return IMM_OK;
    RETURN_ERROR_IF(x == NULL || y == NULL || out == NULL || dim == 0, IMM_ERR_INVALID_ARG);
    /* out holds dot products while they are summed: it must not be an input. */
    RETURN_ERROR_IF(imi_overlap(out, nm, x, nx) || imi_overlap(out, nm, y, ny),
                    IMM_ERR_INVALID_ARG);
    size_t bytes = imi_dist_workspace_bytes(n, m, dim, &o);
    RETURN_ERROR_IF(bytes == 0, IMM_ERR_TOO_LARGE);
    void *block = NULL, *work;
    if (ctx != NULL) {
        FORWARD_IF_ERROR(imi_ctx_reserve(ctx, bytes));
        work = ctx->work;
    } else {
        work = imi_alloc64(bytes, &block);
        RETURN_ERROR_IF(work == NULL, IMM_ERR_NOMEM);
    }
    int status = imi_dist_compute(x, n, y, m, dim, &o, work, out);
    free(block);
    return status;
}

int imm_distance(const float *x, size_t n, const float *y, size_t m, size_t dim,
                 const imm_options *opts, float *out) {
    imi_fpenv fe;
    imi_fpenv_enter(&fe);
    int status = distance(NULL, x, n, y, m, dim, opts, out);
    imi_fpenv_leave(&fe);
    return status;
}

int imm_ctx_distance(imm_ctx *ctx, const float *x, size_t n, const float *y, size_t m, size_t dim,
                     float *out) {
    RETURN_ERROR_IF(ctx == NULL, IMM_ERR_INVALID_ARG);
    imi_fpenv fe;
    imi_fpenv_enter(&fe);
    int status = distance(ctx, x, n, y, m, dim, NULL, out);
    imi_fpenv_leave(&fe);
    return status;
}
