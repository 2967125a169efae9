/*
 * test_errors.c - every error path of every public function: the exact status, and that
 * nothing the caller passed in was modified (outputs are filled with sentinels and compared).
 *
 * Size errors must be found before any data is read, so those calls get small real buffers that
 * end at an inaccessible page: reading the data anyway crashes the test instead of passing.
 */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L
#include <immiscible.h>

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#define SENT 0xA5

#define EXPECT(call, want)                                                                         \
    do {                                                                                           \
        int st_ = (call);                                                                          \
        if (st_ != (int)(want))                                                                    \
            fail_msg("line %d: %s returned %d (%s), expected %d (%s)", __LINE__, #call, st_,       \
                     imm_strerror(st_), (int)(want), imm_strerror((int)(want)));                   \
    } while (0)

#define FILL(buf) memset((buf), SENT, sizeof(buf))
#define FILL_VAR(var) memset(&(var), SENT, sizeof(var))
#define UNTOUCHED(buf) untouched_at((buf), sizeof(buf), #buf, __LINE__)

static void untouched_at(const void *p, size_t size, const char *name, int line) {
    const unsigned char *b = p;
    for (size_t i = 0; i < size; i++)
        if (b[i] != SENT)
            fail_msg("line %d: output %s was modified (byte %zu)", line, name, i);
}

/* bytes of real, writable memory that end exactly at a PROT_NONE page. */
typedef struct guarded {
    void *base;
    size_t len;
    void *data;
} guarded;

static guarded guard_alloc(size_t bytes) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t body = (bytes + page - 1) / page * page;
    guarded g;
    g.len = body + page;
    g.base = mmap(NULL, g.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g.base != MAP_FAILED);
    assert_int_equal(mprotect((char *)g.base + body, page, PROT_NONE), 0);
    g.data = (char *)g.base + body - bytes;
    memset(g.data, 0, bytes);
    return g;
}

static void guard_free(guarded *g) { munmap(g->base, g->len); }

/* A buffer the call is told is `declared` bytes long, of which only the first `readable` exist
   (writable); the rest is reserved PROT_NONE address space, so no other buffer overlaps the
   declared range (the library rejects overlapping buffers) and a read past the head crashes. */
static guarded guard_span(size_t readable, size_t declared) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t head = (readable + page - 1) / page * page;
    guarded g;
    g.len = (declared > head ? declared : head) + page;
    g.base = mmap(NULL, g.len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    assert_true(g.base != MAP_FAILED);
    assert_int_equal(mprotect(g.base, head, PROT_READ | PROT_WRITE), 0);
    g.data = g.base;
    return g;
}

/* Options that are invalid in each documented way. */
enum { N_BAD_OPTS = 13 };
static imm_options bad_options(int k) {
    imm_options o;
    imm_options_init(&o);
    switch (k) {
    case 0: o.solver = (imm_solver)7; break;
    case 1: o.precision = (imm_precision)9; break;
    case 2: o.metric = (imm_metric)5; break;
    case 3: o.num_threads = -1; break;
    case 4: o.num_threads = INT_MIN; break;
    case 5: o.reserved_[0] = 1; break;
    case 6: o.reserved_[sizeof o.reserved_ / sizeof o.reserved_[0] - 1] = 1ull << 63; break;
    case 7: o.reserved_[7] = 0xdeadbeef; break;
    case 8: o.reserved_int_ = 1; break;
    case 9: o.accuracy = -1e-4; break; /* accuracy: 0 (default) or finite and > 0 */
    case 10: o.accuracy = NAN; break;
    case 11: o.accuracy = INFINITY; break;
    default: o.solver = (imm_solver)-1; break;
    }
    return o;
}

/*-----------------------------------------------------------------------------------------------
 *  Version, strings, options
 *---------------------------------------------------------------------------------------------*/
