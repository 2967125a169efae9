/* knn.c - nearest-of-k noise selection ("Improved Immiscible Diffusion").
 *
 * Each image gets its own k fresh candidate noise rows and keeps the nearest. Unlike the batch
 * permutation this is not a reordering: the kept rows are a biased choice toward the images.
 * Each candidate is used once, so this is a batched matrix-vector product, bound by memory. Each
 * image goes through imi_dist_nearest() (distance/dist_nearest.c): one fused pass over its
 * candidates (max, norms and the dot products in the kernels' documented order, no packing) and
 * the general path's finish, so its choice is that of imi_dist_compute(x_i, 1, candidates_i, k)
 * bitwise. The rare image that call would treat another way (NaN / Inf or a value out of range:
 * an error; a huge row that scales the call; a distance it checks or recomputes directly) runs
 * imi_dist_compute itself, on the same rows. Images run in parallel, each on one thread, so
 * results are thread-count independent.
 */
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/context.h"
#include "core/layout.h"
#include "distance/distance.h"

/* Images per scheduling chunk. */
#define KNN_CHUNK 8

/* Per-thread slices (the fused scratch, or the distance workspace of one image when it runs
   the general path: never both at once; then at dist_at that image's k distances), then at
   best_at the batch indices. */
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
    const size_t ws = imi_dist_workspace_bytes(1, k, dim, &one);
    const size_t fused = imi_dist_nearest_bytes(k, dim);
    RETURN_ERROR_IF(ws == 0 || fused == 0, IMM_ERR_TOO_LARGE);
    imi_layout one_thread = IMI_LAYOUT_INIT, all = IMI_LAYOUT_INIT;
    imi_layout_add(&one_thread, ws > fused ? ws : fused, 1, 64);
    *dist_at = imi_layout_add(&one_thread, k, sizeof(float), 64);
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
    int failed; /* an image holds NaN / Inf, a value out of range, or an overflowing distance */
} knn_job;

/* Image i: the nearest of its own k candidates, the first one on ties. */
static void knn_image(long li, int tid, void *arg) {
    knn_job *job = arg;
    const size_t k = job->k, dim = job->dim, i = (size_t)li;
    int failed;
#pragma omp atomic read
    failed = job->failed;
    if (failed) /* the call fails: nothing left to decide */
        return;
    unsigned char *mine = job->base + job->slice * (size_t)tid;
    const float *xi = job->x + i * dim, *ci = job->cand + i * k * dim;
    int32_t t_best = 0;
    /* this thread most likely takes image i + 1 next (chunks of consecutive images) */
    const float *next_x = i + 1 < job->batch ? xi + dim : NULL;
    if (!imi_dist_nearest(xi, ci, k, dim, job->one, next_x, mine, &t_best)) {
        float *d = (float *)(mine + job->dist_at);
        if (imi_dist_compute(xi, 1, ci, k, dim, job->one, mine, d) != IMM_OK) {
#pragma omp atomic write
            job->failed = 1;
            return;
        }
        for (size_t t = 1; t < k; t++)
            if (d[t] < d[t_best])
                t_best = (int32_t)t;
    }
    job->best[i] = t_best;
}

typedef struct {
    const float *cand;
    const int32_t *best;
    float *out;
    size_t k, dim;
} knn_copy;

/* dst[0..n) = src[0..n), the bulk with non-temporal stores where the ISA has them: out is far
   larger than the caches, and these stores do not read each line in before writing it (a third
   of a plain copy's traffic). The sfence orders them before the team's closing barrier. */
static void copy_stream(float *dst, const float *src, size_t n) {
#if defined(__SSE2__)
    size_t e = 0;
    for (; e < n && ((uintptr_t)(dst + e) & 15) != 0; e++)
        dst[e] = src[e];
    for (; e + 4 <= n; e += 4)
        _mm_stream_ps(dst + e, _mm_loadu_ps(src + e));
    for (; e < n; e++)
        dst[e] = src[e];
    _mm_sfence();
#else
    memcpy(dst, src, n * sizeof *dst);
#endif
}

static void copy_row(long li, int tid, void *arg) {
    const knn_copy *c = arg;
    const size_t i = (size_t)li;
    (void)tid;
    copy_stream(c->out + i * c->dim, c->cand + (i * c->k + (size_t)c->best[i]) * c->dim, c->dim);
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
    /* Every k goes through the distance arithmetic, k = 1 included: the same checks (ranges of
       the precision, overflowing distances) for every k. Each row of x and of the candidates is
       read by exactly one image, which finds its NaN / Inf (the fused kernel stops and the
       general path reports it), and an image that fails stops the call before any output is
       written. So there is no separate pass over the candidates to check them. */
    const int threads = imi_threads(&ctx->opts);
    imm_options one = ctx->opts;
    one.num_threads = 1;
    knn_job job = {x, cand, batch, k, dim, slice, dist_at, &one, ctx->work, NULL, 0};
    job.best = (int32_t *)(job.base + best_at);
    imi_parallel_for(batch * k * dim > 65536 ? threads : 1, (long)batch, KNN_CHUNK, knn_image,
                     &job);
    RETURN_ERROR_IF(job.failed, IMM_ERR_NONFINITE);
    /* Outputs last, once every image is known to be valid: the kept rows (12.6 MB at B = 1024,
       D = 3072), copied on every thread. */
    knn_copy copy = {cand, job.best, out, k, dim};
    imi_parallel_for(batch * dim > 65536 ? threads : 1, (long)batch, KNN_CHUNK * 4, copy_row,
                     &copy);
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
