/*
 * test_distance.c - imm_distance against a double-precision reference computed here.
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

/* n images, m rows of noise, and a few rows that nearly coincide (small d, large norms: where
 * cancellation hurts) or coincide exactly (d == 0). x and y are n x dim and m x dim. */
static void make_data(float *x, size_t n, float *y, size_t m, size_t dim, uint64_t seed) {
    tu_rng r = tu_rng_make(seed);
    tu_images(x, n, dim, &r);
    tu_noise(y, m, dim, &r);
    for (size_t j = 0; j < m && j < n; j += 3) { /* y_j = x_j + tiny perturbation */
        for (size_t k = 0; k < dim; k++)
            y[j * dim + k] = x[j * dim + k] + (float)(1e-3 * tu_normal(&r));
    }
    if (m > 1 && n > 1)
        memcpy(y + dim, x + dim, dim * sizeof *y); /* identical rows */
    if (n > 2)                                     /* a shifted, scaled row: large norm */
        for (size_t k = 0; k < dim; k++)
            x[2 * dim + k] = 30.0f + 5.0f * x[2 * dim + k];
}

/* Checks out (n x m) against the double reference with the tolerances of the test plan:
 * |dhat^2 - d^2| <= 1e-6 (|x|^2 + |y|^2) everywhere, relative error <= 1e-5 where
 * d >= 0.1 sqrt(|x|^2 + |y|^2). scale multiplies both tolerances (reduced precisions). */
static void check_values(const float *x, size_t n, const float *y, size_t m, size_t dim,
                         imm_metric metric, const float *out, double scale, const char *what) {
    for (size_t i = 0; i < n; i++) {
        double nx = tu_sqnorm(x + i * dim, dim);
        for (size_t j = 0; j < m; j++) {
            double s = nx + tu_sqnorm(y + j * dim, dim);
            double d2 = tu_sqdist(x + i * dim, y + j * dim, dim), d = sqrt(d2);
            double got = (double)out[i * m + j];
            double got2 = metric == IMM_METRIC_L2 ? got * got : got;
            double want = metric == IMM_METRIC_L2 ? d : d2;
            if (!isfinite(got) || got < 0 || fabs(got2 - d2) > scale * 1e-6 * s)
                fail_msg("%s: (%zu,%zu) dim %zu: got %.9g, reference %.17g (abs tolerance)", what,
                         i, j, dim, got, want);
            if (d >= 0.1 * sqrt(s) && fabs(got - want) > scale * 1e-5 * want)
                fail_msg("%s: (%zu,%zu) dim %zu: got %.9g, reference %.17g (rel tolerance)", what,
                         i, j, dim, got, want);
        }
    }
}

/* Runs imm_distance on unaligned copies (offset by one float) when `unaligned`. */
static void run_case(size_t n, size_t m, size_t dim, int unaligned, uint64_t seed) {
    size_t off = unaligned ? 1 : 0;
    float *xb = malloc((n * dim + 1) * sizeof *xb), *yb = malloc((m * dim + 1) * sizeof *yb);
    float *ob = malloc((n * m + 1) * sizeof *ob);
    assert_non_null(xb);
    assert_non_null(yb);
    assert_non_null(ob);
    float *x = xb + off, *y = yb + off, *out = ob + off;
    make_data(x, n, y, m, dim, seed);
    char what[96];
    for (int metric = 0; metric < 2; metric++) {
        imm_options o = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, (imm_metric)metric, 0);
        memset(ob, 0xff, (n * m + 1) * sizeof *ob);
        int st = imm_distance(x, n, y, m, dim, &o, out);
        snprintf(what, sizeof what, "%s n=%zu m=%zu%s", metric ? "SQL2" : "L2", n, m,
                 unaligned ? " unaligned" : "");
        if (st != IMM_OK)
            fail_msg("%s dim %zu: status %d (%s)", what, dim, st, imm_strerror(st));
        check_values(x, n, y, m, dim, (imm_metric)metric, out, 1.0, what);
        if (unaligned) { /* the float before out is not written */
            uint32_t before;
            memcpy(&before, ob, sizeof before);
            assert_true(before == 0xffffffffu);
        }
    }
    free(xb);
    free(yb);
    free(ob);
}

