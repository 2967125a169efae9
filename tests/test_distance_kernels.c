/*
 * test_distance_kernels.c - the distance kernels of every precision (FP32, FP16, BF16, INT8)
 * against double-precision references computed here, and every SIMD variant against the scalar
 * reference.
 *
 * CTest runs this binary once per IMM_ARCH value (amx included: the AMX-INT8 tile kernel). The variant check (testutil.h) re-runs the
 * binary under every other variant and compares a hash of every output bitwise: the header
 * promises the same bits from every variant, for every precision.
 *
 * The rounded / quantized inputs are rebuilt here from the header's definitions (IEEE half via
 * _Float16, bfloat16 ties-to-even with the 2^-40 flush, the INT8 formula), independently of the
 * library's code.
 */
#define _POSIX_C_SOURCE 200809L
#include <immiscible.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

static const imm_precision k_precisions[] = {IMM_PRECISION_FP32, IMM_PRECISION_FP16,
                                             IMM_PRECISION_BF16, IMM_PRECISION_INT8};
static const char *const k_prec_names[] = {"FP32", "FP16", "INT8", "BF16"};

static int is_scalar_run(void) { return strcmp(imm_simd_arch(), "scalar") == 0; }

/*-----------------------------------------------------------------------------------------------
 *  The rounded inputs, from the header's definitions.
 *---------------------------------------------------------------------------------------------*/

static float round_bf16(float v) {
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    if ((b & 0x7fffffffu) < 0x2b800000u) /* |v| < 2^-40: flushed */
        b &= 0x80000000u;
    else
        b = (b + 0x7fffu + ((b >> 16) & 1u)) & 0xffff0000u;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* The values the kernels see for row v (dim floats), and (INT8) the row scale. */
static void rounded_row(imm_precision prec, const float *v, size_t dim, double *out) {
    if (prec == IMM_PRECISION_INT8) {
        float amax = 0.0f;
        for (size_t k = 0; k < dim; k++)
            amax = fabsf(v[k]) > amax ? fabsf(v[k]) : amax;
        double inv = amax > 0.0f ? 127.0 / (double)amax : 0.0, s = (double)amax / 127.0;
        for (size_t k = 0; k < dim; k++)
            out[k] = nearbyint((double)v[k] * inv) * s;
        return;
    }
    for (size_t k = 0; k < dim; k++) {
        if (prec == IMM_PRECISION_FP16)
            out[k] = (double)(_Float16)v[k];
        else if (prec == IMM_PRECISION_BF16)
            out[k] = (double)round_bf16(v[k]);
        else
            out[k] = (double)v[k];
    }
}

/* ref[i*m+j] = exact-ish squared distance of the rounded rows; sx, sy: their squared norms. */
static void reference(imm_precision prec, const float *x, size_t n, const float *y, size_t m,
                      size_t dim, double *ref, double *sx, double *sy) {
    double *rx = malloc(n * dim * sizeof *rx), *ry = malloc(m * dim * sizeof *ry);
    assert_non_null(rx);
    assert_non_null(ry);
    for (size_t i = 0; i < n; i++)
        rounded_row(prec, x + i * dim, dim, rx + i * dim);
    for (size_t j = 0; j < m; j++)
        rounded_row(prec, y + j * dim, dim, ry + j * dim);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t k = 0; k < dim; k++)
            s += rx[i * dim + k] * rx[i * dim + k];
        sx[i] = s;
    }
    for (size_t j = 0; j < m; j++) {
        double s = 0;
        for (size_t k = 0; k < dim; k++)
            s += ry[j * dim + k] * ry[j * dim + k];
        sy[j] = s;
    }
#pragma omp parallel for schedule(dynamic, 4)
    for (long i = 0; i < (long)n; i++)
        for (size_t j = 0; j < m; j++) {
            double s = 0;
            for (size_t k = 0; k < dim; k++) {
                double t = rx[(size_t)i * dim + k] - ry[j * dim + k];
                s += t * t;
            }
            ref[(size_t)i * m + j] = s;
        }
    free(rx);
    free(ry);
}