static void test_version_and_strings(void **state) {
    (void)state;
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", IMM_VERSION_MAJOR, IMM_VERSION_MINOR,
             IMM_VERSION_PATCH);
    assert_non_null(imm_version_string());
    assert_string_equal(imm_version_string(), want);
    assert_int_equal(imm_version_number(), IMM_VERSION_NUMBER);
    const char *arch = imm_simd_arch();
    assert_non_null(arch);
    assert_true(strcmp(arch, "scalar") == 0 || strcmp(arch, "avx2") == 0 ||
                strcmp(arch, "avx512") == 0);
    assert_string_equal(arch, imm_simd_arch()); /* chosen once */
    const char *forced = getenv("IMM_ARCH");
    if (forced != NULL && strcmp(forced, "scalar") == 0)
        assert_string_equal(arch, "scalar");

    static const int known[] = {IMM_OK,            IMM_ERR_INVALID_ARG, IMM_ERR_NONFINITE,
                                IMM_ERR_NOMEM,     IMM_ERR_TOO_LARGE,   IMM_ERR_UNSUPPORTED,
                                IMM_ERR_INFEASIBLE};
    static const int unknown[] = {1, -7, 100, -100, INT_MIN, INT_MAX};
    const char *names[7];
    for (int i = 0; i < 7; i++) {
        names[i] = imm_strerror(known[i]);
        assert_non_null(names[i]);
        assert_true(names[i][0] != '\0');
        for (int j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0)
                fail_msg("imm_strerror(%d) == imm_strerror(%d) == \"%s\"", known[i], known[j],
                         names[i]);
    }
    for (int u = 0; u < 6; u++) {
        const char *s = imm_strerror(unknown[u]);
        assert_non_null(s);
        for (int j = 0; j < 6; j++)
            if (strcmp(s, names[j]) == 0)
                fail_msg("imm_strerror(%d) (unknown) == imm_strerror(%d)", unknown[u], known[j]);
    }
}

static void test_options_init(void **state) {
    (void)state;
    imm_options o;
    assert_int_equal(sizeof o, 128);
    memset(&o, SENT, sizeof o);
    imm_options_init(&o);
    assert_int_equal(o.solver, IMM_SOLVER_EXACT);
    assert_int_equal(o.precision, IMM_PRECISION_FP32);
    assert_int_equal(o.metric, IMM_METRIC_L2);
    assert_int_equal(o.num_threads, 0);
    assert_true(o.accuracy == 0.0 || o.accuracy == IMM_AUCTION_DEFAULT_ACCURACY);
    assert_int_equal(o.exact_finish, 0);
    assert_int_equal(o.reserved_int_, 0);
    for (size_t i = 0; i < sizeof o.reserved_ / sizeof o.reserved_[0]; i++)
        assert_true(o.reserved_[i] == 0);
    imm_options_init(NULL); /* no-op */

    /* valid non-default values are accepted */
    float c[4] = {1, 2, 3, 4};
    int32_t a[2];
    o.accuracy = 1e-3;
    o.exact_finish = 1;
    o.num_threads = 3;
    o.metric = IMM_METRIC_SQL2;
    EXPECT(imm_lap_solve(c, 2, 2, &o, a, NULL), IMM_OK);
}

/*-----------------------------------------------------------------------------------------------
 *  Linear assignment
 *---------------------------------------------------------------------------------------------*/
static const float COST[12] = {4, 1, 3, 2, 0, 5, 3, 2, 2, 9, 8, 1}; /* 3 x 4 */

/* The four solve entry points with the same arguments; u, v, info are the outputs of the dual
 * and _ex calls. Returns the first status that differs from `want`, or `want`. */
typedef struct lap_out {
    int32_t assign[4];
    double total, u[4], v[4];
    imm_lap_info info;
} lap_out;

static int solve_all(const float *c, size_t rows, size_t cols, const imm_options *o,
                     int null_assign, lap_out *out, int want, const char **which) {
    int32_t *a = null_assign ? NULL : out->assign;
    int st = imm_lap_solve(c, rows, cols, o, a, &out->total);
    *which = "imm_lap_solve";
    if (st != want)
        return st;
    st = imm_lap_solve_dual(c, rows, cols, o, a, out->u, out->v, &out->total);
    *which = "imm_lap_solve_dual";
    if (st != want)
        return st;
    st = imm_lap_solve_ex(c, rows, cols, o, a, out->u, out->v, &out->info);
    *which = "imm_lap_solve_ex";
    return st;
}

#define EXPECT_SOLVE(c, rows, cols, o, null_assign, want)                                          \
    do {                                                                                           \
        const char *which_;                                                                        \
        int st_ = solve_all((c), (rows), (cols), (o), (null_assign), &out, (want), &which_);       \
        if (st_ != (int)(want))                                                                    \
            fail_msg("line %d: %s returned %d (%s), expected %d (%s)", __LINE__, which_, st_,      \
                     imm_strerror(st_), (int)(want), imm_strerror((int)(want)));                   \
        untouched_at(&out, sizeof out, "solver outputs", __LINE__);                                \
    } while (0)