static void test_against_reference(void **state) {
    (void)state;
    static const size_t dims[] = {1, 7, 64, 784, 3072, 4097};
    static const size_t shapes[][2] = {{1, 1}, {1, 13}, {13, 1}, {17, 33}, {31, 9}, {64, 65}};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int unaligned = 0; unaligned < 2; unaligned++)
                run_case(shapes[s][0], shapes[s][1], dims[d], unaligned,
                         100 * d + 10 * s + (uint64_t)unaligned);
}

/* Header note 2, FP32: d^2 = (|x|^2 + |y|^2) - 2 x.y in double, the dot product in blocks of 256
 * dimensions with one fp32 FMA chain per block (increasing k) and the block sums added in
 * fp32, in block order; below 1/16 of |x|^2 + |y|^2 the sum of (x_k - y_k)^2 in double instead;
 * clamped at 0, rounded to float, for L2 the float square root of that float (the double root,
 * rounded, when the float would be subnormal or d^2 exceeds FLT_MAX). Only the summation order
 * of the double norms is left open, so the output must be the rounding of a value within 1e-12
 * (relative) of this reference, taking either branch when d^2 sits at the threshold. */
static double note2_dot(const float *x, const float *y, size_t dim) {
    float dot = 0.0f;
    for (size_t k0 = 0; k0 < dim; k0 += 256) {
        float acc = 0.0f;
        for (size_t k = k0; k < dim && k < k0 + 256; k++)
            acc = fmaf(x[k], y[k], acc);
        dot = k0 == 0 ? acc : dot + acc;
    }
    return (double)dot;
}

/* L2 from the clamped d^2 v, as note 2 words it. */
static float note2_root(double v) {
    if (v == 0.0 || (v >= 0x1p-126 && v <= (double)FLT_MAX))
        return sqrtf((float)v);
    return (float)sqrt(v);
}

static int matches_note2(float got, const float *x, const float *y, size_t dim, int root) {
    double s = tu_sqnorm(x, dim) + tu_sqnorm(y, dim);
    double formula = s - 2.0 * note2_dot(x, y, dim), direct = tu_sqdist(x, y, dim);
    double cand[2] = {formula < s / 16 ? direct : formula, NAN};
    if (fabs(formula - s / 16) <= 1e-9 * s) /* at the threshold: either branch */
        cand[1] = formula < s / 16 ? formula : direct;
    for (int c = 0; c < 2 && !isnan(cand[c]); c++)
        for (int side = -1; side <= 1; side += 2) {
            double v = fmax(cand[c], 0.0) * (1.0 + side * 1e-12);
            if (got == (root ? note2_root(v) : (float)v))
                return 1;
        }
    return 0;
}

static void test_fp32_arithmetic(void **state) {
    (void)state;
    static const size_t dims[] = {1, 7, 64, 255, 256, 257, 784, 3072, 4097};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        size_t n = 9, m = 11, dim = dims[d], bad = 0;
        float *x = malloc(n * dim * sizeof *x), *y = malloc(m * dim * sizeof *y);
        float out[9 * 11];
        assert_non_null(x);
        assert_non_null(y);
        make_data(x, n, y, m, dim, 4711 + d);
        for (int metric = 0; metric < 2; metric++) {
            imm_options o = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, (imm_metric)metric, 1);
            assert_int_equal(imm_distance(x, n, y, m, dim, &o, out), IMM_OK);
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < m; j++) {
                    const float *xi = x + i * dim, *yj = y + j * dim;
                    float got = out[i * m + j];
                    if (!matches_note2(got, xi, yj, dim, metric == IMM_METRIC_L2) && bad++ == 0)
                        print_message("dim %zu %s (%zu,%zu): got %.9g, header note 2 gives "
                                      "%.9g\n",
                                      dim, metric ? "SQL2" : "L2", i, j, (double)got,
                                      metric ? tu_sqdist(xi, yj, dim)
                                             : sqrt(tu_sqdist(xi, yj, dim)));
                }
        }
        free(x);
        free(y);
        if (bad > 0)
            fail_msg("dim %zu: %zu of %zu distances differ from the arithmetic of note 2", dim, bad,
                     2 * n * m);
    }
}

