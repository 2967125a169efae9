/* test_select.c - noise selection beyond the batch permutation: KNN (nearest of k candidates)
 * and pools (B distinct rows out of K >= B), against brute force. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include <immiscible.h>

#include "testutil.h"

/* The candidate the documented rule picks, from imm_distance of the same options. */
static int32_t nearest_by_imm_distance(const float *x, const float *cand, size_t k, size_t dim,
                                       const imm_options *o) {
    float d[64];
    assert_true(k <= 64);
    assert_int_equal(imm_distance(x, 1, cand, k, dim, o, d), IMM_OK);
    int32_t best = 0;
    for (size_t t = 1; t < k; t++)
        if (d[t] < d[best])
            best = (int32_t)t;
    return best;
}

static void test_knn_brute_force(void **state) {
    (void)state;
    const size_t batch = 37, dims[] = {1, 7, 64, 784};
    const size_t ks[] = {1, 2, 5, 16};
    tu_rng r = tu_rng_make(21);
    for (size_t di = 0; di < 4; di++)
        for (size_t ki = 0; ki < 4; ki++) {
            size_t dim = dims[di], k = ks[ki];
            float *x = malloc(batch * dim * sizeof(float));
            float *cand = malloc(batch * k * dim * sizeof(float));
            float *out = malloc(batch * dim * sizeof(float));
            int32_t idx[37];
            tu_images(x, batch, dim, &r);
            tu_noise(cand, batch * k, dim, &r);
            for (int metric = 0; metric < 2; metric++) {
                imm_options o;
                imm_options_init(&o);
                o.metric = (imm_metric)metric;
                assert_int_equal(imm_select_noise_knn(x, batch, cand, k, dim, &o, out, idx),
                                 IMM_OK);
                for (size_t i = 0; i < batch; i++) {
                    const float *ci = cand + i * k * dim;
                    /* exact in double: the chosen one is nearest up to float rounding */
                    double dbest = INFINITY;
                    for (size_t t = 0; t < k; t++)
                        dbest = fmin(dbest, tu_sqdist(x + i * dim, ci + t * dim, dim));
                    double dgot = tu_sqdist(x + i * dim, ci + (size_t)idx[i] * dim, dim);
                    assert_true(dgot <= dbest * (1 + 1e-5) + 1e-6);
                    /* and exactly the one the library's own distances rank first */
                    assert_int_equal(idx[i], nearest_by_imm_distance(x + i * dim, ci, k, dim, &o));
                    assert_memory_equal(out + i * dim, ci + (size_t)idx[i] * dim,
                                        dim * sizeof(float));
                }
            }
            free(x);
            free(cand);
            free(out);
        }
}

static void test_knn_ties_threads_ctx(void **state) {
    (void)state;
    const size_t batch = 300, k = 4, dim = 96;
    tu_rng r = tu_rng_make(22);
    float *x = malloc(batch * dim * sizeof(float)), *cand = malloc(batch * k * dim * sizeof(float));
    float *o1 = malloc(batch * dim * sizeof(float)), *o2 = malloc(batch * dim * sizeof(float));
    int32_t *i1 = malloc(batch * sizeof(int32_t)), *i2 = malloc(batch * sizeof(int32_t));
    tu_images(x, batch, dim, &r);
    tu_noise(cand, batch * k, dim, &r);
    /* image 0: all candidates equal -> the first one */
    for (size_t t = 1; t < k; t++)
        memcpy(cand + t * dim, cand, dim * sizeof(float));
    imm_options o;
    imm_options_init(&o);
    o.num_threads = 1;
    assert_int_equal(imm_select_noise_knn(x, batch, cand, k, dim, &o, o1, i1), IMM_OK);
    assert_int_equal(i1[0], 0);
    for (int t = 2; t <= 4; t += 2) {
        o.num_threads = t;
        assert_int_equal(imm_select_noise_knn(x, batch, cand, k, dim, &o, o2, i2), IMM_OK);
        assert_memory_equal(i1, i2, batch * sizeof(int32_t));
        assert_memory_equal(o1, o2, batch * dim * sizeof(float));
    }
    imm_ctx *ctx;
    assert_int_equal(imm_ctx_create(&ctx, &o), IMM_OK);
    for (int rep = 0; rep < 2; rep++) { /* warm and cold */
        assert_int_equal(imm_ctx_select_noise_knn(ctx, x, batch, cand, k, dim, o2, i2), IMM_OK);
        assert_memory_equal(i1, i2, batch * sizeof(int32_t));
    }
    imm_ctx_free(ctx);
    free(x);
    free(cand);
    free(o1);
    free(o2);
    free(i1);
    free(i2);
}

