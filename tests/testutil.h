/*
 * testutil.h - shared helpers for the libimmiscible tests: a seeded RNG, image-noise data,
 * brute-force assignment, and checks that do not trust the library (validity of an assignment,
 * totals, dual certificates recomputed from the costs).
 *
 * Include after <immiscible.h> and the cmocka prelude. Everything here is static inline so each
 * test program only keeps what it uses.
 */
#ifndef IMM_TESTUTIL_H
#define IMM_TESTUTIL_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tu_arch.h"

#define TU_PI 3.14159265358979323846

/* IMM_TEST_QUICK (set by CMake for sanitizer builds) shrinks the large cases. */
static inline int tu_quick(void) {
    const char *q = getenv("IMM_TEST_QUICK");
    return q != NULL && q[0] != '\0' && strcmp(q, "0") != 0;
}

/* Options: the defaults with these fields set (the tests' one way to build them). */
static inline imm_options tu_opts(int32_t solver, int32_t precision, int32_t metric,
                                  int32_t threads) {
    imm_options o;
    imm_options_init(&o);
    o.solver = solver;
    o.precision = precision;
    o.metric = metric;
    o.num_threads = threads;
    return o;
}

/*-----------------------------------------------------------------------------------------------
 *  RNG: splitmix64, fixed seeds everywhere.
 *---------------------------------------------------------------------------------------------*/
typedef struct tu_rng {
    uint64_t s;
} tu_rng;

static inline tu_rng tu_rng_make(uint64_t seed) {
    tu_rng r;
    r.s = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    return r;
}