/* Large but finite: a distance is an error only if it overflows float (header: NONFINITE for
 * "a distance that overflows float"), not because the inputs are large. */
static void test_large_finite_inputs(void **state) {
    (void)state;
    float x[2] = {1e19f, -1e19f}, y[2] = {1e19f, -1e19f}, out[1] = {-1.0f};
    for (int metric = 0; metric < 2; metric++) {
        imm_options o = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, (imm_metric)metric, 1);
        out[0] = -1.0f;
        assert_int_equal(imm_distance(x, 1, y, 1, 2, &o, out), IMM_OK); /* d = 0 */
        assert_true(out[0] == 0.0f);
    }
    float a = 1.5e19f, z = 0.0f; /* d^2 = 2.25e38 < FLT_MAX */
    imm_options sq = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, IMM_METRIC_SQL2, 1);
    assert_int_equal(imm_distance(&a, 1, &z, 1, 1, &sq, out), IMM_OK);
    assert_true(fabs((double)out[0] - (double)a * a) <= 1e-5 * (double)a * a);
    float big = 1e38f, big2 = 2e38f; /* L2 = 1e38, SQL2 would overflow */
    imm_options l2 = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, IMM_METRIC_L2, 1);
    int st = imm_distance(&big, 1, &big2, 1, 1, &l2, out);
    assert_true(st == IMM_OK || st == IMM_ERR_NONFINITE); /* d^2 overflows before the root */
    if (st == IMM_OK && fabs((double)out[0] - 1e38) > 1e-5 * 1e38)
        fail_msg("L2(1e38, 2e38) = %.9g, expected 1e38", (double)out[0]);
}

static void test_empty_and_invalid(void **state) {
    (void)state;
    float x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {0, 1, 0, 1, 0, 1}, out[4], sent[4];
    memset(sent, 0x5a, sizeof sent);

    /* n == 0 or m == 0 writes nothing */
    memcpy(out, sent, sizeof out);
    assert_int_equal(imm_distance(x, 0, y, 2, 3, NULL, out), IMM_OK);
    assert_int_equal(imm_distance(x, 2, y, 0, 3, NULL, out), IMM_OK);
    assert_int_equal(imm_distance(NULL, 0, y, 2, 3, NULL, out), IMM_OK);
    assert_int_equal(imm_distance(x, 2, NULL, 0, 3, NULL, out), IMM_OK);
    assert_int_equal(imm_distance(x, 0, y, 0, 0, NULL, out), IMM_OK);
    assert_memory_equal(out, sent, sizeof out);

    /* dim 0 with a non-empty problem */
    assert_int_equal(imm_distance(x, 2, y, 2, 0, NULL, out), IMM_ERR_INVALID_ARG);
    assert_memory_equal(out, sent, sizeof out);

    /* NaN / Inf in x or y: NONFINITE, out untouched */
    static const float bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t b = 0; b < 3; b++)
        for (size_t pos = 0; pos < 6; pos += 5)
            for (int which = 0; which < 2; which++) {
                float xx[6], yy[6];
                memcpy(xx, x, sizeof xx);
                memcpy(yy, y, sizeof yy);
                (which ? yy : xx)[pos] = bad[b];
                for (int metric = 0; metric < 2; metric++) {
                    imm_options o =
                        tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, (imm_metric)metric, 0);
                    assert_int_equal(imm_distance(xx, 2, yy, 2, 3, &o, out), IMM_ERR_NONFINITE);
                    assert_memory_equal(out, sent, sizeof out);
                }
            }

    /* a distance that overflows float: NONFINITE */
    float big[2] = {3e38f, -3e38f}, hx[2] = {2e19f, 0.0f}, zero[2] = {0.0f, 0.0f};
    for (int metric = 0; metric < 2; metric++) {
        imm_options o = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, (imm_metric)metric, 0);
        assert_int_equal(imm_distance(big, 1, big + 1, 1, 1, &o, out), IMM_ERR_NONFINITE);
        assert_memory_equal(out, sent, sizeof out);
    }
    imm_options sq = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, IMM_METRIC_SQL2, 0);
    assert_int_equal(imm_distance(hx, 1, zero, 1, 2, &sq, out), IMM_ERR_NONFINITE);
    assert_memory_equal(out, sent, sizeof out);
}

