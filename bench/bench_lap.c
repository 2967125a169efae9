/*
 * bench_lap.c - times imm_lap_solve (exact solver) on image-noise, latent and uniform cost
 * matrices.
 *
 *   bench_lap [-b 256,512,...] [-r reps] [-t threads] [-s seed] [--quick]
 *             [--mnist PATH] [--synthetic] [-w image,latent,uniform,integer]
 *
 * Image-noise matrices are the real workload: Euclidean distances between B images (D = 3072,
 * Fashion-MNIST or synthetic, see workload.h) and B N(0, 1) noise rows. Latent matrices stand
 * for latent diffusion: B N(0, 1) "latents" against B N(0, 1) noise rows, D = 4096 (asked for
 * with -w latent; not in the default set). Uniform U(0,1)*B
 * matrices are much easier for every solver and are shown for contrast only; integer matrices
 * (uniform integers in [0, 100), -w integer) are full of exact ties, as many general users' costs
 * are. Building a matrix is timed separately and not counted. Each case reports the median, min and
 * max solve time over the repetitions; the solver must return the same total every time. Only times
 * measured in this run are printed: for a comparison with scipy, run bench/compare_scipy.py, which
 * times both in one process.
 */
#define _POSIX_C_SOURCE 200809L

#include "workload.h"

#include <immiscible.h>

#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SIZES 32
#define MAX_BATCH (1u << 16) /* 2^32 floats of cost matrix: far beyond what a benchmark needs */

#ifndef IMM_BENCH_FASHION_MNIST
#define IMM_BENCH_FASHION_MNIST "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
#endif

enum { WORKLOAD_IMAGE = 1, WORKLOAD_UNIFORM = 2, WORKLOAD_LATENT = 4, WORKLOAD_INTEGER = 8 };
enum { PURPOSE_IMAGES = 1, PURPOSE_NOISE = 2, PURPOSE_UNIFORM = 3, PURPOSE_LATENTS = 4 };
#define LATENT_DIM 4096

typedef struct config {
    size_t sizes[MAX_SIZES];
    int n_sizes;
    int reps;    /* 0 = per-size default */
    int threads; /* < 0 = opts NULL (library defaults) */
    int workloads;
    uint64_t seed;
    const char *mnist_path;
    int force_synthetic;
} config;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int default_reps(size_t batch) { return batch <= 1024 ? 5 : 3; }

static void usage(FILE *out, const char *prog) {
    fprintf(out,
            "usage: %s [options]\n"
            "  -b, --sizes LIST    batch sizes, comma separated (default 256,512,1024,2048,4096)\n"
            "  -r, --reps N        repetitions per case (default 5 for B <= 1024, else 3)\n"
            "  -t, --threads N     num_threads for the solver (default: opts NULL)\n"
            "  -s, --seed N        base seed (default 42)\n"
            "  -w, --workloads L   image,latent,uniform,integer (default image,uniform)\n"
            "      --quick         B = 256,512 and 1 repetition (CI smoke run)\n"
            "      --mnist PATH    Fashion-MNIST IDX images (default %s)\n"
            "      --synthetic     use synthetic images even if the file exists\n"
            "  -h, --help          this text\n",
            prog, IMM_BENCH_FASHION_MNIST);
}

static int parse_long(const char *s, long lo, long hi, long *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_sizes(const char *list, config *cfg) {
    char buf[512];
    if (strlen(list) >= sizeof buf)
        return -1;
    strcpy(buf, list);
    cfg->n_sizes = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        long v;
        if (cfg->n_sizes == MAX_SIZES || parse_long(tok, 1, MAX_BATCH, &v) != 0)
            return -1;
        cfg->sizes[cfg->n_sizes++] = (size_t)v;
    }
    return cfg->n_sizes > 0 ? 0 : -1;
}

static int parse_workloads(const char *list, int *out) {
    char buf[64];
    if (strlen(list) >= sizeof buf)
        return -1;
    strcpy(buf, list);
    *out = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "image") == 0 || strcmp(tok, "image-noise") == 0)
            *out |= WORKLOAD_IMAGE;
        else if (strcmp(tok, "uniform") == 0)
            *out |= WORKLOAD_UNIFORM;
        else if (strcmp(tok, "latent") == 0)
            *out |= WORKLOAD_LATENT;
        else if (strcmp(tok, "integer") == 0)
            *out |= WORKLOAD_INTEGER;
        else
            return -1;
    }
    return *out ? 0 : -1;
}

