/* distance.c - imm_distance(): validation, the call's plan and workspace, then pack and tile.
 *
 * The steps, each in its own file: dist_pack.c (round or quantize, norms, NaN/Inf screening),
 * dist_tiles.c (blocked parallel dot products, distances), dist_kernels_<isa>.c (micro-kernels,
 * one table per variant, chosen once in dist_dispatch.c).
 */
#include <stdint.h>
#include <stdlib.h>

#include "core/internal.h"
#include "distance/dist_plan.h"
#include "distance/distance.h"

static size_t round_up(size_t v, size_t unit) { return (v + unit - 1) / unit * unit; }

/* Blocks of at most `pref` rows, equal up to one unit, so the last one is not a sliver. */
static size_t balanced_block(size_t rows, size_t pref, size_t unit) {
    size_t blocks = (rows + pref - 1) / pref;
    return round_up((rows + blocks - 1) / blocks, unit);
}

static size_t store_bytes(dist_store s) {
    return s == DIST_STORE_F32 ? 4 : s == DIST_STORE_I8 ? 1 : 2;
}

/* Everything but the workspace pointers. False when a size overflows. */
static bool make_plan(dist_plan *p, size_t n, size_t m, size_t dim, const imm_options *o) {
    const dist_kernel *k = imm_dist_kernel(o->precision);
    p->k = k;
    p->prec = o->precision;
    p->root = o->metric == IMM_METRIC_L2;
    p->swap_pairs = o->precision == IMM_PRECISION_BF16 && k->store == DIST_STORE_F32;
    p->n = n;
    p->m = m;
    p->dim = dim;
    const size_t group = p->swap_pairs ? 2 : k->kgroup;
    if (dim > SIZE_MAX - group)
        return false;
    p->dp = round_up(dim, group);
    p->kc = k->store == DIST_STORE_I8 || k->store == DIST_STORE_I16 ? DIST_KC_INT8 : DIST_KC_FLOAT;
    p->elem = store_bytes(k->store);
    p->xpanels = (n + k->mr - 1) / k->mr;
    p->ypanels = (m + k->nr - 1) / k->nr;
    p->mc = balanced_block(n, k->mc, k->mr);
    p->nc = balanced_block(m, k->nc, k->nr);
    size_t tasks = ((n + p->mc - 1) / p->mc) * ((m + p->nc - 1) / p->nc);
    int threads = imm_threads(o);
    p->threads = (size_t)threads < tasks ? threads : (int)tasks;
    if (p->threads < 1)
        p->threads = 1;
    p->prescale = 1.0f;
    p->rescale = 1.0;
    return true;
}

/* Lays the pieces out from `base` (NULL: just measure). Returns the total, 0 on overflow. */
static size_t layout(dist_plan *p, unsigned char *base) {
    const size_t T = (size_t)p->threads, np = p->xpanels + p->ypanels;
    size_t sizes[11], at = 0;
    size_t xe, ye, tile;
    /* Tiles of the largest block (not the balanced one): the size grows with n and m. */
    const size_t mr = p->k->mr, nr = p->k->nr;
    const size_t mc =
        round_up(p->k->mc, mr) < p->xpanels * mr ? round_up(p->k->mc, mr) : p->xpanels * mr;
    const size_t nc =
        round_up(p->k->nc, nr) < p->ypanels * nr ? round_up(p->k->nc, nr) : p->ypanels * nr;
    if (!imm_mul_size(p->xpanels * mr, p->dp, &xe) || !imm_mul_size(xe, p->elem, &xe) ||
        !imm_mul_size(p->ypanels * nr, p->dp, &ye) || !imm_mul_size(ye, p->elem, &ye) ||
        !imm_mul_size(mc * nc, T * sizeof(double), &tile) ||
        !imm_mul_size(T, DIST_PACK_SCRATCH, &sizes[10]) || p->n > SIZE_MAX / 8 / 3 ||
        p->m > SIZE_MAX / 8 / 2)
        return 0;
    sizes[0] = xe;
    sizes[1] = ye;
    sizes[2] = sizes[3] = sizes[4] = p->n * sizeof(double);
    sizes[5] = sizes[6] = p->m * sizeof(double);
    sizes[7] = sizes[8] = np * sizeof(double);
    sizes[9] = tile;
    void *ptr[11];
    for (int i = 0; i < 11; i++) {
        ptr[i] = base + at;
        if (sizes[i] > SIZE_MAX - at - 64)
            return 0;
        at = round_up(at + sizes[i], 64);
    }
    if (base != NULL) {
        p->px = ptr[0];
        p->py = ptr[1];
        p->xn = ptr[2];
        p->xs = ptr[3];
        p->xq = ptr[4];
        p->yn = ptr[5];
        p->ys = ptr[6];
        p->panel_raw = ptr[7];
        p->panel_conv = ptr[8];
        p->ctile = ptr[9];
        p->sums = ptr[10];
    }
    return at;
}

