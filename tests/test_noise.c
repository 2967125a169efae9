/*
 * test_noise.c - imm_permute_rows, imm_assign_noise and the imm_ctx_* calls.
 *
 * imm_assign_noise is checked against its definition: the noise rows are only reordered
 * (bitwise), and the order is the exact optimum of the image-noise distance matrix, which the
 * test builds with imm_distance and solves with imm_lap_solve_dual (certified independently).
 */
#define _POSIX_C_SOURCE 200809L
#include <immiscible.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>
#include <omp.h>

#include "testutil.h"

/* A problem: batch images and batch noise rows of dim values. */
typedef struct problem {
    size_t batch, dim;
    float *x, *noise;
} problem;

static problem make_problem(size_t batch, size_t dim, uint64_t seed) {
    problem p;
    tu_rng r = tu_rng_make(seed);
    p.batch = batch;
    p.dim = dim;
    p.x = malloc((batch * dim + 1) * sizeof *p.x);
    p.noise = malloc((batch * dim + 1) * sizeof *p.noise);
    assert_non_null(p.x);
    assert_non_null(p.noise);
    tu_images(p.x, batch, dim, &r);
    tu_noise(p.noise, batch, dim, &r);
    return p;
}

static void free_problem(problem *p) {
    free(p->x);
    free(p->noise);
}

static float *copy_floats(const float *a, size_t count) {
    float *c = malloc((count + 1) * sizeof *c);
    assert_non_null(c);
    memcpy(c, a, count * sizeof *c);
    return c;
}

static int is_permutation(const int32_t *perm, size_t n) { return tu_is_injection(perm, n, n); }

/*-----------------------------------------------------------------------------------------------
 *  imm_permute_rows
 *---------------------------------------------------------------------------------------------*/
static void test_permute_rows(void **state) {
    (void)state;
    static const size_t shapes[][2] = {{1, 1}, {2, 3}, {7, 5}, {64, 1}, {1000, 3072}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t n = shapes[s][0], dim = shapes[s][1];
        tu_rng r = tu_rng_make(s);
        float *rows = malloc(n * dim * sizeof *rows);
        int32_t *perm = malloc(n * sizeof *perm);
        assert_non_null(rows);
        assert_non_null(perm);
        for (size_t i = 0; i < n * dim; i++) /* include bit patterns a float copy could change */
        {
            uint32_t bits = (uint32_t)tu_u64(&r);
            if (i % 3 == 0)
                bits = 0x7fc00000u | (bits & 0x3fffffu); /* quiet NaN with payload */
            memcpy(&rows[i], &bits, sizeof bits);
        }
        for (int kind = 0; kind < 3; kind++) {
            for (size_t i = 0; i < n; i++) /* identity, reversal, random */
                perm[i] = (int32_t)(kind == 1 ? n - 1 - i : i);
            if (kind == 2)
                for (size_t i = n; i > 1; i--) {
                    size_t j = tu_below(&r, i);
                    int32_t t = perm[i - 1];
                    perm[i - 1] = perm[j];
                    perm[j] = t;
                }
            float *old = copy_floats(rows, n * dim);
            assert_int_equal(imm_permute_rows(rows, n, dim, perm), IMM_OK);
            for (size_t i = 0; i < n; i++)
                if (memcmp(rows + i * dim, old + (size_t)perm[i] * dim, dim * sizeof *rows) != 0)
                    fail_msg("%zux%zu: row %zu is not old row %d", n, dim, i, perm[i]);
            free(old);
        }

        /* not a permutation: INVALID_ARG, rows untouched */
        if (n >= 2) {
            float *old = copy_floats(rows, n * dim);
            int32_t saved0 = perm[0], saved1 = perm[n - 1];
            const int32_t bad[] = {perm[1], (int32_t)n, -1, INT32_MIN, INT32_MAX};
            for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
                perm[b % 2 ? n - 1 : 0] = bad[b];
                assert_int_equal(imm_permute_rows(rows, n, dim, perm), IMM_ERR_INVALID_ARG);
                assert_memory_equal(rows, old, n * dim * sizeof *rows);
                perm[0] = saved0;
                perm[n - 1] = saved1;
            }
            free(old);
        }
        free(rows);
        free(perm);
    }

    /* n == 0 or dim == 0 does nothing */
    float one[3] = {1, 2, 3};
    int32_t p3[3] = {2, 0, 1};
    assert_int_equal(imm_permute_rows(NULL, 0, 4, NULL), IMM_OK);
    assert_int_equal(imm_permute_rows(one, 3, 0, p3), IMM_OK);
    assert_true(one[0] == 1 && one[1] == 2 && one[2] == 3);
}