/* |x~ - x| for one row in a reduced precision (header note 5). */
static double rounding_bound(const float *x, size_t dim, imm_precision p) {
    double norm = sqrt(tu_sqnorm(x, dim)), amax = 0;
    for (size_t k = 0; k < dim; k++)
        amax = fmax(amax, fabs((double)x[k]));
    switch (p) {
    case IMM_PRECISION_FP16: return 0x1p-11 * norm + 0x1p-25 * sqrt((double)dim);
    case IMM_PRECISION_INT8: return amax * sqrt((double)dim) / 254.0;
    default: return 0x1p-8 * norm + 0x1p-40 * sqrt((double)dim); /* BF16 */
    }
}

/* FP16, BF16, INT8 against the unrounded rows, with the bounds of header note 5: the rows move
 * by |x~ - x| at most, then the fp32 accuracy bounds apply to the rounded rows. Every precision
 * is served: each must return IMM_OK. */
static void test_reduced_precision(void **state) {
    (void)state;
    size_t n = 5, m = 7, dim = 784;
    float *x = malloc(n * dim * sizeof *x), *y = malloc(m * dim * sizeof *y);
    float out[35], sent[35];
    assert_non_null(x);
    assert_non_null(y);
    make_data(x, n, y, m, dim, 99);
    memset(sent, 0x5a, sizeof sent);
    static const imm_precision precs[] = {IMM_PRECISION_FP16, IMM_PRECISION_BF16,
                                          IMM_PRECISION_INT8};
    static const char *const pname[] = {"FP16", "BF16", "INT8"};
    for (size_t p = 0; p < 3; p++)
        for (int metric = 0; metric < 2; metric++) {
            imm_options o = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, (imm_metric)metric, 0);
            o.precision = precs[p];
            memcpy(out, sent, sizeof out);
            assert_int_equal(imm_distance(x, n, y, m, dim, &o, out), IMM_OK);
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < m; j++) {
                    const float *xi = x + i * dim, *yj = y + j * dim;
                    double e =
                        rounding_bound(xi, dim, precs[p]) + rounding_bound(yj, dim, precs[p]);
                    double nx = sqrt(tu_sqnorm(xi, dim)) + e, ny = sqrt(tu_sqnorm(yj, dim)) + e;
                    double s = nx * nx + ny * ny; /* bounds |x~|^2 + |y~|^2 */
                    double d = sqrt(tu_sqdist(xi, yj, dim)), got = out[i * m + j];
                    double err = metric == IMM_METRIC_L2 ? fabs(got - d) : fabs(got - d * d);
                    double tol =
                        metric == IMM_METRIC_L2 ? e + sqrt(1e-6 * s) : 1e-6 * s + e * (2.0 * d + e);
                    if (!(err <= tol))
                        fail_msg("%s %s (%zu,%zu): got %.9g, unrounded distance %.9g, error "
                                 "%.3g > bound %.3g",
                                 pname[p], metric ? "SQL2" : "L2", i, j, got, d, err, tol);
                }
        }
    free(x);
    free(y);
}

