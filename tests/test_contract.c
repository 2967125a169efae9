/*
 * test_contract.c - the header's promises tried the way a hostile caller would (issue 9):
 *
 *   1. results do not depend on the caller's floating-point state (rounding mode, FTZ / DAZ),
 *      on the calling thread or on OpenMP's worker threads, and that state is restored;
 *   2. an output that overlaps an input or another output is IMM_ERR_INVALID_ARG, untouched;
 *   3. any num_threads (1, 2, 64, 100000) runs, gives the same bits, and sizes workspaces for
 *      the threads that can run, not for the request;
 *   4. accuracy outside (0, 1] is rejected; inside it, the exact finish is optimal and the
 *      auction's lower bound is finite and valid, on adversarial matrices;
 *   5. imm_lap_certify cannot be fooled by potentials whose rounding hides a violation;
 *   6. imm_select_noise_knn checks its inputs the same way for k = 1 as for k > 1.
 *
 * Every check compares against brute force or against the same call in a clean state.
 */
#define _GNU_SOURCE
#include <immiscible.h>

#include <fenv.h>
#include <float.h>
#include <omp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "testutil.h"
#include "tu_arch.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define HAVE_MXCSR 1
#define MXCSR_FTZ_DAZ 0x8040u
#else
#define HAVE_MXCSR 0
#endif

/*-----------------------------------------------------------------------------------------------
 *  Floating-point states a caller may leave behind.
 *---------------------------------------------------------------------------------------------*/

typedef struct {
    const char *name;
    int round;   /* fesetround() mode */
    int ftz_daz; /* MXCSR FTZ | DAZ (x86 only) */
} fp_state;

static const fp_state k_states[] = {{"upward", FE_UPWARD, 0},
                                    {"downward", FE_DOWNWARD, 0},
                                    {"toward zero", FE_TOWARDZERO, 0},
                                    {"FTZ+DAZ", FE_TONEAREST, 1},
                                    {"upward+FTZ+DAZ", FE_UPWARD, 1}};

static void set_state(const fp_state *s) {
    fesetround(s->round);
#if HAVE_MXCSR
    unsigned csr = _mm_getcsr() & ~MXCSR_FTZ_DAZ;
    _mm_setcsr(csr | (s->ftz_daz ? MXCSR_FTZ_DAZ : 0u));
#endif
}

static void set_default(void) {
    static const fp_state def = {"default", FE_TONEAREST, 0};
    set_state(&def);
}

/* A fingerprint of the calling thread's state: rounding mode and FTZ / DAZ bits. */
static unsigned state_word(void) {
    unsigned w = (unsigned)fegetround();
#if HAVE_MXCSR
    w ^= (_mm_getcsr() & (MXCSR_FTZ_DAZ | 0x6000u)) << 8;
#endif
    return w;
}

/* Puts state s on every thread of a 3-thread team (the workers the library will reuse), and
   optionally back to the default on the calling thread only. */
static void set_team_state(const fp_state *s, int caller_default) {
#pragma omp parallel num_threads(3)
    set_state(s);
    if (caller_default)
        set_default();
}

/* Every thread of a 3-thread team still has state s. */
static int team_has_state(const fp_state *s) {
    unsigned want;
    set_state(s);
    want = state_word();
    int bad = 0;
#pragma omp parallel num_threads(3) reduction(| : bad)
    bad |= state_word() != want;
    return !bad;
}

/*-----------------------------------------------------------------------------------------------
 *  One run of every computing entry point, into one buffer (compared bitwise).
 *---------------------------------------------------------------------------------------------*/

enum { FB = 96, FD = 40, FK = 3 };

typedef struct {
    float dist[4][FB * FB]; /* imm_distance, each precision */
    int32_t lap[2][FB];     /* exact, auction */
    double lap_total[2];
    float noise[FB * FD];
    int32_t perm[FB];
    float knn[FB * FD];
    int32_t knn_index[FB];
    float pool[FB * FD];
    int32_t pool_index[FB];
} results;

typedef struct {
    float x[FB * FD], y[FB * FD], pool[2 * FB * FD], cand[FB * FK * FD];
    float cost[FB * FB];
} inputs;

/* Inputs rich in subnormal products and values: rows of tiny magnitude next to ordinary ones,
   so that FTZ / DAZ or a changed rounding mode would change bits. */
