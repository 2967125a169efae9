/*
 * test_lap.c - imm_lap_solve, imm_lap_solve_dual, imm_lap_certify.
 *
 * Small problems are checked against brute force over every permutation / injection; large
 * image-noise and uniform problems against a dual certificate recomputed here from the costs
 * (so the test does not rely on imm_lap_certify alone).
 */
#define _POSIX_C_SOURCE 200809L
#include <immiscible.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "testutil.h"

/* Tolerance of the solver's certificate, as documented. */
static double tau_for(const float *cost, size_t count) {
    return 1e-9 * tu_max_abs(cost, count) + 1e-30;
}

static imm_options opts_threads(int threads) {
    imm_options o;
    imm_options_init(&o);
    o.num_threads = threads;
    return o;
}

enum kind { K_UNIFORM, K_SMALLINT, K_CONSTANT, K_NEGATIVE, K_MIXED, K_COUNT };
static const char *const kind_name[K_COUNT] = {"uniform", "small-int", "constant", "negative",
                                               "mixed-magnitude"};

static void fill(float *c, size_t count, enum kind k, tu_rng *r) {
    float constant = (float)(tu_unif(r) * 10.0 - 5.0);
    for (size_t i = 0; i < count; i++) {
        switch (k) {
        case K_UNIFORM: c[i] = (float)tu_unif(r); break;
        case K_SMALLINT: c[i] = (float)tu_below(r, 4); break;
        case K_CONSTANT: c[i] = constant; break;
        case K_NEGATIVE: c[i] = (float)(-1000.0 * tu_unif(r)); break;
        default: /* sign * 10^U(-3, 3) */
            c[i] = (float)((tu_below(r, 2) ? 1.0 : -1.0) * pow(10.0, 6.0 * tu_unif(r) - 3.0));
            break;
        }
    }
}

/* Solves with imm_lap_solve, imm_lap_solve_dual and imm_lap_solve_ex and checks, without
 * trusting the library: valid injection, the calls agree, *total equals the recomputed sum, the
 * independent certificate and imm_lap_certify both hold with the documented tau, the info of
 * the exact solver is consistent, and cost is unchanged. Returns the total; assign_out (may be
 * NULL) receives the assignment. */
static double solve_checked(const float *cost, size_t rows, size_t cols, int threads,
                            int32_t *assign_out, const char *what) {
    imm_options o = opts_threads(threads);
    size_t count = rows * cols;
    int32_t *a1 = malloc((rows + 1) * sizeof *a1), *a2 = malloc((rows + 1) * sizeof *a2);
    double *u = malloc((rows + 1) * sizeof *u), *v = malloc((cols + 1) * sizeof *v);
    float *copy = malloc((count + 1) * sizeof *copy);
    assert_non_null(a1);
    assert_non_null(a2);
    assert_non_null(u);
    assert_non_null(v);
    assert_non_null(copy);
    memcpy(copy, cost, count * sizeof *copy);

    double t1 = -1, t2 = -1, abs_sum = 0, viol = -1;
    int st = imm_lap_solve(cost, rows, cols, &o, a1, &t1);
    if (st != IMM_OK)
        fail_msg("%s: imm_lap_solve returned %d (%s)", what, st, imm_strerror(st));
    st = imm_lap_solve_dual(cost, rows, cols, &o, a2, u, v, &t2);
    if (st != IMM_OK)
        fail_msg("%s: imm_lap_solve_dual returned %d (%s)", what, st, imm_strerror(st));
    assert_memory_equal(copy, cost, count * sizeof *copy);
    if (!tu_is_injection(a1, rows, cols))
        fail_msg("%s: assign is not a set of distinct columns in range", what);
    if (memcmp(a1, a2, rows * sizeof *a1) != 0 || memcmp(&t1, &t2, sizeof t1) != 0)
        fail_msg("%s: imm_lap_solve and imm_lap_solve_dual disagree", what);
    imm_lap_info info;
    memset(&info, 0xa5, sizeof info);
    st = imm_lap_solve_ex(cost, rows, cols, &o, a2, NULL, NULL, &info);
    if (st != IMM_OK)
        fail_msg("%s: imm_lap_solve_ex returned %d (%s)", what, st, imm_strerror(st));
    if (memcmp(a1, a2, rows * sizeof *a1) != 0 || memcmp(&t1, &info.total, sizeof t1) != 0)
        fail_msg("%s: imm_lap_solve and imm_lap_solve_ex disagree", what);

    double recomputed = tu_total(cost, rows, cols, a1, &abs_sum);
    if (fabs(recomputed - t1) > 1e-12 * abs_sum)
        fail_msg("%s: total %.17g but the assigned costs sum to %.17g", what, t1, recomputed);

    double tau = tau_for(cost, count);
    double mine = tu_certificate(cost, rows, cols, a1, u, v);
    if (!(mine <= tau))
        fail_msg("%s: independent certificate violation %.6g > tau %.6g", what, mine, tau);
    st = imm_lap_certify(cost, rows, cols, a1, u, v, &viol);
    assert_int_equal(st, IMM_OK);
    if (!(viol <= tau))
        fail_msg("%s: imm_lap_certify violation %.6g > tau %.6g", what, viol, tau);
    /* the exact solver's info: exact, a lower bound at the total, a gap within the bound */
    double bound = 2.0 * (double)rows * tau + 1e-12 * abs_sum;
    if (info.exact != 1 || !(info.gap_bound >= 0.0 && info.gap_bound <= bound) ||
        !(info.lower_bound <= t1 + bound && info.lower_bound >= t1 - bound))
        fail_msg("%s: exact solver info: exact %d, total %.17g, lower_bound %.17g, gap_bound "
                 "%.6g (allowed %.3g)",
                 what, info.exact, t1, info.lower_bound, info.gap_bound, bound);

    /* where the work went: at least the column means (the validation pass) and the lower
       bound's pass; times measured, not invented; the reserved words stay zero */
    if (!(info.passes >= 2.0 && info.passes < 1e7) || (info.sparse != 0 && info.sparse != 1) ||
        info.rounds < 0 || (info.sparse == 1 && info.rounds < 1) || info.bids < 0 ||
        info.augmentations < 0)
        fail_msg("%s: info passes %g, sparse %d, rounds %d, bids %lld, augmentations %lld", what,
                 info.passes, (int)info.sparse, (int)info.rounds, (long long)info.bids,
                 (long long)info.augmentations);
    for (int p = 0; p < 4; p++)
        if (!(info.seconds[p] >= 0.0 && info.seconds[p] < 600.0))
            fail_msg("%s: info.seconds[%d] = %g", what, p, info.seconds[p]);
    if (info.reserved_[0] != 0 || info.reserved_[1] != 0)
        fail_msg("%s: info.reserved_ not zero", what);
    if (assign_out != NULL)
        memcpy(assign_out, a1, rows * sizeof *a1);
    free(a1);
    free(a2);
    free(u);
    free(v);
    free(copy);
    return t1;
}