static void test_lap_args(void **state) {
    (void)state;
    lap_out out;
    double viol;
    const int32_t good[3] = {1, 0, 3};
    const double du[3] = {0, 0, 0}, dv[4] = {0, 0, 0, 0};
    FILL_VAR(out);
    FILL_VAR(viol);

    /* NULL where data is required */
    EXPECT_SOLVE(NULL, 3, 4, NULL, 0, IMM_ERR_INVALID_ARG);
    EXPECT_SOLVE(COST, 3, 4, NULL, 1, IMM_ERR_INVALID_ARG);
    EXPECT(imm_lap_certify(NULL, 3, 4, good, du, dv, &viol), IMM_ERR_INVALID_ARG);
    EXPECT(imm_lap_certify(COST, 3, 4, NULL, du, dv, &viol), IMM_ERR_INVALID_ARG);
    EXPECT(imm_lap_certify(COST, 3, 4, good, NULL, dv, &viol), IMM_ERR_INVALID_ARG);
    EXPECT(imm_lap_certify(COST, 3, 4, good, du, NULL, &viol), IMM_ERR_INVALID_ARG);
    EXPECT(imm_lap_certify(COST, 3, 4, good, du, dv, NULL), IMM_ERR_INVALID_ARG);
    /* rows > cols */
    EXPECT_SOLVE(COST, 4, 3, NULL, 0, IMM_ERR_INVALID_ARG);
    EXPECT_SOLVE(COST, 2, 1, NULL, 0, IMM_ERR_INVALID_ARG);
    EXPECT(imm_lap_certify(COST, 4, 3, good, du, dv, &viol), IMM_ERR_INVALID_ARG);
    /* bad options */
    for (int k = 0; k < N_BAD_OPTS; k++) {
        imm_options o = bad_options(k);
        EXPECT_SOLVE(COST, 3, 4, &o, 0, IMM_ERR_INVALID_ARG);
    }
    /* not an assignment */
    const int32_t dup[3] = {1, 1, 3}, high[3] = {1, 0, 4}, neg[3] = {1, -1, 3};
    const int32_t far[3] = {INT32_MIN, 0, INT32_MAX};
    EXPECT(imm_lap_certify(COST, 3, 4, dup, du, dv, &viol), IMM_ERR_INVALID_ARG);
    EXPECT(imm_lap_certify(COST, 3, 4, high, du, dv, &viol), IMM_ERR_INVALID_ARG);
    EXPECT(imm_lap_certify(COST, 3, 4, neg, du, dv, &viol), IMM_ERR_INVALID_ARG);
    EXPECT(imm_lap_certify(COST, 3, 4, far, du, dv, &viol), IMM_ERR_INVALID_ARG);
    untouched_at(&viol, sizeof viol, "violation", __LINE__);

    /* sizes: rejected before the data is read */
    guarded gc = guard_alloc(16 * sizeof(float)), ga = guard_alloc(4 * sizeof(int32_t));
    guarded gu = guard_alloc(4 * sizeof(double)), gv = guard_alloc(4 * sizeof(double));
    static const size_t shapes[][2] = {{2, (size_t)INT32_MAX + 1u},
                                       {(size_t)INT32_MAX + 1u, (size_t)INT32_MAX + 1u},
                                       {2, SIZE_MAX / 2},
                                       {SIZE_MAX / 4, SIZE_MAX / 2},
                                       {(size_t)1 << 33, (size_t)1 << 33},
                                       {3, SIZE_MAX}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t r = shapes[s][0], k = shapes[s][1];
        EXPECT_SOLVE(gc.data, r, k, NULL, 0, IMM_ERR_TOO_LARGE);
        EXPECT(imm_lap_certify(gc.data, r, k, ga.data, gu.data, gv.data, &viol), IMM_ERR_TOO_LARGE);
    }
    untouched_at(&viol, sizeof viol, "violation", __LINE__);
    guard_free(&gc);
    guard_free(&ga);
    guard_free(&gu);
    guard_free(&gv);

    /* arguments are checked before data */
    float nan_cost[12];
    memcpy(nan_cost, COST, sizeof nan_cost);
    nan_cost[5] = NAN;
    EXPECT_SOLVE(nan_cost, 4, 3, NULL, 0, IMM_ERR_INVALID_ARG);
    EXPECT_SOLVE(nan_cost, 3, 4, NULL, 1, IMM_ERR_INVALID_ARG);
    for (int k = 0; k < N_BAD_OPTS; k++) {
        imm_options bad = bad_options(k);
        EXPECT_SOLVE(nan_cost, 3, 4, &bad, 0, IMM_ERR_INVALID_ARG);
    }
    EXPECT(imm_lap_certify(nan_cost, 3, 4, dup, du, dv, &viol), IMM_ERR_INVALID_ARG);
    untouched_at(&viol, sizeof viol, "violation", __LINE__);

    /* u, v, total, info may be NULL */
    int32_t a[3];
    EXPECT(imm_lap_solve_dual(COST, 3, 4, NULL, a, NULL, NULL, NULL), IMM_OK);
    EXPECT(imm_lap_solve_ex(COST, 3, 4, NULL, a, NULL, NULL, NULL), IMM_OK);
}