static void make_inputs(inputs *in) {
    tu_rng r = tu_rng_make(909);
    tu_images(in->x, FB, FD, &r);
    tu_noise(in->y, FB, FD, &r);
    tu_noise(in->pool, 2 * FB, FD, &r);
    tu_noise(in->cand, FB * FK, FD, &r);
    for (size_t i = 0; i < FB; i += 3)
        for (size_t k = 0; k < FD; k++) {
            in->x[i * FD + k] *= 1e-21f; /* products ~1e-42: subnormal floats */
            in->y[(i + 1) * FD + k] *= 3e-20f;
        }
    for (size_t t = 0; t < FB * FB; t++)
        in->cost[t] = (float)(tu_unif(&r) * (t % 7 == 0 ? 1e-39 : 1.0)); /* some subnormal */
}

static void run_all(const inputs *in, int threads, results *res) {
    memset(res, 0, sizeof *res);
    imm_options o;
    imm_options_init(&o);
    o.num_threads = threads;
    static const int32_t precs[4] = {IMM_PRECISION_FP32, IMM_PRECISION_FP16, IMM_PRECISION_BF16,
                                     IMM_PRECISION_INT8};
    for (int p = 0; p < 4; p++) {
        o.precision = precs[p];
        assert_int_equal(imm_distance(in->x, FB, in->y, FB, FD, &o, res->dist[p]), IMM_OK);
    }
    o.precision = IMM_PRECISION_FP32;
    for (int s = 0; s < 2; s++) {
        o.solver = s == 0 ? IMM_SOLVER_EXACT : IMM_SOLVER_AUCTION;
        imm_lap_info info;
        assert_int_equal(imm_lap_solve_ex(in->cost, FB, FB, &o, res->lap[s], NULL, NULL, &info),
                         IMM_OK);
        res->lap_total[s] = info.total;
    }
    o.solver = IMM_SOLVER_EXACT;
    memcpy(res->noise, in->y, sizeof res->noise);
    assert_int_equal(imm_assign_noise(in->x, res->noise, FB, FD, &o, res->perm), IMM_OK);
    assert_int_equal(
        imm_select_noise_knn(in->x, FB, in->cand, FK, FD, &o, res->knn, res->knn_index), IMM_OK);
    assert_int_equal(
        imm_assign_noise_pool(in->x, FB, in->pool, 2 * FB, FD, &o, res->pool, res->pool_index),
        IMM_OK);
}

static inputs g_in;
static results g_ref, g_got;

/* 1. Same bits under every caller state, with the state set on the calling thread only, on the
   workers only, or on both; and the caller's state (every thread's) restored afterwards. */
static void test_fp_state(void **state) {
    (void)state;
    make_inputs(&g_in);
    set_default();
    run_all(&g_in, 1, &g_ref);
    run_all(&g_in, 2, &g_got);
    assert_memory_equal(&g_ref, &g_got, sizeof g_ref);
    for (size_t s = 0; s < sizeof k_states / sizeof k_states[0]; s++) {
        for (int where = 0; where < 3; where++) { /* caller, workers, both */
            for (int threads = 1; threads <= 3; threads++) {
                if (where == 0)
                    set_state(&k_states[s]); /* the workers are clean (reset below) */
                else
                    set_team_state(&k_states[s], where == 1);
                const unsigned before = state_word();
                run_all(&g_in, threads, &g_got);
                const unsigned after = state_word();
                if (memcmp(&g_ref, &g_got, sizeof g_ref) != 0)
                    fail_msg("state '%s' on the %s, %d threads: results differ", k_states[s].name,
                             where == 0   ? "caller"
                             : where == 1 ? "workers"
                                          : "caller and workers",
                             threads);
                if (before != after)
                    fail_msg("state '%s': the caller's state was not restored", k_states[s].name);
                if (where == 2 && !team_has_state(&k_states[s]))
                    fail_msg("state '%s': a worker thread's state was not restored",
                             k_states[s].name);
                set_default();
#pragma omp parallel num_threads(3)
                set_default();
            }
        }
    }
}

/*-----------------------------------------------------------------------------------------------
 *  2. Overlapping buffers.
 *---------------------------------------------------------------------------------------------*/

#define SENT 0x5a

static void expect_untouched(const void *p, size_t bytes, const char *what) {
    const unsigned char *b = p;
    for (size_t i = 0; i < bytes; i++)
        if (b[i] != SENT)
            fail_msg("%s: byte %zu modified by a rejected call", what, i);
}