/* Results never depend on the number of threads: bitwise equal for 1, 2, 4 (and default). */
static void test_thread_invariance(void **state) {
    (void)state;
    size_t n = 129, m = 257, dim = tu_quick() ? 784 : 3072;
    float *x = malloc(n * dim * sizeof *x), *y = malloc(m * dim * sizeof *y);
    float *ref = malloc(n * m * sizeof *ref), *out = malloc(n * m * sizeof *out);
    assert_non_null(x);
    assert_non_null(y);
    assert_non_null(ref);
    assert_non_null(out);
    make_data(x, n, y, m, dim, 123);
    static const int threads[] = {2, 4, 0, 3};
    for (int metric = 0; metric < 2; metric++) {
        imm_options o = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, (imm_metric)metric, 1);
        assert_int_equal(imm_distance(x, n, y, m, dim, &o, ref), IMM_OK);
        check_values(x, n, y, m, dim, (imm_metric)metric, ref, 1.0, "thread reference");
        for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
            o.num_threads = threads[t];
            memset(out, 0, n * m * sizeof *out);
            assert_int_equal(imm_distance(x, n, y, m, dim, &o, out), IMM_OK);
            if (memcmp(out, ref, n * m * sizeof *out) != 0)
                fail_msg("metric %d: num_threads %d differs from 1 thread", metric, threads[t]);
        }
    }
    free(x);
    free(y);
    free(ref);
    free(out);
}

/* x and y may be the same buffer (a Gram-style distance matrix): d(x_i, x_i) == 0. */
static void test_same_input(void **state) {
    (void)state;
    size_t n = 10, dim = 64;
    float x[10 * 64], out[100];
    tu_rng r = tu_rng_make(5);
    tu_noise(x, n, dim, &r);
    for (int metric = 0; metric < 2; metric++) {
        imm_options o = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, (imm_metric)metric, 0);
        assert_int_equal(imm_distance(x, n, x, n, dim, &o, out), IMM_OK);
        check_values(x, n, x, n, dim, (imm_metric)metric, out, 1.0, "x vs x");
        for (size_t i = 0; i < n; i++)
            assert_true(out[i * n + i] == 0.0f);
    }
}

/* Every SIMD variant returns bitwise the same distances (imm_simd_arch). */
static void dump_results(FILE *f) {
    static const size_t dims[] = {1, 7, 64, 784, 3072, 4097};
    static const imm_precision precs[] = {IMM_PRECISION_FP32, IMM_PRECISION_FP16,
                                          IMM_PRECISION_INT8};
    size_t n = 17, m = 33;
    float *x = malloc(n * 4097 * sizeof *x), *y = malloc(m * 4097 * sizeof *y);
    float out[17 * 33];
    for (size_t d = 0; x != NULL && y != NULL && d < sizeof dims / sizeof dims[0]; d++) {
        make_data(x, n, y, m, dims[d], 3000 + d);
        for (int metric = 0; metric < 2; metric++)
            for (size_t p = 0; p < 3; p++) {
                imm_options o =
                    tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, (imm_metric)metric, 0);
                o.precision = precs[p];
                memset(out, 0, sizeof out);
                int st = imm_distance(x, n, y, m, dims[d], &o, out);
                fwrite(&st, sizeof st, 1, f);
                fwrite(out, sizeof out, 1, f);
            }
    }
    free(x);
    free(y);
}

/* test_same_on_variant_{scalar,avx2,avx512}: each variant in a child, compared with this run. */
TU_VARIANT_TESTS(dump_results)

int main(int argc, char **argv) {
    if (tu_dump_main(argc, argv, dump_results)) /* a child of the SIMD-variant test */
        return 0;
    tu_arch_start("test_distance");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_reference),   cmocka_unit_test(test_fp32_arithmetic),
        cmocka_unit_test(test_large_finite_inputs), cmocka_unit_test(test_empty_and_invalid),
        cmocka_unit_test(test_reduced_precision),   cmocka_unit_test(test_thread_invariance),
        cmocka_unit_test(test_same_input),          TU_VARIANT_UNIT_TESTS,
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
