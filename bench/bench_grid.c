/* bench_grid.c - imm-bench's grid and command line (see bench_grid.h). */
#define _POSIX_C_SOURCE 200809L

#include "bench_grid.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define BG_PREC_FP32 0
#define BG_PREC_FP16 1
#define BG_PREC_INT8 2
#define BG_PREC_BF16 3

void bg_config_default(bg_config *cfg, const char *mnist_path) {
    memset(cfg, 0, sizeof *cfg);
    cfg->workloads[cfg->n_workloads++] = BG_WORKLOAD_IMAGE;
    cfg->batches[cfg->n_batches++] = 256;
    cfg->batches[cfg->n_batches++] = 1024;
    cfg->dims[cfg->n_dims++] = 3072;
    static const bg_method methods[] = {{BG_METHOD_EXACT, 0},
                                        {BG_METHOD_AUCTION, 0},
                                        {BG_METHOD_AUCTION_EXACT, 0},
                                        {BG_METHOD_KNN, 4},
                                        {BG_METHOD_POOL, 2}};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        cfg->methods[cfg->n_methods++] = methods[i];
    static const bg_precision precs[] = {BG_PREC_FP32, BG_PREC_FP16, BG_PREC_INT8};
    for (size_t i = 0; i < sizeof precs / sizeof precs[0]; i++)
        cfg->precisions[cfg->n_precisions++] = precs[i];
    cfg->threads[cfg->n_threads++] = 1;
    cfg->threads[cfg->n_threads++] = BG_THREADS_ALL;
    cfg->lap_batches[cfg->n_lap_batches++] = 2048;
    cfg->lap_batches[cfg->n_lap_batches++] = 4096;
    cfg->warmup = 1;
    cfg->seed = 42;
    cfg->mnist_path = mnist_path;
}

/* ---- names ------------------------------------------------------------------------------- */

void bg_method_name(bg_method m, char *buf, size_t len) {
    switch (m.kind) {
    case BG_METHOD_EXACT: snprintf(buf, len, "exact"); break;
    case BG_METHOD_AUCTION: snprintf(buf, len, "auction"); break;
    case BG_METHOD_AUCTION_EXACT: snprintf(buf, len, "auction+exact"); break;
    case BG_METHOD_KNN: snprintf(buf, len, "knn:%u", m.param); break;
    case BG_METHOD_POOL: snprintf(buf, len, "pool:%u", m.param); break;
    default: snprintf(buf, len, "?"); break;
    }
}

const char *bg_precision_name(bg_precision p) {
    switch (p) {
    case BG_PREC_FP32: return "fp32";
    case BG_PREC_FP16: return "fp16";
    case BG_PREC_INT8: return "int8";
    case BG_PREC_BF16: return "bf16";
    default: return "?";
    }
}

const char *bg_workload_name(bg_workload w) {
    switch (w) {
    case BG_WORKLOAD_IMAGE: return "image";
    case BG_WORKLOAD_LATENT: return "latent";
    case BG_WORKLOAD_UNIFORM: return "uniform";
    default: return "?";
    }
}

/* ---- single values ----------------------------------------------------------------------- */

static int parse_ulong(const char *s, unsigned long lo, unsigned long hi, unsigned long *out) {
    if (!s || *s < '0' || *s > '9') /* strtoul would accept " 5", "+5" and "-5" */
        return -1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int bg_parse_method(const char *s, bg_method *m) {
    unsigned long v;
    if (strcmp(s, "exact") == 0)
        *m = (bg_method){BG_METHOD_EXACT, 0};
    else if (strcmp(s, "auction") == 0)
        *m = (bg_method){BG_METHOD_AUCTION, 0};
    else if (strcmp(s, "auction+exact") == 0 || strcmp(s, "auction-exact") == 0)
        *m = (bg_method){BG_METHOD_AUCTION_EXACT, 0};
    else if (strncmp(s, "knn:", 4) == 0 && parse_ulong(s + 4, 1, BG_MAX_K, &v) == 0)
        *m = (bg_method){BG_METHOD_KNN, (unsigned)v};
    else if (strncmp(s, "pool:", 5) == 0 && parse_ulong(s + 5, 1, BG_MAX_K, &v) == 0)
        *m = (bg_method){BG_METHOD_POOL, (unsigned)v};
    else
        return -1;
    return 0;
}

int bg_parse_precision(const char *s, bg_precision *p) {
    static const bg_precision all[] = {BG_PREC_FP32, BG_PREC_FP16, BG_PREC_BF16, BG_PREC_INT8};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(s, bg_precision_name(all[i])) == 0) {
            *p = all[i];
            return 0;
        }
    return -1;
}