/*-----------------------------------------------------------------------------------------------
 *  imm_assign_noise against its definition
 *---------------------------------------------------------------------------------------------*/

/* Calls imm_assign_noise on a copy of p's noise and checks: permutation, bitwise reorder of the
 * noise rows, no worse than identity, and equal to the exact optimum of the distance matrix. */
static void check_assign(const problem *p, imm_metric metric, int threads, imm_precision prec) {
    size_t b = p->batch, dim = p->dim;
    imm_options o = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, metric, threads);
    o.precision = prec;
    float *noise = copy_floats(p->noise, b * dim), *d = malloc(b * b * sizeof *d);
    float *xcopy = copy_floats(p->x, b * dim);
    int32_t *perm = malloc(b * sizeof *perm), *ref = malloc(b * sizeof *ref);
    double *u = malloc(b * sizeof *u), *v = malloc(b * sizeof *v);
    assert_true(d && perm && ref && u && v);
    const char *mname = metric == IMM_METRIC_L2 ? "L2" : "SQL2";

    int st = imm_assign_noise(p->x, noise, b, dim, &o, perm);
    if (st != IMM_OK)
        fail_msg("batch %zu dim %zu %s: status %d (%s)", b, dim, mname, st, imm_strerror(st));
    assert_memory_equal(xcopy, p->x, b * dim * sizeof *xcopy); /* images are read only */
    if (!is_permutation(perm, b))
        fail_msg("batch %zu %s: perm is not a permutation", b, mname);
    for (size_t i = 0; i < b; i++)
        if (memcmp(noise + i * dim, p->noise + (size_t)perm[i] * dim, dim * sizeof *noise) != 0)
            fail_msg("batch %zu %s: noise row %zu is not old row perm[i] = %d", b, mname, i,
                     perm[i]);

    /* the reference: distance matrix, exact solve, independent certificate */
    double total_ref = 0, abs_sum = 0, abs_id = 0;
    assert_int_equal(imm_distance(p->x, b, p->noise, b, dim, &o, d), IMM_OK);
    assert_int_equal(imm_lap_solve_dual(d, b, b, &o, ref, u, v, &total_ref), IMM_OK);
    double tau = 1e-9 * tu_max_abs(d, b * b) + 1e-30;
    assert_true(tu_certificate(d, b, b, ref, u, v) <= tau);

    double total = tu_total(d, b, b, perm, &abs_sum);
    int32_t *id = ref; /* reuse after comparing */
    if (fabs(total - total_ref) > 1e-12 * abs_sum)
        fail_msg("batch %zu %s: total %.17g, optimum of the distance matrix %.17g", b, mname, total,
                 total_ref);
    if (memcmp(perm, ref, b * sizeof *perm) != 0)
        fail_msg("batch %zu %s: perm differs from imm_lap_solve on imm_distance's matrix "
                 "(same total %.17g)",
                 b, mname, total);
    for (size_t i = 0; i < b; i++)
        id[i] = (int32_t)i;
    double total_id = tu_total(d, b, b, id, &abs_id);
    assert_true(total <= total_id + 1e-12 * abs_id);

    free(noise);
    free(xcopy);
    free(d);
    free(perm);
    free(ref);
    free(u);
    free(v);
}