static void test_knn_errors(void **state) {
    (void)state;
    float x[8] = {0}, cand[16] = {0}, out[8];
    int32_t idx[2] = {-5, -5};
    for (size_t t = 0; t < 8; t++)
        out[t] = 42.0f;
    assert_int_equal(imm_select_noise_knn(NULL, 2, cand, 2, 4, NULL, out, idx), IMM_ERR_INVALID_ARG);
    assert_int_equal(imm_select_noise_knn(x, 2, NULL, 2, 4, NULL, out, idx), IMM_ERR_INVALID_ARG);
    assert_int_equal(imm_select_noise_knn(x, 2, cand, 2, 4, NULL, NULL, idx), IMM_ERR_INVALID_ARG);
    assert_int_equal(imm_select_noise_knn(x, 2, cand, 0, 4, NULL, out, idx), IMM_ERR_INVALID_ARG);
    assert_int_equal(imm_select_noise_knn(x, 2, cand, 2, 0, NULL, out, idx), IMM_ERR_INVALID_ARG);
    assert_int_equal(imm_select_noise_knn(x, SIZE_MAX / 2, cand, 2, 4, NULL, out, idx),
                     IMM_ERR_TOO_LARGE);
    assert_int_equal(imm_ctx_select_noise_knn(NULL, x, 2, cand, 2, 4, out, idx),
                     IMM_ERR_INVALID_ARG);
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t b = 0; b < 3; b++) {
        cand[15] = bad[b];
        assert_int_equal(imm_select_noise_knn(x, 2, cand, 2, 4, NULL, out, idx), IMM_ERR_NONFINITE);
        cand[15] = 0;
        x[0] = bad[b];
        assert_int_equal(imm_select_noise_knn(x, 2, cand, 2, 4, NULL, out, idx), IMM_ERR_NONFINITE);
        x[0] = 0;
    }
    for (size_t t = 0; t < 8; t++)
        assert_true(out[t] == 42.0f);
    assert_int_equal(idx[0], -5);
    assert_int_equal(idx[1], -5);
    assert_int_equal(imm_select_noise_knn(x, 0, NULL, 0, 0, NULL, NULL, NULL), IMM_OK);
}

/* Pools: the chosen rows minimise the total distance (brute force over injections, on the
   library's own distances), exact for the exact solver and within the bound for the auction. */
static void test_pool_brute_force(void **state) {
    (void)state;
    tu_rng r = tu_rng_make(23);
    const size_t dim = 24;
    for (int it = 0; it < 200; it++) {
        size_t batch = 1 + tu_below(&r, 6), pool = batch + tu_below(&r, 4);
        float x[6 * 24], p[9 * 24], out[6 * 24], cost[6 * 9];
        int32_t idx[6];
        tu_images(x, batch, dim, &r);
        tu_noise(p, pool, dim, &r);
        imm_options o;
        imm_options_init(&o);
        o.metric = (imm_metric)(it % 2);
        assert_int_equal(imm_distance(x, batch, p, pool, dim, &o, cost), IMM_OK);
        double best = tu_brute_min(cost, batch, pool, NULL);
        for (int solver = 0; solver < 2; solver++) {
            o.solver = (imm_solver)solver;
            assert_int_equal(imm_assign_noise_pool(x, batch, p, pool, dim, &o, out, idx), IMM_OK);
            assert_true(tu_is_injection(idx, batch, pool));
            double got = tu_total(cost, batch, pool, idx, NULL);
            if (solver == 0)
                assert_true(fabs(got - best) <= 1e-9 * fabs(best) + 1e-12);
            else
                assert_true(got >= best - 1e-9 * fabs(best) - 1e-12);
            for (size_t i = 0; i < batch; i++)
                assert_memory_equal(out + i * dim, p + (size_t)idx[i] * dim, dim * sizeof(float));
        }
    }
}

