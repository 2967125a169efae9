/* knn.c - nearest-of-k noise selection ("Improved Immiscible Diffusion").
 *
 * Each image gets its own k fresh candidate noise rows and keeps the nearest. Unlike the batch
 * permutation this is not a reordering: the kept rows are a biased choice toward the images.
 * Images are independent, so they are spread over threads; each image's k distances come from
 * the same distance kernels as everything else, on one thread, so results are thread-count
 * independent.
 */
#include <omp.h>
#include <string.h>

#include "core/context.h"
#include "distance/distance.h"

/* Per-thread workspace: distance kernel workspace, then k distances; then batch indices. */
static int plan(const imm_options *o, size_t batch, size_t k, size_t dim, size_t *slice,
                size_t *total) {
    size_t cand, bytes;
    RETURN_ERROR_IF(batch > (size_t)INT32_MAX || k > (size_t)INT32_MAX, IMM_ERR_TOO_LARGE);
    RETURN_ERROR_IF(!imm_mul_size(batch, k, &cand) || !imm_mul_size(cand, dim, &cand) ||
                        !imm_mul_size(cand, sizeof(float), &cand),
                    IMM_ERR_TOO_LARGE);
    RETURN_ERROR_IF(batch > 0 && (k == 0 || dim == 0), IMM_ERR_INVALID_ARG);
    *slice = *total = 0;
    if (batch == 0)
        return IMM_OK;
    imm_options one = *o;
    one.num_threads = 1;
    size_t ws = k > 1 ? imm_dist_workspace_bytes(1, k, dim, &one) : 0;
    RETURN_ERROR_IF(k > 1 && ws == 0, IMM_ERR_TOO_LARGE);
    *slice = ((ws + 63) & ~(size_t)63) + ((k * sizeof(float) + 63) & ~(size_t)63);
    RETURN_ERROR_IF(!imm_mul_size(*slice, (size_t)imm_threads(o), &bytes) ||
                        bytes + batch * sizeof(int32_t) < bytes,
                    IMM_ERR_TOO_LARGE);
    *total = bytes + batch * sizeof(int32_t);
    return IMM_OK;
}

static int select_knn(imm_ctx *ctx, const float *x, size_t batch, const float *cand, size_t k,
                      size_t dim, float *out, int32_t *index) {
    size_t slice, total;
    FORWARD_IF_ERROR(plan(&ctx->opts, batch, k, dim, &slice, &total));
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
#pragma omp parallel for num_threads(threads) schedule(static) if (batch * k * dim > 65536)
        for (long long i = 0; i < (long long)batch; i++) {
            unsigned char *mine = base + slice * (size_t)omp_get_thread_num();
            float *d = (float *)(mine + slice - ((k * sizeof(float) + 63) & ~(size_t)63));
            const float *ci = cand + (size_t)i * k * dim;
            if (imm_dist_compute(x + (size_t)i * dim, 1, ci, k, dim, &one, mine, d) != IMM_OK) {
#pragma omp atomic write
                failed = 1;
                continue;
            }
            int32_t t_best = 0; /* nearest, first candidate on ties */
            for (size_t t = 1; t < k; t++)
                if (d[t] < d[t_best])
                    t_best = (int32_t)t;
            best[i] = t_best;
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
    imm_ctx ctx = {0};
    FORWARD_IF_ERROR(imm_options_resolve(opts, &ctx.opts));
    FORWARD_IF_ERROR(imm_options_supported(&ctx.opts));
    int status = select_knn(&ctx, x, batch, candidates, k, dim, out, index);
    imm_ctx_release(&ctx);
    return status;
}
