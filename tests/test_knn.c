/*
 * test_knn.c - imm_select_noise_knn's fused path against the general one, bitwise (issue 13).
 *
 * The header defines image i's choice as the argmin (first on ties) of
 * imm_distance(x_i, 1, candidates_i, k) with the same options. The library computes most images
 * in one fused pass (no packing) and hands the others to the distance kernels; this program
 * checks the choice against imm_distance for every precision, metric, thread count and entry
 * point, on batches that mix images of every kind: ordinary image / Gaussian rows, exact ties
 * (duplicated candidates; x = 0 against y and -y), huge rows (FP32 / BF16: the call scales; INT8
 * SQL2: overflow suspects), subnormal elements and rows made only of them (tiny norms), values
 * around BF16's 2^-40 flush, signed zeros, and candidates next to x (cancellation), with k = 1,
 * 2, 4, 17 and dims on and off the multiples of 16 and 256 (one dim takes 17 blocks of 256: two
 * groups of the AVX-512 kernel). Errors (NaN, FP16 out of range, an overflowing distance) must
 * give imm_distance's status and leave the outputs untouched.
 *
 * CTest runs it under each SIMD variant (test_knn_<arch>; avx512 uses the VNNI and BF16 kernels
 * where the CPU has them, amx the AMX tiles for INT8): a variant the CPU or build lacks is
 * skipped (tu_arch.h). Each run also compares its choices with the scalar, AVX2 and AVX-512
 * runs (child processes, TU_VARIANT_TESTS).
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

enum { KINDS = 10, MAX_K = 17 };

typedef enum {
    KIND_IMAGE,     /* image row against N(0, 1) candidates */
    KIND_TIES,      /* candidates 2t + 1 = candidate 2t; x = 0 against y and -y every other image */
    KIND_HUGE,      /* everything times 2^58 (FP16: 2^11): FP32 / BF16 scale, INT8 SQL2 suspects */
    KIND_SUBNORMAL, /* a third of the elements subnormal (about 2^-130) */
    KIND_TINY,      /* whole rows of subnormals: tiny norms (FP32 / BF16 recompute directly) */
    KIND_FLUSH,     /* elements around 2^-40 (BF16 flush), signed zeros */
    KIND_NEAR,      /* candidates x + 1e-3 noise: cancellation, computed directly */
    KIND_LARGE,     /* values in the thousands (FP16: near its top) */
    KIND_SCALES,    /* candidates of very different norms (2^-20 .. 2^20) */
    /* x constant, the candidates rotations of one row: all at the same distance in exact
       arithmetic, so the choice is decided by the rounding alone - a dot product summed in
       another order than imm_distance's changes it */
    KIND_PERMUTED
} kind;

static float gaussf(tu_rng *r) { return (float)tu_normal(r); }

