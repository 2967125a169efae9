/* test_auction.c - IMM_SOLVER_AUCTION, its exact finish and imm_lap_info.
 *
 * The auction is approximate: every result is checked against the bound it reports (and the
 * bound against brute force or the exact optimum), the exact finish against the exact solver,
 * and termination on inputs known to stall auction codes, with a bounded number of bids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <math.h>

#include <immiscible.h>

#include "testutil.h"

/* The auction with the given finish and threads. */
static imm_options auction_opts(int exact_finish, int threads) {
    imm_options o = tu_opts(IMM_SOLVER_AUCTION, IMM_PRECISION_FP32, IMM_METRIC_L2, threads);
    o.exact_finish = exact_finish;
    return o;
}

/* Rounding slack of a total over `rows` costs of magnitude up to `scale`. */
static double slack(size_t rows, double scale) { return 1e-9 * (double)rows * scale + 1e-30; }

static void fill(float *c, size_t count, int kind, tu_rng *r) {
    for (size_t t = 0; t < count; t++) {
        double x;
        switch (kind) {
        case 0: x = tu_unif(r); break;                                   /* uniform */
        case 1: x = (double)tu_below(r, 3); break;                       /* many ties */
        case 2: x = 5.0; break;                                          /* constant */
        case 3: x = -1e30 * tu_unif(r); break;                           /* huge negative */
        case 4: x = (tu_below(r, 2) ? 1e-30 : 1e30) * tu_unif(r); break; /* 1e-30 .. 1e30 */
        default: x = 1e-40 * tu_unif(r); break;                          /* denormals */
        }
        c[t] = (float)x;
    }
}

/* Small problems against brute force: the auction is within its bound, the exact finish and
   the exact solver hit the optimum, the lower bound is below it. */
static void test_small_brute_force(void **state) {
    (void)state;
    tu_rng r = tu_rng_make(11);
    float c[8 * 10];
    int32_t a[8];
    for (int it = 0; it < 1500; it++) {
        size_t rows = 1 + tu_below(&r, 7), cols = rows + tu_below(&r, 3);
        int kind = (int)tu_below(&r, 6);
        fill(c, rows * cols, kind, &r);
        double best = tu_brute_min(c, rows, cols, NULL);
        double tol = slack(rows, tu_max_abs(c, rows * cols));
        for (int fin = 0; fin < 2; fin++) {
            imm_options o = auction_opts(fin, 1);
            imm_lap_info info;
            assert_int_equal(imm_lap_solve_ex(c, rows, cols, &o, a, NULL, NULL, &info), IMM_OK);
            assert_true(tu_is_injection(a, rows, cols));
            assert_true(fabs(info.total - tu_total(c, rows, cols, a, NULL)) <= tol);
            assert_true(info.lower_bound <= best + tol);
            assert_true(info.total - best <= info.gap_bound + tol);
            assert_true(info.gap_bound >= 0.0);
            /* Rectangular problems with many extra columns ((cols - rows) * 8 > cols) and
               1-column problems are solved exactly even by the auction, and say so. */
            if (fin || (cols - rows) * 8 > cols || cols == 1)
                assert_int_equal(info.exact, 1);
            if (info.exact)
                assert_true(fabs(info.total - best) <= tol);
        }
    }
}

/* The auction's bound holds, and the exact finish equals the exact solver, on larger random,
   integer, tied and image-noise matrices, square and rectangular (both rectangular paths). */
static void test_exact_finish_matches_exact(void **state) {
    (void)state;
    const size_t shapes[][2] = {{300, 300}, {200, 260}, {150, 400}, {1, 50}, {64, 64}};
    tu_rng r = tu_rng_make(12);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t rows = shapes[s][0], cols = shapes[s][1];
        float *c = malloc(rows * cols * sizeof(float));
        int32_t *a = malloc(rows * sizeof(int32_t)), *b = malloc(rows * sizeof(int32_t));
        assert_non_null(c);
        for (int kind = 0; kind < 3; kind++) {
            fill(c, rows * cols, kind, &r);
            double tol = slack(rows, tu_max_abs(c, rows * cols));
            double exact;
            assert_int_equal(imm_lap_solve(c, rows, cols, NULL, b, &exact), IMM_OK);
            for (int fin = 0; fin < 2; fin++) {
                imm_options o = auction_opts(fin, 0);
                imm_lap_info info;
                assert_int_equal(imm_lap_solve_ex(c, rows, cols, &o, a, NULL, NULL, &info), IMM_OK);
                assert_true(tu_is_injection(a, rows, cols));
                assert_true(info.lower_bound <= exact + tol);
                assert_true(info.total - exact <= info.gap_bound + tol);
                if (fin)
                    assert_true(fabs(info.total - exact) <= tol);
            }
        }
        free(c);
        free(a);
        free(b);
    }
}