/* Library total vs brute-force minimum. exact: only double summation order may differ (1e-12
 * relative to the magnitudes summed); otherwise the documented bound 2 * rows * tau. */
static void compare_brute(const float *cost, size_t rows, size_t cols, int exact,
                          const char *what) {
    int32_t assign[16];
    double abs_lib = 0, abs_best = 0;
    double got = solve_checked(cost, rows, cols, 1, assign, what);
    double best = tu_brute_min(cost, rows, cols, &abs_best);
    tu_total(cost, rows, cols, assign, &abs_lib);
    double sum_tol = 1e-12 * (abs_lib > abs_best ? abs_lib : abs_best);
    double tol = sum_tol;
    if (!exact)
        tol += 2.0 * (double)rows * tau_for(cost, rows * cols);
    if (got > best + tol || got < best - sum_tol)
        fail_msg("%s (%zux%zu): total %.17g, brute-force minimum %.17g (tol %.3g)", what, rows,
                 cols, got, best, tol);
    imm_lap_info info;
    assert_int_equal(imm_lap_solve_ex(cost, rows, cols, NULL, assign, NULL, NULL, &info), IMM_OK);
    if (!(info.lower_bound <= best + sum_tol + 2.0 * (double)rows * tau_for(cost, rows * cols)))
        fail_msg("%s (%zux%zu): lower bound %.17g above the brute-force minimum %.17g", what, rows,
                 cols, info.lower_bound, best);
}

static void test_brute_force_square(void **state) {
    (void)state;
    float c[64];
    char what[96];
    for (int k = 0; k < K_COUNT; k++)
        for (size_t n = 1; n <= 8; n++) {
            int seeds = n <= 6 ? 40 : 8;
            for (int s = 0; s < seeds; s++) {
                tu_rng r = tu_rng_make(1000u * (uint64_t)k + 100u * n + (uint64_t)s);
                fill(c, n * n, (enum kind)k, &r);
                snprintf(what, sizeof what, "%s seed %d", kind_name[k], s);
                compare_brute(c, n, n, 1, what);
            }
        }
}

static void test_brute_force_rectangular(void **state) {
    (void)state;
    static const size_t shapes[][2] = {{1, 5}, {3, 7}, {5, 6}, {2, 9},  {4, 8}, {6, 8},
                                       {7, 8}, {1, 2}, {2, 3}, {5, 10}, {3, 4}};
    float c[100];
    char what[96];
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++)
        for (int k = 0; k < K_COUNT; k++)
            for (int s = 0; s < 12; s++) {
                size_t rows = shapes[sh][0], cols = shapes[sh][1];
                tu_rng r = tu_rng_make(77777u + 1000u * sh + 100u * (uint64_t)k + (uint64_t)s);
                fill(c, rows * cols, (enum kind)k, &r);
                snprintf(what, sizeof what, "%s seed %d", kind_name[k], s);
                compare_brute(c, rows, cols, 1, what);
            }
}

static void test_certificate_image_noise(void **state) {
    (void)state;
    size_t sizes[] = {2, 17, 100, 512, 1024, 2048};
    size_t nsizes = tu_quick() ? 5 : 6;
    char what[96];
    for (size_t s = 0; s < nsizes; s++) {
        size_t n = sizes[s], dim = n > 1024 ? 1024 : 3072; /* keeps the generator quick */
        float *c = tu_image_noise_costs(n, dim, 4242 + n);
        assert_non_null(c);
        snprintf(what, sizeof what, "image-noise n=%zu D=%zu", n, dim);
        solve_checked(c, n, n, 0, NULL, what);
        free(c);
    }
}