/*-----------------------------------------------------------------------------------------------
 *  Data.
 *---------------------------------------------------------------------------------------------*/

typedef enum {
    DATA_MIXED,  /* images vs noise, plus near-coincident, identical and offset rows */
    DATA_OFFSET, /* every row 30 + 5 * image: large norms, strongly correlated (cancellation) */
    DATA_TINY,   /* values around 1e-6 .. 1e-13: FP16 subnormals, the BF16 flush */
    DATA_HUGE,   /* values around 1e20: the power-of-two prescale */
    DATA_KINDS
} data_kind;

static const char *const k_data_names[] = {"mixed", "offset", "tiny", "huge"};

static void make_data(data_kind kind, float *x, size_t n, float *y, size_t m, size_t dim,
                      uint64_t seed) {
    tu_rng r = tu_rng_make(seed);
    tu_images(x, n, dim, &r);
    tu_noise(y, m, dim, &r);
    switch (kind) {
    case DATA_MIXED:
        for (size_t j = 0; j < m && j < n; j += 3) /* near-coincident pairs (x_j, y_j) */
            for (size_t k = 0; k < dim; k++)
                y[j * dim + k] = x[j * dim + k] + (float)(1e-3 * tu_normal(&r));
        if (m > 1 && n > 1)
            memcpy(y + dim, x + dim, dim * sizeof *y); /* identical rows */
        if (n > 2)
            for (size_t k = 0; k < dim; k++)
                x[2 * dim + k] = 30.0f + 5.0f * x[2 * dim + k];
        if (n > 3)
            memset(x + 3 * dim, 0, dim * sizeof *x); /* a zero row */
        break;
    case DATA_OFFSET:
        for (size_t i = 0; i < n * dim; i++)
            x[i] = 30.0f + 5.0f * x[i];
        for (size_t j = 0; j < m; j++) { /* y_j: x_{j mod n} plus noise of size 0 .. ~10% */
            double a = 0.5 * tu_unif(&r);
            for (size_t k = 0; k < dim; k++)
                y[j * dim + k] = x[(j % n) * dim + k] + (float)(a * tu_normal(&r));
        }
        break;
    case DATA_TINY:
        for (size_t i = 0; i < n * dim; i++)
            x[i] *= (float)pow(10.0, -6.0 - 7.0 * tu_unif(&r));
        for (size_t i = 0; i < m * dim; i++)
            y[i] *= (float)pow(10.0, -6.0 - 7.0 * tu_unif(&r));
        break;
    case DATA_HUGE:
        for (size_t i = 0; i < n * dim; i++)
            x[i] *= 1e20f;
        for (size_t i = 0; i < m * dim; i++)
            y[i] *= 3e19f;
        break;
    default: break;
    }
}

/*-----------------------------------------------------------------------------------------------
 *  Accuracy against the rounded inputs (the header's FP32 bounds) and the unrounded ones.
 *---------------------------------------------------------------------------------------------*/

/* Per-element rounding error bound |v~ - v| of a precision, in the terms of the header:
 * rel * |v| + abs, or for INT8 the row's max|v| / 254 (returned through *per_row). */
static void rounding_bound(imm_precision prec, double *rel, double *abs_err) {
    switch (prec) {
    case IMM_PRECISION_FP16: *rel = 0x1p-11, *abs_err = 0x1p-25; break;
    case IMM_PRECISION_BF16: *rel = 0x1p-8, *abs_err = 0x1p-40; break;
    default: *rel = 0.0, *abs_err = 0.0; break;
    }
}

/* The double references of one data set: for each precision the squared distances of the
 * rounded rows and their squared norms; the FP32 one is the unrounded reference. */
typedef struct {
    size_t n, m, dim;
    double *d2[4], *sx[4], *sy[4]; /* indexed by imm_precision */
} refs;