static void test_assign_noise_optimal(void **state) {
    (void)state;
    static const size_t batches[] = {1, 2, 7, 64, 256, 1024};
    size_t dim = tu_quick() ? 768 : 3072, count = tu_quick() ? 5 : 6;
    for (size_t k = 0; k < count; k++) {
        problem p = make_problem(batches[k], dim, 1000 + k);
        check_assign(&p, IMM_METRIC_L2, 0, IMM_PRECISION_FP32);
        check_assign(&p, IMM_METRIC_SQL2, 0, IMM_PRECISION_FP32);
        free_problem(&p);
    }
    problem p = make_problem(33, 1, 77); /* dim 1: many near-ties */
    check_assign(&p, IMM_METRIC_L2, 1, IMM_PRECISION_FP32);
    check_assign(&p, IMM_METRIC_SQL2, 1, IMM_PRECISION_FP32);
    free_problem(&p);

    /* perm == NULL is allowed and gives the same noise */
    p = make_problem(50, 64, 78);
    float *a = copy_floats(p.noise, 50 * 64), *b = copy_floats(p.noise, 50 * 64);
    int32_t perm[50];
    assert_int_equal(imm_assign_noise(p.x, a, 50, 64, NULL, perm), IMM_OK);
    assert_int_equal(imm_assign_noise(p.x, b, 50, 64, NULL, NULL), IMM_OK);
    assert_memory_equal(a, b, 50 * 64 * sizeof *a);
    free(a);
    free(b);
    free_problem(&p);
}

/* batch == 0 is valid and does nothing (pointers may then be NULL), one-shot and in a context. */
static void test_batch_zero(void **state) {
    (void)state;
    float x[4] = {1, 2, 3, 4}, noise[4] = {5, 6, 7, 8};
    int32_t perm[2] = {-7, -7};
    imm_ctx *ctx = NULL;
    assert_int_equal(imm_ctx_create(&ctx, NULL), IMM_OK);
    for (size_t dim = 0; dim <= 64; dim += 64) {
        assert_int_equal(imm_assign_noise(NULL, NULL, 0, dim, NULL, NULL), IMM_OK);
        assert_int_equal(imm_assign_noise(x, noise, 0, dim, NULL, perm), IMM_OK);
        assert_int_equal(imm_ctx_assign_noise(ctx, NULL, NULL, 0, dim, NULL), IMM_OK);
        assert_int_equal(imm_ctx_assign_noise(ctx, x, noise, 0, dim, perm), IMM_OK);
    }
    assert_true(noise[0] == 5 && noise[3] == 8 && perm[0] == -7 && perm[1] == -7);
    imm_ctx_free(ctx);
    size_t bytes = 1;
    assert_int_equal(imm_ctx_workspace_size(NULL, 0, 3072, &bytes), IMM_OK);
}

/* Runs one configuration and returns the permuted noise and perm (caller frees). */
typedef struct result {
    float *noise;
    int32_t *perm;
} result;

static result run_oneshot(const problem *p, const imm_options *o) {
    result r;
    r.noise = copy_floats(p->noise, p->batch * p->dim);
    r.perm = malloc((p->batch + 1) * sizeof *r.perm);
    assert_non_null(r.perm);
    assert_int_equal(imm_assign_noise(p->x, r.noise, p->batch, p->dim, o, r.perm), IMM_OK);
    return r;
}

static void assert_same(const result *a, const result *b, size_t batch, size_t dim,
                        const char *what) {
    if (memcmp(a->perm, b->perm, batch * sizeof *a->perm) != 0 ||
        memcmp(a->noise, b->noise, batch * dim * sizeof *a->noise) != 0)
        fail_msg("%s: results differ (batch %zu, dim %zu)", what, batch, dim);
}

static void free_result(result *r) {
    free(r->noise);
    free(r->perm);
}

/* Reduced precisions (every one is served): the optimum of imm_distance's matrix in that precision,
 * and the context gives the one-shot result. */
