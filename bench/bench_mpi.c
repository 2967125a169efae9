/* bench_mpi.c - libimmiscible_mpi: where the time of a global-batch assignment goes, and the
 * bytes each rank moves (README "Scaling").
 *
 *   mpirun -np R bench_mpi [--batches 1024,2048,4096,8192] [--dim 3072] [--reps 3]
 *                          [--threads 1] [--precision fp32|fp16|bf16|int8]
 *   bench_mpi --solver 8192,16384      (one process: the solving rank's solve alone)
 *
 * Data: synthetic images (smooth sinusoids and blobs in [-1, 1], like the benchmarks' fallback
 * images) against N(0, 1) noise, seeded by global row, so every R sees the same global batch;
 * the global batch is split evenly. Each size: one warm-up call on a context, then --reps calls;
 * the report gives medians over the calls of the solving rank's phases (the critical path: its
 * gather waits for the slowest rank's columns, the other ranks wait in the scatter while it
 * solves), of the slowest rank's distances, and of the slowest rank's total.
 * Bytes are payload per call as immiscible_mpi.h counts them: the largest of the non-solver
 * ranks, and the solver rank's.
 */
#include <immiscible_mpi.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "rng.h" /* examples/ddpm/rng.h: the repository's generator */

static int rank, nranks;