static refs make_refs(const float *x, size_t n, const float *y, size_t m, size_t dim) {
    refs R;
    R.n = n, R.m = m, R.dim = dim;
    for (int p = 0; p < 4; p++) {
        R.d2[p] = malloc(n * m * sizeof(double));
        R.sx[p] = malloc(n * sizeof(double));
        R.sy[p] = malloc(m * sizeof(double));
        assert_true(R.d2[p] && R.sx[p] && R.sy[p]);
        reference((imm_precision)p, x, n, y, m, dim, R.d2[p], R.sx[p], R.sy[p]);
    }
    return R;
}

static void free_refs(refs *R) {
    for (int p = 0; p < 4; p++) {
        free(R->d2[p]);
        free(R->sx[p]);
        free(R->sy[p]);
    }
}

/* Checks out (n x m, metric) against the rounded-input reference (FP32 bounds) and, for the
 * reduced precisions, against the unrounded inputs with the header's rounding bound. */
static void check_accuracy(imm_precision prec, imm_metric metric, const float *x, const float *y,
                           const refs *R, const float *out, const char *what) {
    const size_t n = R->n, m = R->m, dim = R->dim;
    const double *ref = R->d2[prec], *sx = R->sx[prec], *sy = R->sy[prec];
    const double *exact = R->d2[IMM_PRECISION_FP32];
    double *ex = malloc(n * sizeof *ex), *ey = malloc(m * sizeof *ey);
    assert_true(ex && ey);
    double rel, abs_err;
    rounding_bound(prec, &rel, &abs_err);
    for (size_t i = 0; i < n; i++) /* |x~ - x| per row */
        ex[i] = prec == IMM_PRECISION_INT8
                    ? tu_max_abs(x + i * dim, dim) / 254.0 * sqrt((double)dim) * (1 + 1e-9)
                    : rel * sqrt(R->sx[IMM_PRECISION_FP32][i]) + abs_err * sqrt((double)dim);
    for (size_t j = 0; j < m; j++)
        ey[j] = prec == IMM_PRECISION_INT8
                    ? tu_max_abs(y + j * dim, dim) / 254.0 * sqrt((double)dim) * (1 + 1e-9)
                    : rel * sqrt(R->sy[IMM_PRECISION_FP32][j]) + abs_err * sqrt((double)dim);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m; j++) {
            const double s = sx[i] + sy[j], d2 = ref[i * m + j], d = sqrt(d2);
            const double got = (double)out[i * m + j];
            const double got2 = metric == IMM_METRIC_L2 ? got * got : got;
            const double gotd = metric == IMM_METRIC_L2 ? got : sqrt(got);
            const char *why = NULL;
            if (!isfinite(got) || got < 0)
                why = "not a distance";
            else if (fabs(got2 - d2) > 1e-6 * s)
                why = "|d^2 error| > 1e-6 (|x|^2 + |y|^2)";
            else if (d >= 0.1 * sqrt(s) && fabs(gotd - d) > 1e-5 * d)
                why = "relative error > 1e-5";
            else if (prec != IMM_PRECISION_FP32) {
                /* |d^ - d| <= |x~ - x| + |y~ - y| + the FP32 error on the rounded rows */
                double de = sqrt(exact[i * m + j]);
                double comp = 1e-5 * d + sqrt(1e-6 * s);
                if (fabs(gotd - de) > ex[i] + ey[j] + comp)
                    why = "outside the rounding bound against the unrounded inputs";
            }
            if (why != NULL && bad++ < 3)
                print_message("%s (%zu,%zu) dim %zu: got %.9g, rounded-input d %.17g "
                              "(|x|^2+|y|^2 = %.6g): %s\n",
                              what, i, j, dim, got, metric == IMM_METRIC_L2 ? d : d2, s, why);
        }
    if (bad > 0)
        fail_msg("%s dim %zu: %zu of %zu distances out of bounds", what, dim, bad, n * m);
    free(ex);
    free(ey);
}