static void test_reduced_precisions(void **state) {
    (void)state;
    static const imm_precision precs[] = {IMM_PRECISION_FP16, IMM_PRECISION_BF16,
                                          IMM_PRECISION_INT8};
    problem p = make_problem(200, 784, 4040);
    for (size_t k = 0; k < 3; k++) {
        imm_options o = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, IMM_METRIC_L2, 0);
        o.precision = precs[k];
        imm_ctx *ctx = NULL;
        assert_int_equal(imm_ctx_create(&ctx, &o), IMM_OK);
        check_assign(&p, IMM_METRIC_L2, 0, precs[k]);
        check_assign(&p, IMM_METRIC_SQL2, 0, precs[k]);
        result one = run_oneshot(&p, &o), c;
        c.noise = copy_floats(p.noise, p.batch * p.dim);
        c.perm = malloc(p.batch * sizeof *c.perm);
        assert_non_null(c.perm);
        assert_int_equal(imm_ctx_assign_noise(ctx, p.x, c.noise, p.batch, p.dim, c.perm), IMM_OK);
        assert_same(&one, &c, p.batch, p.dim, "reduced precision: context vs one-shot");
        free_result(&one);
        free_result(&c);
        imm_ctx_free(ctx);
    }
    free_problem(&p);
}

static void test_thread_invariance(void **state) {
    (void)state;
    problem p = make_problem(tu_quick() ? 256 : 512, tu_quick() ? 768 : 3072, 31);
    static const int threads[] = {2, 4, 0};
    for (int metric = 0; metric < 2; metric++) {
        imm_options o = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, (imm_metric)metric, 1);
        result ref = run_oneshot(&p, &o);
        for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
            o.num_threads = threads[t];
            result r = run_oneshot(&p, &o);
            assert_same(&ref, &r, p.batch, p.dim, "num_threads vs 1 thread");
            free_result(&r);
        }
        free_result(&ref);
    }
    free_problem(&p);
}

/* A context reused across sizes (growing and shrinking) gives the one-shot result bitwise. */
static void test_context_matches_oneshot(void **state) {
    (void)state;
    static const size_t sizes[][2] = {{64, 3072}, {256, 100}, {7, 5000},  {512, 64}, {1, 1},
                                      {2, 3},     {300, 784}, {64, 3072}, {1000, 32}};
    size_t count = sizeof sizes / sizeof sizes[0] - (tu_quick() ? 1 : 0);
    for (int metric = 0; metric < 2; metric++)
        for (int threads = 1; threads <= 2; threads++) {
            imm_options o =
                tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, (imm_metric)metric, threads);
            imm_ctx *ctx = NULL;
            assert_int_equal(imm_ctx_create(&ctx, &o), IMM_OK);
            assert_non_null(ctx);
            for (size_t s = 0; s < count; s++) {
                problem p = make_problem(sizes[s][0], sizes[s][1], 500 + s);
                result one = run_oneshot(&p, &o);
                for (int rep = 0; rep < 2; rep++) { /* cold and warm */
                    result c;
                    c.noise = copy_floats(p.noise, p.batch * p.dim);
                    c.perm = malloc(p.batch * sizeof *c.perm);
                    assert_non_null(c.perm);
                    assert_int_equal(
                        imm_ctx_assign_noise(ctx, p.x, c.noise, p.batch, p.dim, c.perm), IMM_OK);
                    assert_same(&one, &c, p.batch, p.dim, "context vs one-shot");
                    free_result(&c);
                }
                free_result(&one);
                free_problem(&p);
            }
            imm_ctx_free(ctx);
        }
}

/*-----------------------------------------------------------------------------------------------
 *  Concurrency
 *---------------------------------------------------------------------------------------------*/
typedef struct job {
    problem p[3];
    result expect[3];
    result got[3];
    int use_ctx;
    int status;
} job;

