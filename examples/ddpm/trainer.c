/* trainer.c - the training loop: one batch of images, its noise (reordered or selected by
 * libimmiscible), one Adam step; DDIM samples from the EMA weights at each checkpoint. */
#define _POSIX_C_SOURCE 200809L
#include "trainer.h"

#include "diffusion.h"
#include "optimizer.h"
#include "png_grid.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Rows sampled per forward pass when sampling. */
#define SAMPLE_CHUNK 250

const char *noise_mode_name(noise_mode mode) {
    switch (mode) {
    case NOISE_VANILLA: return "vanilla";
    case NOISE_ASSIGN: return "assign";
    case NOISE_KNN: return "knn";
    }
    return "?";
}

const char *solver_name(imm_solver solver) {
    return solver == IMM_SOLVER_AUCTION ? "auction" : "exact";
}

const char *precision_name(imm_precision precision) {
    switch (precision) {
    case IMM_PRECISION_FP32: return "fp32";
    case IMM_PRECISION_FP16: return "fp16";
    case IMM_PRECISION_BF16: return "bf16";
    case IMM_PRECISION_INT8: return "int8";
    }
    return "?";
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static void library_error(int status, const train_config *cfg, const char *call, char *err,
                          size_t errlen) {
    if (status == IMM_ERR_UNSUPPORTED)
        snprintf(err, errlen,
                 "%s: libimmiscible %s cannot serve --solver %s --precision %s yet (%s); "
                 "try --solver exact --precision fp32",
                 call, imm_version_string(), solver_name(cfg->imm.solver),
                 precision_name(cfg->imm.precision), imm_strerror(status));
    else
        snprintf(err, errlen, "%s failed: %s (status %d)", call, imm_strerror(status), status);
}

/* Everything a run allocates, freed in one place. */
typedef struct run_buffers {
    mlp net, sampler;
    adam opt;
    float *params, *grads, *ema;
    float *x0, *noise, *candidates, *xt, *tf, *samples;
    int *t;
    size_t *order;
    imm_ctx *ctx;
} run_buffers;

static void free_buffers(run_buffers *b) {
    mlp_destroy(&b->net);
    mlp_destroy(&b->sampler);
    adam_destroy(&b->opt);
    free(b->params);
    free(b->grads);
    free(b->ema);
    free(b->x0);
    free(b->noise);
    free(b->candidates);
    free(b->xt);
    free(b->tf);
    free(b->samples);
    free(b->t);
    free(b->order);
    imm_ctx_free(b->ctx);
}

static void shuffle(size_t *order, size_t n, uint64_t seed, uint64_t epoch) {
    rng r;
    rng_seed(&r, seed, RNG_SHUFFLE, epoch, 0);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
        size_t j = (size_t)rng_below(&r, i + 1), tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
}

/* The noise of one step: row r of the batch from stream (NOISE, step, r), plus in knn mode the
   k - 1 extra candidates from (KNN, step, r). Rows are independent: any thread order works. */
static void draw_noise(const train_config *cfg, int step, size_t dim, float *noise,
                       float *candidates) {
    const int k = cfg->mode == NOISE_KNN ? cfg->k : 1;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < cfg->batch; r++) {
        rng g;
        float *row = k > 1 ? candidates + (size_t)r * (size_t)k * dim : noise + (size_t)r * dim;
        rng_seed(&g, cfg->seed, RNG_NOISE, (uint64_t)step, (uint64_t)r);
        rng_gaussian(&g, row, dim);
        if (k > 1) {
            rng_seed(&g, cfg->seed, RNG_KNN, (uint64_t)step, (uint64_t)r);
            rng_gaussian(&g, row + dim, (size_t)(k - 1) * dim);
        }
    }
}

/* n DDIM samples from the EMA weights into b->samples, always from the same starting noise. */
static int sample_ema(const train_config *cfg, run_buffers *b, const schedule *sch, size_t n) {
    const size_t dim = (size_t)cfg->net.dim;
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < n; r++) {
        rng g;
        rng_seed(&g, cfg->seed, RNG_SAMPLE, (uint64_t)r, 0);
        rng_gaussian(&g, b->samples + r * dim, dim);
    }
    return ddim_sample(&b->sampler, b->ema, sch, cfg->ddim_steps, b->samples, n);
}