static void test_certificate_image_noise_rectangular(void **state) {
    (void)state;
    /* 300 images against 1000 noise rows (a pool larger than the batch). */
    size_t rows = 300, cols = tu_quick() ? 600 : 1000, dim = 768;
    tu_rng r = tu_rng_make(31337);
    float *x = malloc(rows * dim * sizeof *x), *y = malloc(cols * dim * sizeof *y);
    float *c = malloc(rows * cols * sizeof *c);
    assert_non_null(x);
    assert_non_null(y);
    assert_non_null(c);
    tu_images(x, rows, dim, &r);
    tu_noise(y, cols, dim, &r);
    tu_l2_costs(x, rows, y, cols, dim, c);
    solve_checked(c, rows, cols, 0, NULL, "image-noise 300 x pool");
    free(x);
    free(y);
    free(c);
}

static void check_deterministic(const float *c, size_t rows, size_t cols, const char *what);

/* Image-noise costs against a pool of rows x cols, dim 768, the noise rows' norms spread by
   +-3 % (the caller frees). With the synthetic images alone the rows' minima gather less than
   with Fashion-MNIST's (300 x 1000: 0 bids). */
static float *pool_costs(size_t rows, size_t cols, uint64_t seed) {
    const size_t dim = 768;
    tu_rng r = tu_rng_make(seed);
    float *x = malloc(rows * dim * sizeof *x), *y = malloc(cols * dim * sizeof *y);
    float *c = malloc(rows * cols * sizeof *c);
    assert_true(x && y && c);
    tu_images(x, rows, dim, &r);
    tu_noise(y, cols, dim, &r);
    for (size_t j = 0; j < cols; j++) { /* norms spread as Fashion-MNIST's pools' minima need */
        const float scale = (float)(0.97 + 0.06 * tu_unif(&r));
        for (size_t k = 0; k < dim; k++)
            y[j * dim + k] *= scale;
    }
    tu_l2_costs(x, rows, y, cols, dim, c);
    free(x);
    free(y);
    return c;
}

/* Wide problems whose rows' cheapest columns gather on a few columns (noise pools) get a warm
   start: one auction phase, then the square problem with dummy rows holding the columns it left
   free (lap_exact.c). Checked: it runs (bids), its results are optimal by brute force on small
   matrices with strong column offsets and by certificate on image-noise pools of several
   shapes (dummy rows searching from the start, searches through the columns they hold), the
   same for every thread count; latent-like and uniform wide costs keep the cold path. */
static void test_wide_warm_start(void **state) {
    (void)state;
    static const size_t small[][2] = {{2, 5}, {3, 7}, {4, 9}, {5, 10}, {3, 12}, {6, 14}, {8, 16}};
    float c[16 * 16];
    char what[96];
    int warm = 0, cases = 0;
    for (size_t sh = 0; sh < sizeof small / sizeof small[0]; sh++)
        for (int seed = 0; seed < 40; seed++) {
            const size_t rows = small[sh][0], cols = small[sh][1];
            tu_rng r = tu_rng_make(4711u + 100u * sh + (uint64_t)seed);
            float offset[16];
            for (size_t j = 0; j < cols; j++) /* a column offset over a smaller spread */
                offset[j] = (float)(4.0 * tu_unif(&r));
            for (size_t i = 0; i < rows; i++)
                for (size_t j = 0; j < cols; j++)
                    c[i * cols + j] = offset[j] + (float)(1.5 * tu_unif(&r));
            snprintf(what, sizeof what, "column offsets %zu x %zu seed %d", rows, cols, seed);
            compare_brute(c, rows, cols, 1, what);
            imm_lap_info info;
            int32_t a[16];
            assert_int_equal(imm_lap_solve_ex(c, rows, cols, NULL, a, NULL, NULL, &info), IMM_OK);
            warm += info.bids > 0;
            cases++;
        }
    print_message("column offsets: %d of %d small wide problems took the warm start\n", warm,
                  cases);
    if (2 * warm < cases)
        fail_msg("the wide warm start ran on %d of %d matrices with strong column offsets", warm,
                 cases);

    /* rows, cols, whether the warm start runs: the rows' minima gather in the first three (these
       seeds), and 64 x 4096 has candidate lists and more than twice the columns (cold) */
    static const size_t pools[][3] = {{256, 512, 1}, {300, 1000, 1}, {500, 700, 1}, {64, 4096, 0}};
    const size_t npools = tu_quick() ? 2 : 4;
    for (size_t p = 0; p < npools; p++) {
        const size_t rows = pools[p][0], cols = pools[p][1];
        float *pc = pool_costs(rows, cols, 99 + p);
        snprintf(what, sizeof what, "image-noise pool %zu x %zu", rows, cols);
        solve_checked(pc, rows, cols, 2, NULL, what);
        check_deterministic(pc, rows, cols, what);
        imm_lap_info info;
        int32_t *a = malloc(rows * sizeof *a);
        assert_non_null(a);
        assert_int_equal(imm_lap_solve_ex(pc, rows, cols, NULL, a, NULL, NULL, &info), IMM_OK);
        print_message("%s: %lld bids, %lld augmentations, %.2f passes\n", what,
                      (long long)info.bids, (long long)info.augmentations, info.passes);
        if ((info.bids > 0) != (pools[p][2] != 0))
            fail_msg("%s: %lld bids, the %s path was expected", what, (long long)info.bids,
                     pools[p][2] ? "warm" : "cold");
        free(a);
        free(pc);
    }

    /* rows' minima spread out: the cold path (no bids) */
    const size_t rows = 200, cols = 500;
    float *u = malloc(rows * cols * sizeof *u);
    assert_non_null(u);
    tu_rng r = tu_rng_make(2024);
    for (size_t i = 0; i < rows * cols; i++)
        u[i] = (float)tu_unif(&r);
    solve_checked(u, rows, cols, 2, NULL, "uniform 200 x 500");
    imm_lap_info info;
    int32_t *a = malloc(rows * sizeof *a);
    assert_non_null(a);
    assert_int_equal(imm_lap_solve_ex(u, rows, cols, NULL, a, NULL, NULL, &info), IMM_OK);
    if (info.bids != 0)
        fail_msg("uniform 200 x 500: %lld bids, the cold path was expected", (long long)info.bids);
    free(a);
    free(u);
}