static int parse_workload(const char *s, bg_workload *w) {
    if (strcmp(s, "image") == 0 || strcmp(s, "images") == 0)
        *w = BG_WORKLOAD_IMAGE;
    else if (strcmp(s, "latent") == 0 || strcmp(s, "latents") == 0)
        *w = BG_WORKLOAD_LATENT;
    else if (strcmp(s, "uniform") == 0)
        *w = BG_WORKLOAD_UNIFORM;
    else
        return -1;
    return 0;
}

/* ---- lists ------------------------------------------------------------------------------- */

enum list_kind {
    LIST_SIZE_B,
    LIST_SIZE_D,
    LIST_METHOD,
    LIST_PRECISION,
    LIST_THREADS,
    LIST_WORKLOAD
};

/* Parses one comma-separated item into slot i of the list that `kind` names. */
static int parse_item(enum list_kind kind, const char *tok, void *list, int i) {
    unsigned long v;
    switch (kind) {
    case LIST_SIZE_B:
        if (parse_ulong(tok, 1, BG_MAX_BATCH, &v) != 0)
            return -1;
        ((size_t *)list)[i] = (size_t)v;
        return 0;
    case LIST_SIZE_D:
        if (parse_ulong(tok, 1, BG_MAX_DIM, &v) != 0)
            return -1;
        ((size_t *)list)[i] = (size_t)v;
        return 0;
    case LIST_METHOD: return bg_parse_method(tok, (bg_method *)list + i);
    case LIST_PRECISION: return bg_parse_precision(tok, (bg_precision *)list + i);
    case LIST_WORKLOAD: return parse_workload(tok, (bg_workload *)list + i);
    case LIST_THREADS:
        if (strcmp(tok, "all") == 0) {
            ((int *)list)[i] = BG_THREADS_ALL;
            return 0;
        }
        if (parse_ulong(tok, 1, 4096, &v) != 0)
            return -1;
        ((int *)list)[i] = (int)v;
        return 0;
    }
    return -1;
}

/* "a,b,c" -> list; "none" gives an empty list where allow_empty. Duplicates are kept: the
 * caller asked for them. */
static int parse_list(enum list_kind kind, const char *text, void *list, int *n, int allow_empty) {
    char buf[1024];
    if (strlen(text) >= sizeof buf)
        return -1;
    if (allow_empty && strcmp(text, "none") == 0) {
        *n = 0;
        return 0;
    }
    strcpy(buf, text);
    int count = 0;
    size_t len = strlen(buf);
    if (len == 0 || buf[0] == ',' || buf[len - 1] == ',' || strstr(buf, ",,"))
        return -1; /* strtok_r would silently skip empty items */
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (count == BG_MAX_LIST || parse_item(kind, tok, list, count) != 0)
            return -1;
        count++;
    }
    if (count == 0)
        return -1;
    *n = count;
    return 0;
}

static int parse_all_or_list(enum list_kind kind, const char *text, void *list, int *n) {
    if (strcmp(text, "all") != 0)
        return parse_list(kind, text, list, n, 0);
    static const char *const all[] = {
        [LIST_METHOD] = "exact,auction,auction+exact,knn:4,pool:2",
        [LIST_PRECISION] = "fp32,fp16,bf16,int8",
        [LIST_WORKLOAD] = "image,latent,uniform",
        [LIST_SIZE_B] = "128,256,512,1024,2048,4096",
        [LIST_SIZE_D] = "784,3072,4096,16384",
        [LIST_THREADS] = "1,all",
    };
    return parse_list(kind, all[kind], list, n, 0);
}

int bg_reps_for(const bg_config *cfg, size_t entries) {
    if (cfg->reps > 0)
        return cfg->reps;
    return entries <= (size_t)1 << 20 ? 5 : 3;
}

size_t bg_cell_count(const bg_config *cfg) {
    size_t perm_methods = 0, cells = 0;
    for (int m = 0; m < cfg->n_methods; m++)
        perm_methods += cfg->methods[m].kind <= BG_METHOD_AUCTION_EXACT;
    for (int w = 0; w < cfg->n_workloads; w++) {
        size_t per_b = cfg->workloads[w] == BG_WORKLOAD_UNIFORM
                           ? perm_methods
                           : (size_t)cfg->n_dims * cfg->n_methods * cfg->n_precisions;
        cells += per_b * (size_t)cfg->n_batches * (size_t)cfg->n_threads;
    }
    return cells;
}