static void accuracy_case(data_kind kind, size_t n, size_t m, size_t dim, int unaligned,
                          uint64_t seed) {
    const size_t off = unaligned ? 1 : 0;
    float *xb = malloc((n * dim + 1) * sizeof *xb), *yb = malloc((m * dim + 1) * sizeof *yb);
    float *ob = malloc((n * m + 1) * sizeof *ob);
    assert_true(xb && yb && ob);
    float *x = xb + off, *y = yb + off, *out = ob + off;
    make_data(kind, x, n, y, m, dim, seed);
    refs R = make_refs(x, n, y, m, dim);
    for (size_t p = 0; p < 4; p++)
        for (int metric = 0; metric < 2; metric++) {
            const imm_precision prec = k_precisions[p];
            if (kind == DATA_HUGE && prec == IMM_PRECISION_FP16)
                continue; /* out of the half range: tested as NONFINITE */
            imm_options o = tu_opts(IMM_SOLVER_EXACT, prec, (imm_metric)metric, 0);
            memset(ob, 0xff, (n * m + 1) * sizeof *ob);
            int st = imm_distance(x, n, y, m, dim, &o, out);
            char what[128];
            snprintf(what, sizeof what, "%s %s %s %zux%zu%s", k_prec_names[prec],
                     metric ? "SQL2" : "L2", k_data_names[kind], n, m,
                     unaligned ? " unaligned" : "");
            if (kind == DATA_HUGE && metric == IMM_METRIC_SQL2) {
                /* d^2 ~ 1e40: overflows float, nothing written */
                assert_int_equal(st, IMM_ERR_NONFINITE);
                for (size_t i = 0; i < n * m + 1; i++) {
                    uint32_t bits;
                    memcpy(&bits, ob + i, sizeof bits);
                    assert_true(bits == 0xffffffffu);
                }
                continue;
            }
            if (st != IMM_OK)
                fail_msg("%s dim %zu: status %d (%s)", what, dim, st, imm_strerror(st));
            check_accuracy(prec, (imm_metric)metric, x, y, &R, out, what);
            if (unaligned) {
                uint32_t before;
                memcpy(&before, ob, sizeof before);
                assert_true(before == 0xffffffffu);
            }
        }
    free_refs(&R);
    free(xb);
    free(yb);
    free(ob);
}

static void test_accuracy_shapes(void **state) {
    (void)state;
    static const size_t dims[] = {1, 7, 64, 784, 3072, 4097};
    static const size_t shapes[][2] = {{1, 1}, {1, 13}, {13, 1}, {17, 33}, {31, 9}, {64, 65}};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            accuracy_case(DATA_MIXED, shapes[s][0], shapes[s][1], dims[d], (int)(s & 1),
                          1000 + 10 * d + s);
}

static void test_accuracy_hard_data(void **state) {
    (void)state;
    static const size_t dims[] = {7, 784, 4097};
    for (int kind = DATA_OFFSET; kind < DATA_KINDS; kind++)
        for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
            accuracy_case((data_kind)kind, 37, 41, dims[d], (int)(d & 1), 2000 + 10 * d + kind);
}

/* Blocks, edge panels and more than one task per thread. */
static void test_accuracy_large(void **state) {
    (void)state;
    const size_t n = tu_quick() ? 131 : 300, m = tu_quick() ? 150 : 333;
    accuracy_case(DATA_MIXED, n, m, tu_quick() ? 300 : 1100, 1, 77);
    accuracy_case(DATA_OFFSET, n, m, 520, 0, 78);
    /* y too large for one packing round (INT8: rounds of 1024 dimensions over 2100 rows; FP32:
       of 256), so each round reads its part of x's panels packed in the pre-pass (INT8) */
    accuracy_case(DATA_MIXED, 20, 2100, tu_quick() ? 1100 : 2500, 0, 79);
}

/*-----------------------------------------------------------------------------------------------
 *  Every variant against the scalar reference, bitwise.
 *---------------------------------------------------------------------------------------------*/