static void test_certificate_uniform(void **state) {
    (void)state;
    size_t sizes[] = {64, 500, 1000, 2048};
    size_t nsizes = tu_quick() ? 3 : 4;
    char what[64];
    for (size_t s = 0; s < nsizes; s++) {
        size_t n = sizes[s];
        float *c = malloc(n * n * sizeof *c);
        assert_non_null(c);
        tu_rng r = tu_rng_make(9000 + n);
        for (size_t i = 0; i < n * n; i++)
            c[i] = (float)(tu_unif(&r) * (double)n);
        snprintf(what, sizeof what, "uniform n=%zu", n);
        solve_checked(c, n, n, 0, NULL, what);
        /* and a rectangular slice: the first n/2 rows */
        snprintf(what, sizeof what, "uniform %zux%zu", n / 2, n);
        solve_checked(c, n / 2, n, 0, NULL, what);
        free(c);
    }
}

/* Structured matrices that stress the potentials: large row and column offsets over a small
 * residual, heavy ties, "forbidden" (huge) entries, rows of very different scales, and a large
 * constant over a perturbation at the float resolution. */
static void test_certificate_structured(void **state) {
    (void)state;
    size_t n = tu_quick() ? 400 : 1000;
    float *c = malloc(n * n * sizeof *c);
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    assert_true(c && a && b);
    tu_rng r = tu_rng_make(4321);
    static const char *const name[] = {"row/column offsets", "ties {0,1}", "forbidden entries",
                                       "row scales 1e-3..1e3", "1e6 + perturbation"};
    for (int k = 0; k < 5; k++) {
        for (size_t i = 0; i < n; i++) {
            a[i] = 1e4 * tu_unif(&r);
            b[i] = 1e4 * tu_unif(&r);
        }
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                double x;
                switch (k) {
                case 0: x = a[i] + b[j] + tu_unif(&r); break;
                case 1: x = (double)tu_below(&r, 2); break;
                case 2: x = tu_below(&r, 20) ? 1e9 : tu_unif(&r); break;
                case 3: x = pow(10.0, (double)(i % 7) - 3.0) * tu_unif(&r); break;
                default: x = 1e6 + 0.1 * tu_unif(&r); break;
                }
                c[i * n + j] = (float)x;
            }
        solve_checked(c, n, n, 0, NULL, name[k]);
        solve_checked(c, n / 3, n, 0, NULL, name[k]); /* rectangular */
    }
    free(c);
    free(a);
    free(b);
}

/* A certified-optimal solution, then a change that costs more than 2 * rows * tau: the
 * documented bound says imm_lap_certify must then report a violation above tau. */
static void test_certify_rejects_nonoptimal(void **state) {
    (void)state;
    for (int rect = 0; rect < 2; rect++) {
        size_t rows = rect ? 20 : 40, cols = 40;
        float c[40 * 40];
        int32_t a[40];
        double u[40], v[40], total = 0, viol = -1;
        tu_rng r = tu_rng_make(555 + (uint64_t)rect);
        fill(c, rows * cols, K_UNIFORM, &r);
        imm_options o = opts_threads(1);
        assert_int_equal(imm_lap_solve_dual(c, rows, cols, &o, a, u, v, &total), IMM_OK);
        double tau = tau_for(c, rows * cols);

        /* the swap of two rows that increases the cost the most */
        size_t bi = 0, bk = 1;
        double best_inc = -1;
        for (size_t i = 0; i < rows; i++)
            for (size_t k = i + 1; k < rows; k++) {
                double inc = (double)c[i * cols + a[k]] + c[k * cols + a[i]] - c[i * cols + a[i]] -
                             c[k * cols + a[k]];
                if (inc > best_inc) {
                    best_inc = inc;
                    bi = i;
                    bk = k;
                }
            }
        assert_true(best_inc > 4.0 * (double)rows * tau);
        int32_t t = a[bi];
        a[bi] = a[bk];
        a[bk] = t;
        assert_int_equal(imm_lap_certify(c, rows, cols, a, u, v, &viol), IMM_OK);
        if (!(viol > tau))
            fail_msg("swapped rows %zu,%zu (+%.4g): violation %.3g <= tau", bi, bk, best_inc, viol);
        assert_true(tu_certificate(c, rows, cols, a, u, v) > tau);

        if (rect) { /* move a row to a free column where that costs more */
            a[bk] = a[bi];
            a[bi] = t; /* back to the optimum */
            unsigned char used[40] = {0};
            for (size_t i = 0; i < rows; i++)
                used[a[i]] = 1;
            size_t bj = 0;
            best_inc = -1;
            for (size_t j = 0; j < cols; j++)
                if (!used[j] && (double)c[j] - c[a[0]] > best_inc) {
                    best_inc = (double)c[j] - c[a[0]];
                    bj = j;
                }
            assert_true(best_inc > 4.0 * (double)rows * tau);
            a[0] = (int32_t)bj;
            assert_int_equal(imm_lap_certify(c, rows, cols, a, u, v, &viol), IMM_OK);
            assert_true(viol > tau);
        }

        /* duplicate columns: INVALID_ARG, *violation untouched */
        a[1] = a[0];
        viol = 12345.0;
        assert_int_equal(imm_lap_certify(c, rows, cols, a, u, v, &viol), IMM_ERR_INVALID_ARG);
        assert_true(viol == 12345.0);
    }
}