static int parse_args(int argc, char **argv, config *cfg) {
    static const struct option longopts[] = {{"sizes", required_argument, NULL, 'b'},
                                             {"reps", required_argument, NULL, 'r'},
                                             {"threads", required_argument, NULL, 't'},
                                             {"seed", required_argument, NULL, 's'},
                                             {"workloads", required_argument, NULL, 'w'},
                                             {"quick", no_argument, NULL, 'q'},
                                             {"mnist", required_argument, NULL, 'm'},
                                             {"synthetic", no_argument, NULL, 'S'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    static const size_t all_sizes[] = {256, 512, 1024, 2048, 4096};
    memset(cfg, 0, sizeof *cfg);
    for (int i = 0; i < 5; i++)
        cfg->sizes[cfg->n_sizes++] = all_sizes[i];
    cfg->threads = -1;
    cfg->workloads = WORKLOAD_IMAGE | WORKLOAD_UNIFORM;
    cfg->seed = 42;
    cfg->mnist_path = IMM_BENCH_FASHION_MNIST;
    int quick = 0, sizes_given = 0, reps_given = 0, c;
    long v;
    while ((c = getopt_long(argc, argv, "b:r:t:s:w:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (parse_sizes(optarg, cfg) != 0) {
                fprintf(stderr, "%s: bad size list '%s' (want e.g. 1024,2048; 1..%u)\n", argv[0],
                        optarg, MAX_BATCH);
                return -1;
            }
            sizes_given = 1;
            break;
        case 'r':
            if (parse_long(optarg, 1, 1000, &v) != 0) {
                fprintf(stderr, "%s: bad repetition count '%s'\n", argv[0], optarg);
                return -1;
            }
            cfg->reps = (int)v;
            reps_given = 1;
            break;
        case 't':
            if (parse_long(optarg, 0, 4096, &v) != 0) {
                fprintf(stderr, "%s: bad thread count '%s'\n", argv[0], optarg);
                return -1;
            }
            cfg->threads = (int)v;
            break;
        case 's':
            if (parse_long(optarg, 0, 0x7fffffffL, &v) != 0) {
                fprintf(stderr, "%s: bad seed '%s'\n", argv[0], optarg);
                return -1;
            }
            cfg->seed = (uint64_t)v;
            break;
        case 'w':
            if (parse_workloads(optarg, &cfg->workloads) != 0) {
                fprintf(stderr, "%s: bad workload list '%s' (image,latent,uniform,integer)\n",
                        argv[0], optarg);
                return -1;
            }
            break;
        case 'q': quick = 1; break;
        case 'm': cfg->mnist_path = optarg; break;
        case 'S': cfg->force_synthetic = 1; break;
        case 'h': usage(stdout, argv[0]); exit(0);
        default: usage(stderr, argv[0]); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], argv[optind]);
        return -1;
    }
    if (quick) { /* explicit -b / -r still win */
        if (!sizes_given) {
            cfg->n_sizes = 2;
            cfg->sizes[0] = 256;
            cfg->sizes[1] = 512;
        }
        if (!reps_given)
            cfg->reps = 1;
    }
    return 0;
}

/* Builds the cost matrix of one case into cost (batch * batch floats). */
static int build_matrix(int workload, const wl_source *src, const config *cfg, size_t batch,
                        float *cost) {
    if (workload == WORKLOAD_UNIFORM || workload == WORKLOAD_INTEGER) {
        const bool integer = workload == WORKLOAD_INTEGER;
        wl_uniform_matrix(wl_seed_for(cfg->seed, PURPOSE_UNIFORM, batch), batch, batch,
                          integer ? 100.0f : (float)batch, cost);
        for (size_t k = 0; integer && k < batch * batch; k++)
            cost[k] = floorf(cost[k]);
        return 0;
    }
    const size_t dim = workload == WORKLOAD_LATENT ? LATENT_DIM : WL_IMAGE_DIM;
    float *x = malloc(batch * dim * sizeof *x);
    float *noise = malloc(batch * dim * sizeof *noise);
    if (!x || !noise) {
        free(x);
        free(noise);
        return -1;
    }
    if (workload == WORKLOAD_LATENT)
        wl_gaussian(wl_seed_for(cfg->seed, PURPOSE_LATENTS, batch), batch * dim, x);
    else
        wl_sample_images(src, wl_seed_for(cfg->seed, PURPOSE_IMAGES, batch), batch, dim, x);
    wl_gaussian(wl_seed_for(cfg->seed, PURPOSE_NOISE, batch), batch * dim, noise);
    wl_distance_matrix(x, batch, noise, batch, dim, cost);
    free(x);
    free(noise);
    return 0;
}

/* Checks that assign is a permutation and that the reported total is its cost; returns the
 * recomputed total through *check. */
static int check_assignment(const float *cost, size_t batch, const int32_t *assign, double total,
                            double *check) {
    unsigned char *seen = calloc(batch, 1);
    *check = 0.0;
    if (!seen)
        return -1;
    double sum = 0.0;
    int ok = 1;
    for (size_t i = 0; i < batch && ok; i++) {
        int32_t j = assign[i];
        if (j < 0 || (size_t)j >= batch || seen[j])
            ok = 0;
        else {
            seen[j] = 1;
            sum += cost[i * batch + (size_t)j];
        }
    }
    free(seen);
    *check = sum;
    return ok && fabs(sum - total) <= 1e-12 * fabs(sum) + 1e-9 ? 0 : -1;
}

static int run_case(int workload, const wl_source *src, const config *cfg, size_t batch) {
    const char *name = workload == WORKLOAD_IMAGE     ? "image-noise"
                       : workload == WORKLOAD_LATENT  ? "latent"
                       : workload == WORKLOAD_UNIFORM ? "uniform"
                                                      : "integer";
    int reps = cfg->reps > 0 ? cfg->reps : default_reps(batch);
    float *cost = malloc(batch * batch * sizeof *cost);
    int32_t *assign = malloc(batch * sizeof *assign);
    double *times = malloc((size_t)reps * sizeof *times);
    int rc = -1;
    if (!cost || !assign || !times) {
        fprintf(stderr, "%s B=%zu: out of memory\n", name, batch);
        goto done;
    }
    double t0 = now_ms();
    if (build_matrix(workload, src, cfg, batch, cost) != 0) {
        fprintf(stderr, "%s B=%zu: out of memory building the matrix\n", name, batch);
        goto done;
    }
    double build_ms = now_ms() - t0;
    double before = 0.0;
    for (size_t i = 0; i < batch; i++)
        before += cost[i * batch + i];

    imm_options opts;
    imm_options_init(&opts);
    if (cfg->threads >= 0)
        opts.num_threads = cfg->threads;
    const imm_options *popts = cfg->threads >= 0 ? &opts : NULL;

    double first_total = 0.0;
    for (int r = 0; r < reps; r++) {
        double total = 0.0, check;
        t0 = now_ms();
        int st = imm_lap_solve(cost, batch, batch, popts, assign, &total);
        times[r] = now_ms() - t0;
        if (st != IMM_OK) {
            fprintf(stderr, "%s B=%zu: imm_lap_solve failed: %s (%d)\n", name, batch,
                    imm_strerror(st), st);
            goto done;
        }
        if (check_assignment(cost, batch, assign, total, &check) != 0) {
            fprintf(stderr, "%s B=%zu: invalid result: not a permutation or total %.9f != %.9f\n",
                    name, batch, total, check);
            goto done;
        }
        if (r == 0)
            first_total = total;
        else if (total != first_total) {
            fprintf(stderr, "%s B=%zu: total changed between runs (%.9f then %.9f)\n", name, batch,
                    first_total, total);
            goto done;
        }
    }
    qsort(times, (size_t)reps, sizeof *times, cmp_double);
    /* One more, untimed call for where the work went. Its lower bound costs a pass the timed
       calls do not make: not counted below. */
    imm_lap_info info;
    if (imm_lap_solve_ex(cost, batch, batch, popts, assign, NULL, NULL, &info) != IMM_OK) {
        fprintf(stderr, "%s B=%zu: imm_lap_solve_ex failed\n", name, batch);
        goto done;
    }
    double spent = 0.0;
    for (int p = 0; p < 4; p++)
        spent += info.seconds[p];
    double share[4];
    for (int p = 0; p < 4; p++)
        share[p] = spent > 0.0 ? 100.0 * info.seconds[p] / spent : 0.0;
    double median = reps % 2 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]);
    /* the solver's workspace as imm_lap_solve's note 5 states it (pinned by tests/test_alloc.c) */
    const double ws = (double)((76 * batch + 7) / 8 * 8) +
                      (double)batch * (8.0 + 8.0 * (double)(batch < 32 ? batch : 32));
    char mode[16];
    snprintf(mode, sizeof mode, info.sparse ? "sparse/%d" : "dense", (int)info.rounds);
    printf("%-12s %5zu %5d %9.2f %9.2f %9.2f %6.2f %5.1f %-9s %4.0f %4.0f %4.0f %4.0f %8.1f "
           "%11.5f %11.5f %7.1f %9.2f\n",
           name, batch, reps, median, times[0], times[reps - 1], info.passes - 1.0,
           (double)info.bids / (double)batch, mode,
           share[0], share[1], share[2], share[3], build_ms, before / (double)batch,
           first_total / (double)batch, (double)batch * (double)batch * sizeof(float) / 1048576.0,
           ws / 1048576.0);
    fflush(stdout);
    rc = 0;