static uint64_t hash_bytes(const void *p, size_t bytes) {
    const unsigned char *c = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < bytes; i++) {
        h ^= c[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Every case of the variant comparison, in a fixed order: calls emit(name, hash). */
typedef void (*emit_fn)(const char *name, uint64_t hash, void *ctx);

static void variant_cases(emit_fn emit, void *ctx) {
    static const size_t dims[] = {1, 7, 64, 784, 3072, 4097};
    static const size_t shapes[][2] = {{1, 1}, {13, 1}, {17, 33}, {64, 65}, {70, 100}};
    for (int kind = 0; kind < DATA_KINDS; kind++)
        for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                const size_t n = shapes[s][0], m = shapes[s][1], dim = dims[d];
                if (kind != DATA_MIXED && (dim == 3072 || s == 0))
                    continue;
                float *x = malloc(n * dim * sizeof *x), *y = malloc((m * dim + 1) * sizeof *y);
                float *out = malloc(n * m * sizeof *out);
                assert_true(x && y && out);
                make_data((data_kind)kind, x, n, y + 1, m, dim, 3000 + 7 * d + s);
                for (size_t p = 0; p < 4; p++)
                    for (int metric = 0; metric < (dim <= 784 ? 2 : 1); metric++) {
                        imm_options o =
                            tu_opts(IMM_SOLVER_EXACT, k_precisions[p], (imm_metric)metric, 0);
                        memset(out, 0, n * m * sizeof *out);
                        int st = imm_distance(x, n, y + 1, m, dim, &o, out);
                        char name[96];
                        snprintf(name, sizeof name, "%s/%s/%s/%zux%zux%zu",
                                 k_prec_names[k_precisions[p]], metric ? "SQL2" : "L2",
                                 k_data_names[kind], n, m, dim);
                        emit(name, hash_bytes(out, n * m * sizeof *out) ^ (uint64_t)(st + 100),
                             ctx);
                    }
                free(x);
                free(y);
                free(out);
            }
    /* INT8 with y too large for one packing round (2100 rows: rounds of 1024 dimensions), so
       x is packed per task, not in the pre-pass as in the cases above (dist_plan.h). */
    const size_t n = 20, m = 2100, dim = 2500;
    float *x = malloc(n * dim * sizeof *x), *y = malloc(m * dim * sizeof *y);
    float *out = malloc(n * m * sizeof *out);
    assert_true(x && y && out);
    make_data(DATA_MIXED, x, n, y, m, dim, 3100);
    imm_options o = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_INT8, IMM_METRIC_L2, 0);
    int st = imm_distance(x, n, y, m, dim, &o, out);
    emit("INT8/L2/rounds/20x2100x2500", hash_bytes(out, n * m * sizeof *out) ^ (uint64_t)(st + 100),
         ctx);
    free(x);
    free(y);
    free(out);
}

static void print_case(const char *name, uint64_t hash, void *ctx) {
    fprintf((FILE *)ctx, "%s %016llx\n", name, (unsigned long long)hash);
}

/* The results the variant comparison (testutil.h) sees: one hash line per case. */
static void dump_hashes(FILE *out) { variant_cases(print_case, out); }

TU_VARIANT_TESTS(dump_hashes)

/*-----------------------------------------------------------------------------------------------
 *  Threads, errors, edge cases.
 *---------------------------------------------------------------------------------------------*/

static void test_thread_invariance(void **state) {
    (void)state;
    const size_t n = 129, m = 257, dim = tu_quick() || is_scalar_run() ? 300 : 1500;
    float *x = malloc(n * dim * sizeof *x), *y = malloc(m * dim * sizeof *y);
    float *ref = malloc(n * m * sizeof *ref), *out = malloc(n * m * sizeof *out);
    assert_true(x && y && ref && out);
    make_data(DATA_MIXED, x, n, y, m, dim, 123);
    static const int threads[] = {2, 3, 4, 0};
    for (size_t p = 0; p < 4; p++) {
        imm_options o = tu_opts(IMM_SOLVER_EXACT, k_precisions[p], IMM_METRIC_L2, 1);
        assert_int_equal(imm_distance(x, n, y, m, dim, &o, ref), IMM_OK);
        for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
            o.num_threads = threads[t];
            memset(out, 0, n * m * sizeof *out);
            assert_int_equal(imm_distance(x, n, y, m, dim, &o, out), IMM_OK);
            if (memcmp(out, ref, n * m * sizeof *out) != 0)
                fail_msg("%s: num_threads %d differs from 1 thread", k_prec_names[k_precisions[p]],
                         threads[t]);
        }
    }
    free(x);
    free(y);
    free(ref);
    free(out);
}

