/* trainer.h - one training run of imm-ddpm for one noise mode, with periodic evaluation. */
#ifndef DDPM_TRAINER_H
#define DDPM_TRAINER_H

#include "dataset.h"
#include "frechet.h"
#include "mlp.h"

#include <immiscible.h>
#include <stdint.h>
#include <stdio.h>

#define TRAIN_MAX_EVALS 16

typedef enum noise_mode {
    NOISE_VANILLA = 0, /* the Gaussian draws as they come */
    NOISE_ASSIGN = 1,  /* one imm_ctx_assign_noise() per batch (Immiscible Diffusion) */
    NOISE_KNN = 2      /* one imm_ctx_select_noise_knn() per batch: nearest of k draws */
} noise_mode;

const char *noise_mode_name(noise_mode mode);
const char *solver_name(imm_solver solver);          /* "exact", "auction" */
const char *precision_name(imm_precision precision); /* "fp32", "fp16", "bf16", "int8" */

typedef struct train_config {
    noise_mode mode;
    int k;            /* candidates per image in knn mode */
    imm_options imm;  /* solver, precision, metric, num_threads passed to the library */
    uint64_t seed;    /* everything random derives from it */
    int steps, batch; /* training steps and images per step */
    mlp_config net;
    float lr;         /* Adam learning rate after a linear warm-up of warmup steps */
    int warmup;       /* steps */
    float ema_decay;  /* EMA of the weights used for sampling */
    float clip;       /* gradient-norm clipping threshold */
    int T;            /* diffusion steps (1000), linear betas from 1e-4 to 0.02 */
    int log_every;    /* progress line and CSV row every this many steps */
    int evals;        /* checkpoints: evaluated at steps * i / evals, i = 1..evals */
    int eval_samples; /* DDIM samples per evaluation */
    int ddim_steps;   /* DDIM steps of each sample */
    int grid;         /* samples in the PNG grid (a square number reads best) */
    const char *png;  /* where to write the grid of the final samples (NULL: nowhere) */
    FILE *csv;        /* progress log (NULL: none) */
} train_config;

/* What the comparison table reports. */
typedef struct train_result {
    int n_evals;
    int eval_step[TRAIN_MAX_EVALS];
    double fd[TRAIN_MAX_EVALS]; /* Frechet distance to the test set at each checkpoint */
    double final_loss;          /* mean training loss over the last 10% of the steps */
    double ms_step;             /* mean wall time of a training step, evaluation excluded */
    double assign_ms;           /* mean wall time of the library call per step */
} train_result;

/* The metric's fixed reference: PCA basis of the training set and statistics of the test set. */
typedef struct eval_reference {
    pca_basis basis;
    gauss_stats test;
} eval_reference;

/*! train_run() :
 *  Trains one model from cfg->seed on ds->train and evaluates it against ref.
 *  @return 0, or -1 with a message in err: a library error (the imm_strerror text, with a hint
 *          when the library does not support the requested solver / precision yet), or memory. */
int train_run(const train_config *cfg, const dataset *ds, const eval_reference *ref,
              train_result *res, char *err, size_t errlen);

#endif /* DDPM_TRAINER_H */