static inline uint64_t tu_u64(tu_rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform double in [0, 1). */
static inline double tu_unif(tu_rng *r) {
    return (double)(tu_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, n). */
static inline uint64_t tu_below(tu_rng *r, uint64_t n) { return n == 0 ? 0 : tu_u64(r) % n; }

/* N(0, 1) by Box-Muller (one value per call; simple beats fast here). */
static inline double tu_normal(tu_rng *r) {
    double u1 = tu_unif(r), u2 = tu_unif(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * TU_PI * u2);
}

/*-----------------------------------------------------------------------------------------------
 *  Image-noise data.
 *---------------------------------------------------------------------------------------------*/

/* n smooth synthetic "images" of dim values in [-1, 1]: each is a clipped sum of three random
 * low-frequency 2-D sinusoids over a 32-wide grid (channels of 1024 values get their own phase),
 * plus a little pixel noise so no two images share structure exactly. */
static inline void tu_images(float *x, size_t n, size_t dim, tu_rng *r) {
    for (size_t i = 0; i < n; i++) {
        double amp[3], fx[3], fy[3], ph[3], chph = 2.0 * TU_PI * tu_unif(r);
        double offset = 0.6 * (tu_unif(r) - 0.5);
        for (int a = 0; a < 3; a++) {
            amp[a] = 0.2 + 0.5 * tu_unif(r);
            fx[a] = (double)tu_below(r, 4) + tu_unif(r);
            fy[a] = (double)tu_below(r, 4) + tu_unif(r);
            ph[a] = 2.0 * TU_PI * tu_unif(r);
        }
        for (size_t k = 0; k < dim; k++) {
            double px = (double)(k % 32) / 32.0, py = (double)((k / 32) % 32) / 32.0;
            double ch = (double)(k / 1024);
            double s = offset + 0.05 * (tu_unif(r) - 0.5);
            for (int a = 0; a < 3; a++)
                s += amp[a] * sin(2.0 * TU_PI * (fx[a] * px + fy[a] * py) + ph[a] + ch * chph);
            x[i * dim + k] = (float)(s > 1.0 ? 1.0 : s < -1.0 ? -1.0 : s);
        }
    }
}

/* n x dim values drawn from N(0, 1). */
static inline void tu_noise(float *y, size_t n, size_t dim, tu_rng *r) {
    for (size_t i = 0; i < n * dim; i++)
        y[i] = (float)tu_normal(r);
}

/* Exact-ish squared distance of two float rows, in double (four lanes, then summed). */
static inline double tu_sqdist(const float *a, const float *b, size_t dim) {
    double s[4] = {0, 0, 0, 0};
    for (size_t k = 0; k < dim; k++) {
        double d = (double)a[k] - (double)b[k];
        s[k & 3] += d * d;
    }
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static inline double tu_sqnorm(const float *a, size_t dim) {
    double s = 0;
    for (size_t k = 0; k < dim; k++)
        s += (double)a[k] * (double)a[k];
    return s;
}

/* cost[i][j] = ||x_i - y_j|| computed in double, rounded to float (n x m). */
static inline void tu_l2_costs(const float *x, size_t n, const float *y, size_t m, size_t dim,
                               float *cost) {
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 8)
#endif
    for (long i = 0; i < (long)n; i++)
        for (size_t j = 0; j < m; j++)
            cost[(size_t)i * m + j] = (float)sqrt(tu_sqdist(x + (size_t)i * dim, y + j * dim, dim));
}

/* A whole image-noise problem: n images and n noise rows, returns the n x n L2 cost matrix. */
static inline float *tu_image_noise_costs(size_t n, size_t dim, uint64_t seed) {
    tu_rng r = tu_rng_make(seed);
    float *x = (float *)malloc(n * dim * sizeof(float));
    float *y = (float *)malloc(n * dim * sizeof(float));
    float *c = (float *)malloc(n * n * sizeof(float));
    if (x == NULL || y == NULL || c == NULL) {
        free(x);
        free(y);
        free(c);
        return NULL;
    }
    tu_images(x, n, dim, &r);
    tu_noise(y, n, dim, &r);
    tu_l2_costs(x, n, y, n, dim, c);
    free(x);
    free(y);
    return c;
}

/*-----------------------------------------------------------------------------------------------
 *  Checks that do not trust the library.
 *---------------------------------------------------------------------------------------------*/

/* 1 if assign holds rows distinct columns in [0, cols). */
static inline int tu_is_injection(const int32_t *assign, size_t rows, size_t cols) {
    unsigned char *seen = (unsigned char *)calloc(cols + 1, 1);
    int ok = seen != NULL;
    for (size_t i = 0; ok && i < rows; i++) {
        if (assign[i] < 0 || (size_t)assign[i] >= cols || seen[assign[i]])
            ok = 0;
        else
            seen[assign[i]] = 1;
    }
    free(seen);
    return ok;
}

/* Sum of the assigned costs in double, and the sum of their magnitudes (for tolerances). */
static inline double tu_total(const float *cost, size_t rows, size_t cols, const int32_t *assign,
                              double *abs_sum) {
    double s = 0, a = 0;
    for (size_t i = 0; i < rows; i++) {
        double c = (double)cost[i * cols + (size_t)assign[i]];
        s += c;
        a += fabs(c);
    }
    if (abs_sum != NULL)
        *abs_sum = a;
    return s;
}

static inline double tu_max_abs(const float *cost, size_t count) {
    double m = 0;
    for (size_t i = 0; i < count; i++)
        if (fabs((double)cost[i]) > m)
            m = fabs((double)cost[i]);
    return m;
}

/* The certificate of imm_lap_certify(), recomputed here: the largest of dual infeasibility
 * (u_i + v_j - c_ij), complementary slackness |c_i,a(i) - u_i - v_a(i)| and, for rows < cols,
 * max(v) - v_j over unassigned columns. */
static inline double tu_certificate(const float *cost, size_t rows, size_t cols,
                                    const int32_t *assign, const double *u, const double *v) {
    double viol = -INFINITY, vmax = -INFINITY;
    for (size_t i = 0; i < rows; i++) {
        const float *c = cost + i * cols;
        for (size_t j = 0; j < cols; j++) {
            double d = u[i] + v[j] - (double)c[j];
            if (d > viol)
                viol = d;
        }
        double cs = fabs((double)c[assign[i]] - u[i] - v[assign[i]]);
        if (cs > viol)
            viol = cs;
    }
    if (rows < cols) {
        unsigned char *used = (unsigned char *)calloc(cols, 1);
        if (used == NULL)
            return INFINITY;
        for (size_t i = 0; i < rows; i++)
            used[assign[i]] = 1;
        for (size_t j = 0; j < cols; j++)
            if (v[j] > vmax)
                vmax = v[j];
        for (size_t j = 0; j < cols; j++)
            if (!used[j] && vmax - v[j] > viol)
                viol = vmax - v[j];
        free(used);
    }
    return viol;
}

/*-----------------------------------------------------------------------------------------------
 *  Brute force: minimum over all injections rows -> cols (rows <= cols <= 10 or so).
 *---------------------------------------------------------------------------------------------*/
typedef struct tu_brute {
    const float *cost;
    size_t rows, cols;
    double best, best_abs;
    double partial[16], partial_abs[16];
    unsigned used;
} tu_brute;

static inline void tu_brute_rec(tu_brute *b, size_t i) {
    if (i == b->rows) {
        if (b->partial[i] < b->best) {
            b->best = b->partial[i];
            b->best_abs = b->partial_abs[i];
        }
        return;
    }
    for (size_t j = 0; j < b->cols; j++) {
        if (b->used & (1u << j))
            continue;
        b->used |= 1u << j;
        b->partial[i + 1] = b->partial[i] + (double)b->cost[i * b->cols + j];
        b->partial_abs[i + 1] = b->partial_abs[i] + fabs((double)b->cost[i * b->cols + j]);
        tu_brute_rec(b, i + 1);
        b->used &= ~(1u << j);
    }
}

/* Minimum total (double sum of float costs in row order) over all injections; *abs_sum (may be
 * NULL) gets the sum of the magnitudes of that minimum's costs. */
static inline double tu_brute_min(const float *cost, size_t rows, size_t cols, double *abs_sum) {
    tu_brute b;
    b.cost = cost;
    b.rows = rows;
    b.cols = cols;
    b.best = INFINITY;
    b.best_abs = 0;
    b.partial[0] = 0;
    b.partial_abs[0] = 0;
    b.used = 0;
    tu_brute_rec(&b, 0);
    if (abs_sum != NULL)
        *abs_sum = b.best_abs;
    return rows == 0 ? 0.0 : b.best;
}

/*-----------------------------------------------------------------------------------------------
 *  SIMD variants (IMM_ARCH): the variant is chosen once per process, so each one runs in a child
 *  process, this same program started as `program --dump-results`, which writes its variant
 *  name on the first line and then its results (see tu_dump_main). Only with POSIX 2008.
 *
 *  Each variant is its own cmocka test (TU_VARIANT_TESTS / TU_VARIANT_UNIT_TESTS): a variant the
 *  CPU or the build lacks is reported as skipped with its name, never compared in disguise.
 *---------------------------------------------------------------------------------------------*/
#if defined(_POSIX_C_SOURCE) && _POSIX_C_SOURCE >= 200809L
#include <stdio.h>
#include <unistd.h>

#define TU_DUMP_FLAG "--dump-results"

/* In main(): serve a child run; returns 1 if this process was one (main then returns 0). */
static inline int tu_dump_main(int argc, char **argv, void (*dump)(FILE *)) {
    if (argc < 2 || strcmp(argv[1], TU_DUMP_FLAG) != 0)
        return 0;
    fprintf(stdout, "%s\n", imm_simd_arch());
    dump(stdout);
    fflush(stdout);
    return 1;
}

/* Runs dump() in a child with IMM_ARCH = arch and compares its bytes with dump() run here (once
 * per process, cached). Returns 1 when they agree, 0 on a failure (reason in why) and -1 when
 * the child ran another variant than arch (the CPU or build lacks it); *ran gets the child's
 * variant in every case where it could be read. */
static inline int tu_same_on_variant(const char *arch, void (*dump)(FILE *), char *ran,
                                     size_t ran_len, char *why, size_t why_len) {
    static char *mine = NULL; /* this process's results, kept for the other variants' tests */
    static size_t mine_len = 0;
    char self[4096] = {0};
    ran[0] = '\0';
    if (mine == NULL) {
        FILE *m = open_memstream(&mine, &mine_len);
        if (m == NULL)
            return snprintf(why, why_len, "open_memstream failed"), 0;
        dump(m);
        fclose(m);
    }
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0 || strchr(self, '\'') != NULL)
        return snprintf(why, why_len, "cannot find this program"), 0;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "IMM_ARCH=%s '%s' %s", arch, self, TU_DUMP_FLAG);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return snprintf(why, why_len, "popen failed"), 0;
    char *theirs = (char *)malloc(mine_len + 1);
    size_t got = 0;
    if (fgets(ran, (int)ran_len, p) != NULL && theirs != NULL)
        got = fread(theirs, 1, mine_len + 1, p);
    int rc = pclose(p);
    ran[strcspn(ran, "\n")] = '\0';
    int ok = 1;
    if (rc != 0) {
        snprintf(why, why_len, "IMM_ARCH=%s: the child failed (status %d)", arch, rc);
        ok = 0;
    } else if (strcmp(ran, arch) != 0) {
        ok = strcmp(arch, "scalar") == 0 ? 0 : -1; /* scalar is always available */
        snprintf(why, why_len, "IMM_ARCH=%s: imm_simd_arch() says \"%s\"", arch, ran);
    } else if (got != mine_len || memcmp(theirs, mine, mine_len) != 0) {
        size_t at = 0, line = 0; /* the first line that differs, for the message */
        while (at < got && at < mine_len && theirs[at] == mine[at])
            line += mine[at++] == '\n';
        snprintf(why, why_len,
                 "IMM_ARCH=%s gives different results than %s (this process), "
                 "first at line %zu of the dump",
                 arch, imm_simd_arch(), line + 1);
        ok = 0;
    }
    free(theirs);
    return ok;
}