static void test_lap_nonfinite(void **state) {
    (void)state;
    static const float badf[] = {NAN, INFINITY, -INFINITY};
    static const double badd[] = {NAN, INFINITY, -INFINITY};
    static const size_t pos_cost[] = {0, 6, 11}, pos_u[] = {0, 1, 2}, pos_v[] = {0, 2, 3};
    const int32_t good[3] = {1, 0, 3};
    imm_options auction;
    imm_options_init(&auction);
    auction.solver = IMM_SOLVER_AUCTION;
    for (int b = 0; b < 3; b++)
        for (int p = 0; p < 3; p++) {
            float c[12];
            lap_out out;
            double viol;
            double cu[3] = {1, 0, 1}, cv[4] = {0, 0, 0, 0};
            memcpy(c, COST, sizeof c);
            c[pos_cost[p]] = badf[b];
            FILL_VAR(out);
            FILL_VAR(viol);
            if (badf[b] == INFINITY) { /* a forbidden pair: exact only (test_lap_batch.c) */
                EXPECT(imm_lap_solve(c, 3, 4, NULL, out.assign, NULL), IMM_OK);
                FILL_VAR(out);
                EXPECT_SOLVE(c, 3, 4, &auction, 0, IMM_ERR_UNSUPPORTED);
                EXPECT(imm_lap_certify(c, 3, 4, good, cu, cv, &viol), IMM_OK);
                FILL_VAR(viol);
            } else {
                EXPECT_SOLVE(c, 3, 4, NULL, 0, IMM_ERR_NONFINITE);
                EXPECT_SOLVE(c, 3, 4, &auction, 0, IMM_ERR_NONFINITE);
                if (pos_cost[p] < 9) /* as 3 x 3, only the first 9 entries are read */
                    EXPECT_SOLVE(c, 3, 3, NULL, 0, IMM_ERR_NONFINITE);
                else
                    EXPECT(imm_lap_solve(c, 3, 3, NULL, out.assign, NULL), IMM_OK);
                FILL_VAR(out);
                EXPECT(imm_lap_certify(c, 3, 4, good, cu, cv, &viol), IMM_ERR_NONFINITE);
            }
            cu[pos_u[p]] = badd[b];
            EXPECT(imm_lap_certify(COST, 3, 4, good, cu, cv, &viol), IMM_ERR_NONFINITE);
            cu[pos_u[p]] = 0;
            cv[pos_v[p]] = badd[b];
            EXPECT(imm_lap_certify(COST, 3, 4, good, cu, cv, &viol), IMM_ERR_NONFINITE);
            untouched_at(&viol, sizeof viol, "violation", __LINE__);
        }
}

/*-----------------------------------------------------------------------------------------------
 *  Reduced precisions: every one is served (none says IMM_ERR_UNSUPPORTED any more).
 *---------------------------------------------------------------------------------------------*/