/* The Frechet distance between eval_samples samples and the test set. */
static int evaluate(const train_config *cfg, run_buffers *b, const schedule *sch,
                    const eval_reference *ref, double *fd) {
    if (sample_ema(cfg, b, sch, (size_t)cfg->eval_samples) != 0)
        return -1;
    gauss_stats st;
    if (gauss_stats_compute(&ref->basis, b->samples, (size_t)cfg->eval_samples, &st) != 0)
        return -1;
    int status = frechet_distance(&st, &ref->test, fd);
    gauss_stats_free(&st);
    return status;
}

int train_run(const train_config *cfg, const dataset *ds, const eval_reference *ref,
              train_result *res, char *err, size_t errlen) {
    memset(res, 0, sizeof *res);
    const size_t dim = (size_t)ds->rows * (size_t)ds->cols, B = (size_t)cfg->batch;
    const int k = cfg->mode == NOISE_KNN ? cfg->k : 1;
    schedule sch;
    if ((size_t)cfg->net.dim != dim || B > ds->n_train || cfg->evals > TRAIN_MAX_EVALS ||
        schedule_linear(&sch, cfg->T, 1e-4, 0.02) != 0) {
        snprintf(err, errlen, "invalid training configuration");
        return -1;
    }
    run_buffers b;
    memset(&b, 0, sizeof b);
    int status = -1;
    size_t eval_n = (size_t)(cfg->eval_samples > cfg->grid ? cfg->eval_samples : cfg->grid);
    if (mlp_create(&b.net, &cfg->net, B) != 0 || mlp_create(&b.sampler, &cfg->net, SAMPLE_CHUNK)) {
        snprintf(err, errlen, "cannot create the network (out of memory?)");
        goto done;
    }
    const size_t np = b.net.lay.count;
    b.params = malloc(np * sizeof(float));
    b.grads = malloc(np * sizeof(float));
    b.ema = malloc(np * sizeof(float));
    b.x0 = malloc(B * dim * sizeof(float));
    b.noise = malloc(B * dim * sizeof(float));
    b.candidates = k > 1 ? malloc(B * (size_t)k * dim * sizeof(float)) : NULL;
    b.xt = malloc(B * dim * sizeof(float));
    b.tf = malloc(B * sizeof(float));
    b.t = malloc(B * sizeof(int));
    b.samples = malloc(eval_n * dim * sizeof(float));
    b.order = malloc(ds->n_train * sizeof(size_t));
    if (!b.params || !b.grads || !b.ema || !b.x0 || !b.noise || (k > 1 && !b.candidates) || !b.xt ||
        !b.tf || !b.t || !b.samples || !b.order || adam_create(&b.opt, np) != 0) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (cfg->mode != NOISE_VANILLA) {
        int s = imm_ctx_create(&b.ctx, &cfg->imm);
        if (s != IMM_OK) {
            library_error(s, cfg, "imm_ctx_create", err, errlen);
            goto done;
        }
    }
    mlp_init_params(&b.net, b.params, cfg->seed);
    memcpy(b.ema, b.params, np * sizeof(float));

    const char *name = noise_mode_name(cfg->mode);
    const int tail_from = cfg->steps - (cfg->steps + 9) / 10;
    double window_loss = 0, window_ms = 0, window_assign = 0, tail_loss = 0;
    double total_ms = 0, total_assign = 0;
    int window = 0, next_eval = 0;
    uint64_t epoch = 0;
    size_t cursor = ds->n_train; /* forces a shuffle before the first batch */
    for (int step = 0; step < cfg->steps; step++) {
        double start = now_ms();
        if (cursor + B > ds->n_train) {
            shuffle(b.order, ds->n_train, cfg->seed, epoch++);
            cursor = 0;
        }
        for (size_t r = 0; r < B; r++)
            memcpy(b.x0 + r * dim, ds->train + b.order[cursor + r] * dim, dim * sizeof(float));
        cursor += B;
        rng g;
        rng_seed(&g, cfg->seed, RNG_TIME, (uint64_t)step, 0);
        for (size_t r = 0; r < B; r++) {
            b.t[r] = (int)rng_below(&g, (uint64_t)cfg->T);
            b.tf[r] = (float)b.t[r];
        }
        draw_noise(cfg, step, dim, b.noise, b.candidates);

        /* The whole integration: one library call per batch. */
        double assign_start = now_ms();
        int s = IMM_OK;
        if (cfg->mode == NOISE_ASSIGN)
            s = imm_ctx_assign_noise(b.ctx, b.x0, b.noise, B, dim, NULL);
        else if (cfg->mode == NOISE_KNN)
            s = imm_ctx_select_noise_knn(b.ctx, b.x0, B, b.candidates, (size_t)k, dim, b.noise,
                                         NULL);
        double assign_ms = now_ms() - assign_start;
        if (s != IMM_OK) {
            library_error(s, cfg,
                          cfg->mode == NOISE_ASSIGN ? "imm_ctx_assign_noise"
                                                    : "imm_ctx_select_noise_knn",
                          err, errlen);
            goto done;
        }

        diffuse(&sch, b.x0, b.noise, b.t, B, dim, b.xt);
        mlp_forward(&b.net, b.params, b.xt, b.tf, B);
        double loss = mlp_backward(&b.net, b.params, b.noise, b.grads);
        if (!isfinite(loss)) {
            snprintf(err, errlen, "training diverged at step %d (loss %g): try a lower --lr",
                     step + 1, loss);
            goto done;
        }
        clip_grad_norm(b.grads, np, cfg->clip);
        float lr = step < cfg->warmup ? cfg->lr * (float)(step + 1) / (float)cfg->warmup : cfg->lr;
        adam_update(&b.opt, b.params, b.grads, lr);
        /* Warm-started EMA: early weights are forgotten quickly. */
        float decay = fminf(cfg->ema_decay, (1.0f + (float)step) / (10.0f + (float)step));
        ema_update(b.ema, b.params, np, decay);
        double step_ms = now_ms() - start;

        total_ms += step_ms;
        total_assign += assign_ms;
        window_loss += loss;
        window_ms += step_ms;
        window_assign += assign_ms;
        window++;
        if (step >= tail_from)
            tail_loss += loss;
        if ((step + 1) % cfg->log_every == 0 || step + 1 == cfg->steps) {
            printf("[%-7s] step %6d/%d  loss %.4f  %7.2f ms/step  assign %.2f ms (%.1f%%)\n", name,
                   step + 1, cfg->steps, window_loss / window, window_ms / window,
                   window_assign / window, 100.0 * window_assign / window_ms);
            fflush(stdout);
            if (cfg->csv)
                fprintf(cfg->csv, "%s,%llu,%d,%.6f,%.3f,%.4f,\n", name,
                        (unsigned long long)cfg->seed, step + 1, window_loss / window,
                        window_ms / window, window_assign / window);
            window_loss = window_ms = window_assign = 0;
            window = 0;
        }
        if (next_eval < cfg->evals &&
            step + 1 == (int)((long long)cfg->steps * (next_eval + 1) / cfg->evals)) {
            double fd, eval_start = now_ms();
            if (evaluate(cfg, &b, &sch, ref, &fd) != 0) {
                snprintf(err, errlen, "evaluation failed (out of memory or LAPACK error)");
                goto done;
            }
            res->eval_step[next_eval] = step + 1;
            res->fd[next_eval] = fd;
            next_eval++;
            printf("[%-7s] step %6d/%d  FD %.4f  (%d DDIM-%d samples, %.1f s)\n", name, step + 1,
                   cfg->steps, fd, cfg->eval_samples, cfg->ddim_steps,
                   (now_ms() - eval_start) / 1e3);
            fflush(stdout);
            if (cfg->csv)
                fprintf(cfg->csv, "%s,%llu,%d,,,,%.6f\n", name, (unsigned long long)cfg->seed,
                        step + 1, fd);
        }
    }
    res->n_evals = next_eval;
    res->final_loss = tail_loss / (cfg->steps - tail_from);
    res->ms_step = total_ms / cfg->steps;
    res->assign_ms = total_assign / cfg->steps;

    if (cfg->png != NULL && cfg->grid > 0) {
        /* The grid shows the last evaluation's samples; sample anew if there are too few. */
        if ((next_eval == 0 || cfg->grid > cfg->eval_samples) &&
            sample_ema(cfg, &b, &sch, (size_t)cfg->grid) != 0) {
            snprintf(err, errlen, "sampling failed (out of memory)");
            goto done;
        }
        int per_row = (int)ceil(sqrt((double)cfg->grid));
        if (png_write_grid(cfg->png, b.samples, (size_t)cfg->grid, ds->rows, ds->cols, per_row, err,
                           errlen) != 0)
            goto done;
        printf("[%-7s] wrote %d samples to %s\n", name, cfg->grid, cfg->png);
    }
    status = 0;
done:
    free_buffers(&b);
    return status;
}