/* pool_size == batch is the batch permutation; contexts and thread counts change nothing. */
static void test_pool_matches_permutation(void **state) {
    (void)state;
    const size_t batch = 200, dim = 128, pool = 300;
    tu_rng r = tu_rng_make(24);
    float *x = malloc(batch * dim * sizeof(float)), *p = malloc(pool * dim * sizeof(float));
    float *noise = malloc(batch * dim * sizeof(float)), *out = malloc(batch * dim * sizeof(float));
    int32_t *perm = malloc(batch * sizeof(int32_t)), *idx = malloc(batch * sizeof(int32_t));
    int32_t *idx2 = malloc(batch * sizeof(int32_t));
    tu_images(x, batch, dim, &r);
    tu_noise(p, pool, dim, &r);
    memcpy(noise, p, batch * dim * sizeof(float));
    assert_int_equal(imm_assign_noise(x, noise, batch, dim, NULL, perm), IMM_OK);
    assert_int_equal(imm_assign_noise_pool(x, batch, p, batch, dim, NULL, out, idx), IMM_OK);
    assert_memory_equal(perm, idx, batch * sizeof(int32_t));
    assert_memory_equal(noise, out, batch * dim * sizeof(float));
    /* a larger pool: one-shot == context, any thread count */
    imm_options o;
    imm_options_init(&o);
    o.num_threads = 1;
    assert_int_equal(imm_assign_noise_pool(x, batch, p, pool, dim, &o, out, idx), IMM_OK);
    imm_ctx *ctx;
    for (int t = 2; t <= 4; t += 2) {
        o.num_threads = t;
        assert_int_equal(imm_ctx_create(&ctx, &o), IMM_OK);
        assert_int_equal(imm_ctx_assign_noise_pool(ctx, x, batch, p, pool, dim, noise, idx2),
                         IMM_OK);
        assert_memory_equal(idx, idx2, batch * sizeof(int32_t));
        imm_ctx_free(ctx);
    }
    free(x);
    free(p);
    free(noise);
    free(out);
    free(perm);
    free(idx);
    free(idx2);
}

static void test_pool_errors(void **state) {
    (void)state;
    float x[8] = {0}, p[12] = {0}, out[8];
    int32_t idx[2] = {-5, -5};
    for (size_t t = 0; t < 8; t++)
        out[t] = 42.0f;
    assert_int_equal(imm_assign_noise_pool(x, 2, p, 1, 4, NULL, out, idx), IMM_ERR_INVALID_ARG);
    assert_int_equal(imm_assign_noise_pool(NULL, 2, p, 3, 4, NULL, out, idx), IMM_ERR_INVALID_ARG);
    assert_int_equal(imm_assign_noise_pool(x, 2, NULL, 3, 4, NULL, out, idx), IMM_ERR_INVALID_ARG);
    assert_int_equal(imm_assign_noise_pool(x, 2, p, 3, 4, NULL, NULL, idx), IMM_ERR_INVALID_ARG);
    assert_int_equal(imm_assign_noise_pool(x, 2, p, 3, 0, NULL, out, idx), IMM_ERR_INVALID_ARG);
    assert_int_equal(imm_assign_noise_pool(x, 2, p, (size_t)INT32_MAX + 1, 4, NULL, out, idx),
                     IMM_ERR_TOO_LARGE);
    assert_int_equal(imm_ctx_assign_noise_pool(NULL, x, 2, p, 3, 4, out, idx), IMM_ERR_INVALID_ARG);
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t b = 0; b < 3; b++) {
        p[11] = bad[b];
        assert_int_equal(imm_assign_noise_pool(x, 2, p, 3, 4, NULL, out, idx), IMM_ERR_NONFINITE);
        p[11] = 0;
        x[7] = bad[b];
        assert_int_equal(imm_assign_noise_pool(x, 2, p, 3, 4, NULL, out, idx), IMM_ERR_NONFINITE);
        x[7] = 0;
    }
    for (size_t t = 0; t < 8; t++)
        assert_true(out[t] == 42.0f);
    assert_int_equal(idx[0], -5);
    assert_int_equal(imm_assign_noise_pool(x, 0, NULL, 0, 0, NULL, NULL, NULL), IMM_OK);
}

int main(void) {
    tu_arch_start("test_select");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_knn_brute_force),
        cmocka_unit_test(test_knn_ties_threads_ctx),
        cmocka_unit_test(test_knn_errors),
        cmocka_unit_test(test_pool_brute_force),
        cmocka_unit_test(test_pool_matches_permutation),
        cmocka_unit_test(test_pool_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
