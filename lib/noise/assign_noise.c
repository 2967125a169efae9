/* assign_noise.c - the per-batch primitive: distances, assignment, permutation; and pools.
 *
 * One code path serves the one-shot and context calls (the one-shot call runs it on a temporary
 * context), and the batch permutation and the pool (batch x pool_size, pool_size >= batch)
 * share it too, so all give bitwise identical results where they overlap.
 */
#include <string.h>

#include "core/context.h"
#include "core/layout.h"
#include "distance/distance.h"
#include "lap/lap.h"
#include "noise/noise.h"

/* Byte offsets of the pieces of the workspace, each 64-byte aligned. */
typedef struct {
    size_t dist;   /* batch x cols floats: the distance matrix (cols = pool size) */
    size_t lap;    /* imi_lap_state_bytes(batch, cols) */
    size_t assign; /* batch int32 */
    size_t marks;  /* batch bytes (permutation) */
    size_t row;    /* dim floats (permutation) */
    size_t distws; /* imi_dist_workspace_bytes(): packed rows, norms, tiles */
    size_t total;
} noise_layout;

/* Argument checks shared by every noise entry point, then the workspace layout, for batch images
   against cols noise rows. */
static int plan(size_t batch, size_t cols, size_t dim, const imm_options *o, noise_layout *l) {
    size_t cells, dist_bytes, data, lap_bytes, row_bytes, distws_bytes;
    RETURN_ERROR_IF(cols > (size_t)INT32_MAX, IMM_ERR_TOO_LARGE);
    RETURN_ERROR_IF(
        !imi_mul_size(batch, cols, &cells) || !imi_mul_size(cells, sizeof(float), &dist_bytes) ||
            !imi_mul_size(cols, dim, &data) || !imi_mul_size(data, sizeof(float), &data) ||
            !imi_mul_size(dim, sizeof(float), &row_bytes),
        IMM_ERR_TOO_LARGE);
    RETURN_ERROR_IF(batch > 0 && dim == 0, IMM_ERR_INVALID_ARG);
    RETURN_ERROR_IF(cols < batch, IMM_ERR_INVALID_ARG);
    lap_bytes = batch == 0 ? 0 : imi_lap_state_bytes(batch, cols);
    RETURN_ERROR_IF(batch > 0 && lap_bytes == 0, IMM_ERR_TOO_LARGE);
    distws_bytes = batch == 0 ? 0 : imi_dist_workspace_bytes(batch, cols, dim, o);
    RETURN_ERROR_IF(batch > 0 && distws_bytes == 0, IMM_ERR_TOO_LARGE);
    imi_layout lay = IMI_LAYOUT_INIT;
    l->dist = imi_layout_add(&lay, dist_bytes, 1, 64);
    l->lap = imi_layout_add(&lay, lap_bytes, 1, 64);
    l->assign = imi_layout_add(&lay, batch, sizeof(int32_t), 64);
    l->marks = imi_layout_add(&lay, batch, 1, 64);
    l->row = imi_layout_add(&lay, row_bytes, 1, 64);
    l->distws = imi_layout_add(&lay, distws_bytes, 1, 64);
    l->total = imi_layout_total(&lay, 64);
    RETURN_ERROR_IF(lay.overflow, IMM_ERR_TOO_LARGE);
    return IMM_OK;
}

/* Distances of batch images to cols noise rows, then the assignment: assign[i] in [0, cols),
   distinct, with the workspace laid out by plan() in *l. Writes nothing the caller passed in. */
static int solve(imm_ctx *ctx, const float *x, size_t batch, const float *noise, size_t cols,
                 size_t dim, const noise_layout *l, int32_t **assign) {
    if (batch == 0)
        return IMM_OK;
    RETURN_ERROR_IF(x == NULL || noise == NULL, IMM_ERR_INVALID_ARG);
    /* Allocate before reading the data: a batch too large for memory fails fast with NOMEM. */
    FORWARD_IF_ERROR(imi_ctx_reserve(ctx, l->total));
    unsigned char *base = ctx->work;
    float *dist = (float *)(base + l->dist);
    *assign = (int32_t *)(base + l->assign);
    FORWARD_IF_ERROR(
        imi_dist_compute(x, batch, noise, cols, dim, &ctx->opts, base + l->distws, dist));
    lap_state s;
    imi_lap_state_init(&s, dist, batch, cols, imi_threads(&ctx->opts), base + l->lap);
    /* distances are finite: no forbidden pair, so this cannot fail */
    return imi_lap_run(&s, &ctx->opts, *assign, NULL, NULL, NULL, NULL);
}

/* IMM_ERR_INVALID_ARG when an output (out: rows x dim floats, index: rows int32) overlaps an input
   (x: rows x dim, src: src_rows x dim floats) or the other output; TOO_LARGE if a size does not
   fit. For the batch permutation, out is noise itself (an input too): pass src = NULL. */
