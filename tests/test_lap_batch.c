/*
 * test_lap_batch.c - forbidden pairs (+Inf costs), infeasible matrices, and imm_lap_solve_batch.
 *
 *   - small problems with random forbidden masks against brute force: the same optimum, or
 *     IMM_ERR_INFEASIBLE exactly when every complete assignment needs a forbidden pair;
 *   - larger ones (dense scans and the candidate-list path from 2048 columns) certified with
 *     imm_lap_certify, never assigned a forbidden pair;
 *   - the auction refuses them (IMM_ERR_UNSUPPORTED), NaN / -Inf stay IMM_ERR_NONFINITE;
 *   - a batch gives bitwise what imm_lap_solve_dual gives each problem alone, for 1 and 2
 *     threads, and an infeasible problem fails the whole batch with nothing written.
 */
#include <immiscible.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "testutil.h"
#include "tu_arch.h"

/* Uniform costs with each entry forbidden with probability p. */
static void masked_costs(float *c, size_t count, double p, tu_rng *r) {
    for (size_t t = 0; t < count; t++)
        c[t] = tu_unif(r) < p ? INFINITY : (float)tu_unif(r);
}

static void test_forbidden_brute_force(void **state) {
    (void)state;
    tu_rng r = tu_rng_make(404);
    const int problems = tu_quick() ? 2000 : 20000;
    int infeasible = 0;
    for (int k = 0; k < problems; k++) {
        const size_t cols = 1 + tu_below(&r, 7), rows = 1 + tu_below(&r, cols);
        float cost[64];
        masked_costs(cost, rows * cols, 0.15 + 0.5 * tu_unif(&r), &r);
        double abs_best;
        const double best = tu_brute_min(cost, rows, cols, &abs_best);
        int32_t a[8] = {-9, -9, -9, -9, -9, -9, -9, -9};
        double u[8], v[8], total = -1.0;
        int st = imm_lap_solve_dual(cost, rows, cols, NULL, a, u, v, &total);
        if (!(best < INFINITY)) {
            infeasible++;
            assert_int_equal(st, IMM_ERR_INFEASIBLE);
            assert_true(a[0] == -9 && total == -1.0);
            continue;
        }
        assert_int_equal(st, IMM_OK);
        assert_true(tu_is_injection(a, rows, cols));
        for (size_t i = 0; i < rows; i++)
            assert_true(cost[i * cols + (size_t)a[i]] < INFINITY);
        if (fabs(total - best) > 1e-12 * (abs_best + 1.0))
            fail_msg("%zu x %zu: total %.17g, brute force %.17g", rows, cols, total, best);
        double viol;
        assert_int_equal(imm_lap_certify(cost, rows, cols, a, u, v, &viol), IMM_OK);
        assert_true(viol <= 1e-9 + 1e-30);
    }
    print_message("  %d of %d random masked problems were infeasible\n", infeasible, problems);
    assert_true(infeasible > problems / 50 && infeasible < problems / 2 + problems / 4);
}

/* Larger problems: certified, no forbidden pair used; a forbidden row / column is infeasible. */
static void check_large(size_t rows, size_t cols, double p, uint64_t seed) {
    tu_rng r = tu_rng_make(seed);
    float *c = malloc(rows * cols * sizeof(float));
    int32_t *a = malloc(rows * sizeof(int32_t));
    double *u = malloc(rows * sizeof(double)), *v = malloc(cols * sizeof(double)), viol;
    masked_costs(c, rows * cols, p, &r);
    assert_int_equal(imm_lap_solve_dual(c, rows, cols, NULL, a, u, v, NULL), IMM_OK);
    assert_true(tu_is_injection(a, rows, cols));
    for (size_t i = 0; i < rows; i++)
        assert_true(c[i * cols + (size_t)a[i]] < INFINITY);
    assert_int_equal(imm_lap_certify(c, rows, cols, a, u, v, &viol), IMM_OK);
    if (!(viol <= 1e-9))
        fail_msg("%zu x %zu, %.0f%% forbidden: violation %.3g", rows, cols, 100 * p, viol);
    /* the same matrix with row 0 wholly forbidden */
    for (size_t j = 0; j < cols; j++)
        c[j] = INFINITY;
    a[0] = -5;
    assert_int_equal(imm_lap_solve_dual(c, rows, cols, NULL, a, u, v, NULL), IMM_ERR_INFEASIBLE);
    assert_int_equal(a[0], -5);
    free(c);
    free(a);
    free(u);
    free(v);
}

static void test_forbidden_large(void **state) {
    (void)state;
    check_large(300, 300, 0.3, 1);
    check_large(300, 330, 0.5, 2);
    check_large(200, 700, 0.9, 3);
    if (!tu_quick())
        check_large(4100, 4100, 0.2, 4); /* candidate lists (from 4096 columns) */
}