/* Same input, same assignment: repeated calls and 0 / 1 / 2 / 4 threads, bitwise. */
static void check_deterministic(const float *c, size_t rows, size_t cols, const char *what) {
    int32_t *ref = malloc(rows * sizeof *ref), *a = malloc(rows * sizeof *a);
    double *uref = malloc(rows * sizeof *uref), *u = malloc(rows * sizeof *u);
    double *vref = malloc(cols * sizeof *vref), *v = malloc(cols * sizeof *v);
    assert_true(ref && a && uref && u && vref && v);
    double tref = 0, t = 0;
    imm_options o = opts_threads(1);
    assert_int_equal(imm_lap_solve_dual(c, rows, cols, &o, ref, uref, vref, &tref), IMM_OK);
    static const int threads[] = {1, 2, 3, 4}; /* and 1 again: run to run */
    for (size_t k = 0; k < sizeof threads / sizeof threads[0]; k++) {
        o = opts_threads(threads[k]);
        memset(a, 0xff, rows * sizeof *a);
        assert_int_equal(imm_lap_solve_dual(c, rows, cols, &o, a, u, v, &t), IMM_OK);
        if (memcmp(a, ref, rows * sizeof *a) != 0 || memcmp(&t, &tref, sizeof t) != 0 ||
            memcmp(u, uref, rows * sizeof *u) != 0 || memcmp(v, vref, cols * sizeof *v) != 0)
            fail_msg("%s: num_threads %d gives a different result than 1 thread", what, threads[k]);
    }
    free(ref);
    free(a);
    free(uref);
    free(u);
    free(vref);
    free(v);
}

/* rows x cols costs 12 + below(levels), then each row gets three unique smallest values (0-3,
   4-7, 8-11) at three distinct random columns: no ties at the bottom of a row, so not "tied"
   (imi_lap_tied looks at the three smallest values), and many ties above. */
static void levels_over_unique_min(float *c, size_t rows, size_t cols, uint64_t levels,
                                   tu_rng *r) {
    for (size_t i = 0; i < rows; i++) {
        for (size_t j = 0; j < cols; j++)
            c[i * cols + j] = (float)(12 + tu_below(r, levels));
        const size_t j1 = tu_below(r, cols), j2 = (j1 + 1 + tu_below(r, cols - 2)) % cols;
        const size_t j3 = (j2 + 1 + tu_below(r, (j1 + cols - j2 - 1) % cols)) % cols;
        c[i * cols + j1] = (float)tu_below(r, 4);
        c[i * cols + j2] = (float)(4 + tu_below(r, 4));
        c[i * cols + j3] = (float)(8 + tu_below(r, 4));
    }
}

/* The sparse mode (lib/lap/lap_sparse.c): it proves image-noise problems, its certification
   passes do real work (some problem needs a second pass: a row gained arcs and was solved
   again), what imm_lap_info reports is consistent, and a matrix of two levels, on which arcs
   never settle, falls back to the dense phases with a certified result (solve_checked). */
static void test_sparse_mode(void **state) {
    (void)state;
    static const size_t sizes[] = {512, 1024, 2048};
    const size_t nsizes = tu_quick() ? 2 : 3;
    int resolved = 0;
    char what[64];
    for (size_t k = 0; k < nsizes; k++) {
        const size_t n = sizes[k];
        for (uint64_t seed = 1; seed <= 2; seed++) {
            float *c = tu_image_noise_costs(n, 1024, 5150 + 7 * seed + n);
            assert_non_null(c);
            snprintf(what, sizeof what, "sparse image-noise n=%zu seed %d", n, (int)seed);
            solve_checked(c, n, n, 2, NULL, what);
            int32_t *a = malloc(n * sizeof *a);
            assert_non_null(a);
            imm_lap_info info;
            imm_options o = opts_threads(2);
            assert_int_equal(imm_lap_solve_ex(c, n, n, &o, a, NULL, NULL, &info), IMM_OK);
            print_message("%s: sparse %d, %d certification passes, %.2f passes, %lld bids, "
                          "%lld augmentations\n",
                          what, info.sparse, info.rounds, info.passes, (long long)info.bids,
                          (long long)info.augmentations);
            if (info.sparse != 1 || info.rounds < 1 || info.exact != 1)
                fail_msg("%s: not proved by the sparse mode", what);
            /* validation, column means, arcs, a certification pass, the lower bound */
            if (!(info.passes >= 5.0 && info.passes < 64.0) || info.bids <= 0)
                fail_msg("%s: %.2f passes, %lld bids", what, info.passes, (long long)info.bids);
            for (int p = 0; p < 4; p++)
                if (!(info.seconds[p] >= 0.0 && info.seconds[p] < 60.0))
                    fail_msg("%s: seconds[%d] = %g", what, p, info.seconds[p]);
            resolved += info.rounds >= 2;
            free(a);
            free(c);
        }
    }
    if (resolved == 0)
        fail_msg("no problem needed a second certification pass: the re-solve is untested");

    const size_t n = 600;
    float *c = malloc(n * n * sizeof *c);
    int32_t *a = malloc(n * sizeof *a);
    assert_true(c && a);
    /* two levels over three unique smallest values per row: not tied enough to skip the warm
       start (test_ties), tied enough to start price wars on the arcs */
    tu_rng r = tu_rng_make(77);
    levels_over_unique_min(c, n, n, 2, &r);
    const char *what2 = "{12, 13} over three unique smallest values, n = 600";
    solve_checked(c, n, n, 2, NULL, what2);
    imm_lap_info info;
    imm_options o = opts_threads(2);
    assert_int_equal(imm_lap_solve_ex(c, n, n, &o, a, NULL, NULL, &info), IMM_OK);
    print_message("%s: sparse %d, %.2f passes, %lld bids\n", what2, info.sparse, info.passes,
                  (long long)info.bids);
    if (info.sparse != 0 || info.bids == 0)
        fail_msg("%s: the sparse mode was expected to run and give up here", what2);
    free(a);
    free(c);
}