/* Every entry point serves every valid precision with IMM_OK. */
static void test_precision_consistency(void **state) {
    (void)state;
    static const imm_precision precs[] = {IMM_PRECISION_FP32, IMM_PRECISION_FP16,
                                          IMM_PRECISION_BF16, IMM_PRECISION_INT8};
    for (size_t k = 0; k < sizeof precs / sizeof precs[0]; k++) {
        imm_options o;
        imm_options_init(&o);
        o.precision = precs[k];
        float x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {6, 5, 4, 3, 2, 1}, out[4], noise[6];
        int32_t perm[2];
        memcpy(noise, y, sizeof noise);
        size_t bytes = 0;
        imm_ctx *ctx = NULL;
        EXPECT(imm_distance(x, 2, y, 2, 3, &o, out), IMM_OK);
        EXPECT(imm_assign_noise(x, noise, 2, 3, &o, perm), IMM_OK);
        EXPECT(imm_ctx_workspace_size(&o, 2, 3, &bytes), IMM_OK);
        assert_true(bytes > 0);
        EXPECT(imm_ctx_create(&ctx, &o), IMM_OK);
        assert_non_null(ctx);
        imm_ctx_free(ctx);
    }
}

/*-----------------------------------------------------------------------------------------------
 *  Distances
 *---------------------------------------------------------------------------------------------*/
static void test_distance_errors(void **state) {
    (void)state;
    float x[6] = {1, 2, 3, 4, 5, 6}, y[9] = {0, 1, 0, 1, 0, 1, 2, 2, 2}, out[6];
    FILL(out);
    EXPECT(imm_distance(NULL, 2, y, 3, 3, NULL, out), IMM_ERR_INVALID_ARG);
    EXPECT(imm_distance(x, 2, NULL, 3, 3, NULL, out), IMM_ERR_INVALID_ARG);
    EXPECT(imm_distance(x, 2, y, 3, 3, NULL, NULL), IMM_ERR_INVALID_ARG);
    EXPECT(imm_distance(x, 2, y, 3, 0, NULL, out), IMM_ERR_INVALID_ARG);
    for (int k = 0; k < N_BAD_OPTS; k++) {
        imm_options o = bad_options(k);
        EXPECT(imm_distance(x, 2, y, 3, 3, &o, out), IMM_ERR_INVALID_ARG);
    }
    UNTOUCHED(out);
    imm_options o;

    /* sizes, before any data is read */
    guarded gx = guard_alloc(64), gy = guard_alloc(64), go = guard_alloc(64);
    static const size_t sizes[][3] = {{SIZE_MAX / 2, 1, 3},
                                      {1, SIZE_MAX / 2, 3},
                                      {(size_t)1 << 33, (size_t)1 << 33, 1},
                                      {2, 2, SIZE_MAX / 4},
                                      {SIZE_MAX, SIZE_MAX, SIZE_MAX}};
    memset(go.data, SENT, 64);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        EXPECT(imm_distance(gx.data, sizes[s][0], gy.data, sizes[s][1], sizes[s][2], NULL, go.data),
               IMM_ERR_TOO_LARGE);
    untouched_at(go.data, 64, "out", __LINE__);
    guard_free(&gx);
    guard_free(&gy);
    guard_free(&go);

    /* NaN / +Inf / -Inf at the first, a middle and the last position of x and of y */
    static const float badf[] = {NAN, INFINITY, -INFINITY};
    static const size_t pos_x[] = {0, 3, 5}, pos_y[] = {0, 4, 8};
    for (int b = 0; b < 3; b++)
        for (int p = 0; p < 3; p++)
            for (int metric = 0; metric < 2; metric++) {
                float xx[6], yy[9];
                imm_options_init(&o);
                o.metric = (imm_metric)metric;
                memcpy(xx, x, sizeof xx);
                memcpy(yy, y, sizeof yy);
                xx[pos_x[p]] = badf[b];
                EXPECT(imm_distance(xx, 2, yy, 3, 3, &o, out), IMM_ERR_NONFINITE);
                memcpy(xx, x, sizeof xx);
                yy[pos_y[p]] = badf[b];
                EXPECT(imm_distance(xx, 2, yy, 3, 3, &o, out), IMM_ERR_NONFINITE);
                /* arguments before data */
                o.precision = IMM_PRECISION_FP16;
                EXPECT(imm_distance(xx, 2, yy, 3, 3, &o, out), IMM_ERR_NONFINITE);
                EXPECT(imm_distance(xx, 2, yy, 3, 0, NULL, out), IMM_ERR_INVALID_ARG);
                o = bad_options(2);
                EXPECT(imm_distance(xx, 2, yy, 3, 3, &o, out), IMM_ERR_INVALID_ARG);
            }
    UNTOUCHED(out);
}