/* Global row g of the images and of the noise. */
static void make_rows(size_t g, size_t dim, float *x, float *noise) {
    rng s;
    rng_seed_plain(&s, 0x1234567ull ^ (g * 0x9e3779b97f4a7c15ull));
    const double fx = 1 + 5 * rng_uniform(&s), fy = 1 + 5 * rng_uniform(&s),
                 ph = 6.28 * rng_uniform(&s);
    const double bx = rng_uniform(&s), by = rng_uniform(&s), amp = 0.5 + rng_uniform(&s);
    for (size_t k = 0; k < dim; k++) {
        const double px = (double)(k % 32) / 32, py = (double)((k / 32) % 32) / 32;
        double v = amp * sin(fx * px * 6.28 + ph) * cos(fy * py * 6.28) +
                   1.5 * exp(-30 * ((px - bx) * (px - bx) + (py - by) * (py - by))) - 0.4;
        x[k] = (float)(v > 1 ? 1 : v < -1 ? -1 : v);
        noise[k] = (float)rng_normal(&s);
    }
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int parse_list(const char *s, size_t *out, int max) {
    int n = 0;
    while (*s && n < max) {
        char *end;
        out[n++] = strtoull(s, &end, 10);
        s = *end == ',' ? end + 1 : end;
        if (end == s && *s)
            break;
    }
    return n;
}

static int parse_precision(const char *s) {
    static const char *names[] = {"fp32", "fp16", "int8", "bf16"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static const char *precision_name(int p) {
    static const char *names[] = {"fp32", "fp16", "int8", "bf16"};
    return names[p];
}

#define PHASES 7
static double phase(const imm_mpi_step_stats *s, int i) {
    const double v[PHASES] = {s->agree_s, s->images_s,  s->distance_s, s->gather_s,
                              s->solve_s, s->scatter_s, s->exchange_s};
    return v[i];
}

static int run_batch(size_t batch, size_t dim, int reps, const imm_options *o) {
    const size_t n = batch / (size_t)nranks + ((size_t)rank < batch % (size_t)nranks);
    size_t first;
    if (imm_mpi_batch_layout(MPI_COMM_WORLD, n, &first, NULL) != IMM_OK)
        return 1;
    float *x = malloc(n * dim * 4 + 4), *noise = malloc(n * dim * 4 + 4);
    float *work = malloc(n * dim * 4 + 4);
    int32_t *perm = malloc(n * 4 + 4);
    double *t = malloc(sizeof(double) * (size_t)reps * (PHASES + 1));
    if (x == NULL || noise == NULL || work == NULL || perm == NULL || t == NULL)
        MPI_Abort(MPI_COMM_WORLD, 2);
    for (size_t i = 0; i < n; i++)
        make_rows(first + i, dim, x + i * dim, noise + i * dim);
    imm_mpi_ctx *ctx;
    int st = imm_mpi_ctx_create(&ctx, MPI_COMM_WORLD, o);
    if (st != IMM_OK)
        return st;
    imm_mpi_step_stats s;
    uint64_t bytes[4] = {0, 0, 0, 0}; /* non-solver max sent / received, solver sent / received */
    for (int rep = -1; rep < reps; rep++) {
        memcpy(work, noise, n * dim * 4);
        MPI_Barrier(MPI_COMM_WORLD);
        const double t0 = MPI_Wtime();
        st = imm_mpi_ctx_assign_noise(ctx, x, work, n, dim, perm);
        double total = MPI_Wtime() - t0, slow[PHASES + 1], mine[PHASES + 1];
        if (st != IMM_OK)
            break;
        if (imm_mpi_ctx_last_stats(ctx, &s) != IMM_OK)
            memset(&s, 0, sizeof s);
        for (int i = 0; i < PHASES; i++)
            mine[i] = phase(&s, i);
        mine[PHASES] = total;
        MPI_Reduce(mine, slow, PHASES + 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        uint64_t b[4] = {rank ? s.bytes_sent : 0, rank ? s.bytes_received : 0,
                         rank ? 0 : s.bytes_sent, rank ? 0 : s.bytes_received};
        MPI_Reduce(b, bytes, 4, MPI_UINT64_T, MPI_MAX, 0, MPI_COMM_WORLD);
        /* rank 0's phases (it is on the critical path: its gather waits for the slowest
           rank's columns, the others wait in the scatter while it solves), the slowest
           rank's distances, and the slowest rank's total */
        if (rep >= 0)
            for (int i = 0; i <= PHASES; i++)
                t[i * reps + rep] = i == 2 || i == PHASES ? slow[i] : mine[i];
    }
    if (st == IMM_OK && rank == 0) {
        double med[PHASES + 1];
        for (int i = 0; i <= PHASES; i++)
            med[i] = 1e3 * median(t + i * reps, reps);
        printf("| %d | %zu | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f / %.1f | "
               "%.1f / %.1f |\n",
               nranks, batch, med[PHASES], med[0], med[1], med[2], med[3], med[4], med[5], med[6],
               (double)bytes[0] / 1048576, (double)bytes[1] / 1048576, (double)bytes[2] / 1048576,
               (double)bytes[3] / 1048576);
        fflush(stdout);
    }
    imm_mpi_ctx_free(ctx);
    free(x);
    free(noise);
    free(work);
    free(perm);
    free(t);
    return st;
}

/* One process: the solving rank's work at size B: distances (for a realistic matrix), then the
   solve, its time and the memory it needs. */
static int run_solver(size_t batch, size_t dim, int precision, int threads) {
    float *x = malloc(batch * dim * 4), *noise = malloc(batch * dim * 4);
    float *cost = malloc(batch * batch * 4);
    int32_t *assign = malloc(batch * 4);
    if (x == NULL || noise == NULL || cost == NULL || assign == NULL)
        return IMM_ERR_NOMEM;
    for (size_t g = 0; g < batch; g++)
        make_rows(g, dim, x + g * dim, noise + g * dim);
    imm_options o;
    imm_options_init(&o);
    o.precision = precision;
    o.num_threads = threads;
    double t0 = MPI_Wtime();
    int st = imm_distance(x, batch, noise, batch, dim, &o, cost);
    const double dist_s = MPI_Wtime() - t0;
    free(x);
    free(noise);
    for (int solver = 0; st == IMM_OK && solver < 2; solver++) {
        o.solver = solver;
        t0 = MPI_Wtime();
        st = imm_lap_solve(cost, batch, batch, &o, assign, NULL);
        const double solve_s = MPI_Wtime() - t0;
        /* imm_lap_solve note 5: 76 bytes per column, 8 + 8 min(32, B) per row, plus 8 */
        const double state = 76.0 * (double)batch +
                             (8.0 + 8.0 * (double)(batch < 32 ? batch : 32)) * (double)batch + 8;
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("| %zu | %s | %.0f ms | %.0f ms | %.0f MiB | %.1f MiB | %.0f MiB |\n", batch,
               solver ? "auction" : "exact", 1e3 * dist_s, 1e3 * solve_s,
               4.0 * (double)batch * (double)batch / 1048576, state / 1048576,
               (double)ru.ru_maxrss / 1024);
        fflush(stdout);
    }
    free(cost);
    free(assign);
    return st;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    size_t batches[16] = {1024, 2048, 4096, 8192}, solver[16] = {0};
    int nb = 4, ns = 0, reps = 3, threads = 1, precision = IMM_PRECISION_FP32;
    size_t dim = 3072;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            batches[0] = 256, batches[1] = 512, nb = 2, reps = 1, dim = 768;
        } else if (v != NULL && strcmp(a, "--batches") == 0) {
            nb = parse_list(v, batches, 16), i++;
        } else if (v != NULL && strcmp(a, "--solver") == 0) {
            ns = parse_list(v, solver, 16), i++;
        } else if (v != NULL && strcmp(a, "--dim") == 0) {
            dim = strtoull(v, NULL, 10), i++;
        } else if (v != NULL && strcmp(a, "--reps") == 0) {
            reps = atoi(v), i++;
        } else if (v != NULL && strcmp(a, "--threads") == 0) {
            threads = atoi(v), i++;
        } else if (v != NULL && strcmp(a, "--precision") == 0 && parse_precision(v) >= 0) {
            precision = parse_precision(v), i++;
        } else {
            if (rank == 0)
                fprintf(stderr,
                        "usage: %s [--batches B,...] [--dim D] [--reps N] [--threads T] "
                        "[--precision fp32|fp16|bf16|int8] [--solver B,...] [--quick]\n",
                        argv[0]);
            MPI_Finalize();
            return 2;
        }
    }
    if (reps < 1 || dim == 0) {
        MPI_Finalize();
        return 2;
    }
    int st = IMM_OK;
    if (ns > 0) {
        if (rank == 0) {
            printf("solver rank alone: D = %zu, %s distances, %d thread(s)\n\n", dim,
                   precision_name(precision), threads);
            printf("| B | solver | distances | solve | matrix | solver state | peak RSS |\n");
            printf("|---:|---|---:|---:|---:|---:|---:|\n");
            for (int i = 0; i < ns && st == IMM_OK; i++)
                st = run_solver(solver[i], dim, precision, threads);
        }
    } else {
        imm_options o;
        imm_options_init(&o);
        o.precision = precision;
        o.num_threads = threads;
        if (rank == 0) {
            printf("%d ranks, D = %zu, %s, exact solver, %d thread(s) per rank, median of %d "
                   "(ms; rank 0's phases, slowest rank's distance and total)\n\n",
                   nranks, dim, precision_name(precision), threads, reps);
            printf("| R | B | total | agree | images | distance | gather | solve | scatter | "
                   "exchange | MiB sent / recv (rank > 0) | MiB sent / recv (rank 0) |\n");
            printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        }
        for (int i = 0; i < nb && st == IMM_OK; i++)
            st = run_batch(batches[i], dim, reps, &o);
    }
    if (st != IMM_OK && rank == 0)
        fprintf(stderr, "bench_mpi: %s\n", imm_strerror(st));
    MPI_Finalize();
    return st == IMM_OK ? 0 : 1;
}