/* Known auction traps must terminate, with a bounded number of bids: constant costs, one row,
   huge ranges, huge negative costs, denormals, all-equal rows. */
static void test_termination(void **state) {
    (void)state;
    const size_t n = tu_quick() ? 120 : 400;
    float *c = malloc(n * n * sizeof(float));
    int32_t *a = malloc(n * sizeof(int32_t));
    tu_rng r = tu_rng_make(13);
    for (int kind = 0; kind < 6; kind++) {
        fill(c, n * n, kind, &r);
        for (size_t rows = 1; rows <= n; rows += n - 1) {
            for (int fin = 0; fin < 2; fin++) {
                imm_options o = auction_opts(fin, 2);
                imm_lap_info info;
                assert_int_equal(imm_lap_solve_ex(c, rows, n, &o, a, NULL, NULL, &info), IMM_OK);
                assert_true(tu_is_injection(a, rows, n));
                /* A phase stops bidding once 64 bids per row are spent; its last round adds at
                   most one bid per row. Phases are bounded by the eps floor. */
                assert_true(info.phases <= 64);
                assert_true(info.bids <= (int64_t)info.phases * 65 * (int64_t)n);
                assert_true(isfinite(info.total) && isfinite(info.gap_bound));
            }
        }
    }
    free(c);
    free(a);
}

/* Same assignment, bound and counters for 1, 2 and 4 threads. */
static void test_thread_independence(void **state) {
    (void)state;
    const size_t n = tu_quick() ? 256 : 1024;
    float *c = tu_image_noise_costs(n, 784, 14);
    int32_t *a1 = malloc(n * sizeof(int32_t)), *a = malloc(n * sizeof(int32_t));
    assert_non_null(c);
    imm_options o = auction_opts(0, 1);
    imm_lap_info i1, i;
    assert_int_equal(imm_lap_solve_ex(c, n, n, &o, a1, NULL, NULL, &i1), IMM_OK);
    for (int t = 2; t <= 4; t += 2) {
        o.num_threads = t;
        assert_int_equal(imm_lap_solve_ex(c, n, n, &o, a, NULL, NULL, &i), IMM_OK);
        assert_memory_equal(a, a1, n * sizeof(int32_t));
        assert_true(i.total == i1.total && i.gap_bound == i1.gap_bound && i.bids == i1.bids);
    }
    free(c);
    free(a1);
    free(a);
}

/* Default accuracy on image-noise batches keeps >= 99.99% of the optimal distance reduction,
   and its reported bound holds. */
static void test_image_noise_quality(void **state) {
    (void)state;
    const size_t sizes[] = {256, 1024};
    for (size_t s = 0; s < (tu_quick() ? 1u : 2u); s++) {
        const size_t n = sizes[s];
        float *c = tu_image_noise_costs(n, 3072, 15 + n);
        int32_t *a = malloc(n * sizeof(int32_t));
        assert_non_null(c);
        double identity = 0, exact;
        for (size_t i = 0; i < n; i++)
            identity += (double)c[i * n + i];
        assert_int_equal(imm_lap_solve(c, n, n, NULL, a, &exact), IMM_OK);
        imm_options o = auction_opts(0, 0);
        imm_lap_info info;
        assert_int_equal(imm_lap_solve_ex(c, n, n, &o, a, NULL, NULL, &info), IMM_OK);
        double quality = (identity - info.total) / (identity - exact);
        assert_true(quality >= 0.9999);
        assert_true(info.total - exact <= info.gap_bound + slack(n, 100.0));
        /* the bound promised by the accuracy option */
        double lo = INFINITY, hi = -INFINITY;
        for (size_t t = 0; t < n * n; t++) {
            lo = fmin(lo, c[t]);
            hi = fmax(hi, c[t]);
        }
        assert_true((double)n * info.final_eps <=
                    IMM_AUCTION_DEFAULT_ACCURACY * (hi - lo) * 1.0001);
        o.exact_finish = 1;
        assert_int_equal(imm_lap_solve_ex(c, n, n, &o, a, NULL, NULL, &info), IMM_OK);
        assert_true(fabs(info.total - exact) <= slack(n, 100.0));
        free(c);
        free(a);
    }
}