/* More than INT32_MAX rows is TOO_LARGE (imm_status), for imm_distance too. Kept apart and run
 * last: a library that accepts these sizes reads the tiny buffers and crashes on the guard. */
static void test_distance_row_limit(void **state) {
    (void)state;
    guarded gx = guard_alloc(64), gy = guard_alloc(64), go = guard_alloc(64);
    memset(go.data, SENT, 64);
    EXPECT(imm_distance(gx.data, (size_t)INT32_MAX + 1u, gy.data, 1, 1, NULL, go.data),
           IMM_ERR_TOO_LARGE);
    EXPECT(imm_distance(gx.data, 1, gy.data, (size_t)INT32_MAX + 1u, 1, NULL, go.data),
           IMM_ERR_TOO_LARGE);
    untouched_at(go.data, 64, "out", __LINE__);
    guard_free(&gx);
    guard_free(&gy);
    guard_free(&go);
}

/*-----------------------------------------------------------------------------------------------
 *  Permutation and noise assignment
 *---------------------------------------------------------------------------------------------*/
static void test_permute_errors(void **state) {
    (void)state;
    float rows[8];
    const int32_t good[4] = {3, 1, 0, 2};
    static const int32_t bad[][4] = {{0, 1, 2, 2},         {0, 1, 2, 4}, {-1, 1, 2, 0},
                                     {INT32_MIN, 1, 2, 0}, {3, 3, 3, 3}, {0, 1, 2, INT32_MAX}};
    FILL(rows);
    EXPECT(imm_permute_rows(NULL, 4, 2, good), IMM_ERR_INVALID_ARG);
    EXPECT(imm_permute_rows(rows, 4, 2, NULL), IMM_ERR_INVALID_ARG);
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++)
        EXPECT(imm_permute_rows(rows, 4, 2, bad[b]), IMM_ERR_INVALID_ARG);
    UNTOUCHED(rows);
    guarded gr = guard_alloc(64), gp = guard_alloc(64);
    memset(gr.data, SENT, 64);
    EXPECT(imm_permute_rows(gr.data, SIZE_MAX / 2, 3, gp.data), IMM_ERR_TOO_LARGE);
    EXPECT(imm_permute_rows(gr.data, 3, SIZE_MAX / 2, gp.data), IMM_ERR_TOO_LARGE);
    EXPECT(imm_permute_rows(gr.data, (size_t)INT32_MAX + 1u, 1, gp.data), IMM_ERR_TOO_LARGE);
    untouched_at(gr.data, 64, "rows", __LINE__);
    guard_free(&gr);
    guard_free(&gp);
}

/* imm_assign_noise (ctx == NULL) or imm_ctx_assign_noise (ctx != NULL). */
static int assign_call(imm_ctx *ctx, const imm_options *o, const float *x, float *noise,
                       size_t batch, size_t dim, int32_t *perm) {
    if (ctx != NULL)
        return imm_ctx_assign_noise(ctx, x, noise, batch, dim, perm);
    return imm_assign_noise(x, noise, batch, dim, o, perm);
}

