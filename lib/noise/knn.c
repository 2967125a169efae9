/* knn.c - nearest-of-k noise selection ("Improved Immiscible Diffusion").
 *
 * Each image gets its own k fresh candidate noise rows and keeps the nearest. Unlike the batch
 * permutation this is not a reordering: the kept rows are a biased choice toward the images.
 * Each candidate is used once, so this is a batched matrix-vector product, bound by memory. To
 * keep the distance kernels' fixed costs (packing, norms, tiling) small per image, images go in
 * groups of KNN_GROUP: one call computes the group's images against all the group's candidates
 * and keeps the diagonal blocks. That wastes flops (the kernels have plenty) but reads every
 * candidate once. The kernels give every entry the same bits whatever else is in the call (unless
 * a huge row makes the call scale its rows: that group is redone image by image), so the result
 * is that of imm_distance(x_i, 1, candidates_i, k); groups run in parallel, one thread each, so
 * results are thread-count independent.
 */
#include <string.h>

#include "core/context.h"
#include "core/layout.h"
#include "distance/distance.h"

#define KNN_GROUP 16

/* Per-thread slices (distance kernel workspace, then at dist_at the distances of one group),
   then at best_at the batch indices. */
static int plan(const imm_options *o, size_t batch, size_t k, size_t dim, size_t *slice,
                size_t *dist_at, size_t *best_at, size_t *total) {
    size_t cand;
    RETURN_ERROR_IF(batch > (size_t)INT32_MAX || k > (size_t)INT32_MAX, IMM_ERR_TOO_LARGE);
    RETURN_ERROR_IF(!imi_mul_size(batch, k, &cand) || !imi_mul_size(cand, dim, &cand) ||
                        !imi_mul_size(cand, sizeof(float), &cand),
                    IMM_ERR_TOO_LARGE);
    RETURN_ERROR_IF(batch > 0 && (k == 0 || dim == 0), IMM_ERR_INVALID_ARG);
    *slice = *dist_at = *best_at = *total = 0;
    if (batch == 0)
        return IMM_OK;
    imm_options one = *o;
    one.num_threads = 1;
    /* the full groups and the last one */
    const size_t sizes[2] = {batch < KNN_GROUP ? batch : KNN_GROUP, batch % KNN_GROUP};
    size_t ws = 0, out_bytes = 0;
    for (int t = 0; t < 2; t++) {
        size_t g = sizes[t], cols, bytes_out;
        if (g == 0)
            continue;
        RETURN_ERROR_IF(!imi_mul_size(g, k, &cols) ||
                            !imi_mul_size(g * sizeof(float), cols, &bytes_out),
                        IMM_ERR_TOO_LARGE);
        size_t w = imi_dist_workspace_bytes(g, cols, dim, &one);
        RETURN_ERROR_IF(w == 0, IMM_ERR_TOO_LARGE);
        ws = w > ws ? w : ws;
        out_bytes = bytes_out > out_bytes ? bytes_out : out_bytes;
    }
    imi_layout one_thread = IMI_LAYOUT_INIT, all = IMI_LAYOUT_INIT;
    imi_layout_add(&one_thread, ws, 1, 64);
    *dist_at = imi_layout_add(&one_thread, out_bytes, 1, 64);
    *slice = imi_layout_total(&one_thread, 64);
    imi_layout_add(&all, (size_t)imi_threads(o), *slice, 64);
    *best_at = imi_layout_add(&all, batch, sizeof(int32_t), 64);
    *total = imi_layout_total(&all, 64);
    RETURN_ERROR_IF(*slice == 0 || *total == 0, IMM_ERR_TOO_LARGE);
    return IMM_OK;
}

typedef struct {
    const float *x, *cand;
    size_t batch, k, dim, slice, dist_at;
    const imm_options *one; /* the context's options on one thread */
    unsigned char *base;
    int32_t *best;
    int failed; /* a group found a distance that overflows float */
} knn_job;

/* Group gi: its images against all its candidates in one distance call; each image keeps the
   nearest of its own k (the diagonal blocks), the first one on ties. */