/* Matrices full of exact or near ties (lap_state.h, imi_lap_tied) skip the warm start: JV from
   v = 0, whose shortest-path search stops at a free column among those at the smallest distance.
   Checked: certified optimal results (square, wide, and square with dummy rows), no auction
   bids where the ties are detected, bids where they are not (three unique smallest values
   over 64 levels: the sparse mode with ties inside its lists). Before, 1024 x 2048 zeros took
   0.9 s and 4096 x 4096 integers in [0, 100) 19 s. */
#define TIE_PASSES_MAX 40.0 /* test_ties: 3.2-21.8 measured; a walk on ties reads n / 4 or more */

static void test_ties(void **state) {
    (void)state;
    const size_t n = tu_quick() ? 300 : 1024;
    float *c = malloc(n * 2 * n * sizeof *c);
    assert_non_null(c);
    tu_rng r = tu_rng_make(4242);
    static const char *const name[] = {"zeros", "{0, 1}", "integers [0, 10)",
                                       "integers [0, 100)", "{0, 1} + a unique row minimum",
                                       "{0, 1} + 1e-5 U(0, 1)"};
    imm_lap_info info;
    imm_options o = opts_threads(2);
    int32_t *a = malloc(n * sizeof *a);
    assert_non_null(a);
    char what[96];
    for (int k = 0; k < 6; k++) {
        const size_t cols = 2 * n;
        for (size_t i = 0; i < n * cols; i++)
            c[i] = k == 0   ? 0.0f
                   : k == 5 ? (float)tu_below(&r, 2) + 1e-5f * (float)tu_unif(&r)
                            : (float)tu_below(&r, k == 2 ? 10 : k == 3 ? 100 : 2);
        for (size_t i = 0; k == 4 && i < n; i++)
            c[i * cols + tu_below(&r, cols)] = -1.0f;
        /* square (first n columns of each row), wide, and square with dummy rows */
        const size_t shapes[3][2] = {{n, n}, {n, cols}, {n - n / 10, n}};
        for (int sh = 0; sh < 3; sh++) {
            const size_t rows = shapes[sh][0], w = shapes[sh][1];
            float *m = malloc(rows * w * sizeof *m);
            assert_non_null(m);
            for (size_t i = 0; i < rows; i++)
                memcpy(m + i * w, c + i * cols, w * sizeof *m);
            snprintf(what, sizeof what, "ties: %s, %zu x %zu", name[k], rows, w);
            solve_checked(m, rows, w, 2, NULL, what);
            assert_int_equal(imm_lap_solve_ex(m, rows, w, &o, a, NULL, NULL, &info), IMM_OK);
            print_message("%s: %.2f passes, %lld bids\n", what, info.passes, (long long)info.bids);
            /* wide problems never bid; the square ones would, had the ties gone unseen */
            if (sh != 1 && info.bids != 0)
                fail_msg("%s: %lld auction bids: the ties were not detected", what,
                         (long long)info.bids);
            /* Dijkstra's relaxations count as passes: a search that walked the assigned
               columns at the smallest distance instead of taking a free one reads about half
               of the rows each time (n / 4 passes and more) */
            if (!(info.passes < TIE_PASSES_MAX))
                fail_msg("%s: %.2f passes: the searches did not stop at free columns", what,
                         info.passes);
            free(m);
        }
    }
    /* from 4096 columns, where the tied path runs without the candidate lists: certified */
    if (!tu_quick()) {
        const size_t big = 4100;
        float *m = malloc(big * big * sizeof *m);
        assert_non_null(m);
        for (size_t i = 0; i < big * big; i++)
            m[i] = (float)tu_below(&r, 100);
        solve_checked(m, big, big, 2, NULL, "ties: integers [0, 100), 4100 x 4100");
        free(m);
    }
    /* 64 levels over three unique smallest values per row: not "tied", warm start and sparse */
    levels_over_unique_min(c, n, n, 64, &r);
    solve_checked(c, n, n, 2, NULL, "64 levels over three unique smallest values");
    assert_int_equal(imm_lap_solve_ex(c, n, n, &o, a, NULL, NULL, &info), IMM_OK);
    if (info.bids == 0)
        fail_msg("64 levels over three unique smallest values: taken for a tied matrix");
    free(a);
    free(c);
}