/* Duals from the auction are feasible (they prove the lower bound). */
static void test_auction_duals(void **state) {
    (void)state;
    const size_t n = 200;
    float *c = tu_image_noise_costs(n, 256, 16);
    int32_t *a = malloc(n * sizeof(int32_t));
    double *u = malloc(n * sizeof(double)), *v = malloc(n * sizeof(double));
    imm_options o = auction_opts(0, 0);
    imm_lap_info info;
    assert_int_equal(imm_lap_solve_ex(c, n, n, &o, a, u, v, &info), IMM_OK);
    double dual = 0, worst = 0;
    for (size_t i = 0; i < n; i++) {
        dual += u[i] + v[i];
        for (size_t j = 0; j < n; j++)
            worst = fmax(worst, u[i] + v[j] - (double)c[i * n + j]);
    }
    assert_true(worst <= 1e-9 * 100.0);
    assert_true(fabs(dual - info.lower_bound) <= slack(n, 100.0));
    free(c);
    free(a);
    free(u);
    free(v);
}

/* From 2048 columns on, row minima come from candidate lists (lib/lap/lap_state.c): the exact
   solver must still be certified optimal, and auction results thread-count independent. */
static void test_candidate_lists(void **state) {
    (void)state;
    const size_t n = 2048;
    float *c = tu_image_noise_costs(n, 64, 17);
    int32_t *a = malloc(n * sizeof(int32_t)), *b = malloc(n * sizeof(int32_t));
    double *u = malloc(n * sizeof(double)), *v = malloc(n * sizeof(double));
    assert_non_null(c);
    double exact, violation;
    assert_int_equal(imm_lap_solve_dual(c, n, n, NULL, a, u, v, &exact), IMM_OK);
    assert_int_equal(imm_lap_certify(c, n, n, a, u, v, &violation), IMM_OK);
    assert_true(violation <= 1e-9 * tu_max_abs(c, n * n) + 1e-30);
    for (int fin = 0; fin < 2; fin++) {
        imm_lap_info i1, i2;
        imm_options o = auction_opts(fin, 1);
        assert_int_equal(imm_lap_solve_ex(c, n, n, &o, a, NULL, NULL, &i1), IMM_OK);
        o.num_threads = 2;
        assert_int_equal(imm_lap_solve_ex(c, n, n, &o, b, NULL, NULL, &i2), IMM_OK);
        assert_memory_equal(a, b, n * sizeof(int32_t));
        assert_true(i1.total - exact <= i1.gap_bound + slack(n, 100.0));
        if (fin)
            assert_true(fabs(i1.total - exact) <= slack(n, 100.0));
    }
    free(c);
    free(a);
    free(b);
    free(u);
    free(v);
}

static void test_option_errors(void **state) {
    (void)state;
    float c[4] = {1, 2, 3, 4};
    int32_t a[2] = {-7, -7};
    imm_options o = auction_opts(0, 0);
    const double bad[] = {-1e-3, NAN, INFINITY};
    for (size_t t = 0; t < 3; t++) {
        o.accuracy = bad[t];
        assert_int_equal(imm_lap_solve(c, 2, 2, &o, a, NULL), IMM_ERR_INVALID_ARG);
    }
    o.accuracy = 0.0;
    o.reserved_int_ = 1;
    assert_int_equal(imm_lap_solve(c, 2, 2, &o, a, NULL), IMM_ERR_INVALID_ARG);
    assert_int_equal(a[0], -7);
    assert_int_equal(a[1], -7);
}

int main(void) {
    tu_arch_start("test_auction");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_brute_force),
        cmocka_unit_test(test_exact_finish_matches_exact),
        cmocka_unit_test(test_termination),
        cmocka_unit_test(test_thread_independence),
        cmocka_unit_test(test_image_noise_quality),
        cmocka_unit_test(test_auction_duals),
        cmocka_unit_test(test_candidate_lists),
        cmocka_unit_test(test_option_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
