/*
 * imm_bench.c - imm-bench: what noise assignment costs per training batch, and what it buys.
 *
 * For every cell of the grid (workload x D x B x method x precision x threads, see
 * bench_grid.h) it times distance, solve and permute separately and the real call on its own
 * (bench_measure.h), then scores the result against the exact optimum of the fp32 distances.
 * Rows are printed as they finish; the headline table (per-batch overhead and quality), the
 * solver section (exact vs auction at 1 and all threads; speed ratios only between figures of
 * this run, scipy is timed by bench/compare_scipy.py) and the optional CSV, Markdown and gnuplot
 * outputs follow. No options: the headline run.
 */
#define _POSIX_C_SOURCE 200809L

#include "bench_kernels.h"
#include "bench_grid.h"
#include "bench_measure.h"
#include "bench_report.h"
#include "workload.h"

#include <immiscible.h>

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IMM_BENCH_FASHION_MNIST
#define IMM_BENCH_FASHION_MNIST "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
#endif

#define LAP_DIM 3072 /* the solver section: image-noise costs at D = 3072 (docs/solver.md) */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- progress ---------------------------------------------------------------------------- */

typedef struct progress {
    int on; /* stderr is a terminal and not --quiet */
    size_t done, total;
    double start;
} progress;

static void progress_show(progress *pg, const char *what) {
    if (!pg->on)
        return;
    fprintf(stderr, "\r\033[K[%zu/%zu, %.0f s] %s", pg->done + 1, pg->total, now_s() - pg->start,
            what);
    fflush(stderr);
}

static void progress_clear(progress *pg) {
    if (pg->on) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
}

/* ---- machine description ----------------------------------------------------------------- */

static void cpu_model(char *buf, size_t len) {
    snprintf(buf, len, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *v = strchr(line, ':');
            if (v) {
                v += 1 + (v[1] == ' ');
                v[strcspn(v, "\n")] = '\0';
                snprintf(buf, len, "%s", v);
            }
            break;
        }
    }
    fclose(f);
}

/* The 1-minute load average, or -1 where /proc/loadavg is not readable. */
static double load_average(void) {
    double load = -1.0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &load) != 1)
            load = -1.0;
        fclose(f);
    }
    return load;
}

typedef struct run_info {
    char cpu[160], date[64], command[512], source[300];
    int procs, max_threads;
    double load; /* before the run: other work on the machine skews multi-threaded times most */
} run_info;

static void describe_run(run_info *ri, int argc, char **argv, const wl_source *src) {
    cpu_model(ri->cpu, sizeof ri->cpu);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ri->date, sizeof ri->date, "%Y-%m-%d %H:%M UTC", &tm);
    size_t used = (size_t)snprintf(ri->command, sizeof ri->command, "imm-bench");
    for (int i = 1; i < argc && used < sizeof ri->command; i++)
        used += (size_t)snprintf(ri->command + used, sizeof ri->command - used, " %s", argv[i]);
    snprintf(ri->source, sizeof ri->source, "%s (%s)", wl_source_name(src), src->note);
    ri->procs = omp_get_num_procs();
    ri->max_threads = omp_get_max_threads();
    ri->load = load_average();
}

static void print_run_info(FILE *f, const run_info *ri, const char *prefix) {
    fprintf(f, "%slibimmiscible %s, SIMD %s, %s, %d logical CPUs, %d OpenMP threads\n", prefix,
            imm_version_string(), imm_simd_arch(), ri->cpu, ri->procs, ri->max_threads);
    fprintf(f, "%sdistance kernels: fp32 %s, fp16 %s, bf16 %s, int8 %s\n", prefix,
            bench_kernel_name(IMM_PRECISION_FP32), bench_kernel_name(IMM_PRECISION_FP16),
            bench_kernel_name(IMM_PRECISION_BF16), bench_kernel_name(IMM_PRECISION_INT8));
    fprintf(f, "%s%s; images: %s\n", prefix, ri->date, ri->source);
    if (ri->load >= 0.0)
        fprintf(f, "%sload average before the run: %.2f on %d CPUs%s\n", prefix, ri->load,
                ri->procs,
                ri->load > 0.5 * ri->procs ? " (busy: multi-threaded times suffer most)" : "");
    fprintf(f, "%scommand: %s\n", prefix, ri->command);
}