static void test_overlap_lap(void **state) {
    (void)state;
    enum { N = 6 };
    /* one arena so that every buffer can be made to overlap every other one */
    static union {
        double d[256];
        float f[512];
    } arena;
    float cost[N * N];
    tu_rng r = tu_rng_make(5);
    for (int t = 0; t < N * N; t++)
        cost[t] = (float)tu_unif(&r);
    double *a = arena.d;
    memset(&arena, SENT, sizeof arena);
    /* assign inside cost (the reported case: a wrong total with IMM_OK) */
    float *c2 = arena.f;
    memcpy(c2, cost, sizeof cost);
    assert_int_equal(imm_lap_solve(c2, N, N, NULL, (int32_t *)(c2 + 4), NULL), IMM_ERR_INVALID_ARG);
    assert_memory_equal(c2, cost, sizeof cost);
    memset(&arena, SENT, sizeof arena);
    /* outputs overlapping each other: u / v, u / assign, info / v, total / u */
    assert_int_equal(imm_lap_solve_dual(cost, N, N, NULL, (int32_t *)(a + 100), a, a + N - 1, NULL),
                     IMM_ERR_INVALID_ARG);
    assert_int_equal(imm_lap_solve_dual(cost, N, N, NULL, (int32_t *)(a + 2), a, a + 50, NULL),
                     IMM_ERR_INVALID_ARG);
    assert_int_equal(
        imm_lap_solve_ex(cost, N, N, NULL, (int32_t *)(a + 100), NULL, a, (imm_lap_info *)(a + 3)),
        IMM_ERR_INVALID_ARG);
    assert_int_equal(imm_lap_solve_dual(cost, N, N, NULL, (int32_t *)(a + 100), a, a + 50, a + 5),
                     IMM_ERR_INVALID_ARG);
    assert_int_equal(imm_lap_solve(cost, N, N, NULL, (int32_t *)(a + 100), (double *)cost + 1),
                     IMM_ERR_INVALID_ARG);
    expect_untouched(&arena, sizeof arena, "lap arena");
    /* certify: violation inside u */
    int32_t assign[N];
    double u[N], v[N], viol;
    assert_int_equal(imm_lap_solve_dual(cost, N, N, NULL, assign, u, v, NULL), IMM_OK);
    double ucopy[N];
    memcpy(ucopy, u, sizeof u);
    assert_int_equal(imm_lap_certify(cost, N, N, assign, u, v, u + 2), IMM_ERR_INVALID_ARG);
    assert_memory_equal(u, ucopy, sizeof u);
    assert_int_equal(imm_lap_certify(cost, N, N, assign, u, v, &viol), IMM_OK);
    /* adjacent, not overlapping: accepted */
    assert_int_equal(imm_lap_solve_dual(cost, N, N, NULL, (int32_t *)(a + 2 * N), a, a + N, NULL),
                     IMM_OK);
}

