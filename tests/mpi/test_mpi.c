/* test_mpi.c - libimmiscible_mpi under mpiexec (any number of processes).
 *
 * Every rank generates the whole global batch from a seed, runs the collective call on its own
 * slice, and runs imm_assign_noise() on the whole batch itself: its rows of the result and its
 * perm must be bitwise the reference's, and every status the reference's. Error cases put the
 * bad argument or value on one rank only and check that every rank returns the same status with
 * its noise and perm untouched. Each rank counts its failures; the counts are summed at the end.
 */
#include <immiscible_mpi.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h" /* examples/ddpm/rng.h: the repository's generator */

static int rank, nranks, failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "[rank %d/%d] %s:%d: check failed: %s\n", rank, nranks, __FILE__,      \
                    __LINE__, #cond);                                                              \
        }                                                                                          \
    } while (0)

/* ---- data ----------------------------------------------------------------------------------- */

static void *xmalloc(size_t bytes) {
    void *p = malloc(bytes > 0 ? bytes : 1);
    if (p == NULL) {
        fprintf(stderr, "[rank %d] test out of memory\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    return p;
}

/* How the global batch is split: every rank computes the same counts. */
enum { SPLIT_EVEN, SPLIT_RANDOM, SPLIT_ZEROS, SPLIT_LAST, SPLIT_KINDS };

static void split(int kind, size_t batch, uint64_t seed, size_t *count) {
    const size_t R = (size_t)nranks;
    for (size_t r = 0; r < R; r++)
        count[r] = 0;
    if (kind == SPLIT_LAST) {
        count[R - 1] = batch;
        return;
    }
    if (kind == SPLIT_ZEROS && R > 1) { /* even ranks (rank 0, the solver, included) hold none */
        const size_t holders = R / 2;
        for (size_t i = 0; i < batch; i++)
            count[1 + 2 * (i % holders)]++;
        return;
    }
    if (kind == SPLIT_RANDOM) {
        rng s;
        rng_seed_plain(&s, seed ^ 0x5eedu);
        for (size_t i = 0; i < batch; i++)
            count[rng_next(&s) % R]++;
        return;
    }
    for (size_t i = 0; i < batch; i++)
        count[i % R]++;
}

typedef struct {
    size_t batch, dim;
    float *x, *noise;    /* the global batch, the same on every rank */
    size_t count, first; /* this rank's rows */
} problem;

/* Images in [-1, 1] around a few centres, Gaussian noise; `ties` repeats rows to make equal
   costs (ties are broken by the lowest column: the same matrix must give the same result). */
static problem make_problem(size_t batch, size_t dim, int kind, uint64_t seed, int ties) {
    problem p = {batch, dim, xmalloc(batch * dim * 4), xmalloc(batch * dim * 4), 0, 0};
    rng s;
    rng_seed_plain(&s, seed);
    float centre[4][512];
    for (int c = 0; c < 4; c++)
        for (size_t k = 0; k < dim && k < 512; k++)
            centre[c][k] = (float)(rng_uniform(&s) * 2 - 1);
    for (size_t i = 0; i < batch; i++) {
        const int c = (int)(rng_next(&s) % 4);
        for (size_t k = 0; k < dim; k++) {
            float v = centre[c][k % 512] + 0.3f * (float)rng_normal(&s);
            p.x[i * dim + k] = v > 1 ? 1 : v < -1 ? -1 : v;
            p.noise[i * dim + k] = (float)rng_normal(&s);
        }
        if (ties && i % 3 == 2) {
            memcpy(p.x + i * dim, p.x + (i - 1) * dim, dim * 4);
            memcpy(p.noise + i * dim, p.noise + (i - 2) * dim, dim * 4);
        }
    }
    size_t *count = xmalloc((size_t)nranks * sizeof(size_t));
    split(kind, batch, seed, count);
    for (int r = 0; r < rank; r++)
        p.first += count[r];
    p.count = count[rank];
    free(count);
    return p;
}

static void free_problem(problem *p) {
    free(p->x);
    free(p->noise);
}

static imm_options make_opts(int solver, int precision, int metric) {
    imm_options o;
    imm_options_init(&o);
    o.solver = solver;
    o.precision = precision;
    o.metric = metric;
    o.num_threads = 1 + rank % 2; /* may differ between ranks: results never depend on it */
    if (solver == 2) {
        o.solver = IMM_SOLVER_AUCTION;
        o.exact_finish = 1;
    }
    return o;
}

/* Runs the collective call (on ctx, or one-shot when ctx is NULL) on this rank's slice and checks
   status, rows and perm bitwise against imm_assign_noise on the whole batch. */
static int run_and_compare(const problem *p, const imm_options *o, imm_mpi_ctx *ctx) {
    const size_t b = p->batch, d = p->dim, n = p->count;
    float *ref = xmalloc(b * d * 4), *mine = xmalloc(n * d * 4);
    int32_t *ref_perm = xmalloc(b * 4), *perm = xmalloc(n * 4);
    memcpy(ref, p->noise, b * d * 4);
    const int want = imm_assign_noise(p->x, ref, b, d, o, ref_perm);
    memcpy(mine, p->noise + p->first * d, n * d * 4);
    for (size_t i = 0; i < n; i++)
        perm[i] = -7;
    const float *x = p->x + p->first * d;
    const int got = ctx != NULL ? imm_mpi_ctx_assign_noise(ctx, x, mine, n, d, perm)
                                : imm_mpi_assign_noise(MPI_COMM_WORLD, x, mine, n, d, o, perm);
    CHECK(got == want);
    if (got == IMM_OK && want == IMM_OK) {
        CHECK(memcmp(mine, ref + p->first * d, n * d * 4) == 0);
        CHECK(memcmp(perm, ref_perm + p->first, n * 4) == 0);
    } else if (got != IMM_OK) {
        CHECK(memcmp(mine, p->noise + p->first * d, n * d * 4) == 0);
        for (size_t i = 0; i < n; i++)
            CHECK(perm[i] == -7);
    }
    free(ref);
    free(mine);
    free(ref_perm);
    free(perm);
    return got;
}

/* ---- bitwise agreement ---------------------------------------------------------------------- */

static void test_bitwise(void) {
    static const size_t batches[] = {1, 7, 64, 150};
    static const size_t dims[] = {5, 33, 300};
    int cases = 0;
    for (int prec = 0; prec < 4; prec++)
        for (int solver = 0; solver < 3; solver++)
            for (int kind = 0; kind < SPLIT_KINDS; kind++) {
                const size_t b = batches[(prec + solver + kind) % 4];
                const size_t d = dims[(prec + 2 * solver + kind) % 3];
                const int metric = (prec + kind) % 2;
                const uint64_t seed = 1000u * (uint64_t)prec + 100u * (uint64_t)solver + kind;
                problem p = make_problem(b, d, kind, seed, kind == SPLIT_RANDOM);
                imm_options o = make_opts(solver, prec, metric);
                CHECK(run_and_compare(&p, &o, NULL) == IMM_OK);
                free_problem(&p);
                cases++;
            }
    /* The largest case on every split, the exact solver: B = 150 is above the exact solver's
       auction warm start threshold on its own, and the ties case. */
    for (int kind = 0; kind < SPLIT_KINDS; kind++) {
        problem p = make_problem(150, 40, kind, 77 + (uint64_t)kind, 1);
        imm_options o = make_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, IMM_METRIC_L2);
        CHECK(run_and_compare(&p, &o, NULL) == IMM_OK);
        free_problem(&p);
        cases++;
    }
    if (rank == 0)
        printf("bitwise: %d cases (4 precisions x 3 solvers x %d splits, ties)\n", cases,
               SPLIT_KINDS);
}

/* One context across calls of different sizes and splits (it grows and shrinks): each result
   bitwise; the stats add up. */
static void test_context(void) {
    imm_options o = make_opts(IMM_SOLVER_EXACT, IMM_PRECISION_BF16, IMM_METRIC_L2);
    imm_mpi_ctx *ctx = NULL;
    CHECK(imm_mpi_ctx_create(&ctx, MPI_COMM_WORLD, &o) == IMM_OK);
    if (ctx == NULL)
        return;
    static const size_t batches[] = {40, 120, 3, 120, 0, 64};
    for (int step = 0; step < 6; step++) {
        problem p = make_problem(batches[step], 24, step % SPLIT_KINDS, 500 + (uint64_t)step, 0);
        CHECK(run_and_compare(&p, &o, ctx) == IMM_OK);
        imm_mpi_step_stats st;
        CHECK(imm_mpi_ctx_last_stats(ctx, &st) == IMM_OK);
        CHECK(st.fallback == 0);
        const uint64_t b = p.batch, n = p.count, row = p.dim * 4;
        if (b > 0 && rank != 0) { /* the bound of the header: images, records, own share */
            CHECK(st.bytes_received <= (b - n) * row + (n + 1) * 12 + n * row);
            CHECK(st.bytes_sent <= n * row * (uint64_t)(nranks - 1) + b * n * 4 + n * row);
        }
        free_problem(&p);
    }
    CHECK(imm_mpi_ctx_last_stats(NULL, NULL) == IMM_ERR_INVALID_ARG);
    imm_mpi_ctx_free(ctx);
    imm_mpi_ctx_free(NULL);
    if (rank == 0)
        printf("context: 6 steps on one context\n");
}

/* Values large enough for imm_distance's power-of-two prescale (FP32, BF16): the gathered path,
   bitwise all the same; FP16 and INT8 never prescale. */
static void test_prescaled(void) {
    for (int prec = 0; prec < 4; prec++) {
        problem p = make_problem(30, 16, SPLIT_RANDOM, 900 + (uint64_t)prec, 0);
        const float big = prec == IMM_PRECISION_FP16 ? 60000.0f : 3e17f;
        /* one huge image row and one huge noise row, on whichever ranks hold them */
        p.x[5 * 16 + 3] = big;
        p.noise[22 * 16 + 7] = -big;
        imm_options o = make_opts(IMM_SOLVER_EXACT, prec, IMM_METRIC_L2);
        imm_mpi_ctx *ctx = NULL;
        CHECK(imm_mpi_ctx_create(&ctx, MPI_COMM_WORLD, &o) == IMM_OK);
        CHECK(run_and_compare(&p, &o, ctx) == IMM_OK);
        imm_mpi_step_stats st;
        CHECK(imm_mpi_ctx_last_stats(ctx, &st) == IMM_OK);
        const int scaled = prec == IMM_PRECISION_FP32 || prec == IMM_PRECISION_BF16;
        CHECK(st.fallback == scaled);
        imm_mpi_ctx_free(ctx);
        free_problem(&p);
    }
    if (rank == 0)
        printf("prescaled: gathered path for fp32 / bf16, bitwise\n");
}

/* ---- errors agreed by every rank ------------------------------------------------------------ */

/* The last rank (or rank `who`) gets the fault. Returns this rank's status. */
static int faulty_call(int who, int fault, int precision, int metric) {
    problem p = make_problem(40, 12, SPLIT_EVEN, 4242 + (uint64_t)fault, 0);
    const size_t d = p.dim, n = p.count;
    float *x = xmalloc(n * d * 4 + 4), *noise = xmalloc(n * d * 4 + 4);
    int32_t *perm = xmalloc(n * 4 + 4);
    memcpy(x, p.x + p.first * d, n * d * 4);
    memcpy(noise, p.noise + p.first * d, n * d * 4);
    for (size_t i = 0; i < n; i++)
        perm[i] = -7;
    imm_options o = make_opts(IMM_SOLVER_EXACT, precision, metric);
    size_t dim = d;
    const float *xp = x;
    float *np = noise;
    int32_t *pp = perm;
    const int me = rank == who && n > 0;
    if (me) {
        switch (fault) {
        case 0: x[n * d / 2] = NAN; break;
        case 1: noise[0] = INFINITY; break;
        case 2: dim = d + 1; break;
        case 3: o.reserved_[0] = 1; break;
        case 4: np = NULL; break;
        case 5: pp = (int32_t *)noise; break; /* perm overlaps noise */
        case 6: noise[3] = 70000.0f; break;   /* FP16: rounds to Inf */
        case 7: noise[1] = 1e20f; break;      /* INT8, SQL2: distances overflow float */
        case 8: o.precision = (o.precision + 1) % 4; break; /* options differ */
        }
    }
    float *before = xmalloc(n * d * 4 + 4);
    memcpy(before, noise, n * d * 4);
    const int st = imm_mpi_assign_noise(MPI_COMM_WORLD, xp, np, n, dim, &o, pp);
    CHECK(memcmp(before, noise, n * d * 4) == 0);
    if (pp == perm)
        for (size_t i = 0; i < n; i++)
            CHECK(perm[i] == -7);
    free(before);
    free(x);
    free(noise);
    free(perm);
    free_problem(&p);
    return st;
}

/* The same status on every rank. */
static void check_agreed(int st, int want, const char *what) {
    int lo, hi;
    MPI_Allreduce(&st, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&st, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (lo != hi || st != want) {
        failures++;
        fprintf(stderr, "[rank %d] %s: status %d (all ranks: %d..%d), want %d\n", rank, what, st,
                lo, hi, want);
    }
}

static void test_errors(void) {
    const int last = nranks - 1;
    check_agreed(faulty_call(last, 0, 0, 0), IMM_ERR_NONFINITE, "NaN in x on the last rank");
    check_agreed(faulty_call(0, 1, 0, 0), IMM_ERR_NONFINITE, "Inf in noise on rank 0");
    if (nranks > 1)
        check_agreed(faulty_call(last, 2, 0, 0), IMM_ERR_INVALID_ARG, "dim differs");
    check_agreed(faulty_call(last, 3, 0, 0), IMM_ERR_INVALID_ARG, "bad options on one rank");
    check_agreed(faulty_call(last, 4, 0, 0), IMM_ERR_INVALID_ARG, "NULL noise on one rank");
    check_agreed(faulty_call(last, 5, 0, 0), IMM_ERR_INVALID_ARG, "perm overlaps noise");
    check_agreed(faulty_call(last, 6, IMM_PRECISION_FP16, 0), IMM_ERR_NONFINITE, "fp16 range");
    check_agreed(faulty_call(last, 7, IMM_PRECISION_INT8, IMM_METRIC_SQL2), IMM_ERR_NONFINITE,
                 "distance overflow (int8, sql2)");
    if (nranks > 1)
        check_agreed(faulty_call(last, 8, 0, 0), IMM_ERR_INVALID_ARG, "options differ");

    /* Options differing at context creation: no context anywhere. */
    imm_options o;
    imm_options_init(&o);
    if (rank == last && nranks > 1)
        o.metric = IMM_METRIC_SQL2;
    imm_mpi_ctx *ctx = NULL;
    check_agreed(imm_mpi_ctx_create(&ctx, MPI_COMM_WORLD, &o), nranks > 1 ? IMM_ERR_INVALID_ARG : 0,
                 "ctx options differ");
    CHECK((ctx == NULL) == (nranks > 1));
    imm_mpi_ctx_free(ctx);

    /* dim == 0 with rows; an empty global batch. */
    float one[4] = {0}, two[4] = {0};
    check_agreed(imm_mpi_assign_noise(MPI_COMM_WORLD, one, two, 1, 0, NULL, NULL),
                 IMM_ERR_INVALID_ARG, "dim 0 with rows");
    check_agreed(imm_mpi_assign_noise(MPI_COMM_WORLD, NULL, NULL, 0, 8, NULL, NULL), IMM_OK,
                 "empty global batch");

    /* Local errors that cannot be agreed on. */
    CHECK(imm_mpi_ctx_create(NULL, MPI_COMM_WORLD, NULL) == IMM_ERR_INVALID_ARG);
    CHECK(imm_mpi_ctx_create(&ctx, MPI_COMM_NULL, NULL) == IMM_ERR_INVALID_ARG);
    CHECK(imm_mpi_ctx_assign_noise(NULL, one, two, 1, 1, NULL) == IMM_ERR_INVALID_ARG);
    if (rank == 0)
        printf("errors: every status agreed, noise and perm untouched\n");
}

/* NOMEM on the solver rank only: 2^23 rows of dim 1 there make its B x B matrix 2^48 bytes,
   more than any address space gives; the other ranks' buffers fit. Every rank: NOMEM. */
static void test_nomem(void) {
    const size_t n = rank == 0 ? (size_t)1 << 23 : 1;
    float *x = calloc(n, sizeof(float)), *noise = calloc(n, sizeof(float));
    int32_t *perm = malloc(n * sizeof(int32_t));
    if (x == NULL || noise == NULL || perm == NULL) {
        fprintf(stderr, "[rank %d] test out of memory\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    noise[0] = 1.5f;
    perm[0] = -7;
    const int st = imm_mpi_assign_noise(MPI_COMM_WORLD, x, noise, n, 1, NULL, perm);
    check_agreed(st, IMM_ERR_NOMEM, "solver rank out of memory");
    CHECK(noise[0] == 1.5f && perm[0] == -7);
    free(x);
    free(noise);
    free(perm);
    if (rank == 0)
        printf("nomem: agreed\n");
}

static void test_layout(void) {
    size_t off = 99, total = 99;
    CHECK(imm_mpi_batch_layout(MPI_COMM_WORLD, (size_t)rank + 1, &off, &total) == IMM_OK);
    CHECK(off == (size_t)rank * ((size_t)rank + 1) / 2);
    CHECK(total == (size_t)nranks * ((size_t)nranks + 1) / 2);
    /* a total beyond size_t, seen by every rank */
    check_agreed(imm_mpi_batch_layout(MPI_COMM_WORLD, SIZE_MAX / 2 + 1, NULL, NULL),
                 nranks > 1 ? IMM_ERR_TOO_LARGE : IMM_OK, "layout overflow");
    CHECK(imm_mpi_batch_layout(MPI_COMM_NULL, 1, &off, &total) == IMM_ERR_INVALID_ARG);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    if (rank == 0)
        printf("test_mpi: %d processes, SIMD %s\n", nranks, imm_simd_arch());
    test_layout();
    test_bitwise();
    test_context();
    test_prescaled();
    test_errors();
    test_nomem();
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%s: %d failed checks\n", total == 0 ? "PASS" : "FAIL", total);
    MPI_Finalize();
    return total == 0 ? 0 : 1;
}