/* ---- the grid ---------------------------------------------------------------------------- */

static int thread_count(int t) { return t == BG_THREADS_ALL ? omp_get_max_threads() : t; }

static int run_grid(const bg_config *cfg, const wl_source *src, progress *pg, br_cell *cells,
                    size_t *n) {
    int failed = 0, header = 0;
    for (int w = 0; w < cfg->n_workloads; w++) {
        const bg_workload wl = cfg->workloads[w];
        const int n_dims = wl == BG_WORKLOAD_UNIFORM ? 1 : cfg->n_dims;
        for (int di = 0; di < n_dims; di++) {
            for (int bi = 0; bi < cfg->n_batches; bi++) {
                size_t b = cfg->batches[bi], d = cfg->dims[di];
                char what[160], err[200];
                snprintf(what, sizeof what,
                         "%s B=%zu D=%zu: building the data and the fp32 "
                         "optimum",
                         bg_workload_name(wl), b, d);
                progress_show(pg, what);
                bm_problem p;
                if (bm_problem_build(&p, src, wl, b, d, cfg->seed, err, sizeof err) != 0) {
                    progress_clear(pg);
                    fprintf(stderr, "imm-bench: %s B=%zu D=%zu: %s (cells skipped)\n",
                            bg_workload_name(wl), b, d, err);
                    failed = 1;
                    continue;
                }
                for (int mi = 0; mi < cfg->n_methods; mi++) {
                    bg_method m = cfg->methods[mi];
                    if (wl == BG_WORKLOAD_UNIFORM && m.kind > BG_METHOD_AUCTION_EXACT)
                        continue; /* a matrix alone has no noise to choose from */
                    const int n_prec = wl == BG_WORKLOAD_UNIFORM ? 1 : cfg->n_precisions;
                    for (int pi = 0; pi < n_prec; pi++) {
                        for (int ti = 0; ti < cfg->n_threads; ti++) {
                            char mn[32];
                            bg_method_name(m, mn, sizeof mn);
                            int th = thread_count(cfg->threads[ti]);
                            snprintf(what, sizeof what, "%s B=%zu D=%zu %s %s threads=%d",
                                     bg_workload_name(wl), b, d, mn,
                                     bg_precision_name(cfg->precisions[pi]), th);
                            progress_show(pg, what);
                            br_cell *c = &cells[(*n)++];
                            size_t entries = b * (m.kind == BG_METHOD_POOL ? b * m.param : b);
                            bm_measure_cell(&p, m, cfg->precisions[pi], th,
                                            cfg->threads[ti] == BG_THREADS_ALL, cfg->warmup,
                                            bg_reps_for(cfg, entries), cfg->accuracy, c);
                            pg->done++;
                            progress_clear(pg);
                            if (!header) {
                                br_print_grid_header(stdout);
                                header = 1;
                            }
                            br_print_grid_row(stdout, c);
                            fflush(stdout);
                            failed |= c->status == BR_FAILED;
                        }
                    }
                }
                bm_problem_free(&p);
            }
        }
    }
    return failed;
}

/* Exact, then the auction and the auction with exact finish at 1 and all threads. Each row's
 * "vs exact" is the exact row's median over its own, same B and thread count, this run. */