static void test_overlap_distance_and_noise(void **state) {
    (void)state;
    enum { B = 24, D = 16 };
    static float buf[4 * B * D + 4 * B * B];
    static float x[B * D], y[2 * B * D];
    tu_rng r = tu_rng_make(6);
    tu_images(x, B, D, &r);
    tu_noise(y, 2 * B, D, &r);
    /* imm_distance with out == x, out inside y */
    memcpy(buf, x, sizeof x);
    assert_int_equal(imm_distance(buf, B, y, B, D, NULL, buf), IMM_ERR_INVALID_ARG);
    assert_memory_equal(buf, x, sizeof x);
    memcpy(buf, y, sizeof y);
    assert_int_equal(imm_distance(x, 2, buf + 8 * D, B, D, NULL, buf + 9 * D), IMM_ERR_INVALID_ARG);
    assert_memory_equal(buf, y, sizeof y);
    /* imm_assign_noise: perm inside noise, noise == x */
    memcpy(buf, y, B * D * sizeof(float));
    assert_int_equal(imm_assign_noise(x, buf, B, D, NULL, (int32_t *)(buf + 5)),
                     IMM_ERR_INVALID_ARG);
    assert_memory_equal(buf, y, B * D * sizeof(float));
    assert_int_equal(imm_assign_noise(buf, buf, B, D, NULL, NULL), IMM_ERR_INVALID_ARG);
    /* pool: out == pool, index inside x, out overlapping x */
    memcpy(buf, y, sizeof y);
    assert_int_equal(imm_assign_noise_pool(x, B, buf, 2 * B, D, NULL, buf, NULL),
                     IMM_ERR_INVALID_ARG);
    assert_memory_equal(buf, y, sizeof y);
    int32_t index[B];
    memset(index, SENT, sizeof index);
    memcpy(buf, x, sizeof x);
    assert_int_equal(
        imm_assign_noise_pool(buf, B, y, 2 * B, D, NULL, buf + B * D - 3, (int32_t *)(buf + 2)),
        IMM_ERR_INVALID_ARG);
    assert_memory_equal(buf, x, sizeof x);
    /* KNN: out == candidates, index inside out */
    memcpy(buf, y, sizeof y);
    assert_int_equal(imm_select_noise_knn(x, B, buf, 2, D, NULL, buf + D, NULL),
                     IMM_ERR_INVALID_ARG);
    assert_memory_equal(buf, y, sizeof y);
    memset(buf, SENT, B * D * sizeof(float));
    assert_int_equal(imm_select_noise_knn(x, B, y, 2, D, NULL, buf, (int32_t *)(buf + 7)),
                     IMM_ERR_INVALID_ARG);
    expect_untouched(buf, B * D * sizeof(float), "knn out");
    /* permute_rows: perm inside rows */
    int32_t perm[B];
    for (int i = 0; i < B; i++)
        perm[i] = (i + 1) % B;
    memcpy(buf, y, B * D * sizeof(float));
    memcpy(buf + 4, perm, sizeof perm);
    memcpy(buf + B * D, buf, B * D * sizeof(float));
    assert_int_equal(imm_permute_rows(buf, B, D, (int32_t *)(buf + 4)), IMM_ERR_INVALID_ARG);
    assert_memory_equal(buf, buf + B * D, B * D * sizeof(float));
    /* contexts: the handle inside the options, the size inside the options */
    imm_options o;
    imm_options_init(&o);
    imm_options keep = o;
    assert_int_equal(imm_ctx_create((imm_ctx **)&o, &o), IMM_ERR_INVALID_ARG);
    assert_int_equal(imm_ctx_workspace_size(&o, B, D, (size_t *)&o.reserved_[3]),
                     IMM_ERR_INVALID_ARG);
    assert_memory_equal(&o, &keep, sizeof o);
}

/*-----------------------------------------------------------------------------------------------
 *  3. Thread counts.
 *---------------------------------------------------------------------------------------------*/

static void test_thread_counts(void **state) {
    (void)state;
    make_inputs(&g_in);
    run_all(&g_in, 1, &g_ref);
    static const int counts[] = {2, 64, 100000, INT32_MAX};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        run_all(&g_in, counts[c], &g_got);
        if (memcmp(&g_ref, &g_got, sizeof g_ref) != 0)
            fail_msg("num_threads %d: results differ from 1 thread", counts[c]);
    }
    /* Workspaces are sized for the threads that can run: the processors, at most. */
    imm_options o;
    imm_options_init(&o);
    int limit = omp_get_num_procs();
    if (omp_get_thread_limit() < limit)
        limit = omp_get_thread_limit();
    size_t at_limit, huge;
    o.num_threads = limit;
    assert_int_equal(imm_ctx_workspace_size(&o, 64, 64, &at_limit), IMM_OK);
    o.num_threads = 100000;
    assert_int_equal(imm_ctx_workspace_size(&o, 64, 64, &huge), IMM_OK);
    assert_true(huge == at_limit);
    /* a context with 100000 threads: KNN sizes a slice per thread */
    imm_ctx *ctx;
    assert_int_equal(imm_ctx_create(&ctx, &o), IMM_OK);
    assert_int_equal(
        imm_ctx_select_noise_knn(ctx, g_in.x, FB, g_in.cand, FK, FD, g_got.knn, g_got.knn_index),
        IMM_OK);
    assert_memory_equal(g_got.knn_index, g_ref.knn_index, sizeof g_ref.knn_index);
    imm_ctx_free(ctx);
}

/*-----------------------------------------------------------------------------------------------
 *  4. Auction accuracy: its range, and what holds inside it.
 *---------------------------------------------------------------------------------------------*/