static void knn_group(long gi, int tid, void *arg) {
    knn_job *job = arg;
    const size_t k = job->k, dim = job->dim;
    unsigned char *mine = job->base + job->slice * (size_t)tid;
    float *d = (float *)(mine + job->dist_at);
    const size_t i0 = (size_t)gi * KNN_GROUP;
    const size_t g = job->batch - i0 < KNN_GROUP ? job->batch - i0 : KNN_GROUP;
    bool scaled;
    int status = imi_dist_compute_scaled(job->x + i0 * dim, g, job->cand + i0 * k * dim, g * k, dim,
                                         job->one, mine, d, &scaled);
    /* A huge row scales the whole call (imm_distance note 4), which changes the rounding of the
       others: then each image again on its own, so that it gets what imm_distance would give
       it alone. Its k distances land where its diagonal block was. */
    for (size_t r = 0; status == IMM_OK && scaled && g > 1 && r < g; r++)
        status = imi_dist_compute(job->x + (i0 + r) * dim, 1, job->cand + (i0 + r) * k * dim, k,
                                  dim, job->one, mine, d + r * g * k + r * k);
    if (status != IMM_OK) {
#pragma omp atomic write
        job->failed = 1;
        return;
    }
    for (size_t r = 0; r < g; r++) {
        const float *dr = d + r * g * k + r * k; /* image i0 + r against its own k */
        int32_t t_best = 0;
        for (size_t t = 1; t < k; t++)
            if (dr[t] < dr[t_best])
                t_best = (int32_t)t;
        job->best[i0 + r] = t_best;
    }
}

static int select_knn(imm_ctx *ctx, const float *x, size_t batch, const float *cand, size_t k,
                      size_t dim, float *out, int32_t *index) {
    size_t slice, dist_at, best_at, total;
    FORWARD_IF_ERROR(plan(&ctx->opts, batch, k, dim, &slice, &dist_at, &best_at, &total));
    if (batch == 0)
        return IMM_OK;
    RETURN_ERROR_IF(x == NULL || cand == NULL || out == NULL, IMM_ERR_INVALID_ARG);
    const size_t rows = batch * dim * sizeof(float); /* fits: checked by plan() */
    const imi_span outputs[2] = {{out, rows}, {index, batch * sizeof(int32_t)}};
    const imi_span inputs[2] = {{x, rows}, {cand, k * rows}};
    RETURN_ERROR_IF(imi_outputs_overlap(outputs, 2, inputs, 2), IMM_ERR_INVALID_ARG);
    FORWARD_IF_ERROR(imi_ctx_reserve(ctx, total));
    /* Every k goes through the distance kernels, k = 1 included: the same checks (ranges of the
       precision, overflowing distances) for every k. Their pre-pass also finds every NaN / Inf:
       each row of x and of the candidates is in exactly one group, and a group that fails stops
       the call before any output is written. So there is no separate pass over the candidates
       to check them (it cost a seventh of the call: the candidates are read from memory). */
    const int threads = imi_threads(&ctx->opts);
    imm_options one = ctx->opts;
    one.num_threads = 1;
    knn_job job = {x, cand, batch, k, dim, slice, dist_at, &one, ctx->work, NULL, 0};
    job.best = (int32_t *)(job.base + best_at);
    const long groups = (long)((batch + KNN_GROUP - 1) / KNN_GROUP);
    imi_parallel_for(batch * k * dim > 65536 ? threads : 1, groups, 1, knn_group, &job);
    RETURN_ERROR_IF(job.failed, IMM_ERR_NONFINITE);
    /* Outputs last. */
    for (size_t i = 0; i < batch; i++)
        memcpy(out + i * dim, cand + (i * k + (size_t)job.best[i]) * dim, dim * sizeof(float));
    if (index != NULL)
        memcpy(index, job.best, batch * sizeof(int32_t));
    return IMM_OK;
}

static int select_knn_fp(imm_ctx *ctx, const float *x, size_t batch, const float *cand, size_t k,
                         size_t dim, float *out, int32_t *index) {
    imi_fpenv fe;
    imi_fpenv_enter(&fe);
    int status = select_knn(ctx, x, batch, cand, k, dim, out, index);
    imi_fpenv_leave(&fe);
    return status;
}

int imm_ctx_select_noise_knn(imm_ctx *ctx, const float *x, size_t batch, const float *candidates,
                             size_t k, size_t dim, float *out, int32_t *index) {
    RETURN_ERROR_IF(ctx == NULL, IMM_ERR_INVALID_ARG);
    return select_knn_fp(ctx, x, batch, candidates, k, dim, out, index);
}

int imm_select_noise_knn(const float *x, size_t batch, const float *candidates, size_t k,
                         size_t dim, const imm_options *opts, float *out, int32_t *index) {
    imm_ctx ctx;
    FORWARD_IF_ERROR(imi_ctx_init_local(&ctx, opts));
    int status = select_knn_fp(&ctx, x, batch, candidates, k, dim, out, index);
    imi_ctx_release(&ctx);
    return status;
}