/* Hall's condition fails without any row or column being wholly forbidden. */
static void test_infeasible_hall(void **state) {
    (void)state;
    const float I = INFINITY;
    /* rows 0, 1, 2 may only use columns 0 and 1 */
    const float cost[16] = {1, 2, I, I, 3, 1, I, I, 2, 2, I, I, 1, 1, 1, 1};
    int32_t a[4];
    assert_int_equal(imm_lap_solve(cost, 4, 4, NULL, a, NULL), IMM_ERR_INFEASIBLE);
    /* a 3 x 4 with the same structure: infeasible too */
    assert_int_equal(imm_lap_solve(cost, 3, 4, NULL, a, NULL), IMM_ERR_INFEASIBLE);
    /* one allowed pair more makes it feasible, and the solver finds the only way */
    float ok[16];
    memcpy(ok, cost, sizeof ok);
    ok[2 * 4 + 2] = 5;
    double total;
    assert_int_equal(imm_lap_solve(ok, 4, 4, NULL, a, &total), IMM_OK);
    assert_int_equal(a[2], 2);
    assert_true(total == tu_brute_min(ok, 4, 4, NULL));
}

static void test_forbidden_errors(void **state) {
    (void)state;
    float cost[4] = {1, INFINITY, 2, 3};
    int32_t a[2] = {-1, -1};
    imm_options o;
    imm_options_init(&o);
    o.solver = IMM_SOLVER_AUCTION;
    assert_int_equal(imm_lap_solve(cost, 2, 2, &o, a, NULL), IMM_ERR_UNSUPPORTED);
    o.exact_finish = 1;
    assert_int_equal(imm_lap_solve(cost, 2, 2, &o, a, NULL), IMM_ERR_UNSUPPORTED);
    assert_true(a[0] == -1 && a[1] == -1);
    cost[1] = -INFINITY;
    assert_int_equal(imm_lap_solve(cost, 2, 2, NULL, a, NULL), IMM_ERR_NONFINITE);
    cost[1] = NAN;
    assert_int_equal(imm_lap_solve(cost, 2, 2, NULL, a, NULL), IMM_ERR_NONFINITE);
    assert_string_equal(imm_strerror(IMM_ERR_INFEASIBLE), "cost matrix is infeasible");
    /* certify: a forbidden pair assigned is an infinite violation, not an error */
    const float c2[4] = {INFINITY, 1, 1, INFINITY};
    const int32_t diag[2] = {0, 1};
    const double u[2] = {0, 0}, v[2] = {1, 1};
    double viol;
    assert_int_equal(imm_lap_certify(c2, 2, 2, diag, u, v, &viol), IMM_OK);
    assert_true(viol == INFINITY);
    const int32_t anti[2] = {1, 0};
    assert_int_equal(imm_lap_certify(c2, 2, 2, anti, u, v, &viol), IMM_OK);
    assert_true(viol <= 0x1p-50 * (0.0 + 1.0 + 1.0)); /* 0 plus the rounding margin */
}

/*-----------------------------------------------------------------------------------------------
 *  imm_lap_solve_batch
 *---------------------------------------------------------------------------------------------*/

static void check_batch(size_t count, size_t rows, size_t cols, int solver, double p,
                        uint64_t seed) {
    const size_t cells = rows * cols;
    tu_rng r = tu_rng_make(seed);
    float *c = malloc(count * cells * sizeof(float) + 1);
    int32_t *a = malloc(count * rows * sizeof(int32_t) + 1), *a1 = malloc(rows * sizeof(int32_t));
    double *u = malloc(count * rows * sizeof(double) + 1),
           *v = malloc(count * cols * sizeof(double));
    double *t = malloc(count * sizeof(double) + 1), *u1 = malloc(rows * sizeof(double) + 1);
    double *v1 = malloc(cols * sizeof(double));
    masked_costs(c, count * cells, p, &r);
    for (size_t q = 0; q < count; q++) /* keep every problem feasible: an allowed diagonal */
        for (size_t i = 0; i < rows; i++)
            c[q * cells + i * cols + i] = (float)tu_unif(&r);
    imm_options o;
    imm_options_init(&o);
    o.solver = solver;
    for (int threads = 1; threads <= 2; threads++) {
        o.num_threads = threads;
        assert_int_equal(imm_lap_solve_batch(c, count, rows, cols, &o, a, u, v, t), IMM_OK);
        for (size_t q = 0; q < count; q++) {
            double t1;
            assert_int_equal(imm_lap_solve_dual(c + q * cells, rows, cols, &o, a1, u1, v1, &t1),
                             IMM_OK);
            assert_memory_equal(a + q * rows, a1, rows * sizeof(int32_t));
            assert_memory_equal(u + q * rows, u1, rows * sizeof(double));
            assert_memory_equal(v + q * cols, v1, cols * sizeof(double));
            assert_memory_equal(t + q, &t1, sizeof t1);
        }
    }
    /* optional outputs */
    assert_int_equal(imm_lap_solve_batch(c, count, rows, cols, &o, a, NULL, NULL, NULL), IMM_OK);
    /* one infeasible problem: the call fails and writes nothing */
    if (solver == IMM_SOLVER_EXACT && count > 1) {
        for (size_t j = 0; j < cols; j++)
            c[(count - 1) * cells + j] = INFINITY;
        memset(a, 0x5a, count * rows * sizeof(int32_t));
        memset(t, 0x5a, count * sizeof(double));
        assert_int_equal(imm_lap_solve_batch(c, count, rows, cols, &o, a, u, v, t),
                         IMM_ERR_INFEASIBLE);
        for (size_t k = 0; k < count * rows * sizeof(int32_t); k++)
            assert_int_equal(((unsigned char *)a)[k], 0x5a);
        for (size_t k = 0; k < count * sizeof(double); k++)
            assert_int_equal(((unsigned char *)t)[k], 0x5a);
    }
    free(c);
    free(a);
    free(a1);
    free(u);
    free(v);
    free(t);
    free(u1);
    free(v1);
}

