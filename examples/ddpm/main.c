/* main.c - imm-ddpm: trains a small DDPM on Fashion-MNIST with vanilla or immiscible noise and
 * measures sample quality (see README.md). Command line, data, metric reference and the loop
 * over seeds and modes live here; the training loop is in trainer.c, the multi-seed report,
 * its CSV and plots in compare.c. */
#define _POSIX_C_SOURCE 200809L
#include "compare.h"
#include "dataset.h"
#include "frechet.h"
#include "rng.h"
#include "trainer.h"

#include <cblas.h>
#include <errno.h>
#include <getopt.h>
#include <immiscible.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { EXIT_USAGE = 2 };

typedef struct settings {
    train_config train;
    int compare, quick, synthetic, threads, pca_dim;
    int seeds; /* seeds seed, seed + 1, ..., seed + seeds - 1; 0 until parsed: the default */
    long train_limit, test_limit;
    const char *data_dir; /* NULL: the default directory, synthetic if it is absent */
    const char *out_dir;
    const char *csv_path, *plot_path; /* NULL: compare.csv / compare-fd.png in out_dir */
    const char *report_path;          /* --report: no training, the report of this CSV */
} settings;

static void usage(FILE *to) {
    fprintf(
        to,
        "Usage: imm-ddpm [options]\n"
        "Trains a DDPM (epsilon prediction, T = 1000, linear betas) on Fashion-MNIST with\n"
        "vanilla or immiscible noise, samples with DDIM from the EMA weights, and scores the\n"
        "samples by their Frechet distance to the test set in PCA space (lower is better).\n"
        "\n"
        "Noise:\n"
        "  --noise MODE        vanilla | assign | knn            (default assign)\n"
        "  --k K               candidates per image in knn mode  (default 4)\n"
        "  --solver S          exact | auction                   (default exact)\n"
        "  --precision P       fp32 | fp16 | bf16 | int8         (default fp32)\n"
        "  --compare           train vanilla, assign and knn from the same seeds; report each\n"
        "                      mode's FD with 95%% intervals, the paired difference to vanilla,\n"
        "                      steps to reach vanilla's final FD, and a verdict per checkpoint\n"
        "  --seeds N           train each mode from seeds seed .. seed+N-1 (default 3 with\n"
        "                      --compare, else 1); model init, data order and noise differ\n"
        "  --quick             small configuration for smoke tests (well under a minute)\n"
        "  --report FILE       no training: the report and plots of a finished study from its\n"
        "                      --csv file (or several concatenated, e.g. seeds run elsewhere)\n"
        "Data and output:\n"
        "  --data DIR          Fashion-MNIST .gz files (default %s;\n"
        "                      the synthetic stand-in is used if that default is absent)\n"
        "  --synthetic         use the synthetic garments instead\n"
        "  --train-limit N     use the first N training images (default all)\n"
        "  --test-limit N      use the first N test images for the metric (default 10000)\n"
        "  --out DIR           log.csv and samples-MODE.png go here (default ddpm-out)\n"
        "  --csv FILE          FD of every mode x seed x checkpoint (default DIR/compare.csv)\n"
        "  --plot FILE         PNG of FD vs step, mean and 95%% interval per mode\n"
        "                      (default DIR/compare-fd.png); with --compare also the paired\n"
        "                      differences to vanilla in FILE-paired.png (FILE ending in .png)\n"
        "Training:\n"
        "  --steps N           training steps (default 4000)\n"
        "  --batch N           images per step (default 128)\n"
        "  --hidden N          MLP width (default 512)\n"
        "  --blocks N          residual blocks (default 2)\n"
        "  --lr X              Adam learning rate (default 1e-3)\n"
        "  --seed N            seed of everything random (default 1)\n"
        "  --threads N         OpenMP, OpenBLAS and library threads; 0 = all cores (default 1:\n"
        "                      fastest on a shared machine, see README)\n"
        "  --log-every N       progress line every N steps (default 200)\n"
        "Evaluation:\n"
        "  --evals N           checkpoints, evenly spaced (default 8)\n"
        "  --eval-samples N    DDIM samples per checkpoint (default 1000)\n"
        "  --ddim-steps N      DDIM steps per sample (default 25)\n"
        "  --pca N             principal components of the metric (default 32)\n"
        "  --grid N            samples in the PNG grid (default 64)\n"
        "  -h, --help          this text\n",
        DATASET_DEFAULT_DIR);
}