static void test_determinism(void **state) {
    (void)state;
    size_t n = tu_quick() ? 512 : 1024;
    float *c = tu_image_noise_costs(n, 3072, 2024);
    assert_non_null(c);
    check_deterministic(c, n, n, "image-noise");
    free(c);

    /* heavy ties: small integers, a constant matrix, rectangular ties */
    n = 300;
    c = malloc(n * n * sizeof *c);
    assert_non_null(c);
    tu_rng r = tu_rng_make(8);
    for (size_t i = 0; i < n * n; i++)
        c[i] = (float)tu_below(&r, 3);
    check_deterministic(c, n, n, "ties 0..2");
    check_deterministic(c, n / 3, n, "rectangular ties");
    for (size_t i = 0; i < n * n; i++)
        c[i] = 1.0f;
    check_deterministic(c, n, n, "constant");
    free(c);
}

/* The same assignments on every CPU: the solver's SIMD variants (IMM_ARCH=scalar|avx2|avx512)
 * must return bitwise the same assignments and totals (tu_check_variant: one test per variant). */
static void dump_results(FILE *f) {
    static const size_t shapes[][3] = {
        /* rows, cols, kind: 0 image-noise 1 ties 2 uniform 3 steps of one float ulp at 2^20,
           4 integers below 64, 5 and 6 few levels, 7 64 levels over unique minima (below) */
        {256, 256, 0}, {200, 200, 1}, {60, 200, 1},   {500, 500, 2},
        {37, 37, 1},   {300, 301, 2}, {4100, 4100, 2}, /* candidate lists from 4096 on */
        {1024, 1024, 0}, {600, 600, 1}, /* sparse mode; sparse mode giving up */
        {1500, 1500, 3}, /* reduced costs closer than float resolves: the float screens */
        {1024, 1024, 4},   /* 64 cost levels: ties inside the sparse mode's lists */
        /* few levels, plus a diagonal pattern (5) or halves and a small integer (6): runs of
           equal reduced costs inside one lane of the list minima, where the runner-up's column
           decides which optimal assignment ARR reaches (a runner-up that ignored the column
           order returned another one on each of these matrices) */
        {600, 600, 5},     {600, 600, 6},    {1024, 1024, 5}, {1024, 1024, 6},
        /* kinds 1 and 4-6 are exact ties (imi_lap_tied: JV from v = 0); 7 keeps 64 levels but
           gives each row three unique smallest values, so the warm start and the sparse mode
           run with ties inside the lists */
        {1024, 1024, 7}, {600, 600, 7}, {4100, 4100, 4},
        /* 8: an image-noise pool (the wide warm start, lap_exact.c) */
        {300, 700, 8}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t rows = shapes[s][0], cols = shapes[s][1], kind = shapes[s][2];
        float *c;
        if (kind == 0) {
            c = tu_image_noise_costs(rows, 3072, 777);
        } else if (kind == 8) {
            c = pool_costs(rows, cols, 778);
        } else {
            tu_rng r = tu_rng_make(700 + s);
            c = malloc(rows * cols * sizeof *c);
            for (size_t i = 0; c != NULL && i < rows * cols; i++)
                c[i] = kind == 1   ? (float)tu_below(&r, 3)
                       : kind == 3 ? 0x1p20f + 0.125f * (float)tu_below(&r, 400)
                       : kind == 4 ? (float)tu_below(&r, 64)
                       : kind == 5 ? (float)(tu_below(&r, 8) + (i / cols + i % cols) % 7)
                       : kind == 6 ? 0.5f * (float)tu_below(&r, 12) + (float)tu_below(&r, 3)
                                   : (float)tu_unif(&r);
            if (c != NULL && kind == 7)
                levels_over_unique_min(c, rows, cols, 64, &r);
        }
        int32_t *a = malloc(rows * sizeof *a);
        double total = 0;
        int st = c != NULL && a != NULL ? imm_lap_solve(c, rows, cols, NULL, a, &total) : -100;
        fwrite(&st, sizeof st, 1, f);
        if (st == IMM_OK) {
            fwrite(a, sizeof *a, rows, f);
            fwrite(&total, sizeof total, 1, f);
        }
        free(a);
        free(c);
    }
}

/* test_same_on_variant_{scalar,avx2,avx512}: each variant in a child, compared with this run. */
TU_VARIANT_TESTS(dump_results)

static void test_trivial_sizes(void **state) {
    (void)state;
    double total = -1, u[2] = {7, 7}, v[5] = {7, 7, 7, 7, 7};
    int32_t a[2] = {-7, -7};
    float c5[5] = {3.0f, -1.5f, 2.0f, -1.5f, 8.0f};

    /* rows == 0: OK, total 0, cost and assign may be NULL */
    assert_int_equal(imm_lap_solve(NULL, 0, 0, NULL, NULL, &total), IMM_OK);
    assert_true(total == 0.0);
    total = -1;
    assert_int_equal(imm_lap_solve(NULL, 0, 5, NULL, NULL, &total), IMM_OK);
    assert_true(total == 0.0);
    total = -1;
    assert_int_equal(imm_lap_solve(c5, 0, 5, NULL, a, &total), IMM_OK);
    assert_true(total == 0.0);
    assert_int_equal(a[0], -7);
    assert_int_equal(imm_lap_solve(NULL, 0, 0, NULL, NULL, NULL), IMM_OK);
    total = -1;
    assert_int_equal(imm_lap_solve_dual(NULL, 0, 0, NULL, NULL, NULL, NULL, &total), IMM_OK);
    assert_true(total == 0.0);

    /* 1 x 1 */
    float c1 = -2.5f;
    assert_int_equal(imm_lap_solve_dual(&c1, 1, 1, NULL, a, u, v, &total), IMM_OK);
    assert_int_equal(a[0], 0);
    assert_true(total == -2.5);
    assert_true(fabs(u[0] + v[0] + 2.5) <= 1e-15);
    assert_int_equal(imm_lap_solve(&c1, 1, 1, NULL, a, NULL), IMM_OK); /* total may be NULL */
    assert_int_equal(a[0], 0);

    /* 1 x 5 with a tie: one of the two minima, total -1.5, certificate holds */
    solve_checked(c5, 1, 5, 1, a, "1x5");
    assert_true(a[0] == 1 || a[0] == 3);
    /* 2 x 2 */
    float c4[4] = {1.0f, 2.0f, 2.0f, 10.0f};
    assert_true(solve_checked(c4, 2, 2, 1, a, "2x2") == 4.0);
    assert_true(a[0] == 1 && a[1] == 0);
}