static void *run_job(void *arg) {
    job *j = arg;
    imm_ctx *ctx = NULL;
    imm_options o = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, IMM_METRIC_L2, 2);
    j->status = j->use_ctx ? imm_ctx_create(&ctx, &o) : IMM_OK;
    for (int k = 0; k < 3 && j->status == IMM_OK; k++) {
        problem *p = &j->p[k];
        memcpy(j->got[k].noise, p->noise, p->batch * p->dim * sizeof *p->noise);
        j->status =
            j->use_ctx
                ? imm_ctx_assign_noise(ctx, p->x, j->got[k].noise, p->batch, p->dim, j->got[k].perm)
                : imm_assign_noise(p->x, j->got[k].noise, p->batch, p->dim, &o, j->got[k].perm);
    }
    imm_ctx_free(ctx);
    return NULL;
}

static void test_concurrent_pthreads(void **state) {
    (void)state;
    static const size_t sizes[3][2] = {{256, 768}, {100, 3072}, {300, 64}};
    for (int use_ctx = 0; use_ctx < 2; use_ctx++) {
        job jobs[2];
        imm_options o = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, IMM_METRIC_L2, 2);
        for (int t = 0; t < 2; t++) {
            jobs[t].use_ctx = use_ctx;
            jobs[t].status = -100;
            for (int k = 0; k < 3; k++) {
                jobs[t].p[k] = make_problem(sizes[k][0], sizes[k][1], 900 + 10 * t + k);
                jobs[t].expect[k] = run_oneshot(&jobs[t].p[k], &o); /* sequential results */
                jobs[t].got[k].noise = malloc(sizes[k][0] * sizes[k][1] * sizeof(float));
                jobs[t].got[k].perm = malloc(sizes[k][0] * sizeof(int32_t));
                assert_true(jobs[t].got[k].noise && jobs[t].got[k].perm);
            }
        }
        pthread_t th[2];
        for (int t = 0; t < 2; t++)
            assert_int_equal(pthread_create(&th[t], NULL, run_job, &jobs[t]), 0);
        for (int t = 0; t < 2; t++)
            assert_int_equal(pthread_join(th[t], NULL), 0);
        for (int t = 0; t < 2; t++) {
            assert_int_equal(jobs[t].status, IMM_OK);
            for (int k = 0; k < 3; k++) {
                assert_same(&jobs[t].expect[k], &jobs[t].got[k], sizes[k][0], sizes[k][1],
                            use_ctx ? "concurrent contexts" : "concurrent one-shot");
                free_result(&jobs[t].expect[k]);
                free_result(&jobs[t].got[k]);
                free_problem(&jobs[t].p[k]);
            }
        }
    }
}

/* Called from inside an OpenMP parallel region, each thread on its own data: same results as
 * sequential calls, and the caller's OpenMP settings are left alone. */
static void test_inside_omp_parallel(void **state) {
    (void)state;
    problem p[2] = {make_problem(200, 768, 61), make_problem(150, 3072, 62)};
    result expect[2], got[2];
    imm_options o = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, IMM_METRIC_L2, 2);
    for (int t = 0; t < 2; t++) {
        expect[t] = run_oneshot(&p[t], &o);
        got[t].noise = copy_floats(p[t].noise, p[t].batch * p[t].dim);
        got[t].perm = malloc(p[t].batch * sizeof(int32_t));
        assert_non_null(got[t].perm);
    }
    int max_before = omp_get_max_threads(), dyn_before = omp_get_dynamic();
    int levels_before = omp_get_max_active_levels();
    int status[2] = {-100, -100}, team = 0;