static void test_accuracy_range(void **state) {
    (void)state;
    const float cost[4] = {0, 1e9f, 1e9f, 0};
    static const double bad[] = {1.0000001, 2.0, 1e7, 1e8, 1e100, 1e300, -1e-300, -1.0};
    imm_options o;
    imm_options_init(&o);
    o.solver = IMM_SOLVER_AUCTION;
    int32_t a[2] = {-7, -7};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        o.accuracy = bad[k];
        assert_int_equal(imm_lap_solve(cost, 2, 2, &o, a, NULL), IMM_ERR_INVALID_ARG);
        imm_ctx *ctx = NULL;
        assert_int_equal(imm_ctx_create(&ctx, &o), IMM_ERR_INVALID_ARG);
    }
    o.accuracy = NAN;
    assert_int_equal(imm_lap_solve(cost, 2, 2, &o, a, NULL), IMM_ERR_INVALID_ARG);
    o.accuracy = INFINITY;
    assert_int_equal(imm_lap_solve(cost, 2, 2, &o, a, NULL), IMM_ERR_INVALID_ARG);
    assert_true(a[0] == -7 && a[1] == -7);
    o.accuracy = IMM_AUCTION_MAX_ACCURACY;
    o.exact_finish = 1;
    double total;
    assert_int_equal(imm_lap_solve(cost, 2, 2, &o, a, &total), IMM_OK);
    assert_true(total == 0.0 && a[0] == 0 && a[1] == 1);
}

/* Random small problems with values chosen to break things: every accuracy in range, with and
   without the finish. Exact results equal brute force and certify; the auction's bound holds. */
static float adversarial_value(tu_rng *r) {
    static const float special[] = {0.0f,      1.0f,    -1.0f,  1e9f,  -1e9f,  1e30f, -1e30f,
                                    0x1p-149f, FLT_MIN, 1e-30f, 3e38f, -3e38f, 0.5f,  1e20f};
    if (tu_below(r, 3) == 0)
        return special[tu_below(r, sizeof special / sizeof special[0])];
    double scale = pow(10.0, (double)tu_below(r, 61) - 30.0);
    return (float)((tu_unif(r) * 2.0 - 1.0) * scale);
}

/* Prints a failing matrix so that it can be replayed. */
static void print_matrix(const float *cost, size_t rows, size_t cols) {
    print_message("cost %zu x %zu:\n", rows, cols);
    for (size_t i = 0; i < rows; i++) {
        for (size_t j = 0; j < cols; j++)
            print_message(" %a", (double)cost[i * cols + j]);
        print_message("\n");
    }
}

static void check_small(const float *cost, size_t rows, size_t cols, const imm_options *o) {
    int32_t a[8];
    double u[8], v[8], viol;
    imm_lap_info info;
    assert_int_equal(imm_lap_solve_ex(cost, rows, cols, o, a, u, v, &info), IMM_OK);
    assert_true(tu_is_injection(a, rows, cols));
    double abs_best, abs_got;
    const double best = tu_brute_min(cost, rows, cols, &abs_best);
    const double got = tu_total(cost, rows, cols, a, &abs_got);
    /* slack: the rounding of the two double sums of float costs (rows terms each) */
    const double slack = 16.0 * DBL_EPSILON * (abs_best + abs_got);
    assert_true(isfinite(info.lower_bound) && isfinite(info.gap_bound));
    if (!(info.lower_bound <= best + slack))
        fail_msg("lower bound %.17g above the optimum %.17g (accuracy %g, finish %d)",
                 info.lower_bound, best, o->accuracy, o->exact_finish);
    if (!(got - best <= info.gap_bound + slack))
        fail_msg("total %.17g, optimum %.17g, gap bound %.17g", got, best, info.gap_bound);
    if (info.exact) {
        /* "exact": certified with tau = 1e-9 max|cost| per entry, so within 2 rows tau of the
           optimum (3 rows tau when rows < cols; see imm_lap_certify). With costs from 1e-45 to
           1e30 in one matrix that is all double potentials can promise. */
        const double tau = 1e-9 * tu_max_abs(cost, rows * cols) + 1e-30;
        const double within = (rows < cols ? 3.0 : 2.0) * (double)rows * tau + slack;
        if (!(got <= best + within))
            print_matrix(cost, rows, cols);
        if (!(got <= best + within))
            fail_msg("marked exact but total %.17g > optimum %.17g + %.3g (accuracy %g, finish "
                     "%d)",
                     got, best, within, o->accuracy, o->exact_finish);
        assert_int_equal(imm_lap_certify(cost, rows, cols, a, u, v, &viol), IMM_OK);
        if (!(viol <= tau))
            fail_msg("exact result's certificate %.6g > tau %.6g", viol, tau);
    }
}