/* Image i's rows (x: dim floats, cand: k x dim) of the given kind. */
static void make_image(kind kd, imm_precision prec, size_t i, size_t k, size_t dim, tu_rng *r,
                       float *x, float *cand) {
    tu_images(x, 1, dim, r);
    tu_noise(cand, k, dim, r);
    switch (kd) {
    case KIND_IMAGE: break;
    case KIND_TIES:
        if (i % 2 == 0) {
            for (size_t t = 1; t < k; t += 2)
                memcpy(cand + t * dim, cand + (t - 1) * dim, dim * sizeof(float));
        } else {
            memset(x, 0, dim * sizeof(float));
            for (size_t t = 1; t < k; t += 2)
                for (size_t e = 0; e < dim; e++)
                    cand[t * dim + e] = -cand[(t - 1) * dim + e];
        }
        break;
    case KIND_HUGE: {
        const float s = prec == IMM_PRECISION_FP16 ? 0x1p11f : 0x1p58f;
        for (size_t e = 0; e < dim; e++)
            x[e] *= s;
        for (size_t e = 0; e < k * dim; e++)
            cand[e] *= s;
        break;
    }
    case KIND_SUBNORMAL:
        for (size_t e = 0; e < dim; e += 3)
            x[e] = 0x1p-130f * gaussf(r);
        for (size_t e = 1; e < k * dim; e += 3)
            cand[e] = 0x1p-130f * gaussf(r);
        break;
    case KIND_TINY:
        for (size_t e = 0; e < dim; e++)
            x[e] = 0x1p-135f * gaussf(r);
        for (size_t e = 0; e < k * dim; e++)
            cand[e] = 0x1p-135f * gaussf(r);
        break;
    case KIND_FLUSH:
        for (size_t e = 0; e < dim; e += 2)
            x[e] = 0x1p-40f * (float)(1.0 + 0.25 * tu_normal(r));
        for (size_t e = 0; e < k * dim; e += 4) {
            cand[e] = 0x1p-40f * (float)(0.5 + 0.5 * tu_unif(r));
            if (e + 1 < k * dim)
                cand[e + 1] = (e / 4) % 2 ? -0.0f : 0.0f;
        }
        break;
    case KIND_NEAR: /* up to three candidates next to x, at distances 0.2 % apart */
        for (size_t j = 0; j < 3 && j < k; j++) {
            const size_t t = (i + j) % k;
            const float s = 1e-3f * (1.0f + 0.002f * (float)j);
            for (size_t e = 0; e < dim; e++)
                cand[t * dim + e] = x[e] + s * gaussf(r);
        }
        break;
    case KIND_LARGE:
        for (size_t e = 0; e < dim; e++)
            x[e] *= 4000.0f;
        for (size_t e = 0; e < k * dim; e++)
            cand[e] *= 3000.0f;
        break;
    case KIND_SCALES:
        for (size_t t = 0; t < k; t++) {
            const float s = ldexpf(1.0f, (int)tu_below(r, 41) - 20);
            for (size_t e = 0; e < dim; e++)
                cand[t * dim + e] *= s;
        }
        break;
    case KIND_PERMUTED:
        /* d^2 / s about 1/2: the dot product's rounding shows in d. Magnitudes 2^-4 .. 2^4, so
           that even BF16 products (8-bit significands) give inexact fp32 partial sums. */
        for (size_t e = 0; e < dim; e++) {
            x[e] = 6.0f;
            cand[e] = ldexpf(1.0f + 0.5f * cand[e], (int)(e % 9) - 4);
        }
        for (size_t t = 1; t < k; t++)
            for (size_t e = 0; e < dim; e++)
                cand[t * dim + e] = cand[(e + 7 * t + 1) % dim];
        break;
    }
}

typedef struct {
    size_t batch, k, dim;
    uint64_t seed; /* image i has kind (i + seed) % KINDS */
    float *x, *cand;
} problem;

/* A batch whose image i has kind (i + seed) % KINDS. */
static problem make_problem(imm_precision prec, size_t batch, size_t k, size_t dim, uint64_t seed) {
    problem p = {batch,
                 k,
                 dim,
                 seed,
                 malloc(batch * dim * sizeof(float)),
                 malloc(batch * k * dim * sizeof(float))};
    assert_true(p.x != NULL && p.cand != NULL);
    tu_rng r = tu_rng_make(seed);
    for (size_t i = 0; i < batch; i++)
        make_image((kind)((i + seed) % KINDS), prec, i, k, dim, &r, p.x + i * dim,
                   p.cand + i * k * dim);
    return p;
}

static void free_problem(problem *p) {
    free(p->x);
    free(p->cand);
}

/* What the header promises: per image the argmin of imm_distance (first on ties); the call's
   status is the first failing image's (all errors here are IMM_ERR_NONFINITE). */
static int expected(const problem *p, const imm_options *o, int32_t *index) {
    float d[MAX_K];
    int status = IMM_OK;
    assert_true(p->k <= MAX_K);
    for (size_t i = 0; i < p->batch; i++) {
        const int st =
            imm_distance(p->x + i * p->dim, 1, p->cand + i * p->k * p->dim, p->k, p->dim, o, d);
        if (st != IMM_OK) {
            status = status == IMM_OK ? st : status;
            continue;
        }
        int32_t best = 0;
        for (size_t t = 1; t < p->k; t++)
            if (d[t] < d[best])
                best = (int32_t)t;
        index[i] = best;
    }
    return status;
}