static void test_assign_errors(void **state) {
    (void)state;
    imm_ctx *ctx = NULL;
    EXPECT(imm_ctx_create(&ctx, NULL), IMM_OK);
    for (int use_ctx = 0; use_ctx < 2; use_ctx++) {
        imm_ctx *c = use_ctx ? ctx : NULL;
        float x[6] = {1, 2, 3, 4, 5, 6}, noise[6];
        int32_t perm[2];
        FILL(noise);
        FILL(perm);
        EXPECT(assign_call(c, NULL, NULL, noise, 2, 3, perm), IMM_ERR_INVALID_ARG);
        EXPECT(assign_call(c, NULL, x, NULL, 2, 3, perm), IMM_ERR_INVALID_ARG);
        EXPECT(assign_call(c, NULL, x, noise, 2, 0, perm), IMM_ERR_INVALID_ARG);
        UNTOUCHED(noise);
        UNTOUCHED(perm);

        /* sizes, before any data is read */
        guarded gx = guard_alloc(64), gn = guard_alloc(64), gp = guard_alloc(64);
        memset(gn.data, SENT, 64);
        memset(gp.data, SENT, 64);
        static const size_t sizes[][2] = {{SIZE_MAX / 2, 3},
                                          {3, SIZE_MAX / 2},
                                          {(size_t)INT32_MAX + 1u, 1},
                                          {(size_t)1 << 32, 1},
                                          {SIZE_MAX, 1}};
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            EXPECT(assign_call(c, NULL, gx.data, gn.data, sizes[s][0], sizes[s][1], gp.data),
                   IMM_ERR_TOO_LARGE);
        untouched_at(gn.data, 64, "noise", __LINE__);
        untouched_at(gp.data, 64, "perm", __LINE__);
        guard_free(&gx);
        guard_free(&gn);
        guard_free(&gp);

        /* NaN / +Inf / -Inf in x or noise, first / middle / last */
        static const float badf[] = {NAN, INFINITY, -INFINITY};
        static const size_t pos[] = {0, 2, 5};
        for (int b = 0; b < 3; b++)
            for (int p = 0; p < 3; p++)
                for (int which = 0; which < 2; which++) {
                    float xx[6], nn[6];
                    memcpy(xx, x, sizeof xx);
                    for (int i = 0; i < 6; i++)
                        nn[i] = (float)(i % 3) - 0.5f;
                    (which ? nn : xx)[pos[p]] = badf[b];
                    float nn_before[6];
                    memcpy(nn_before, nn, sizeof nn);
                    EXPECT(assign_call(c, NULL, xx, nn, 2, 3, perm), IMM_ERR_NONFINITE);
                    assert_memory_equal(nn, nn_before, sizeof nn);
                }
        /* a distance that overflows float */
        float bx[2] = {3e38f, 3e38f}, bn[2] = {-3e38f, 3e38f};
        EXPECT(assign_call(c, NULL, bx, bn, 2, 1, perm), IMM_ERR_NONFINITE);
        assert_true(bn[0] == -3e38f && bn[1] == 3e38f);
        UNTOUCHED(perm);
    }
    EXPECT(imm_ctx_assign_noise(NULL, (const float[]){1}, (float[]){2}, 1, 1, NULL),
           IMM_ERR_INVALID_ARG);

    /* invalid options, through both entry points */
    float x[4] = {1, 2, 3, 4}, noise[4];
    int32_t perm[2];
    FILL(noise);
    FILL(perm);
    for (int k = 0; k < N_BAD_OPTS; k++) {
        imm_options o = bad_options(k);
        imm_ctx *bad = (imm_ctx *)(uintptr_t)0x1234;
        EXPECT(imm_assign_noise(x, noise, 2, 2, &o, perm), IMM_ERR_INVALID_ARG);
        EXPECT(imm_ctx_create(&bad, &o), IMM_ERR_INVALID_ARG);
        assert_true(bad == (imm_ctx *)(uintptr_t)0x1234);
    }
    UNTOUCHED(noise);
    UNTOUCHED(perm);
    EXPECT(imm_ctx_create(NULL, NULL), IMM_ERR_INVALID_ARG);
    imm_ctx_free(NULL);
    imm_ctx_free(ctx);
}

/* IMM_SOLVER_AUCTION for noise assignment is served: the one-shot call, the context (create +
 * call) and imm_ctx_workspace_size all return IMM_OK, and the context gives the one-shot result
 * bitwise. */
static void test_auction_noise_consistency(void **state) {
    (void)state;
    imm_options o;
    imm_options_init(&o);
    o.solver = IMM_SOLVER_AUCTION;
    float x[8] = {0, 1, 2, 3, 4, 5, 6, 7}, n1[8] = {6, 7, 0, 1, 4, 5, 2, 3}, n2[8];
    int32_t p1[4], p2[4];
    memcpy(n2, n1, sizeof n2);
    EXPECT(imm_assign_noise(x, n1, 4, 2, &o, p1), IMM_OK);
    imm_ctx *ctx = NULL;
    EXPECT(imm_ctx_create(&ctx, &o), IMM_OK);
    EXPECT(imm_ctx_assign_noise(ctx, x, n2, 4, 2, p2), IMM_OK);
    imm_ctx_free(ctx);
    size_t bytes = 0;
    EXPECT(imm_ctx_workspace_size(&o, 4, 2, &bytes), IMM_OK);
    assert_memory_equal(n1, n2, sizeof n1);
    assert_memory_equal(p1, p2, sizeof p1);
}