/* The caller's own threads, each calling imm_distance at once (one of them with an OpenMP team of
   its own): every call gives the bits of a lone call. Kernels with per-thread state (the AMX tile
   configuration, loaded by each thread that runs tiles and released after) must not depend on
   which thread ran before. */
#define CALLER_THREADS 3
typedef struct {
    const float *x, *y;
    size_t n, m, dim;
    imm_precision prec;
    int num_threads;
    float *out;
    int status;
} caller_job;

static void *caller_thread(void *arg) {
    caller_job *j = arg;
    imm_options o = tu_opts(IMM_SOLVER_EXACT, j->prec, IMM_METRIC_L2, j->num_threads);
    for (int rep = 0; rep < 3 && j->status == IMM_OK; rep++)
        j->status = imm_distance(j->x, j->n, j->y, j->m, j->dim, &o, j->out);
    return NULL;
}

static void test_caller_threads(void **state) {
    (void)state;
    /* 130 x 160 x 1100 > 2e7: the 2-thread caller starts a team (smaller calls run serially) */
    const size_t n = 130, m = 160, dim = tu_quick() || is_scalar_run() ? 300 : 1100;
    float *x = malloc(n * dim * sizeof *x), *y = malloc(m * dim * sizeof *y);
    float *ref = malloc(n * m * sizeof *ref), *outs = malloc(CALLER_THREADS * n * m * sizeof *outs);
    assert_true(x && y && ref && outs);
    make_data(DATA_MIXED, x, n, y, m, dim, 321);
    for (size_t p = 0; p < 4; p++) {
        imm_options o = tu_opts(IMM_SOLVER_EXACT, k_precisions[p], IMM_METRIC_L2, 1);
        assert_int_equal(imm_distance(x, n, y, m, dim, &o, ref), IMM_OK);
        caller_job jobs[CALLER_THREADS];
        pthread_t tids[CALLER_THREADS];
        for (int t = 0; t < CALLER_THREADS; t++) {
            jobs[t] = (caller_job){x, y, n, m, dim, k_precisions[p], t == 0 ? 2 : 1,
                                   outs + (size_t)t * n * m, IMM_OK};
            assert_int_equal(pthread_create(&tids[t], NULL, caller_thread, &jobs[t]), 0);
        }
        for (int t = 0; t < CALLER_THREADS; t++) {
            assert_int_equal(pthread_join(tids[t], NULL), 0);
            assert_int_equal(jobs[t].status, IMM_OK);
            if (memcmp(jobs[t].out, ref, n * m * sizeof *ref) != 0)
                fail_msg("%s: caller thread %d differs from a lone call",
                         k_prec_names[k_precisions[p]], t);
        }
    }
    free(x);
    free(y);
    free(ref);
    free(outs);
}