static const char *prec_name(int prec) {
    static const char *const names[] = {"fp32", "fp16", "int8", "bf16"};
    return names[prec];
}

/* One call of each entry point on 1 and 2 threads against expected(). */
static void check_problem(const problem *p, imm_precision prec, imm_metric metric) {
    const size_t b = p->batch, dim = p->dim;
    int32_t want[64], got[64];
    float *out = malloc(b * dim * sizeof(float));
    assert_true(b <= 64 && out != NULL);
    imm_options o = tu_opts(IMM_SOLVER_EXACT, prec, metric, 1);
    const int want_status = expected(p, &o, want);
    for (int threads = 1; threads <= 2; threads++)
        for (int use_ctx = 0; use_ctx < 2; use_ctx++) {
            o.num_threads = threads;
            memset(out, 0x5a, b * dim * sizeof(float));
            memset(got, 0x5a, sizeof got);
            int st;
            if (use_ctx) {
                imm_ctx *ctx = NULL;
                assert_int_equal(imm_ctx_create(&ctx, &o), IMM_OK);
                st = imm_ctx_select_noise_knn(ctx, p->x, b, p->cand, p->k, dim, out, got);
                imm_ctx_free(ctx);
            } else {
                st = imm_select_noise_knn(p->x, b, p->cand, p->k, dim, &o, out, got);
            }
            if (st != want_status)
                fail_msg("%s %s k %zu dim %zu threads %d ctx %d: status %d, imm_distance %d",
                         prec_name(prec), metric ? "sql2" : "l2", p->k, dim, threads, use_ctx, st,
                         want_status);
            if (st != IMM_OK) { /* outputs untouched */
                for (size_t e = 0; e < b * dim * sizeof(float); e++)
                    assert_int_equal(((const unsigned char *)out)[e], 0x5a);
                for (size_t e = 0; e < sizeof got; e++)
                    assert_int_equal(((const unsigned char *)got)[e], 0x5a);
                continue;
            }
            for (size_t i = 0; i < b; i++) {
                if (got[i] != want[i])
                    fail_msg("%s %s k %zu dim %zu threads %d ctx %d image %zu (kind %d): "
                             "candidate %d, imm_distance's nearest %d",
                             prec_name(prec), metric ? "sql2" : "l2", p->k, dim, threads, use_ctx,
                             i, (int)((i + p->seed) % KINDS), got[i], want[i]);
                assert_memory_equal(out + i * dim, p->cand + (i * p->k + (size_t)want[i]) * dim,
                                    dim * sizeof(float));
            }
        }
    free(out);
}

static const imm_precision k_precs[] = {IMM_PRECISION_FP32, IMM_PRECISION_FP16, IMM_PRECISION_BF16,
                                        IMM_PRECISION_INT8};

/* Every kind, precision, metric, k and dim (seed = batch, so the kinds rotate between calls). */
static void test_knn_matches_imm_distance(void **state) {
    (void)state;
    static const size_t dims_full[] = {1, 5, 16, 17, 24, 25, 255, 256, 257, 300, 1000, 3079, 4353};
    static const size_t dims_quick[] = {1, 17, 257, 1000, 4353};
    static const size_t ks[] = {1, 2, 4, 17};
    const size_t *dims = tu_quick() ? dims_quick : dims_full;
    const size_t ndims = tu_quick() ? 5 : 13;
    size_t checked = 0;
    for (size_t pi = 0; pi < 4; pi++)
        for (size_t di = 0; di < ndims; di++)
            for (size_t ki = 0; ki < 4; ki++) {
                const size_t dim = dims[di], k = ks[ki], batch = dim > 1000 ? KINDS : 2 * KINDS;
                problem p = make_problem(k_precs[pi], batch, k, dim, 100 * di + 10 * ki + pi);
                for (int metric = 0; metric < 2; metric++)
                    check_problem(&p, k_precs[pi], (imm_metric)metric);
                checked += 2 * batch;
                free_problem(&p);
            }
    print_message("knn: %zu image choices equal to imm_distance's (x 4 calls each), "
                  "variant %s\n",
                  checked, imm_simd_arch());
}