static void test_accuracy_adversarial(void **state) {
    (void)state;
    static const float fixed[][4] = {{0, 1e9f, 1e9f, 0}, {0, 0x1p-149f, 1e30f, 0}};
    static const double accuracies[] = {
        IMM_AUCTION_MAX_ACCURACY, 0.5, 0.1, 1e-3, 0.0, 1e-12, 1e-300};
    imm_options o;
    imm_options_init(&o);
    o.solver = IMM_SOLVER_AUCTION;
    tu_rng r = tu_rng_make(77);
    const int problems = tu_quick() ? 300 : 3000;
    for (size_t ac = 0; ac < sizeof accuracies / sizeof accuracies[0]; ac++) {
        o.accuracy = accuracies[ac];
        for (int finish = 0; finish < 2; finish++) {
            o.exact_finish = finish;
            for (int f = 0; f < 2; f++)
                check_small(fixed[f], 2, 2, &o);
            for (int p = 0; p < problems; p++) {
                const size_t cols = 1 + tu_below(&r, 7), rows = 1 + tu_below(&r, cols);
                float cost[64];
                const int uniform = tu_below(&r, 2) == 0;
                for (size_t t = 0; t < rows * cols; t++)
                    cost[t] = uniform ? (float)tu_unif(&r) : adversarial_value(&r);
                check_small(cost, rows, cols, &o);
            }
        }
    }
}

/*-----------------------------------------------------------------------------------------------
 *  5. The certificate.
 *---------------------------------------------------------------------------------------------*/

/* Potentials with huge offsets: u + v stays right in exact arithmetic but rounds the costs away.
   A non-optimal assignment with such potentials must not come out with a small violation. */
static void test_certify_not_fooled(void **state) {
    (void)state;
    tu_rng r = tu_rng_make(31);
    const int problems = tu_quick() ? 500 : 5000;
    for (int p = 0; p < problems; p++) {
        const size_t n = 2 + tu_below(&r, 5), cols = n + tu_below(&r, 3);
        float cost[64];
        for (size_t t = 0; t < n * cols; t++)
            cost[t] = (float)tu_unif(&r);
        int32_t a[8];
        double u[8], v[8], viol;
        assert_int_equal(imm_lap_solve_dual(cost, n, cols, NULL, a, u, v, NULL), IMM_OK);
        /* a random other assignment, and shifted potentials */
        int32_t b[8];
        for (size_t i = 0; i < n; i++)
            b[i] = a[i];
        size_t i1 = tu_below(&r, n), i2 = tu_below(&r, n);
        int32_t t = b[i1];
        b[i1] = b[i2];
        b[i2] = t;
        const double shift = ldexp(1.0, 30 + (int)tu_below(&r, 990));
        double us[8], vs[8];
        for (size_t i = 0; i < n; i++)
            us[i] = tu_below(&r, 2) ? u[i] + shift : shift;
        for (size_t j = 0; j < cols; j++)
            vs[j] = tu_below(&r, 2) ? v[j] - shift : -shift;
        int st = imm_lap_certify(cost, n, cols, b, us, vs, &viol);
        if (st == IMM_ERR_NONFINITE)
            continue; /* potentials whose sums overflow are refused: also fine */
        assert_int_equal(st, IMM_OK);
        double abs_best, abs_got;
        const double best = tu_brute_min(cost, n, cols, &abs_best);
        const double got = tu_total(cost, n, cols, b, &abs_got);
        const double bound = (n < cols ? 3.0 : 2.0) * (double)n * viol;
        if (!(got - best <= bound + 16.0 * DBL_EPSILON * (abs_best + abs_got)))
            fail_msg("certify: violation %.6g for an assignment %.6g above the optimum (shift "
                     "2^%d)",
                     viol, got - best, (int)log2(shift));
    }
    /* sums that overflow: refused */
    const float cost[4] = {0, 1, 1, 0};
    const int32_t a[2] = {0, 1};
    const double u[2] = {DBL_MAX, DBL_MAX}, v[2] = {DBL_MAX, DBL_MAX};
    double viol = -1.0;
    assert_int_equal(imm_lap_certify(cost, 2, 2, a, u, v, &viol), IMM_ERR_NONFINITE);
    assert_true(viol == -1.0);
}

/*-----------------------------------------------------------------------------------------------
 *  6. KNN checks its inputs for every k.
 *---------------------------------------------------------------------------------------------*/