static int check_overlap(const float *x, size_t rows, const float *src, size_t src_rows, size_t dim,
                         const float *out, const int32_t *index) {
    size_t xb, sb;
    RETURN_ERROR_IF(!imi_mul_size(rows, dim, &xb) || !imi_mul_size(xb, sizeof(float), &xb) ||
                        !imi_mul_size(src_rows, dim, &sb) || !imi_mul_size(sb, sizeof(float), &sb),
                    IMM_ERR_TOO_LARGE);
    const imi_span outputs[2] = {{out, xb}, {index, rows * sizeof(int32_t)}};
    const imi_span inputs[2] = {{x, xb}, {src, sb}};
    RETURN_ERROR_IF(imi_outputs_overlap(outputs, 2, inputs, 2), IMM_ERR_INVALID_ARG);
    return IMM_OK;
}

static int assign_noise(imm_ctx *ctx, const float *x, float *noise, size_t batch, size_t dim,
                        int32_t *perm) {
    noise_layout l;
    int32_t *assign = NULL;
    FORWARD_IF_ERROR(plan(batch, batch, dim, &ctx->opts, &l));
    FORWARD_IF_ERROR(check_overlap(x, batch, NULL, 0, dim, noise, perm));
    FORWARD_IF_ERROR(solve(ctx, x, batch, noise, batch, dim, &l, &assign));
    if (batch == 0)
        return IMM_OK;
    /* Outputs last. */
    unsigned char *base = ctx->work, *marks = base + l.marks;
    if (perm != NULL)
        memcpy(perm, assign, batch * sizeof(int32_t));
    memset(marks, 0, batch);
    imi_permute_apply(noise, batch, dim, assign, marks, (float *)(base + l.row));
    return IMM_OK;
}

static int assign_pool(imm_ctx *ctx, const float *x, size_t batch, const float *pool,
                       size_t pool_size, size_t dim, float *out, int32_t *index) {
    noise_layout l;
    int32_t *assign = NULL;
    RETURN_ERROR_IF(batch > 0 && out == NULL, IMM_ERR_INVALID_ARG);
    FORWARD_IF_ERROR(plan(batch, pool_size, dim, &ctx->opts, &l));
    FORWARD_IF_ERROR(check_overlap(x, batch, pool, pool_size, dim, out, index));
    FORWARD_IF_ERROR(solve(ctx, x, batch, pool, pool_size, dim, &l, &assign));
    for (size_t i = 0; i < batch; i++)
        memcpy(out + i * dim, pool + (size_t)assign[i] * dim, dim * sizeof(float));
    if (index != NULL && batch > 0)
        memcpy(index, assign, batch * sizeof(int32_t));
    return IMM_OK;
}

/* The entry points below run these under the library's floating-point environment. */
static int assign_noise_fp(imm_ctx *ctx, const float *x, float *noise, size_t batch, size_t dim,
                           int32_t *perm) {
    imi_fpenv fe;
    imi_fpenv_enter(&fe);
    int status = assign_noise(ctx, x, noise, batch, dim, perm);
    imi_fpenv_leave(&fe);
    return status;
}

static int assign_pool_fp(imm_ctx *ctx, const float *x, size_t batch, const float *pool,
                          size_t pool_size, size_t dim, float *out, int32_t *index) {
    imi_fpenv fe;
    imi_fpenv_enter(&fe);
    int status = assign_pool(ctx, x, batch, pool, pool_size, dim, out, index);
    imi_fpenv_leave(&fe);
    return status;
}

int imm_ctx_assign_noise(imm_ctx *ctx, const float *x, float *noise, size_t batch, size_t dim,
                         int32_t *perm) {
    RETURN_ERROR_IF(ctx == NULL, IMM_ERR_INVALID_ARG);
    return assign_noise_fp(ctx, x, noise, batch, dim, perm);
}

int imm_assign_noise(const float *x, float *noise, size_t batch, size_t dim,
                     const imm_options *opts, int32_t *perm) {
    imm_ctx ctx;
    FORWARD_IF_ERROR(imi_ctx_init_local(&ctx, opts));
    int status = assign_noise_fp(&ctx, x, noise, batch, dim, perm);
    imi_ctx_release(&ctx);
    return status;
}

int imm_ctx_assign_noise_pool(imm_ctx *ctx, const float *x, size_t batch, const float *pool,
                              size_t pool_size, size_t dim, float *out, int32_t *index) {
    RETURN_ERROR_IF(ctx == NULL, IMM_ERR_INVALID_ARG);
    return assign_pool_fp(ctx, x, batch, pool, pool_size, dim, out, index);
}

int imm_assign_noise_pool(const float *x, size_t batch, const float *pool, size_t pool_size,
                          size_t dim, const imm_options *opts, float *out, int32_t *index) {
    imm_ctx ctx;
    FORWARD_IF_ERROR(imi_ctx_init_local(&ctx, opts));
    int status = assign_pool_fp(&ctx, x, batch, pool, pool_size, dim, out, index);
    imi_ctx_release(&ctx);
    return status;
}

int imm_ctx_workspace_size(const imm_options *opts, size_t batch, size_t dim, size_t *bytes) {
    imm_options o;
    noise_layout l;
    RETURN_ERROR_IF(bytes == NULL, IMM_ERR_INVALID_ARG);
    RETURN_ERROR_IF(imi_overlap(bytes, sizeof *bytes, opts, sizeof *opts), IMM_ERR_INVALID_ARG);
    FORWARD_IF_ERROR(imi_options_resolve(opts, &o));
    FORWARD_IF_ERROR(plan(batch, batch, dim, &o, &l));
    *bytes = batch == 0 ? 0 : l.total;
    return IMM_OK;
}
