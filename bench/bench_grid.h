/*
 * bench_grid.h - what imm-bench measures: the grid of cells and its command line.
 *
 * A cell is one (workload, B, D, method, precision, threads) combination. The grid is the
 * cartesian product of the lists below, walked workload -> D -> B -> method -> precision ->
 * threads, so that each problem's data is built once. This file holds no timing code: it only
 * describes and parses, so that the parser can be tested on its own.
 */
#ifndef IMM_BENCH_GRID_H
#define IMM_BENCH_GRID_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BG_MAX_LIST 16
#define BG_MAX_BATCH 65536u /* B*B floats of cost matrix: 16 GiB, far beyond a benchmark */
#define BG_MAX_DIM 1048576u /* 4 MiB per row */
#define BG_MAX_K 1024u      /* knn candidates per image, pool size as a multiple of B */
#define BG_THREADS_ALL 0    /* in bg_config.threads: every thread OpenMP offers */

typedef enum bg_workload {
    BG_WORKLOAD_IMAGE = 0,  /* images (Fashion-MNIST or synthetic) vs N(0,1) noise */
    BG_WORKLOAD_LATENT = 1, /* N(0,1) "latents" vs N(0,1) noise */
    BG_WORKLOAD_UNIFORM = 2 /* U(0,1)*B cost matrices: the solver alone */
} bg_workload;

typedef enum bg_method_kind {
    BG_METHOD_EXACT = 0,         /* IMM_SOLVER_EXACT */
    BG_METHOD_AUCTION = 1,       /* IMM_SOLVER_AUCTION */
    BG_METHOD_AUCTION_EXACT = 2, /* IMM_SOLVER_AUCTION with exact_finish */
    BG_METHOD_KNN = 3,           /* imm_select_noise_knn, param = k candidates per image */
    BG_METHOD_POOL = 4           /* imm_assign_noise_pool, param = pool size / B */
} bg_method_kind;

typedef struct bg_method {
    bg_method_kind kind;
    unsigned param; /* k for knn, the pool multiple for pool, 0 otherwise */
} bg_method;

/* Precisions by their imm_precision value (FP32 0, FP16 1, INT8 2, BF16 3). */
typedef int bg_precision;

typedef struct bg_config {
    bg_workload workloads[BG_MAX_LIST];
    size_t batches[BG_MAX_LIST];
    size_t dims[BG_MAX_LIST];
    bg_method methods[BG_MAX_LIST];
    bg_precision precisions[BG_MAX_LIST];
    int threads[BG_MAX_LIST]; /* BG_THREADS_ALL or a count */
    int n_workloads, n_batches, n_dims, n_methods, n_precisions, n_threads;
    size_t lap_batches[BG_MAX_LIST]; /* the solver-scaling section; none when n_lap_batches 0 */
    int n_lap_batches;
    int reps;        /* 0 = by size: 5 up to 2^20 cost entries, 3 above */
    int warmup;      /* untimed runs before the timed ones */
    double accuracy; /* imm_options.accuracy for the auction; 0 = the library default */
    uint64_t seed;
    const char *mnist_path;
    int force_synthetic;
    const char *csv_path, *markdown_path, *plot_path; /* NULL = not written */
    int quiet;                                        /* no progress line */
} bg_config;

/* The default run: the headline (B = 256, 1024; D = 3072; images; every method; fp32, fp16 and
 * int8 (bf16 on request: the run must stay under 3 minutes on 2 cores); 1 and all threads) plus
 * the solver section at B = 2048 and 4096. */
void bg_config_default(bg_config *cfg, const char *mnist_path);

/* bg_parse_args() :
 *  Parses argv into *cfg, which it first sets to the defaults (`mnist` is the default image
 *  file, kept unless --mnist is given). Messages go to `err`; --help
 *  prints to `out`. getopt_long is reset first, so this may be called more than once.
 *  @return 0 to run, 1 when --help was handled (exit 0), -1 on a bad argument: a one-line reason
 *          and the usage text went to `err` (exit 2). */
int bg_parse_args(int argc, char **argv, const char *mnist, bg_config *cfg, FILE *out, FILE *err);

void bg_usage(FILE *out, const char *prog, const char *mnist_path);

/* Parsers for single values, exposed for the tests. Each returns 0 or -1 (bad value). */
int bg_parse_method(const char *s, bg_method *m);
int bg_parse_precision(const char *s, bg_precision *p);

/* Names, as written on the command line and in every report ("auction+exact", "knn:4"). */
void bg_method_name(bg_method m, char *buf, size_t len);
const char *bg_precision_name(bg_precision p);
const char *bg_workload_name(bg_workload w);

/* Repetitions for a cell with `entries` cost-matrix entries (cfg->reps if set). */
int bg_reps_for(const bg_config *cfg, size_t entries);

/* Number of cells the grid walks (uniform matrices have no D, precision or knn/pool). */
size_t bg_cell_count(const bg_config *cfg);

#endif /* IMM_BENCH_GRID_H */