static int knn_status(imm_precision prec, const float *x, const float *cand, size_t k, size_t dim) {
    imm_options o;
    imm_options_init(&o);
    o.precision = prec;
    float *out = malloc(2 * dim * sizeof(float));
    int32_t index[2] = {-3, -3};
    memset(out, SENT, 2 * dim * sizeof(float));
    int st = imm_select_noise_knn(x, 2, cand, k, dim, &o, out, index);
    if (st != IMM_OK) {
        expect_untouched(out, 2 * dim * sizeof(float), "knn out");
        assert_true(index[0] == -3 && index[1] == -3);
    }
    free(out);
    return st;
}

static void test_knn_checks_every_k(void **state) {
    (void)state;
    const size_t big_dim = 66312; /* INT8 sums are exact up to 66311 */
    float *x = calloc(2 * big_dim, sizeof(float)), *cand = calloc(2 * 2 * big_dim, sizeof(float));
    assert_non_null(x);
    assert_non_null(cand);
    for (size_t k = 1; k <= 2; k++) {
        /* FP16: 65520 rounds to Inf in half */
        x[0] = 65520.0f;
        assert_int_equal(knn_status(IMM_PRECISION_FP16, x, cand, k, 4), IMM_ERR_NONFINITE);
        assert_int_equal(knn_status(IMM_PRECISION_FP32, x, cand, k, 4), IMM_OK);
        x[0] = 0.0f;
        /* INT8: dim beyond the exact range */
        assert_int_equal(knn_status(IMM_PRECISION_INT8, x, cand, k, big_dim), IMM_ERR_TOO_LARGE);
        assert_int_equal(knn_status(IMM_PRECISION_INT8, x, cand, k, big_dim - 1), IMM_OK);
        /* FP32: a distance above FLT_MAX */
        for (size_t t = 0; t < 4; t++) {
            x[t] = 3e38f;
            cand[t] = -3e38f;
        }
        assert_int_equal(knn_status(IMM_PRECISION_FP32, x, cand, k, 4), IMM_ERR_NONFINITE);
        memset(x, 0, 4 * sizeof(float));
        memset(cand, 0, 4 * sizeof(float));
    }
    free(x);
    free(cand);
}

/*-----------------------------------------------------------------------------------------------
 *  Distances at the ends of the float range (found by fuzz/fuzz_distance.c): products that
 *  underflow in fp32, and the power-of-two scaling that a huge row forces on the whole call.
 *---------------------------------------------------------------------------------------------*/

static float one_distance(int32_t prec, int32_t metric, const float *x, size_t n, size_t row,
                          const float *y, size_t dim) {
    imm_options o;
    imm_options_init(&o);
    o.precision = prec;
    o.metric = metric;
    float out[8];
    assert_true(n <= 8);
    assert_int_equal(imm_distance(x, n, y, 1, dim, &o, out), IMM_OK);
    return out[row];
}

static void test_distance_range_ends(void **state) {
    (void)state;
    /* identical tiny rows: 0, not sqrt(2) |x| (the fp32 dot product underflows) */
    static const float tiny[] = {0x1.8p-148f, 0x1.104p-92f, 1e-25f, 1e-20f};
    for (size_t t = 0; t < sizeof tiny / sizeof tiny[0]; t++) {
        const float x[2] = {tiny[t], -tiny[t] / 3};
        assert_true(one_distance(IMM_PRECISION_FP32, IMM_METRIC_L2, x, 1, 0, x, 2) == 0.0f);
        assert_true(one_distance(IMM_PRECISION_FP32, IMM_METRIC_SQL2, x, 1, 0, x, 2) == 0.0f);
        assert_true(one_distance(IMM_PRECISION_BF16, IMM_METRIC_L2, x, 1, 0, x, 2) == 0.0f);
    }
    /* a tiny distance between tiny rows, exact in double */
    const float a[2] = {3e-30f, 0}, b[2] = {0, 4e-30f};
    const float d = one_distance(IMM_PRECISION_FP32, IMM_METRIC_L2, a, 1, 0, b, 2);
    assert_true(fabs((double)d - 5e-30) <= 1e-5 * 5e-30);
    /* a small row next to a huge one: the scaling must not flush or underflow it */
    const float small_huge[2] = {0x1.18p-2f, -0x1.7457a4p+106f}, zero[1] = {0};
    assert_true(one_distance(IMM_PRECISION_BF16, IMM_METRIC_L2, small_huge, 2, 0, zero, 1) ==
                0x1.18p-2f);
    assert_true(one_distance(IMM_PRECISION_FP32, IMM_METRIC_L2, small_huge, 2, 0, zero, 1) ==
                0x1.18p-2f);
    const float sub_huge[4] = {0x1p-148f, 0, 0x1.fffffep+126f, 0}, zero2[2] = {0, 0};
    assert_true(one_distance(IMM_PRECISION_FP32, IMM_METRIC_L2, sub_huge, 2, 0, zero2, 2) ==
                0x1p-148f);
    /* KNN: the nearest candidate, whatever the other images of the batch hold */
    imm_options o;
    imm_options_init(&o);
    const float xk[2] = {0.0f, -0.0f},
                ck[4] = {0x1.fffffep+126f, 0x1.fffffep+126f, 0x1.4484cp-98f, 0.0f};
    float out[2];
    int32_t index[2];
    assert_int_equal(imm_select_noise_knn(xk, 2, ck, 2, 1, &o, out, index), IMM_OK);
    assert_int_equal(index[1], 1);
    o.precision = IMM_PRECISION_BF16;
    const float xb[2] = {0x1.2eec3p+106f, -0.0f},
                cb[6] = {-0.0f, 0x1.4p-3f, 0.0f, 0x1.d2f8p+5f, 0.0f, 0.0f};
    assert_int_equal(imm_select_noise_knn(xb, 2, cb, 3, 1, &o, out, index), IMM_OK);
    assert_int_equal(index[1], 1);
}

