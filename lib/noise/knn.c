/* knn.c - nearest-of-k noise selection ("Improved Immiscible Diffusion").
 *
 * Each image gets its own k fresh candidate noise rows and keeps the nearest. Unlike the batch
 * permutation this is not a reordering: the kept rows are a biased choice toward the images.
 * Each candidate is used once, so this is a batched matrix-vector product, bound by memory. To
 * keep the distance kernels' fixed costs (packing, norms, tiling) small per image, images go in
 * groups of KNN_GROUP: one call computes the group's images against all the group's candidates
 * and keeps the diagonal blocks. That wastes flops (the kernels have plenty) but reads every
 * candidate once. The kernels give every entry the same bits whatever else is in the call, so
 * the result is that of imm_distance(x_i, 1, candidates_i, k); groups run in parallel, one
 * thread each, so results are thread-count independent.
 */
#include <omp.h>
#include <string.h>

#include "core/context.h"
#include "distance/distance.h"

#define KNN_GROUP 16

/* Per-thread slices (distance kernel workspace, then at dist_at the distances of one group),
   then batch indices. */
static int plan(const imm_options *o, size_t batch, size_t k, size_t dim, size_t *slice,
                size_t *dist_at, size_t *total) {
    size_t cand, bytes;
    RETURN_ERROR_IF(batch > (size_t)INT32_MAX || k > (size_t)INT32_MAX, IMM_ERR_TOO_LARGE);
    RETURN_ERROR_IF(!imm_mul_size(batch, k, &cand) || !imm_mul_size(cand, dim, &cand) ||
                        !imm_mul_size(cand, sizeof(float), &cand),
                    IMM_ERR_TOO_LARGE);
    RETURN_ERROR_IF(batch > 0 && (k == 0 || dim == 0), IMM_ERR_INVALID_ARG);
    *slice = *dist_at = *total = 0;
    if (batch == 0)
        return IMM_OK;
    imm_options one = *o;
    one.num_threads = 1;
    /* the full groups and the last one */
    const size_t sizes[2] = {batch < KNN_GROUP ? batch : KNN_GROUP, batch % KNN_GROUP};
    size_t ws = 0, out_bytes = 0;
    for (int t = 0; t < 2 && k > 1; t++) {
        size_t g = sizes[t], cols, bytes_out;
        if (g == 0)
            continue;
        RETURN_ERROR_IF(!imm_mul_size(g, k, &cols) ||
                            !imm_mul_size(g * sizeof(float), cols, &bytes_out),
                        IMM_ERR_TOO_LARGE);
        size_t w = imm_dist_workspace_bytes(g, cols, dim, &one);
        RETURN_ERROR_IF(w == 0, IMM_ERR_TOO_LARGE);
        ws = w > ws ? w : ws;
        out_bytes = bytes_out > out_bytes ? bytes_out : out_bytes;
    }
    *dist_at = (ws + 63) & ~(size_t)63;
    *slice = *dist_at + ((out_bytes + 63) & ~(size_t)63);
    RETURN_ERROR_IF(!imm_mul_size(*slice, (size_t)imm_threads(o), &bytes) ||
                        bytes + batch * sizeof(int32_t) < bytes,
                    IMM_ERR_TOO_LARGE);
    *total = bytes + batch * sizeof(int32_t);
    return IMM_OK;
}

static int select_knn(imm_ctx *ctx, const float *x, size_t batch, const float *cand, size_t k,
                      size_t dim, float *out, int32_t *index) {
    size_t slice, dist_at, total;
    FORWARD_IF_ERROR(plan(&ctx->opts, batch, k, dim, &slice, &dist_at, &total));
    if (batch == 0)
        return IMM_OK;
    RETURN_ERROR_IF(x == NULL || cand == NULL || out == NULL, IMM_ERR_INVALID_ARG);
    FORWARD_IF_ERROR(imm_ctx_reserve(ctx, total));
    RETURN_ERROR_IF(!imm_all_finite(x, batch * dim) || !imm_all_finite(cand, batch * k * dim),
                    IMM_ERR_NONFINITE);
    const int threads = imm_threads(&ctx->opts);
    unsigned char *base = ctx->work;
    int32_t *best = (int32_t *)(base + slice * (size_t)threads);
    imm_options one = ctx->opts;
    one.num_threads = 1;
    int failed = 0;
    if (k == 1) {
        memset(best, 0, batch * sizeof(int32_t));
    } else {
        const size_t groups = (batch + KNN_GROUP - 1) / KNN_GROUP;
#pragma omp parallel for num_threads(threads) schedule(static) if (batch * k * dim > 65536)
        for (long long gi = 0; gi < (long long)groups; gi++) {
            unsigned char *mine = base + slice * (size_t)omp_get_thread_num();
            float *d = (float *)(mine + dist_at);
            const size_t i0 = (size_t)gi * KNN_GROUP;
            const size_t g = batch - i0 < KNN_GROUP ? batch - i0 : KNN_GROUP;
            if (imm_dist_compute(x + i0 * dim, g, cand + i0 * k * dim, g * k, dim, &one, mine, d) !=
                IMM_OK) {
#pragma omp atomic write
                failed = 1;
                continue;
            }
            for (size_t r = 0; r < g; r++) {
                const float *dr = d + r * g * k + r * k; /* image i0 + r against its own k */
                int32_t t_best = 0;                      /* nearest, first candidate on ties */
                for (size_t t = 1; t < k; t++)
                    if (dr[t] < dr[t_best])
                        t_best = (int32_t)t;
                best[i0 + r] = t_best;
            }
        }
    }
    RETURN_ERROR_IF(failed, IMM_ERR_NONFINITE); /* a distance overflowed float */
    /* Outputs last. */
    for (size_t i = 0; i < batch; i++)
        memcpy(out + i * dim, cand + (i * k + (size_t)best[i]) * dim, dim * sizeof(float));
    if (index != NULL)
        memcpy(index, best, batch * sizeof(int32_t));
    return IMM_OK;
}

int imm_ctx_select_noise_knn(imm_ctx *ctx, const float *x, size_t batch, const float *candidates,
                             size_t k, size_t dim, float *out, int32_t *index) {
    RETURN_ERROR_IF(ctx == NULL, IMM_ERR_INVALID_ARG);
    return select_knn(ctx, x, batch, candidates, k, dim, out, index);
}

int imm_select_noise_knn(const float *x, size_t batch, const float *candidates, size_t k,
                         size_t dim, const imm_options *opts, float *out, int32_t *index) {
    imm_ctx ctx;
    FORWARD_IF_ERROR(imm_ctx_init_local(&ctx, opts));
    int status = select_knn(&ctx, x, batch, candidates, k, dim, out, index);
    imm_ctx_release(&ctx);
    return status;
}