static void test_errors_leave_output(void **state) {
    (void)state;
    const size_t n = 3, m = 4, dim = 37;
    float x[3 * 37], y[4 * 37], out[12], sent[12];
    tu_rng r = tu_rng_make(9);
    tu_noise(x, n, dim, &r);
    tu_noise(y, m, dim, &r);
    memset(sent, 0x5a, sizeof sent);
    static const float bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t p = 0; p < 4; p++)
        for (size_t b = 0; b < 3; b++)
            for (int which = 0; which < 2; which++) {
                float xx[3 * 37], yy[4 * 37];
                memcpy(xx, x, sizeof xx);
                memcpy(yy, y, sizeof yy);
                (which ? yy : xx)[which ? 4 * 37 - 1 : 40] = bad[b];
                imm_options o = tu_opts(IMM_SOLVER_EXACT, k_precisions[p], IMM_METRIC_L2, 0);
                memcpy(out, sent, sizeof out);
                assert_int_equal(imm_distance(xx, n, yy, m, dim, &o, out), IMM_ERR_NONFINITE);
                assert_memory_equal(out, sent, sizeof out);
            }
    /* dim == 0 with a non-empty problem */
    for (size_t p = 0; p < 4; p++) {
        imm_options o = tu_opts(IMM_SOLVER_EXACT, k_precisions[p], IMM_METRIC_L2, 0);
        memcpy(out, sent, sizeof out);
        assert_int_equal(imm_distance(x, n, y, m, 0, &o, out), IMM_ERR_INVALID_ARG);
        assert_memory_equal(out, sent, sizeof out);
    }
    /* FP16: 65520 rounds to Inf in half; 65504 is the largest half */
    {
        float xx[3 * 37];
        memcpy(xx, x, sizeof xx);
        xx[5] = 65520.0f;
        imm_options o = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP16, IMM_METRIC_SQL2, 0);
        memcpy(out, sent, sizeof out);
        assert_int_equal(imm_distance(xx, n, y, m, dim, &o, out), IMM_ERR_NONFINITE);
        assert_memory_equal(out, sent, sizeof out);
        xx[5] = 65504.0f;
        assert_int_equal(imm_distance(xx, n, y, m, dim, &o, out), IMM_OK);
    }
    /* A distance that overflows float: nothing written, for every precision */
    for (size_t p = 0; p < 4; p++) {
        float big[2] = {3e38f, -3e38f}, hx[2] = {0x1p64f, 0.0f}, zero[2] = {0.0f, 0.0f};
        imm_options l2 = tu_opts(IMM_SOLVER_EXACT, k_precisions[p], IMM_METRIC_L2, 0);
        imm_options sq = tu_opts(IMM_SOLVER_EXACT, k_precisions[p], IMM_METRIC_SQL2, 0);
        int fp16 = k_precisions[p] == IMM_PRECISION_FP16;
        memcpy(out, sent, sizeof out);
        assert_int_equal(imm_distance(big, 1, big + 1, 1, 1, &l2, out), IMM_ERR_NONFINITE);
        assert_int_equal(imm_distance(hx, 1, zero, 1, 2, &sq, out), IMM_ERR_NONFINITE);
        assert_memory_equal(out, sent, sizeof out);
        if (!fp16) { /* large but fine: d = 2^64 for L2 (exact in every precision) */
            assert_int_equal(imm_distance(hx, 1, zero, 1, 2, &l2, out), IMM_OK);
            assert_true(out[0] == 0x1p64f);
        }
    }
}

/* A call that only some outputs of would overflow: the others are not written either. */
static void test_partial_overflow(void **state) {
    (void)state;
    const size_t dim = 16;
    float x[2 * 16], y[2 * 16], out[4], sent[4];
    for (size_t k = 0; k < dim; k++) {
        x[k] = 1.0f, y[k] = 2.0f;                /* d^2 = 16 */
        x[dim + k] = 5e18f, y[dim + k] = -5e18f; /* d^2 = 16 * 1e38: overflows */
    }
    memset(sent, 0x33, sizeof sent);
    memcpy(out, sent, sizeof out);
    imm_options sq = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, IMM_METRIC_SQL2, 0);
    assert_int_equal(imm_distance(x, 2, y, 2, dim, &sq, out), IMM_ERR_NONFINITE);
    assert_memory_equal(out, sent, sizeof out);
    imm_options l2 = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, IMM_METRIC_L2, 0);
    assert_int_equal(imm_distance(x, 2, y, 2, dim, &l2, out), IMM_OK);
    assert_true(out[0] == 4.0f);
    assert_true(fabsf(out[3] - 4e19f) <= 4e19f * 1e-6f);
}