/* Errors: the status imm_distance gives, outputs untouched, wherever the bad image is. */
static void test_knn_errors_match(void **state) {
    (void)state;
    for (size_t pi = 0; pi < 4; pi++)
        for (int bad = 0; bad < 4; bad++) {
            const size_t batch = 2 * KINDS, k = 4, dim = 300;
            problem p = make_problem(k_precs[pi], batch, k, dim, 7 + (uint64_t)bad);
            const size_t i = 5 + (size_t)bad * 3; /* the bad image */
            float *row = bad % 2 ? p.x + i * dim : p.cand + (i * k + 2) * dim;
            imm_metric metric = IMM_METRIC_L2;
            if (bad == 0)
                row[17] = NAN;
            else if (bad == 1)
                row[dim - 1] = -INFINITY;
            else if (bad == 2)
                row[3] = 70000.0f; /* out of FP16's range; fine elsewhere */
            else {                 /* SQL2 overflows float */
                for (size_t e = 0; e < dim; e++)
                    row[e] = 0x1p100f;
                metric = IMM_METRIC_SQL2;
            }
            check_problem(&p, k_precs[pi], metric);
            free_problem(&p);
        }
}

/* Rows so large that unscaled fp32 sums would overflow (max |v| sqrt(dim) near 2^67): FP32 /
   BF16 scale the call, INT8 checks overflow suspects, FP16 is out of range; L2 distances still
   fit in a float. Every image huge, or one in three. */
static void test_knn_huge_rows(void **state) {
    (void)state;
    for (size_t pi = 0; pi < 4; pi++)
        for (size_t every = 1; every <= 3; every += 2) {
            const size_t batch = 12, k = 5, dim = 300;
            problem p = make_problem(k_precs[pi], batch, k, dim, 0); /* kinds 0 .. 9, 0, 1 */
            tu_rng r = tu_rng_make(99 + every);
            for (size_t i = 0; i < batch; i += every) {
                for (size_t e = 0; e < dim; e++)
                    p.x[i * dim + e] *= 0x1p63f;
                for (size_t e = 0; e < k * dim; e++)
                    p.cand[i * k * dim + e] = 0x1p63f * gaussf(&r);
            }
            check_problem(&p, k_precs[pi], IMM_METRIC_L2);
            free_problem(&p);
        }
}

/* Every SIMD variant chooses bitwise the same candidates (and statuses). */
static void dump_results(FILE *f) {
    static const size_t dims[] = {17, 300, 3079};
    static const size_t ks[] = {1, 4, 17};
    for (size_t pi = 0; pi < 4; pi++)
        for (size_t di = 0; di < 3; di++)
            for (size_t ki = 0; ki < 3; ki++) {
                problem p = make_problem(k_precs[pi], KINDS, ks[ki], dims[di], 50 + di + ki);
                for (int metric = 0; metric < 2; metric++) {
                    int32_t idx[KINDS];
                    memset(idx, 0, sizeof idx);
                    imm_options o = tu_opts(IMM_SOLVER_EXACT, k_precs[pi], (imm_metric)metric, 0);
                    float *out = malloc(KINDS * dims[di] * sizeof(float));
                    assert_non_null(out);
                    int st =
                        imm_select_noise_knn(p.x, KINDS, p.cand, ks[ki], dims[di], &o, out, idx);
                    fwrite(&st, sizeof st, 1, f);
                    fwrite(idx, sizeof idx, 1, f);
                    free(out);
                }
                free_problem(&p);
            }
}

/* test_same_on_variant_{scalar,avx2,avx512}: each variant in a child, compared with this run. */
TU_VARIANT_TESTS(dump_results)

int main(int argc, char **argv) {
    if (tu_dump_main(argc, argv, dump_results)) /* a child of the SIMD-variant test */
        return 0;
    tu_arch_start("test_knn");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_knn_matches_imm_distance),
        cmocka_unit_test(test_knn_errors_match),
        cmocka_unit_test(test_knn_huge_rows),
        TU_VARIANT_UNIT_TESTS,
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