/* ---- the command line -------------------------------------------------------------------- */

void bg_usage(FILE *out, const char *prog, const char *mnist_path) {
    fprintf(out,
            "usage: %s [options]\n"
            "Per-batch cost of noise assignment (distance + solve + permute) and how much of the\n"
            "optimal distance reduction each method keeps. No options: the headline run.\n"
            "\n"
            "  -b, --batch LIST       batch sizes B (default 256,1024; all = 128..4096)\n"
            "  -d, --dim LIST         dimensions D (default 3072; all = 784,3072,4096,16384)\n"
            "  -m, --methods LIST     exact, auction, auction+exact, knn:K (K candidates per\n"
            "                         image), pool:M (a pool of M*B noise rows); default all =\n"
            "                         exact,auction,auction+exact,knn:4,pool:2\n"
            "  -p, --precisions LIST  fp32, fp16, bf16, int8 (default fp32,fp16,int8; all =\n"
            "                         the four)\n"
            "  -t, --threads LIST     thread counts, 'all' = every OpenMP thread (default 1,all)\n"
            "  -w, --workloads LIST   image, latent, uniform (default image; all = the three)\n"
            "  -L, --lap-batch LIST   B for the solver section: exact, auction at 1 and all\n"
            "                         threads, auction+exact, on D = 3072 images (default\n"
            "                         2048,4096; none = skip)\n"
            "  -r, --reps N           timed repetitions per cell (default 5, 3 when B*K > 2^20)\n"
            "      --warmup N         untimed runs first (default 1)\n"
            "  -a, --accuracy X       auction accuracy (imm_options.accuracy; default library's)\n"
            "  -s, --seed N           base seed of every workload (default 42)\n"
            "      --csv FILE         every cell, one row each\n"
            "      --markdown FILE    the tables as Markdown\n"
            "      --plot FILE.png    total ms per batch against B per method (needs gnuplot)\n"
            "      --quick            smoke run: B = 128, D = 784, fp32 and int8, 1 rep, no\n"
            "                         solver section (explicit options still apply)\n"
            "      --mnist PATH       Fashion-MNIST IDX images (default %s)\n"
            "      --synthetic        synthetic images even if that file exists\n"
            "  -q, --quiet            no progress line\n"
            "  -h, --help             this text\n",
            prog, mnist_path ? mnist_path : "none");
}

enum { OPT_WARMUP = 256, OPT_CSV, OPT_MARKDOWN, OPT_PLOT, OPT_QUICK, OPT_MNIST, OPT_SYNTHETIC };

static int bad(FILE *err, const char *prog, const char *mnist, const char *what, const char *v) {
    fprintf(err, "%s: bad %s '%s'\n", prog, what, v);
    bg_usage(err, prog, mnist);
    return -1;
}