static void test_batch(void **state) {
    (void)state;
    check_batch(37, 30, 30, IMM_SOLVER_EXACT, 0.0, 11);
    check_batch(16, 25, 40, IMM_SOLVER_EXACT, 0.3, 12);
    check_batch(9, 60, 61, IMM_SOLVER_AUCTION, 0.0, 13);
    check_batch(5, 1, 1, IMM_SOLVER_EXACT, 0.0, 14);
}

static void test_batch_errors(void **state) {
    (void)state;
    float c[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int32_t a[4] = {-1, -1, -1, -1};
    double t[2] = {-1, -1}, v[4] = {-1, -1, -1, -1};
    assert_int_equal(imm_lap_solve_batch(c, 2, 2, 2, NULL, NULL, NULL, NULL, t),
                     IMM_ERR_INVALID_ARG);
    assert_int_equal(imm_lap_solve_batch(NULL, 2, 2, 2, NULL, a, NULL, NULL, t),
                     IMM_ERR_INVALID_ARG);
    assert_int_equal(imm_lap_solve_batch(c, 2, 3, 2, NULL, a, NULL, NULL, t),
                     IMM_ERR_INVALID_ARG); /* rows > cols */
    assert_int_equal(imm_lap_solve_batch(c, 2, 2, 2, NULL, (int32_t *)c, NULL, NULL, t),
                     IMM_ERR_INVALID_ARG); /* assign inside cost */
    assert_int_equal(imm_lap_solve_batch(c, 2, 2, 2, NULL, a, NULL, t, t + 1),
                     IMM_ERR_INVALID_ARG); /* v overlaps totals */
    assert_int_equal(imm_lap_solve_batch(c, SIZE_MAX / 2, 2, 2, NULL, a, NULL, NULL, t),
                     IMM_ERR_TOO_LARGE);
    c[5] = NAN;
    assert_int_equal(imm_lap_solve_batch(c, 2, 2, 2, NULL, a, NULL, NULL, t), IMM_ERR_NONFINITE);
    assert_true(a[0] == -1 && t[0] == -1.0);
    /* the context variants of the solver and the distances refuse a NULL context */
    float dist[4];
    assert_int_equal(imm_ctx_lap_solve(NULL, c, 2, 2, a, NULL, NULL, t), IMM_ERR_INVALID_ARG);
    assert_int_equal(imm_ctx_distance(NULL, c, 2, c + 4, 2, 2, dist), IMM_ERR_INVALID_ARG);
    assert_true(a[0] == -1 && t[0] == -1.0);
    /* empty batches and empty problems */
    assert_int_equal(imm_lap_solve_batch(NULL, 0, 2, 2, NULL, NULL, NULL, NULL, NULL), IMM_OK);
    assert_int_equal(imm_lap_solve_batch(NULL, 2, 0, 2, NULL, NULL, NULL, v, t), IMM_OK);
    assert_true(v[0] == 0.0 && v[3] == 0.0 && t[0] == 0.0 && t[1] == 0.0);
}

int main(void) {
    tu_arch_start("test_lap_batch");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forbidden_brute_force),
        cmocka_unit_test(test_forbidden_large),
        cmocka_unit_test(test_infeasible_hall),
        cmocka_unit_test(test_forbidden_errors),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_batch_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