done:
    free(cost);
    free(assign);
    free(times);
    return rc;
}

int main(int argc, char **argv) {
    config cfg;
    if (parse_args(argc, argv, &cfg) != 0)
        return 2;

    wl_source src;
    char err[512];
    if (cfg.force_synthetic)
        wl_source_synthetic(&src, "--synthetic");
    else if (wl_source_open(&src, cfg.mnist_path, err, sizeof err) != 0) {
        fprintf(stderr, "bench_lap: %s\n(use --synthetic to run without it)\n", err);
        return 2;
    }

    printf("libimmiscible %s: imm_lap_solve, exact solver, %s\n", imm_version_string(),
           cfg.threads >= 0 ? "num_threads set with -t" : "opts NULL (default threads)");
    if (cfg.threads >= 0)
        printf("threads: %d\n", cfg.threads);
    printf("image source: %s (%s), D = %d (latent: N(0, 1), D = %d), seed %llu\n",
           wl_source_name(&src), src.note, WL_IMAGE_DIM, LATENT_DIM, (unsigned long long)cfg.seed);
    printf("times in ms; passes = cost rows read in full / B (validation, column means, lists,\n"
           "certification, dense scans); bids = auction bids per row; mode = dense phases, or\n"
           "sparse/N: proved by the sparse mode in N certification passes; %% = share of the\n"
           "solve's time in: setup (validation, column means), auction (warm start), exact (ARR,\n"
           "Dijkstra), proof (certification); passes, bids, mode and shares come from one more\n"
           "untimed imm_lap_solve_ex call. build = time to make the matrix (not counted); mean =\n"
           "cost per row, before = identity assignment, after = optimal; memory in MiB: the cost\n"
           "matrix and the solver's workspace beyond it. No ratio to scipy: scipy is not timed in\n"
           "this run (bench/compare_scipy.py times both in one process)\n\n");
    printf("%-12s %5s %5s %9s %9s %9s %6s %5s %-9s %4s %4s %4s %4s %8s %11s %11s %7s %9s\n",
           "workload", "B", "reps", "median", "min", "max", "passes", "bids", "mode", "set%",
           "auc%", "exa%", "prf%", "build", "mean before", "mean after", "matrix", "workspace");

    int failed = 0;
    static const int order[] = {WORKLOAD_IMAGE, WORKLOAD_LATENT, WORKLOAD_UNIFORM,
                                WORKLOAD_INTEGER};
    for (int w = 0; w < 4; w++) {
        if (!(cfg.workloads & order[w]))
            continue;
        for (int i = 0; i < cfg.n_sizes; i++)
            if (run_case(order[w], &src, &cfg, cfg.sizes[i]) != 0)
                failed = 1;
    }
    wl_source_close(&src);
    return failed ? 1 : 0;
}