/*-----------------------------------------------------------------------------------------------
 *  Assignment quality with the reduced precisions.
 *---------------------------------------------------------------------------------------------*/

/* The true (FP32) total of an assignment: sum of the fp32 L2 costs. */
static double true_total(const float *cost, size_t b, const int32_t *assign) {
    return tu_total(cost, b, b, assign, NULL);
}

static void quality_case(size_t batch, size_t dim, uint64_t seed) {
    tu_rng r = tu_rng_make(seed);
    float *x = malloc(batch * dim * sizeof *x), *y = malloc(batch * dim * sizeof *y);
    float *c32 = malloc(batch * batch * sizeof *c32), *c = malloc(batch * batch * sizeof *c);
    int32_t *a = malloc(batch * sizeof *a), *id = malloc(batch * sizeof *id);
    assert_true(x && y && c32 && c && a && id);
    tu_images(x, batch, dim, &r);
    tu_noise(y, batch, dim, &r);
    imm_options o = tu_opts(IMM_SOLVER_EXACT, IMM_PRECISION_FP32, IMM_METRIC_L2, 0);
    assert_int_equal(imm_distance(x, batch, y, batch, dim, &o, c32), IMM_OK);
    assert_int_equal(imm_lap_solve(c32, batch, batch, &o, a, NULL), IMM_OK);
    for (size_t i = 0; i < batch; i++)
        id[i] = (int32_t)i;
    const double identity = true_total(c32, batch, id), best = true_total(c32, batch, a);
    const double reduction = identity - best;
    assert_true(reduction > 0);
    for (size_t p = 1; p < 4; p++) {
        o.precision = k_precisions[p];
        assert_int_equal(imm_distance(x, batch, y, batch, dim, &o, c), IMM_OK);
        assert_int_equal(imm_lap_solve(c, batch, batch, &o, a, NULL), IMM_OK);
        const double kept = (identity - true_total(c32, batch, a)) / reduction;
        print_message("B = %zu, D = %zu, %s: keeps %.4f%% of the optimal reduction\n", batch, dim,
                      k_prec_names[o.precision], 100.0 * kept);
        if (kept < 0.99)
            fail_msg("%s keeps only %.3f%% of the optimal reduction", k_prec_names[o.precision],
                     100.0 * kept);
        /* The noise path gives the same assignment as distance + solve. */
        float *noise = malloc(batch * dim * sizeof *noise);
        int32_t *perm = malloc(batch * sizeof *perm);
        assert_true(noise && perm);
        memcpy(noise, y, batch * dim * sizeof *noise);
        assert_int_equal(imm_assign_noise(x, noise, batch, dim, &o, perm), IMM_OK);
        assert_memory_equal(perm, a, batch * sizeof *perm);
        free(noise);
        free(perm);
    }
    free(x);
    free(y);
    free(c32);
    free(c);
    free(a);
    free(id);
}

static void test_assignment_quality(void **state) {
    (void)state;
    const size_t dim = tu_quick() ? 768 : 3072;
    quality_case(256, dim, 42);
    /* The variants give the same bits (test_same_on_variant_*): the scalar run skips the
       large case, which would take it most of a minute. */
    if (!tu_quick() && !is_scalar_run())
        quality_case(1024, dim, 43);
}

int main(int argc, char **argv) {
    if (tu_dump_main(argc, argv, dump_hashes))
        return 0;
    tu_arch_start("test_distance_kernels");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accuracy_shapes),   cmocka_unit_test(test_accuracy_hard_data),
        cmocka_unit_test(test_accuracy_large),    TU_VARIANT_UNIT_TESTS,
        cmocka_unit_test(test_thread_invariance), cmocka_unit_test(test_errors_leave_output),
        cmocka_unit_test(test_partial_overflow),  cmocka_unit_test(test_assignment_quality),
        cmocka_unit_test(test_caller_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