#pragma omp parallel num_threads(2)
    {
        int t = omp_get_thread_num();
#pragma omp single
        team = omp_get_num_threads();
        if (t < 2) {
            imm_ctx *ctx = NULL;
            if (t == 0) { /* one thread one-shot, the other through a context */
                status[t] =
                    imm_assign_noise(p[t].x, got[t].noise, p[t].batch, p[t].dim, &o, got[t].perm);
            } else {
                status[t] = imm_ctx_create(&ctx, &o);
                if (status[t] == IMM_OK)
                    status[t] = imm_ctx_assign_noise(ctx, p[t].x, got[t].noise, p[t].batch,
                                                     p[t].dim, got[t].perm);
                imm_ctx_free(ctx);
            }
        }
    }
    assert_int_equal(team, 2);
    for (int t = 0; t < 2; t++) {
        assert_int_equal(status[t], IMM_OK);
        assert_same(&expect[t], &got[t], p[t].batch, p[t].dim, "inside omp parallel");
        free_result(&expect[t]);
        free_result(&got[t]);
    }

    /* num_threads is a clause, not a change of global state */
    o.num_threads = 3;
    result r = run_oneshot(&p[0], &o);
    free_result(&r);
    assert_int_equal(omp_get_max_threads(), max_before);
    assert_int_equal(omp_get_dynamic(), dyn_before);
    assert_int_equal(omp_get_max_active_levels(), levels_before);
    free_problem(&p[0]);
    free_problem(&p[1]);
}

/* At least the batch x batch float matrix, monotone in batch; at 4096 the matrix plus the
   distance kernels' few MiB (header: imm_ctx_workspace_size: 71.6 MiB for fp32). */
static void test_workspace_size(void **state) {
    (void)state;
    static const size_t dims[] = {1, 64, 3072};
    for (size_t d = 0; d < 3; d++)
        for (int metric = 0; metric < 2; metric++) {
            imm_options o = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, (imm_metric)metric, 0);
            size_t prev = 0;
            for (size_t b = 1; b <= 4096; b += (b < 100 ? 1 : b / 7)) {
                size_t bytes = 0;
                assert_int_equal(imm_ctx_workspace_size(&o, b, dims[d], &bytes), IMM_OK);
                if (bytes < b * b * sizeof(float) || bytes < prev)
                    fail_msg("batch %zu dim %zu: %zu bytes (previous batch: %zu)", b, dims[d],
                             bytes, prev);
                prev = bytes;
            }
            size_t bytes = 0;
            assert_int_equal(imm_ctx_workspace_size(metric ? &o : NULL, 4096, dims[d], &bytes),
                             IMM_OK);
            const size_t matrix = (size_t)4096 * 4096 * sizeof(float);
            if (bytes < matrix || bytes > matrix + (12u << 20))
                fail_msg("batch 4096 dim %zu: %zu bytes, expected %zu + a few MiB", dims[d], bytes,
                         matrix);
        }
}

/* Every SIMD variant returns bitwise the same permutations (imm_simd_arch). */
static void dump_results(FILE *f) {
    static const size_t batches[] = {7, 64, 256};
    for (size_t k = 0; k < 3; k++) {
        problem p = make_problem(batches[k], 3072, 2000 + k);
        int32_t perm[256];
        for (int metric = 0; metric < 2; metric++) {
            imm_options o = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, (imm_metric)metric, 0);
            float *noise = copy_floats(p.noise, p.batch * p.dim);
            memset(perm, 0, sizeof perm);
            int st = imm_assign_noise(p.x, noise, p.batch, p.dim, &o, perm);
            fwrite(&st, sizeof st, 1, f);
            fwrite(perm, sizeof perm, 1, f);
            free(noise);
        }
        free_problem(&p);
    }
}

/* test_same_on_variant_{scalar,avx2,avx512}: each variant in a child, compared with this run. */
TU_VARIANT_TESTS(dump_results)

int main(int argc, char **argv) {
    if (tu_dump_main(argc, argv, dump_results)) /* a child of the SIMD-variant test */
        return 0;
    tu_arch_start("test_noise");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_permute_rows),
        cmocka_unit_test(test_assign_noise_optimal),
        cmocka_unit_test(test_batch_zero),
        cmocka_unit_test(test_thread_invariance),
        cmocka_unit_test(test_context_matches_oneshot),
        cmocka_unit_test(test_reduced_precisions),
        cmocka_unit_test(test_concurrent_pthreads),
        cmocka_unit_test(test_inside_omp_parallel),
        cmocka_unit_test(test_workspace_size),
        TU_VARIANT_UNIT_TESTS,
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