/* KNN images share kernel calls in groups; a huge row in a group must not change what the
   others choose: each image gets the argmin of imm_distance() on it and its candidates alone. */
static void test_knn_group_with_huge_row(void **state) {
    (void)state;
    enum { B = 16, K = 3, D = 5 };
    static float x[B * D], cand[B * K * D], out[B * D], d[K];
    int32_t index[B];
    imm_options o;
    imm_options_init(&o);
    tu_rng r = tu_rng_make(2024);
    int trials = tu_quick() ? 100 : 400, differs = 0;
    for (int trial = 0; trial < trials; trial++) {
        for (size_t i = 0; i < B * D; i++)
            x[i] = (float)tu_normal(&r);
        x[(trial % B) * D + 1] = 0x1p+126f; /* a huge row: the group call scales */
        for (size_t i = 0; i < B; i++) /* candidates at nearly the same distance, 2 |x_i| */
            for (size_t t = 0; t < K; t++) {
                const double f = 1.0 + 1e-6 * tu_unif(&r);
                for (size_t k = 0; k < D; k++)
                    cand[(i * K + t) * D + k] = (float)(-f * x[i * D + k]);
            }
        assert_int_equal(imm_select_noise_knn(x, B, cand, K, D, &o, out, index), IMM_OK);
        for (size_t i = 0; i < B; i++) {
            assert_int_equal(imm_distance(x + i * D, 1, cand + i * K * D, K, D, &o, d), IMM_OK);
            int32_t best = 0;
            for (int32_t t = 1; t < K; t++)
                best = d[t] < d[best] ? t : best;
            if (index[i] != best)
                fail_msg("trial %d, image %zu: chose %d, alone the nearest is %d", trial, i,
                         index[i], best);
            differs += d[0] != d[1] || d[1] != d[2];
        }
    }
    assert_true(differs > 0); /* the near-ties are not all exact ties */
}

/* Every test starts from the default FP state on every thread, whatever a failed one left. */
static int clean_fp_state(void **state) {
    (void)state;
    set_default();
#pragma omp parallel num_threads(3)
    set_default();
    return 0;
}

int main(void) {
    tu_arch_start("test_contract");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_fp_state, clean_fp_state),
        cmocka_unit_test_setup(test_overlap_lap, clean_fp_state),
        cmocka_unit_test_setup(test_overlap_distance_and_noise, clean_fp_state),
        cmocka_unit_test_setup(test_thread_counts, clean_fp_state),
        cmocka_unit_test_setup(test_accuracy_range, clean_fp_state),
        cmocka_unit_test_setup(test_accuracy_adversarial, clean_fp_state),
        cmocka_unit_test_setup(test_certify_not_fooled, clean_fp_state),
        cmocka_unit_test_setup(test_knn_checks_every_k, clean_fp_state),
        cmocka_unit_test_setup(test_distance_range_ends, clean_fp_state),
        cmocka_unit_test_setup(test_knn_group_with_huge_row, clean_fp_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