/* batch = 2^30, dim = 1: the batch^2 workspace (4 EiB) cannot be allocated. The library must
 * say so before reading the (tiny) data; a crash on the guard page here means it read first. */
static void test_nomem(void **state) {
    (void)state;
    const size_t batch = (size_t)1 << 30;
    imm_ctx *ctx = NULL;
    EXPECT(imm_ctx_create(&ctx, NULL), IMM_OK);
    guarded gx = guard_span(4096, batch * sizeof(float)), gn = guard_span(4096, batch * sizeof(float)),
            gp = guard_span(4096, batch * sizeof(int32_t));
    memset(gn.data, SENT, 4096);
    memset(gp.data, SENT, 4096);
    print_message("NOMEM: a SIGSEGV here means the data was read before the allocation\n");
    EXPECT(imm_assign_noise(gx.data, gn.data, batch, 1, NULL, gp.data), IMM_ERR_NOMEM);
    EXPECT(imm_ctx_assign_noise(ctx, gx.data, gn.data, batch, 1, gp.data), IMM_ERR_NOMEM);
    untouched_at(gn.data, 4096, "noise", __LINE__);
    untouched_at(gp.data, 4096, "perm", __LINE__);
    size_t bytes = 0;
    EXPECT(imm_ctx_workspace_size(NULL, batch, 1, &bytes), IMM_OK);
    assert_true(bytes >= batch * batch * sizeof(float));

    /* the context is still usable, and matches the one-shot result */
    float x[6] = {0, 1, 2, 3, 4, 5}, n1[6] = {4, 5, 0, 1, 2, 3}, n2[6];
    int32_t p1[3], p2[3];
    memcpy(n2, n1, sizeof n2);
    EXPECT(imm_assign_noise(x, n1, 3, 2, NULL, p1), IMM_OK);
    EXPECT(imm_ctx_assign_noise(ctx, x, n2, 3, 2, p2), IMM_OK);
    assert_memory_equal(n1, n2, sizeof n1);
    assert_memory_equal(p1, p2, sizeof p1);
    assert_true(p1[0] == 1 && p1[1] == 2 && p1[2] == 0);
    imm_ctx_free(ctx);
    guard_free(&gx);
    guard_free(&gn);
    guard_free(&gp);
}

static void test_workspace_errors(void **state) {
    (void)state;
    size_t bytes;
    FILL_VAR(bytes);
    EXPECT(imm_ctx_workspace_size(NULL, 16, 16, NULL), IMM_ERR_INVALID_ARG);
    for (int k = 0; k < N_BAD_OPTS; k++) {
        imm_options o = bad_options(k);
        EXPECT(imm_ctx_workspace_size(&o, 16, 16, &bytes), IMM_ERR_INVALID_ARG);
    }
    EXPECT(imm_ctx_workspace_size(NULL, (size_t)1 << 32, 1, &bytes), IMM_ERR_TOO_LARGE);
    EXPECT(imm_ctx_workspace_size(NULL, (size_t)INT32_MAX + 1u, 1, &bytes), IMM_ERR_TOO_LARGE);
    EXPECT(imm_ctx_workspace_size(NULL, SIZE_MAX / 2, 3, &bytes), IMM_ERR_TOO_LARGE);
    EXPECT(imm_ctx_workspace_size(NULL, 16, SIZE_MAX / 2, &bytes), IMM_ERR_TOO_LARGE);
    EXPECT(imm_ctx_workspace_size(NULL, SIZE_MAX, SIZE_MAX, &bytes), IMM_ERR_TOO_LARGE);
    untouched_at(&bytes, sizeof bytes, "bytes", __LINE__);
}

int main(void) {
    tu_arch_start("test_errors");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_and_strings),
        cmocka_unit_test(test_options_init),
        cmocka_unit_test(test_lap_args),
        cmocka_unit_test(test_lap_nonfinite),
        cmocka_unit_test(test_precision_consistency),
        cmocka_unit_test(test_distance_errors),
        cmocka_unit_test(test_permute_errors),
        cmocka_unit_test(test_assign_errors),
        cmocka_unit_test(test_auction_noise_consistency),
        cmocka_unit_test(test_nomem),
        cmocka_unit_test(test_workspace_errors),
        cmocka_unit_test(test_distance_row_limit), /* last: crashes if the limit is missing */
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