static int run_lap_section(const bg_config *cfg, const wl_source *src, progress *pg, br_cell *cells,
                           size_t *n) {
    const int all = omp_get_max_threads();
    const struct {
        bg_method_kind kind;
        int threads;
    } rows[] = {{BG_METHOD_EXACT, all},
                {BG_METHOD_AUCTION, 1},
                {BG_METHOD_AUCTION, all},
                {BG_METHOD_AUCTION_EXACT, 1},
                {BG_METHOD_AUCTION_EXACT, all}};
    int failed = 0;
    for (int bi = 0; bi < cfg->n_lap_batches; bi++) {
        size_t b = cfg->lap_batches[bi];
        char what[160], err[200];
        snprintf(what, sizeof what, "solver section B=%zu: building the matrix and its optimum", b);
        progress_show(pg, what);
        bm_problem p;
        if (bm_problem_build(&p, src, BG_WORKLOAD_IMAGE, b, LAP_DIM, cfg->seed, err, sizeof err) !=
            0) {
            progress_clear(pg);
            fprintf(stderr, "imm-bench: solver section B=%zu: %s (skipped)\n", b, err);
            failed = 1;
            continue;
        }
        double exact_ms = NAN; /* the exact solver at all threads, this B, this run */
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
            if (rows[r].threads == 1 && all == 1 && rows[r].kind != BG_METHOD_EXACT)
                continue; /* one thread is "all": the next row is the same one */
            bg_method m = {rows[r].kind, 0};
            char mn[32];
            bg_method_name(m, mn, sizeof mn);
            snprintf(what, sizeof what, "solver section B=%zu %s threads=%d", b, mn,
                     rows[r].threads);
            progress_show(pg, what);
            br_cell *c = &cells[(*n)++];
            bm_measure_lap(&p, m, rows[r].threads, rows[r].threads == all, cfg->warmup,
                           bg_reps_for(cfg, b * b), cfg->accuracy, c);
            if (rows[r].kind == BG_METHOD_EXACT && c->status == BR_OK)
                exact_ms = c->solve.median;
            if (rows[r].threads == all && !isnan(exact_ms) && c->status == BR_OK &&
                c->solve.median > 0.0)
                c->vs_exact = exact_ms / c->solve.median;
            pg->done++;
            progress_clear(pg);
            br_print_lap_row(stdout, c);
            fflush(stdout);
            failed |= c->status == BR_FAILED;
        }
        bm_problem_free(&p);
    }
    return failed;
}

/* The D the headline shows: 3072 if measured, else the first one. */
static size_t headline_dim(const bg_config *cfg) {
    for (int i = 0; i < cfg->n_dims; i++)
        if (cfg->dims[i] == 3072)
            return 3072;
    return cfg->dims[0];
}

static void write_headlines(FILE *f, const bg_config *cfg, const br_cell *cells, size_t n,
                            int markdown) {
    size_t dim = headline_dim(cfg);
    for (int w = 0; w < cfg->n_workloads; w++) {
        bg_workload wl = cfg->workloads[w];
        br_write_headline(f, cells, n, wl, wl == BG_WORKLOAD_UNIFORM ? 0 : dim, markdown);
        fprintf(f, "\n");
    }
}

/* ---- files ------------------------------------------------------------------------------- */

static int write_csv_file(const char *path, const br_cell *cells, size_t n) {
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    br_write_csv(f, cells, n);
    if (fclose(f) != 0) {
        perror(path);
        return -1;
    }
    printf("wrote %s\n", path);
    return 0;
}

static int write_markdown_file(const char *path, const bg_config *cfg, const run_info *ri,
                               const br_cell *cells, size_t n) {
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    fprintf(f, "## imm-bench results\n\n");
    print_run_info(f, ri, "- ");
    fprintf(f, "\nTimes are medians over the repetitions (min-max in brackets) in ms. Quality = "
               "(identity total - achieved total) / (identity total - optimal total) on fp32 L2 "
               "distances.\n\n");
    write_headlines(f, cfg, cells, n, 1);
    br_write_markdown(f, cells, n);
    if (fclose(f) != 0) {
        perror(path);
        return -1;
    }
    printf("wrote %s\n", path);
    return 0;
}

/* The first executable `name` on PATH, into buf; 0 if found. */
static int find_in_path(const char *name, char *buf, size_t len) {
    const char *path = getenv("PATH");
    if (!path)
        return -1;
    while (*path) {
        size_t seg = strcspn(path, ":");
        snprintf(buf, len, "%.*s/%s", (int)seg, seg ? path : ".", name);
        if (access(buf, X_OK) == 0)
            return 0;
        path += seg + (path[seg] == ':');
    }
    return -1;
}