static int usage_error(const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "imm-ddpm: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\nTry 'imm-ddpm --help'.\n");
    return EXIT_USAGE;
}

static int parse_long(const char *opt, const char *text, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi) {
        char range[64];
        snprintf(range, sizeof range, "an integer in %ld..%ld", lo, hi);
        fprintf(stderr, "imm-ddpm: %s: '%s' is not %s\nTry 'imm-ddpm --help'.\n", opt, text, range);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_int(const char *opt, const char *text, long lo, long hi, int *out) {
    long v;
    if (parse_long(opt, text, lo, hi, &v) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

static void set_defaults(settings *s, int quick) {
    memset(s, 0, sizeof *s);
    train_config *t = &s->train;
    t->mode = NOISE_ASSIGN;
    t->k = 4;
    imm_options_init(&t->imm);
    t->seed = 1;
    t->T = 1000;
    t->net =
        (mlp_config){.dim = 28 * 28, .temb = 64, .time_hidden = 128, .hidden = 512, .blocks = 2};
    t->batch = 128;
    t->steps = 4000;
    t->lr = 1e-3f;
    t->warmup = 200;
    t->ema_decay = 0.999f;
    t->clip = 1.0f;
    t->log_every = 200;
    t->evals = 8;
    t->eval_samples = 1000;
    t->ddim_steps = 25;
    t->grid = 64;
    s->pca_dim = 32;
    s->test_limit = 10000;
    s->out_dir = "ddpm-out";
    s->threads = 1;
    if (quick) { /* a few seconds per mode on 2 cores */
        s->quick = 1;
        t->net.hidden = 128;
        t->net.blocks = 1;
        t->batch = 64;
        t->steps = 240;
        t->warmup = 20;
        t->ema_decay = 0.99f;
        t->log_every = 40;
        t->evals = 4;
        t->eval_samples = 200;
        t->ddim_steps = 10;
        t->grid = 16;
        s->pca_dim = 16;
        s->train_limit = 4000;
        s->test_limit = 1000;
    }
}

enum {
    OPT_NOISE = 256,
    OPT_K,
    OPT_SOLVER,
    OPT_PRECISION,
    OPT_COMPARE,
    OPT_QUICK,
    OPT_DATA,
    OPT_SYNTHETIC,
    OPT_TRAIN_LIMIT,
    OPT_TEST_LIMIT,
    OPT_OUT,
    OPT_STEPS,
    OPT_BATCH,
    OPT_HIDDEN,
    OPT_BLOCKS,
    OPT_LR,
    OPT_SEED,
    OPT_THREADS,
    OPT_LOG_EVERY,
    OPT_EVALS,
    OPT_EVAL_SAMPLES,
    OPT_DDIM_STEPS,
    OPT_PCA,
    OPT_GRID,
    OPT_SEEDS,
    OPT_CSV,
    OPT_PLOT,
    OPT_REPORT
};

static const struct option long_options[] = {
    {"noise", required_argument, NULL, OPT_NOISE},
    {"k", required_argument, NULL, OPT_K},
    {"solver", required_argument, NULL, OPT_SOLVER},
    {"precision", required_argument, NULL, OPT_PRECISION},
    {"compare", no_argument, NULL, OPT_COMPARE},
    {"quick", no_argument, NULL, OPT_QUICK},
    {"data", required_argument, NULL, OPT_DATA},
    {"synthetic", no_argument, NULL, OPT_SYNTHETIC},
    {"train-limit", required_argument, NULL, OPT_TRAIN_LIMIT},
    {"test-limit", required_argument, NULL, OPT_TEST_LIMIT},
    {"out", required_argument, NULL, OPT_OUT},
    {"steps", required_argument, NULL, OPT_STEPS},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"hidden", required_argument, NULL, OPT_HIDDEN},
    {"blocks", required_argument, NULL, OPT_BLOCKS},
    {"lr", required_argument, NULL, OPT_LR},
    {"seed", required_argument, NULL, OPT_SEED},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"log-every", required_argument, NULL, OPT_LOG_EVERY},
    {"evals", required_argument, NULL, OPT_EVALS},
    {"eval-samples", required_argument, NULL, OPT_EVAL_SAMPLES},
    {"ddim-steps", required_argument, NULL, OPT_DDIM_STEPS},
    {"pca", required_argument, NULL, OPT_PCA},
    {"grid", required_argument, NULL, OPT_GRID},
    {"seeds", required_argument, NULL, OPT_SEEDS},
    {"csv", required_argument, NULL, OPT_CSV},
    {"plot", required_argument, NULL, OPT_PLOT},
    {"report", required_argument, NULL, OPT_REPORT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* @return -1 to go on, or the exit status (0 after --help). */
static int parse_args(int argc, char **argv, settings *s) {
    /* First pass: --quick changes the defaults that the other options then override. */
    int quick = 0;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "h", long_options, NULL)) != -1;)
        quick |= c == OPT_QUICK;
    set_defaults(s, quick);
    train_config *t = &s->train;
    opterr = 1;
    optind = 0; /* glibc: restart scanning from scratch */
    int index = 0;
    for (int c; (c = getopt_long(argc, argv, "h", long_options, &index)) != -1;) {
        char name[32]; /* "--steps", for messages */
        snprintf(name, sizeof name, "--%s",
                 c == 'h' || c == '?' ? "help" : long_options[index].name);
        long v;
        switch (c) {
        case 'h': usage(stdout); return EXIT_SUCCESS;
        case OPT_NOISE:
            if (strcmp(optarg, "vanilla") == 0)
                t->mode = NOISE_VANILLA;
            else if (strcmp(optarg, "assign") == 0)
                t->mode = NOISE_ASSIGN;
            else if (strcmp(optarg, "knn") == 0)
                t->mode = NOISE_KNN;
            else
                return usage_error("--noise: '%s' is not one of %s", optarg,
                                   "vanilla, assign, knn");
            break;
        case OPT_SOLVER:
            if (strcmp(optarg, "exact") == 0)
                t->imm.solver = IMM_SOLVER_EXACT;
            else if (strcmp(optarg, "auction") == 0)
                t->imm.solver = IMM_SOLVER_AUCTION;
            else
                return usage_error("--solver: '%s' is not one of %s", optarg, "exact, auction");
            break;
        case OPT_PRECISION:
            if (strcmp(optarg, "fp32") == 0)
                t->imm.precision = IMM_PRECISION_FP32;
            else if (strcmp(optarg, "fp16") == 0)
                t->imm.precision = IMM_PRECISION_FP16;
            else if (strcmp(optarg, "bf16") == 0)
                t->imm.precision = IMM_PRECISION_BF16;
            else if (strcmp(optarg, "int8") == 0)
                t->imm.precision = IMM_PRECISION_INT8;
            else
                return usage_error("--precision: '%s' is not one of %s", optarg,
                                   "fp32, fp16, bf16, int8");
            break;
        case OPT_LR: {
            char *end;
            errno = 0;
            double lr = strtod(optarg, &end);
            if (errno != 0 || end == optarg || *end != '\0' || !(lr > 0 && lr <= 1))
                return usage_error("--lr: '%s' is not a number in %s", optarg, "(0, 1]");
            t->lr = (float)lr;
            break;
        }
        case OPT_COMPARE: s->compare = 1; break;
        case OPT_QUICK: break; /* handled in the first pass */
        case OPT_DATA: s->data_dir = optarg; break;
        case OPT_SYNTHETIC: s->synthetic = 1; break;
        case OPT_OUT: s->out_dir = optarg; break;
        case OPT_CSV: s->csv_path = optarg; break;
        case OPT_PLOT: s->plot_path = optarg; break;
        case OPT_REPORT: s->report_path = optarg; break;
        case OPT_SEEDS:
            if (parse_int(name, optarg, 1, COMPARE_MAX_SEEDS, &s->seeds) != 0)
                return EXIT_USAGE;
            break;
        case OPT_K:
            if (parse_int(name, optarg, 1, 64, &t->k) != 0)
                return EXIT_USAGE;
            break;
        case OPT_TRAIN_LIMIT:
            if (parse_long(name, optarg, 0, 100000000, &s->train_limit) != 0)
                return EXIT_USAGE;
            break;
        case OPT_TEST_LIMIT:
            if (parse_long(name, optarg, 2, 100000000, &s->test_limit) != 0)
                return EXIT_USAGE;
            break;
        case OPT_STEPS:
            if (parse_int(name, optarg, 1, 10000000, &t->steps) != 0)
                return EXIT_USAGE;
            break;
        case OPT_BATCH:
            if (parse_int(name, optarg, 1, 65536, &t->batch) != 0)
                return EXIT_USAGE;
            break;
        case OPT_HIDDEN:
            if (parse_int(name, optarg, 1, 16384, &t->net.hidden) != 0)
                return EXIT_USAGE;
            break;
        case OPT_BLOCKS:
            if (parse_int(name, optarg, 0, MLP_MAX_BLOCKS, &t->net.blocks) != 0)
                return EXIT_USAGE;
            break;
        case OPT_SEED:
            if (parse_long(name, optarg, 0, 2147483647, &v) != 0)
                return EXIT_USAGE;
            t->seed = (uint64_t)v;
            break;
        case OPT_THREADS:
            if (parse_int(name, optarg, 0, 1024, &s->threads) != 0)
                return EXIT_USAGE;
            break;
        case OPT_LOG_EVERY:
            if (parse_int(name, optarg, 1, 10000000, &t->log_every) != 0)
                return EXIT_USAGE;
            break;
        case OPT_EVALS:
            if (parse_int(name, optarg, 0, TRAIN_MAX_EVALS, &t->evals) != 0)
                return EXIT_USAGE;
            break;
        case OPT_EVAL_SAMPLES:
            if (parse_int(name, optarg, 2, 100000, &t->eval_samples) != 0)
                return EXIT_USAGE;
            break;
        case OPT_DDIM_STEPS:
            if (parse_int(name, optarg, 1, 1000, &t->ddim_steps) != 0)
                return EXIT_USAGE;
            break;
        case OPT_PCA:
            if (parse_int(name, optarg, 1, 784, &s->pca_dim) != 0)
                return EXIT_USAGE;
            break;
        case OPT_GRID:
            if (parse_int(name, optarg, 0, 1024, &t->grid) != 0)
                return EXIT_USAGE;
            break;
        default: /* getopt has printed what is wrong */
            fprintf(stderr, "Try 'imm-ddpm --help'.\n");
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'%s", argv[optind], "");
    if (s->synthetic && s->data_dir != NULL)
        return usage_error("--synthetic and --data %s%s exclude each other", s->data_dir, "");
    if (t->steps < t->evals)
        return usage_error("--evals must not exceed --steps%s%s", "", "");
    if (s->seeds == 0)
        s->seeds = s->compare ? 3 : 1;
    if (t->seed + (uint64_t)s->seeds - 1 > 2147483647u)
        return usage_error("--seed + --seeds - 1 must not exceed 2147483647%s%s", "", "");
    t->imm.num_threads = s->threads;
    return -1;
}

/* @return 0, or 1 after printing why the data could not be loaded. */
static int load_data(const settings *s, dataset *ds) {
    char err[512];
    size_t n_train = (size_t)s->train_limit, n_test = (size_t)s->test_limit;
    const char *dir = s->data_dir ? s->data_dir : DATASET_DEFAULT_DIR;
    int synthetic = s->synthetic;
    if (!synthetic && s->data_dir == NULL) {
        char probe[4096];
        snprintf(probe, sizeof probe, "%s/train-images-idx3-ubyte.gz", dir);
        if (access(probe, F_OK) != 0) {
            fprintf(stderr,
                    "imm-ddpm: Fashion-MNIST is not installed in %s (Debian package "
                    "dataset-fashion-mnist): using the synthetic stand-in\n",
                    dir);
            synthetic = 1;
        }
    }
    if (synthetic) {
        if (dataset_synthetic(s->train.seed, n_train ? n_train : 20000, n_test, ds) != 0) {
            fprintf(stderr, "imm-ddpm: out of memory for the synthetic dataset\n");
            return 1;
        }
        return 0;
    }
    if (dataset_load_fashion(dir, n_train, n_test, ds, err, sizeof err) != 0) {
        fprintf(stderr,
                "imm-ddpm: cannot load Fashion-MNIST: %s\n"
                "(expected train-images-idx3-ubyte.gz and t10k-images-idx3-ubyte.gz in %s; "
                "--synthetic uses a built-in stand-in)\n",
                err, dir);
        return 1;
    }
    return 0;
}

/* The metric's reference: PCA of (up to 10000) training images, statistics of the test set,
   and the "floor": the score of eval_samples real training images, i.e. of a perfect model. */
static int build_reference(const settings *s, const dataset *ds, eval_reference *ref,
                           double *floor_fd) {
    const size_t dim = (size_t)ds->rows * (size_t)ds->cols;
    size_t n_fit = ds->n_train < 10000 ? ds->n_train : 10000;
    size_t n_floor = (size_t)s->train.eval_samples;
    if (n_floor > ds->n_train)
        n_floor = ds->n_train;
    memset(ref, 0, sizeof *ref);
    if (ds->n_test < 2 || n_fit < 2 || s->pca_dim > (int)dim ||
        pca_fit(ds->train, n_fit, (int)dim, s->pca_dim, &ref->basis) != 0 ||
        gauss_stats_compute(&ref->basis, ds->test, ds->n_test, &ref->test) != 0) {
        fprintf(stderr, "imm-ddpm: cannot build the metric's reference (too few images, out of "
                        "memory, or LAPACK failed)\n");
        return 1;
    }
    float *subset = malloc(n_floor * dim * sizeof(float));
    gauss_stats st;
    int status = 1;
    if (subset != NULL) {
        rng r;
        rng_seed(&r, s->train.seed, RNG_SUBSET, 0, 0);
        for (size_t i = 0; i < n_floor; i++)
            memcpy(subset + i * dim, ds->train + rng_below(&r, ds->n_train) * dim,
                   dim * sizeof(float));
        if (gauss_stats_compute(&ref->basis, subset, n_floor, &st) == 0) {
            status = frechet_distance(&st, &ref->test, floor_fd) == 0 ? 0 : 1;
            gauss_stats_free(&st);
        }
    }
    free(subset);
    if (status != 0)
        fprintf(stderr, "imm-ddpm: cannot compute the metric's floor\n");
    return status;
}

static void print_footer(const settings *s, size_t n_test, double floor_fd) {
    const train_config *t = &s->train;
    printf("\nFD: Frechet distance to %zu test images in the top-%d PCA space of the training set, "
           "%d DDIM-%d samples from the EMA weights (lower is better).\n"
           "Floor (%d real training images instead of samples): %.4f.\n"
           "final loss: mean over the last 10%% of the steps (not comparable across modes: "
           "assigned noise is easier to predict).\n",
           n_test, s->pca_dim, t->eval_samples, t->ddim_steps, t->eval_samples, floor_fd);
}

/* Opens OUT/NAME, or `given` when not NULL. */
static void out_path(char *buf, size_t n, const settings *s, const char *given, const char *name) {
    if (given != NULL)
        snprintf(buf, n, "%s", given);
    else
        snprintf(buf, n, "%s/%s", s->out_dir, name);
}

/* The FD plot and, for a comparison with vanilla, the paired-difference plot next to it
   (compare-fd.png -> compare-fd-paired.png). @return EXIT_SUCCESS or EXIT_FAILURE. */
static int write_plots(const settings *s, const compare_set *cmp, const char *subtitle) {
    char err[512], path[4096];
    if (cmp->res[0].n_evals < 1) {
        printf("No checkpoints (--evals 0): no plot\n");
        return EXIT_SUCCESS;
    }
    out_path(path, sizeof path, s, s->plot_path, "compare-fd.png");
    if (compare_write_plot(path, cmp, subtitle, err, sizeof err) != 0) {
        fprintf(stderr, "imm-ddpm: %s\n", err);
        return EXIT_FAILURE;
    }
    printf("Plot: %s\n", path);
    size_t len = strlen(path);
    if (cmp->n_modes < 2 || cmp->modes[0] != NOISE_VANILLA || len < 5 ||
        strcmp(path + len - 4, ".png") != 0 || len + 8 >= sizeof path)
        return EXIT_SUCCESS;
    memcpy(path + len - 4, "-paired.png", 12);
    if (compare_write_diff_plot(path, cmp, subtitle, err, sizeof err) != 0) {
        fprintf(stderr, "imm-ddpm: %s\n", err);
        return EXIT_FAILURE;
    }
    printf("Plot of the paired differences: %s\n", path);
    return EXIT_SUCCESS;
}

/* --report FILE: the report and plots of a finished study, from its CSV. */
static int report_from_csv(const settings *s) {
    char err[512], subtitle[512];
    compare_set cmp;
    if (compare_read_csv(s->report_path, &cmp, err, sizeof err) != 0) {
        fprintf(stderr, "imm-ddpm: %s\n", err);
        return EXIT_FAILURE;
    }
    int status = EXIT_SUCCESS;
    if (compare_report(stdout, &cmp) != 0) {
        fprintf(stderr, "imm-ddpm: %s: the runs do not share their checkpoints\n", s->report_path);
        status = EXIT_FAILURE;
    } else {
        printf("\nReport of %s.\n", s->report_path);
        if (s->plot_path == NULL && mkdir(s->out_dir, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "imm-ddpm: cannot create %s: %s\n", s->out_dir, strerror(errno));
            status = EXIT_FAILURE;
        } else {
            snprintf(subtitle, sizeof subtitle, "from %s", s->report_path);
            status = write_plots(s, &cmp, subtitle);
        }
    }
    free(cmp.res);
    return status;
}

int main(int argc, char **argv) {
    settings s;
    int status = parse_args(argc, argv, &s);
    if (status >= 0)
        return status;
    if (s.report_path != NULL)
        return report_from_csv(&s);
    if (s.threads > 0) { /* 0 keeps the OpenMP and OpenBLAS defaults (all cores) */
        omp_set_num_threads(s.threads);
        openblas_set_num_threads(s.threads);
    }
    dataset ds;
    if (load_data(&s, &ds) != 0)
        return EXIT_FAILURE;
    if (ds.rows * ds.cols != s.train.net.dim) {
        fprintf(stderr, "imm-ddpm: the images are %d x %d; this trainer expects 28 x 28\n", ds.rows,
                ds.cols);
        dataset_free(&ds);
        return EXIT_FAILURE;
    }
    if ((size_t)s.train.batch > ds.n_train) {
        fprintf(stderr, "imm-ddpm: --batch %d exceeds the %zu training images\n", s.train.batch,
                ds.n_train);
        dataset_free(&ds);
        return EXIT_FAILURE;
    }
    eval_reference ref;
    double floor_fd = 0;
    if (build_reference(&s, &ds, &ref, &floor_fd) != 0) {
        dataset_free(&ds);
        return EXIT_FAILURE;
    }
    compare_set cmp = {.n_modes = 1, .n_seeds = s.seeds, .modes = {s.train.mode}, .k = s.train.k};
    if (s.compare) {
        cmp.n_modes = 3;
        cmp.modes[0] = NOISE_VANILLA; /* first: the paired reference */
        cmp.modes[1] = NOISE_ASSIGN;
        cmp.modes[2] = NOISE_KNN;
    }
    for (int i = 0; i < cmp.n_seeds; i++)
        cmp.seeds[i] = s.train.seed + (uint64_t)i;
    cmp.res = calloc((size_t)cmp.n_modes * (size_t)cmp.n_seeds, sizeof *cmp.res);
    FILE *csv = NULL;
    char csv_path[4096], png_path[4096];
    if (cmp.res == NULL) {
        fprintf(stderr, "imm-ddpm: out of memory\n");
        status = EXIT_FAILURE;
        goto done;
    }
    if (mkdir(s.out_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "imm-ddpm: cannot create %s: %s\n", s.out_dir, strerror(errno));
        status = EXIT_FAILURE;
        goto done;
    }
    snprintf(csv_path, sizeof csv_path, "%s/log.csv", s.out_dir);
    csv = fopen(csv_path, "w");
    if (csv == NULL) {
        fprintf(stderr, "imm-ddpm: cannot create %s: %s\n", csv_path, strerror(errno));
        status = EXIT_FAILURE;
        goto done;
    }
    fprintf(csv, "mode,seed,step,loss,ms_per_step,assign_ms,fd\n");

    mlp probe;
    size_t n_params = 0;
    if (mlp_create(&probe, &s.train.net, 1) == 0) {
        n_params = probe.lay.count;
        mlp_destroy(&probe);
    }
    printf("imm-ddpm: %s, %zu training / %zu test images; libimmiscible %s (%s), solver %s, "
           "precision %s\n"
           "MLP %d-%dx%d (%zu parameters), T=%d, %d steps of %d, lr %g, seed%s %llu",
           ds.source, ds.n_train, ds.n_test, imm_version_string(), imm_simd_arch(),
           solver_name(s.train.imm.solver), precision_name(s.train.imm.precision), s.train.net.dim,
           s.train.net.hidden, s.train.net.blocks, n_params, s.train.T, s.train.steps,
           s.train.batch, (double)s.train.lr, cmp.n_seeds > 1 ? "s" : "",
           (unsigned long long)cmp.seeds[0]);
    if (cmp.n_seeds > 1)
        printf("..%llu", (unsigned long long)cmp.seeds[cmp.n_seeds - 1]);
    printf(", %d threads\n", s.threads > 0 ? s.threads : omp_get_max_threads());
    fflush(stdout);

    /* Seed by seed, every mode: an interrupted study leaves whole seeds in log.csv. Only the
       first seed writes sample grids. */
    status = EXIT_SUCCESS;
    for (int i = 0; i < cmp.n_seeds && status == EXIT_SUCCESS; i++) {
        if (cmp.n_seeds > 1) {
            printf("== seed %llu (%d of %d) ==\n", (unsigned long long)cmp.seeds[i], i + 1,
                   cmp.n_seeds);
            fflush(stdout);
        }
        for (int m = 0; m < cmp.n_modes && status == EXIT_SUCCESS; m++) {
            char err[512];
            train_config cfg = s.train;
            cfg.mode = cmp.modes[m];
            cfg.seed = cmp.seeds[i];
            cfg.csv = csv;
            snprintf(png_path, sizeof png_path, "%s/samples-%s.png", s.out_dir,
                     noise_mode_name(cmp.modes[m]));
            cfg.png = i == 0 ? png_path : NULL;
            if (train_run(&cfg, &ds, &ref, &cmp.res[(size_t)m * (size_t)cmp.n_seeds + (size_t)i],
                          err, sizeof err) != 0) {
                fprintf(stderr, "imm-ddpm: %s, seed %llu: %s\n", noise_mode_name(cmp.modes[m]),
                        (unsigned long long)cmp.seeds[i], err);
                status = EXIT_FAILURE;
            }
        }
    }
    if (fclose(csv) != 0 && status == EXIT_SUCCESS) {
        fprintf(stderr, "imm-ddpm: writing %s failed\n", csv_path);
        status = EXIT_FAILURE;
    }
    if (status != EXIT_SUCCESS)
        goto done;
    if (compare_report(stdout, &cmp) != 0) {
        fprintf(stderr, "imm-ddpm: the runs do not share their checkpoints\n");
        status = EXIT_FAILURE;
        goto done;
    }
    print_footer(&s, ds.n_test, floor_fd);
    printf("Log: %s\n", csv_path);
    if (s.compare || cmp.n_seeds > 1) {
        char err[512], path[4096], subtitle[256];
        out_path(path, sizeof path, &s, s.csv_path, "compare.csv");
        if (compare_write_csv(path, &cmp, err, sizeof err) != 0) {
            fprintf(stderr, "imm-ddpm: %s\n", err);
            status = EXIT_FAILURE;
        } else {
            printf("Per seed x mode x checkpoint: %s\n", path);
        }
        snprintf(subtitle, sizeof subtitle,
                 "%s; MLP %d-%dx%d, batch %d, lr %g; FD in the top-%d PCA space, %d DDIM-%d "
                 "samples; floor %.2f",
                 strstr(ds.source, "synthetic") ? "synthetic images" : "Fashion-MNIST",
                 s.train.net.dim, s.train.net.hidden, s.train.net.blocks, s.train.batch,
                 (double)s.train.lr, s.pca_dim, s.train.eval_samples, s.train.ddim_steps, floor_fd);
        if (write_plots(&s, &cmp, subtitle) != EXIT_SUCCESS)
            status = EXIT_FAILURE;
    }
done:
    free(cmp.res);
    pca_free(&ref.basis);
    gauss_stats_free(&ref.test);
    dataset_free(&ds);
    return status;
}