/* The body of one variant's cmocka test: pass, fail, or skip() with the variant's name. */
static inline void tu_check_variant(const char *arch, void (*dump)(FILE *)) {
    char why[4400], ran[32];
    int r = tu_same_on_variant(arch, dump, ran, sizeof ran, why, sizeof why);
    if (r < 0) {
        print_message("SKIPPED: variant %s not available on this CPU/build (running %s): not "
                      "compared\n",
                      arch, ran);
        skip();
    }
    if (r == 0)
        fail_msg("%s", why);
    print_message("compared: variant %s (child) against variant %s (this process): bitwise equal\n",
                  arch, imm_simd_arch());
}

/* Defines one cmocka test per variant, comparing its results with this process's; list them in
 * main() with TU_VARIANT_UNIT_TESTS. */
#define TU_VARIANT_TESTS(dump)                                                                     \
    static void test_same_on_variant_scalar(void **state) {                                        \
        (void)state;                                                                               \
        tu_check_variant("scalar", dump);                                                          \
    }                                                                                              \
    static void test_same_on_variant_avx2(void **state) {                                          \
        (void)state;                                                                               \
        tu_check_variant("avx2", dump);                                                            \
    }                                                                                              \
    static void test_same_on_variant_avx512(void **state) {                                        \
        (void)state;                                                                               \
        tu_check_variant("avx512", dump);                                                          \
    }
#define TU_VARIANT_UNIT_TESTS                                                                      \
    cmocka_unit_test(test_same_on_variant_scalar), cmocka_unit_test(test_same_on_variant_avx2),    \
        cmocka_unit_test(test_same_on_variant_avx512)
#endif

#endif /* IMM_TESTUTIL_H */