/* Draws the plot with gnuplot. Absence of gnuplot is reported, not an error of the run. */
static void write_plot(const char *png, const bg_config *cfg, const br_cell *cells, size_t n) {
    char gnuplot[1024];
    if (find_in_path("gnuplot", gnuplot, sizeof gnuplot) != 0) {
        printf("--plot: gnuplot is not installed (not found in PATH), so %s was not drawn.\n"
               "        Debian: apt-get install gnuplot-nox; the numbers are in the table above"
               "%s.\n",
               png, cfg->csv_path ? " and in the CSV" : "");
        return;
    }
    if (strchr(png, '\'')) {
        printf("--plot: the file name %s contains a quote, which gnuplot cannot take; no plot\n",
               png);
        return;
    }
    char script[] = "/tmp/imm-bench-plot-XXXXXX";
    int fd = mkstemp(script);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        perror("--plot: temporary gnuplot script");
        if (fd >= 0)
            close(fd);
        return;
    }
    bg_workload wl = cfg->workloads[0];
    int lines =
        br_write_gnuplot(f, cells, n, wl, wl == BG_WORKLOAD_UNIFORM ? 0 : headline_dim(cfg), png);
    fclose(f);
    if (lines == 0) {
        printf("--plot: no measured cell to plot\n");
        unlink(script);
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        execl(gnuplot, "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        printf("--plot: gnuplot failed (script kept in %s)\n", script);
    else {
        printf("wrote %s (%d line%s, gnuplot)\n", png, lines, lines == 1 ? "" : "s");
        unlink(script);
    }
}

int main(int argc, char **argv) {
    bg_config cfg;
    int rc = bg_parse_args(argc, argv, IMM_BENCH_FASHION_MNIST, &cfg, stdout, stderr);
    if (rc != 0)
        return rc > 0 ? 0 : 2;

    wl_source src;
    char err[512];
    if (cfg.force_synthetic)
        wl_source_synthetic(&src, "--synthetic");
    else if (wl_source_open(&src, cfg.mnist_path, err, sizeof err) != 0) {
        fprintf(stderr, "imm-bench: %s\n(use --synthetic to run without it)\n", err);
        return 2;
    }
    run_info ri;
    describe_run(&ri, argc, argv, &src);
    print_run_info(stdout, &ri, "");
    printf("ms per batch: dist = imm_distance, solve = imm_lap_solve_ex, permute = "
           "imm_permute_rows (pool: row copies),\n"
           "total = the real call on a warm context (median; min-max over the repetitions after "
           "%d warm-up). Means are\n"
           "fp32 image-noise distances: identity pairing, achieved, the method's own optimum, the "
           "plain permutation's optimum.\n\n",
           cfg.warmup);

    size_t cap = bg_cell_count(&cfg) + (size_t)cfg.n_lap_batches * 5;
    br_cell *cells = calloc(cap ? cap : 1, sizeof *cells);
    if (!cells) {
        fprintf(stderr, "imm-bench: out of memory\n");
        wl_source_close(&src);
        return 1;
    }
    progress pg = {!cfg.quiet && isatty(STDERR_FILENO), 0, cap, now_s()};
    size_t n = 0;
    int failed = run_grid(&cfg, &src, &pg, cells, &n);
    size_t grid_cells = n;

    if (grid_cells) {
        printf("\n");
        write_headlines(stdout, &cfg, cells, grid_cells, 0);
    }
    if (cfg.n_lap_batches) {
        printf("Solver section: imm_lap_solve_ex alone on image-noise matrices (D = %d, fp32 "
               "L2); quality vs the exact optimum;\nvs exact = the exact solver's median over "
               "this row's, same B and threads, this run (for scipy:\n"
               "bench/compare_scipy.py times both in one process).\n",
               LAP_DIM);
        br_print_lap_header(stdout);
        failed |= run_lap_section(&cfg, &src, &pg, cells, &n);
        printf("\n");
    }
    progress_clear(&pg);
    double load = load_average();
    printf("%zu cells in %.1f s", n, now_s() - pg.start);
    if (load >= 0.0)
        printf("; load average at the end: %.2f", load);
    printf("\n");

    if (cfg.csv_path && write_csv_file(cfg.csv_path, cells, n) != 0)
        failed = 1;
    if (cfg.markdown_path && write_markdown_file(cfg.markdown_path, &cfg, &ri, cells, n) != 0)
        failed = 1;
    if (cfg.plot_path)
        write_plot(cfg.plot_path, &cfg, cells, grid_cells);
    free(cells);
    wl_source_close(&src);
    return failed ? 1 : 0;
}