size_t imm_dist_workspace_bytes(size_t n, size_t m, size_t dim, const imm_options *o) {
    dist_plan p;
    if (n == 0 || m == 0 || dim == 0)
        return 0;
    return make_plan(&p, n, m, dim, o) ? layout(&p, NULL) : 0;
}

int imm_dist_compute(const float *x, size_t n, const float *y, size_t m, size_t dim,
                     const imm_options *o, void *work, float *out) {
    dist_plan p;
    RETURN_ERROR_IF(!make_plan(&p, n, m, dim, o), IMM_ERR_TOO_LARGE);
    layout(&p, work);
    FORWARD_IF_ERROR(imm_dist_pack(&p, x, y));
    /* Huge inputs: find out first whether a distance overflows, so out stays untouched. */
    if (imm_dist_may_overflow(&p))
        RETURN_ERROR_IF(imm_dist_tiles(&p, x, y, out, true), IMM_ERR_NONFINITE);
    imm_dist_tiles(&p, x, y, out, false);
    return IMM_OK;
}

int imm_distance(const float *x, size_t n, const float *y, size_t m, size_t dim,
                 const imm_options *opts, float *out) {
    imm_options o;
    size_t nx, ny, nm;
    FORWARD_IF_ERROR(imm_options_resolve(opts, &o));
    RETURN_ERROR_IF(!imm_mul_size(n, dim, &nx) || !imm_mul_size(m, dim, &ny) ||
                        !imm_mul_size(n, m, &nm) || !imm_mul_size(nm, sizeof(float), &nm) ||
                        !imm_mul_size(nx, sizeof(float), &nx) ||
                        !imm_mul_size(ny, sizeof(float), &ny),
                    IMM_ERR_TOO_LARGE);
    RETURN_ERROR_IF(n > (size_t)INT32_MAX || m > (size_t)INT32_MAX, IMM_ERR_TOO_LARGE);
    if (n == 0 || m == 0)
        return IMM_OK;
    RETURN_ERROR_IF(x == NULL || y == NULL || out == NULL || dim == 0, IMM_ERR_INVALID_ARG);
    size_t bytes = imm_dist_workspace_bytes(n, m, dim, &o);
    RETURN_ERROR_IF(bytes == 0, IMM_ERR_TOO_LARGE);
    /* malloc, not aligned_alloc: glibc recycles a large malloc block across calls (its mmap
       threshold adapts), which spares a page fault per 4 KiB of workspace on every call. */
    RETURN_ERROR_IF(bytes > SIZE_MAX - 63, IMM_ERR_TOO_LARGE);
    void *block = malloc(bytes + 63);
    RETURN_ERROR_IF(block == NULL, IMM_ERR_NOMEM);
    void *work = (void *)(((uintptr_t)block + 63) & ~(uintptr_t)63);
    int status = imm_dist_compute(x, n, y, m, dim, &o, work, out);
    free(block);
    return status;
}

int imm_distance_f32(const float *x, size_t n, const float *y, size_t m, size_t dim,
                     imm_metric metric, int threads, float *out) {
    imm_options o;
    imm_options_init(&o);
    o.metric = metric;
    o.num_threads = threads;
    return imm_distance(x, n, y, m, dim, &o, out);
}