/* Wide-range, huge and denormal costs: optimal by certificate (in solve_checked) and by brute
 * force within the documented bound. Purely scaled problems must be exact like unscaled ones. */
static void test_wide_range(void **state) {
    (void)state;
    static const double scales[] = {1e-20, 1e20, 1e-40 /* denormal floats */, 1e38, -1e38};
    float c[64];
    char what[96];
    for (size_t sc = 0; sc < sizeof scales / sizeof scales[0]; sc++)
        for (size_t n = 1; n <= 7; n++)
            for (int s = 0; s < 8; s++) {
                tu_rng r = tu_rng_make(60000 + 100 * sc + 10 * n + (uint64_t)s);
                for (size_t i = 0; i < n * n; i++)
                    c[i] = (float)(scales[sc] * (1.0 + tu_unif(&r)));
                snprintf(what, sizeof what, "uniform x %g seed %d", scales[sc], s);
                compare_brute(c, n, n, 1, what);
            }

    static const float specials[] = {1e-20f, 3e-20f, 1e20f,   7e19f, -1e20f, -FLT_MAX, FLT_MAX,
                                     1e-40f, 1e-45f, -1e-40f, 0.0f,  -0.0f,  1e38f,    -3e38f};
    for (size_t n = 1; n <= 7; n++)
        for (int s = 0; s < 40; s++) {
            tu_rng r = tu_rng_make(70000 + 100 * n + (uint64_t)s);
            for (size_t i = 0; i < n * n; i++)
                c[i] = tu_below(&r, 2) ? (float)tu_normal(&r)
                                       : specials[tu_below(&r, sizeof specials / sizeof *specials)];
            snprintf(what, sizeof what, "wide-range mix seed %d", s);
            compare_brute(c, n, n, 0, what);
            compare_brute(c, n - n / 2, n, 0, what); /* rectangular */
        }

    /* larger: certificate only */
    size_t n = 300;
    float *big = malloc(n * n * sizeof *big);
    assert_non_null(big);
    for (int s = 0; s < 3; s++) {
        tu_rng r = tu_rng_make(80000 + (uint64_t)s);
        for (size_t i = 0; i < n * n; i++) {
            uint64_t pick = tu_below(&r, 10);
            big[i] = pick < 7   ? (float)tu_unif(&r)
                     : pick < 9 ? (float)(tu_unif(&r) * (s == 0   ? 1e20
                                                         : s == 1 ? -1e20
                                                                  : 1e-30))
                                : specials[tu_below(&r, sizeof specials / sizeof *specials)];
        }
        snprintf(what, sizeof what, "300x300 wide-range seed %d", s);
        solve_checked(big, n, n, 0, NULL, what);
    }
    /* All denormal: the certificate's 1e-30 slack is larger than every cost, so compare with
     * the same problem scaled by 2^140 (exact for floats and doubles): same optimum, scaled. */
    float *scaled = malloc(n * n * sizeof *scaled);
    assert_non_null(scaled);
    tu_rng r = tu_rng_make(81000);
    for (size_t i = 0; i < n * n; i++) {
        big[i] = (float)(1e-40 * tu_unif(&r));
        scaled[i] = ldexpf(big[i], 140);
    }
    double td = ldexp(solve_checked(big, n, n, 0, NULL, "300x300 denormal"), 140);
    double ts = solve_checked(scaled, n, n, 0, NULL, "300x300 denormal x 2^140");
    double tol = 2.0 * (double)n * 1e-9 * tu_max_abs(scaled, n * n) + 1e-12 * fabs(ts);
    if (fabs(td - ts) > tol)
        fail_msg("denormal problem: total x 2^140 = %.17g, scaled problem's optimum %.17g", td, ts);
    free(scaled);
    free(big);
}

int main(int argc, char **argv) {
    if (tu_dump_main(argc, argv, dump_results)) /* a child of the SIMD-variant test */
        return 0;
    tu_arch_start("test_lap");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trivial_sizes),
        cmocka_unit_test(test_brute_force_square),
        cmocka_unit_test(test_brute_force_rectangular),
        cmocka_unit_test(test_wide_range),
        cmocka_unit_test(test_certify_rejects_nonoptimal),
        cmocka_unit_test(test_certificate_uniform),
        cmocka_unit_test(test_certificate_structured),
        cmocka_unit_test(test_certificate_image_noise),
        cmocka_unit_test(test_certificate_image_noise_rectangular),
        cmocka_unit_test(test_wide_warm_start),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_sparse_mode),
        TU_VARIANT_UNIT_TESTS,
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