int bg_parse_args(int argc, char **argv, const char *mnist, bg_config *cfg, FILE *out, FILE *err) {
    static const struct option longopts[] = {{"batch", required_argument, NULL, 'b'},
                                             {"dim", required_argument, NULL, 'd'},
                                             {"methods", required_argument, NULL, 'm'},
                                             {"precisions", required_argument, NULL, 'p'},
                                             {"threads", required_argument, NULL, 't'},
                                             {"workloads", required_argument, NULL, 'w'},
                                             {"lap-batch", required_argument, NULL, 'L'},
                                             {"reps", required_argument, NULL, 'r'},
                                             {"warmup", required_argument, NULL, OPT_WARMUP},
                                             {"accuracy", required_argument, NULL, 'a'},
                                             {"seed", required_argument, NULL, 's'},
                                             {"csv", required_argument, NULL, OPT_CSV},
                                             {"markdown", required_argument, NULL, OPT_MARKDOWN},
                                             {"plot", required_argument, NULL, OPT_PLOT},
                                             {"quick", no_argument, NULL, OPT_QUICK},
                                             {"mnist", required_argument, NULL, OPT_MNIST},
                                             {"synthetic", no_argument, NULL, OPT_SYNTHETIC},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *prog = argc > 0 && argv[0] ? argv[0] : "imm-bench";
    bg_config_default(cfg, mnist);
    int quick = 0, given_b = 0, given_d = 0, given_p = 0, given_r = 0, given_l = 0, c;
    unsigned long v;
    optind = 0; /* glibc: a full re-initialisation, so the parser can run more than once */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":b:d:m:p:t:w:L:r:a:s:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (parse_all_or_list(LIST_SIZE_B, optarg, cfg->batches, &cfg->n_batches) != 0)
                return bad(err, prog, mnist, "batch size list", optarg);
            given_b = 1;
            break;
        case 'd':
            if (parse_all_or_list(LIST_SIZE_D, optarg, cfg->dims, &cfg->n_dims) != 0)
                return bad(err, prog, mnist, "dimension list", optarg);
            given_d = 1;
            break;
        case 'm':
            if (parse_all_or_list(LIST_METHOD, optarg, cfg->methods, &cfg->n_methods) != 0)
                return bad(err, prog, mnist, "method list", optarg);
            break;
        case 'p':
            if (parse_all_or_list(LIST_PRECISION, optarg, cfg->precisions, &cfg->n_precisions))
                return bad(err, prog, mnist, "precision list", optarg);
            given_p = 1;
            break;
        case 't':
            if (parse_all_or_list(LIST_THREADS, optarg, cfg->threads, &cfg->n_threads) != 0)
                return bad(err, prog, mnist, "thread list", optarg);
            break;
        case 'w':
            if (parse_all_or_list(LIST_WORKLOAD, optarg, cfg->workloads, &cfg->n_workloads))
                return bad(err, prog, mnist, "workload list", optarg);
            break;
        case 'L':
            if (parse_list(LIST_SIZE_B, optarg, cfg->lap_batches, &cfg->n_lap_batches, 1) != 0)
                return bad(err, prog, mnist, "solver-section batch list", optarg);
            given_l = 1;
            break;
        case 'r':
            if (parse_ulong(optarg, 1, 1000, &v) != 0)
                return bad(err, prog, mnist, "repetition count", optarg);
            cfg->reps = (int)v;
            given_r = 1;
            break;
        case OPT_WARMUP:
            if (parse_ulong(optarg, 0, 100, &v) != 0)
                return bad(err, prog, mnist, "warm-up count", optarg);
            cfg->warmup = (int)v;
            break;
        case 'a': {
            char *end;
            errno = 0;
            double a = strtod(optarg, &end);
            if (errno || end == optarg || *end != '\0' || !(a > 0.0 && a <= 1.0))
                return bad(err, prog, mnist, "accuracy (want 0 < X <= 1)", optarg);
            cfg->accuracy = a;
            break;
        }
        case 's':
            if (parse_ulong(optarg, 0, (unsigned long)INT32_MAX, &v) != 0)
                return bad(err, prog, mnist, "seed", optarg);
            cfg->seed = (uint64_t)v;
            break;
        case OPT_CSV: cfg->csv_path = optarg; break;
        case OPT_MARKDOWN: cfg->markdown_path = optarg; break;
        case OPT_PLOT: cfg->plot_path = optarg; break;
        case OPT_QUICK: quick = 1; break;
        case OPT_MNIST: cfg->mnist_path = optarg; break;
        case OPT_SYNTHETIC: cfg->force_synthetic = 1; break;
        case 'q': cfg->quiet = 1; break;
        case 'h': bg_usage(out, prog, mnist); return 1;
        case ':':
            fprintf(err, "%s: option '%s' needs a value\n", prog, argv[optind - 1]);
            bg_usage(err, prog, mnist);
            return -1;
        default:
            fprintf(err, "%s: unknown option '%s'\n", prog, argv[optind - 1]);
            bg_usage(err, prog, mnist);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(err, "%s: unexpected argument '%s'\n", prog, argv[optind]);
        bg_usage(err, prog, mnist);
        return -1;
    }
    if (quick) {
        if (!given_b) {
            cfg->n_batches = 1;
            cfg->batches[0] = 128;
        }
        if (!given_d) {
            cfg->n_dims = 1;
            cfg->dims[0] = 784;
        }
        if (!given_p) {
            cfg->n_precisions = 2;
            cfg->precisions[0] = BG_PREC_FP32;
            cfg->precisions[1] = BG_PREC_INT8;
        }
        if (!given_r)
            cfg->reps = 1;
        if (!given_l)
            cfg->n_lap_batches = 0;
    }
    return 0;
}
