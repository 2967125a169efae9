/* assign_noise.c - the per-batch primitive: distances, exact assignment, permutation.
 *
 * One code path serves the one-shot call and the context call (the one-shot call runs it on a
 * temporary context), so the two give bitwise identical results.
 */
#include <string.h>

#include "core/context.h"
#include "distance/distance.h"
#include "lap/lap.h"
#include "noise/noise.h"

/* Byte offsets of the pieces of the workspace, each 64-byte aligned. */
typedef struct {
    size_t dist;   /* batch x batch floats: the distance matrix */
    size_t lap;    /* imm_lap_state_bytes(batch, batch) */
    size_t assign; /* batch int32 */
    size_t marks;  /* batch bytes (permutation) */
    size_t row;    /* dim floats (permutation) */
    size_t total;
} noise_layout;

static bool add_piece(size_t *at, size_t bytes, size_t *offset) {
    *offset = *at;
    size_t end = *at + bytes;
    if (end < *at || end + 63 < end)
        return false;
    *at = (end + 63) & ~(size_t)63;
    return true;
}

/* Argument checks shared by every noise entry point, then the workspace layout. */
static int plan(size_t batch, size_t dim, noise_layout *l) {
    size_t cells, dist_bytes, data, lap_bytes, row_bytes, at = 0;
    RETURN_ERROR_IF(batch > (size_t)INT32_MAX, IMM_ERR_TOO_LARGE);
    RETURN_ERROR_IF(!imm_mul_size(batch, batch, &cells) ||
                        !imm_mul_size(cells, sizeof(float), &dist_bytes) ||
                        !imm_mul_size(batch, dim, &data) ||
                        !imm_mul_size(data, sizeof(float), &data) ||
                        !imm_mul_size(dim, sizeof(float), &row_bytes),
                    IMM_ERR_TOO_LARGE);
    RETURN_ERROR_IF(batch > 0 && dim == 0, IMM_ERR_INVALID_ARG);
    lap_bytes = imm_lap_state_bytes(batch, batch);
    RETURN_ERROR_IF(lap_bytes == 0, IMM_ERR_TOO_LARGE);
    RETURN_ERROR_IF(!add_piece(&at, dist_bytes, &l->dist) || !add_piece(&at, lap_bytes, &l->lap) ||
                        !add_piece(&at, batch * sizeof(int32_t), &l->assign) ||
                        !add_piece(&at, batch, &l->marks) || !add_piece(&at, row_bytes, &l->row),
                    IMM_ERR_TOO_LARGE);
    l->total = at;
    return IMM_OK;
}

static int assign_noise(imm_ctx *ctx, const float *x, float *noise, size_t batch, size_t dim,
                        int32_t *perm) {
    noise_layout l;
    FORWARD_IF_ERROR(plan(batch, dim, &l));
    if (batch == 0)
        return IMM_OK;
    RETURN_ERROR_IF(x == NULL || noise == NULL, IMM_ERR_INVALID_ARG);
    /* Allocate before reading the data: a batch too large for memory fails fast with NOMEM. */
    FORWARD_IF_ERROR(imm_ctx_reserve(ctx, l.total));
    unsigned char *base = ctx->work;
    float *dist = (float *)(base + l.dist);
    int32_t *assign = (int32_t *)(base + l.assign);
    unsigned char *marks = base + l.marks;

    FORWARD_IF_ERROR(imm_distance_f32(x, batch, noise, batch, dim, ctx->opts.metric,
                                      imm_threads(&ctx->opts), dist));
    lap_state s;
    imm_lap_state_init(&s, dist, batch, batch, imm_threads(&ctx->opts), base + l.lap);
    imm_lap_run(&s, &ctx->opts, assign, NULL, NULL, NULL);

    /* Outputs last. */
    if (perm != NULL)
        memcpy(perm, assign, batch * sizeof(int32_t));
    memset(marks, 0, batch);
    imm_permute_apply(noise, batch, dim, assign, marks, (float *)(base + l.row));
    return IMM_OK;
}

int imm_ctx_assign_noise(imm_ctx *ctx, const float *x, float *noise, size_t batch, size_t dim,
                         int32_t *perm) {
    RETURN_ERROR_IF(ctx == NULL, IMM_ERR_INVALID_ARG);
    return assign_noise(ctx, x, noise, batch, dim, perm);
}

int imm_assign_noise(const float *x, float *noise, size_t batch, size_t dim,
                     const imm_options *opts, int32_t *perm) {
    imm_ctx ctx = {0};
    FORWARD_IF_ERROR(imm_options_resolve(opts, &ctx.opts));
    RETURN_ERROR_IF(ctx.opts.solver != IMM_SOLVER_EXACT || ctx.opts.precision != IMM_PRECISION_FP32,
                    IMM_ERR_UNSUPPORTED);
    int status = assign_noise(&ctx, x, noise, batch, dim, perm);
    imm_ctx_release(&ctx);
    return status;
}

int imm_ctx_workspace_size(const imm_options *opts, size_t batch, size_t dim, size_t *bytes) {
    imm_options o;
    noise_layout l;
    RETURN_ERROR_IF(bytes == NULL, IMM_ERR_INVALID_ARG);
    FORWARD_IF_ERROR(imm_options_resolve(opts, &o));
    FORWARD_IF_ERROR(imm_options_supported(&o));
    FORWARD_IF_ERROR(plan(batch, dim, &l));
    *bytes = batch == 0 ? 0 : l.total;
    return IMM_OK;
}
