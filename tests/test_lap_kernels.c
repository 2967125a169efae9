/*
 * test_lap_kernels.c - every SIMD variant of the solver's row kernels (lib/lap/lap_kernels.h)
 * against the scalar reference, kernel by kernel, bitwise.
 *
 * The one test that reaches into lib/: it links the library's objects, not the shared library,
 * to call the kernel tables directly. The solver-level tests (test_lap: the whole solve under
 * every IMM_ARCH, compared bitwise) see a kernel only on the rows a solve happens to give it:
 * a filter that drops a column lying exactly on its cut, the boundary the certification pass
 * relies on, still passed them. Here each kernel gets rows built to hit such cases: ties, values
 * one ulp apart, signed zeros, constant rows, +Inf (forbidden pairs), magnitudes where the float
 * screens must step aside, and every length around the vector widths and unrolls.
 *
 * Run once per variant (CTest: test_lap_kernels_avx2, _avx512); a variant this build or CPU
 * lacks exits 77, which CTest reports as skipped, never as passed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "lap/lap_kernels.h"
#include "lap/lap_state.h" /* LAP_CANDIDATES */

/* CAP: the filters' largest cap in the tests, above the vector filters' candidate buffer
   (LAP_FILTER_CANDS screened columns are decided at a time: caps beyond it keep entries across
   flushes) and the library's own cap (LAP_SELECT_MAX) */
enum { ROWS = 6000, MAXN = 4200, CAP = 600 };
_Static_assert(CAP > LAP_FILTER_CANDS && CAP > LAP_SELECT_MAX, "caps past every buffer");

/* ---- rows ------------------------------------------------------------------------------------ */

static uint64_t g_rng;
static uint64_t next_u64(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}
static double uniform01(void) { return (double)(next_u64() >> 11) * 0x1p-53; }
static size_t below(size_t n) { return (size_t)(uniform01() * (double)n); }

enum {
    KIND_FLAT,
    KIND_TIES,
    KIND_ULPS,
    KIND_ZEROS,
    KIND_CONSTANT,
    KIND_HUGE,
    KIND_FORBIDDEN,
    KIND_COUNT
};

typedef struct {
    float c[MAXN];
    double v[MAXN];
    float vf[MAXN];
    size_t n;
    int kind;
    lap_pots pots; /* v, vf (or NULL), cmag */
} row;

static const size_t k_lengths[] = {1,   2,   3,   4,   5,    7,    8,    9,    15,   16,   17,
                                   31,  32,  33,  63,  64,   65,   127,  128,  129,  255,  256,
                                   257, 511, 512, 513, 1023, 1024, 1031, 2048, 2053, 4096, 4103};

/* Row t: every third a random length, the others the list above in turn (indexed by t / 3:
   t % 33 would skip every third entry, the multiples of the vector widths among them), a kind
   in turn. */
static void make_row(row *r, size_t t) {
    const size_t nl = sizeof k_lengths / sizeof k_lengths[0];
    r->n = t % 3 == 0 ? 1 + below(MAXN - 1) : k_lengths[(t / 3) % nl];
    r->kind = (int)(t % KIND_COUNT);
    double cmag = 0.0;
    for (size_t j = 0; j < r->n; j++) {
        double c, v;
        switch (r->kind) {
        case KIND_FLAT: c = 73.0 + uniform01(), v = 0.3 * uniform01(); break;
        case KIND_TIES: c = (double)below(4), v = (double)below(2); break;
        case KIND_ULPS:
            c = 0x1p20 + (double)below(4) * 0x1p-3, v = (double)below(3) * 0x1p-3;
            break;
        case KIND_ZEROS: c = below(2) ? 0.0 : -0.0, v = below(2) ? 0.0 : -0.0; break;
        case KIND_CONSTANT: c = 5.0, v = 1.0; break;
        case KIND_HUGE: c = ldexp(uniform01() - 0.5, 70), v = ldexp(uniform01(), 60); break;
        default: /* forbidden pairs: +Inf costs, the rest flat */
            c = below(5) == 0 ? INFINITY : 10.0 + uniform01(), v = uniform01();
        }
        r->c[j] = (float)c;
        r->v[j] = v;
        r->vf[j] = (float)v;
        if (isfinite(r->c[j]))
            cmag = fmax(cmag, fabs((double)r->c[j]));
    }
    /* the float screens run only when the caller has a mirror and the magnitudes allow it;
       both ways are exercised */
    r->pots = (lap_pots){r->v, t % 4 == 3 ? NULL : r->vf, cmag};
}

/* ---- comparisons ----------------------------------------------------------------------------- */

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

static void expect_same_min2(const lap_min2 *a, const lap_min2 *b, size_t t, const char *what) {
    if (!same_bits(a->u1, b->u1) || !same_bits(a->u2, b->u2) || a->j1 != b->j1 || a->j2 != b->j2)
        fail_msg("%s, row %zu: (%a, %d), (%a, %d) against scalar (%a, %d), (%a, %d)", what, t,
                 a->u1, a->j1, a->u2, a->j2, b->u1, b->j1, b->u2, b->j2);
}

/* ---- the variants ---------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    const lap_kernels *k; /* NULL: not built */
    imi_arch arch;
} variant;

static const variant g_variants[] = {
#if defined(IMM_HAVE_AVX2)
    {"avx2", &imi_lap_kernels_avx2, IMI_ARCH_AVX2},
#else
    {"avx2", NULL, IMI_ARCH_AVX2},
#endif
#if defined(IMM_HAVE_AVX512)
    {"avx512", &imi_lap_kernels_avx512, IMI_ARCH_AVX512},
#else
    {"avx512", NULL, IMI_ARCH_AVX512},
#endif
};

static const lap_kernels *g_k; /* the variant under test */

/* CMocka setup: every kernel test sees the same rows. */
static int same_rows(void **state) {
    (void)state;
    g_rng = 0x9E3779B97F4A7C15ull;
    return 0;
}

static row g_row;
static const lap_kernels *const S = &imi_lap_kernels_scalar;

/* ---- the kernels ----------------------------------------------------------------------------- */

static void test_two_smallest(void **state) {
    (void)state;
    const lap_kernels *K = g_k;
    for (size_t t = 0; t < ROWS; t++) {
        make_row(&g_row, t);
        lap_min2 a, b;
        K->two_smallest(g_row.c, g_row.v, g_row.n, &a);
        S->two_smallest(g_row.c, g_row.v, g_row.n, &b);
        expect_same_min2(&a, &b, t, "two_smallest");
        if (g_row.kind == KIND_HUGE || g_row.kind == KIND_FORBIDDEN)
            continue; /* the float scan runs only where float resolves the row */
        K->two_smallest_f32(g_row.c, g_row.vf, g_row.n, &a);
        S->two_smallest_f32(g_row.c, g_row.vf, g_row.n, &b);
        expect_same_min2(&a, &b, t, "two_smallest_f32");
        /* the bid scan: u1 bitwise and j1 as two_smallest_f32; u2 by value (a zero's sign may
           differ); j2 a column other than j1 exactly when two_smallest_f32 has one */
        K->bid_f32(g_row.c, g_row.vf, g_row.n, &a);
        const bool two = b.j2 >= 0;
        if (memcmp(&a.u1, &b.u1, sizeof a.u1) != 0 || a.j1 != b.j1 || !(a.u2 == b.u2) ||
            (a.j2 >= 0) != two || (two && (a.j2 == a.j1 || (size_t)a.j2 >= g_row.n)))
            fail_msg("bid_f32, row %zu (kind %d, n %zu): (%a, %d, %a, %d) against "
                     "(%a, %d, %a, %d)",
                     t, g_row.kind, g_row.n, a.u1, a.j1, a.u2, a.j2, b.u1, b.j1, b.u2, b.j2);
    }
}

static void test_relax(void **state) {
    (void)state;
    const lap_kernels *K = g_k;
    static double sc[MAXN], d1[MAXN], d2[MAXN];
    static int32_t p1[MAXN], p2[MAXN];
    for (size_t t = 0; t < ROWS; t++) {
        make_row(&g_row, t);
        for (size_t j = 0; j < g_row.n; j++) {
            sc[j] = below(4) == 0 ? INFINITY : 0.0; /* scanned columns are frozen */
            d1[j] = d2[j] = below(3) == 0 ? INFINITY : (double)g_row.c[j] - 0.5 * uniform01();
            p1[j] = p2[j] = -7;
        }
        const double r = g_row.kind == KIND_TIES ? 1.0 : 0.25 * uniform01();
        int32_t b1 = -9, b2 = -9;
        K->relax(g_row.c, g_row.v, sc, r, 3, g_row.n, d1, p1, &b1);
        S->relax(g_row.c, g_row.v, sc, r, 3, g_row.n, d2, p2, &b2);
        if (b1 != b2 || memcmp(d1, d2, g_row.n * sizeof *d1) != 0 ||
            memcmp(p1, p2, g_row.n * sizeof *p1) != 0)
            fail_msg("relax, row %zu (kind %d, n %zu): best %d against %d", t, g_row.kind, g_row.n,
                     b1, b2);
    }
}

/* A cut: +Inf, or one with at least keep reduced costs at or below it. */
static void expect_valid_cut(double cut, size_t keep, size_t t) {
    if (isnan(cut))
        fail_msg("cut, row %zu: NaN", t);
    if (cut == INFINITY)
        return;
    size_t at_or_below = 0;
    for (size_t j = 0; j < g_row.n; j++)
        at_or_below += (double)g_row.c[j] - g_row.v[j] <= cut;
    if (at_or_below < keep)
        fail_msg("cut, row %zu (kind %d, n %zu): %zu columns at or below it, keep %zu", t,
                 g_row.kind, g_row.n, at_or_below, keep);
}

/* The variant's cut is valid; the filter at a cut that falls exactly on a column's reduced
   cost, one ulp below it, at the variant's own cut (a generous cap) and at -Inf (nothing
   passes); the other caps small enough to overflow now and then. */
static void test_cut_filter(void **state) {
    (void)state;
    const lap_kernels *K = g_k;
    static double h1[CAP + 8], h2[CAP + 8];
    static int32_t c1[CAP + 8], c2[CAP + 8];
    for (size_t t = 0; t < ROWS; t++) {
        make_row(&g_row, t);
        const size_t keep = 1 + below(g_row.n < 33 ? g_row.n : 33);
        const double cut = K->cut(g_row.c, &g_row.pots, g_row.n, keep);
        expect_valid_cut(cut, keep, t);
        const size_t q = below(g_row.n);
        const double on = (double)g_row.c[q] - g_row.v[q];
        const double cuts[4] = {on, nextafter(on, -INFINITY), cut, -INFINITY};
        for (int w = 0; w < 4; w++) {
            if (isnan(cuts[w]) || cuts[w] == INFINITY) /* the kernels' callers never pass these */
                continue;
            const size_t cap = w == 2 ? CAP : 1 + below(CAP);
            const size_t n1 = K->filter(g_row.c, &g_row.pots, g_row.n, cuts[w], h1, c1, cap);
            const size_t n2 = S->filter(g_row.c, &g_row.pots, g_row.n, cuts[w], h2, c2, cap);
            if (n1 != n2 || (n1 <= cap && (memcmp(h1, h2, n1 * sizeof *h1) != 0 ||
                                           memcmp(c1, c2, n1 * sizeof *c1) != 0)))
                fail_msg("filter, row %zu (kind %d, n %zu, cut %a, cap %zu): %zu entries "
                         "against %zu",
                         t, g_row.kind, g_row.n, cuts[w], cap, n1, n2);
        }
    }
}

static void test_col_add(void **state) {
    (void)state;
    const lap_kernels *K = g_k;
    static double v1[MAXN], v2[MAXN];
    for (size_t t = 0; t < ROWS; t++) {
        make_row(&g_row, t);
        if (g_row.kind == KIND_FORBIDDEN)
            continue; /* finite costs only */
        for (size_t j = 0; j < g_row.n; j++)
            v1[j] = v2[j] = g_row.v[j] * 1e3;
        float lo1 = 1.0f, hi1 = -1.0f, lo2 = 1.0f, hi2 = -1.0f;
        K->col_add(g_row.c, v1, g_row.n, &lo1, &hi1);
        S->col_add(g_row.c, v2, g_row.n, &lo2, &hi2);
        /* the sums bitwise; lo / hi by value: which zero a row of +0 and -0 reports as its
           smallest differs between min instructions and the scalar compare, and the solver
           uses only their magnitudes and their difference (lap_state.h: cmin, cmax) */
        if (memcmp(v1, v2, g_row.n * sizeof *v1) != 0 || lo1 != lo2 || hi1 != hi2)
            fail_msg("col_add, row %zu (kind %d, n %zu)", t, g_row.kind, g_row.n);
    }
}

/* select and list_min2 read entries in any column order: a shuffled subset of the row. */
static size_t shuffled_columns(int32_t *cols, size_t most) {
    const size_t len = 1 + below(g_row.n < most ? g_row.n : most);
    static int32_t all[MAXN];
    for (size_t j = 0; j < g_row.n; j++)
        all[j] = (int32_t)j;
    for (size_t j = 0; j < len; j++) { /* a partial Fisher-Yates shuffle */
        const size_t k = j + below(g_row.n - j);
        const int32_t x = all[j];
        all[j] = all[k];
        all[k] = x;
        cols[j] = all[j];
    }
    return len;
}

static void test_select(void **state) {
    (void)state;
    const lap_kernels *K = g_k;
    static double h[LAP_SELECT_MAX];
    static int32_t cols[LAP_SELECT_MAX];
    static lap_entry o1[LAP_SELECT_MAX], o2[LAP_SELECT_MAX];
    for (size_t t = 0; t < ROWS; t++) {
        make_row(&g_row, t);
        if (g_row.kind == KIND_FORBIDDEN)
            continue; /* filtered entries: finite */
        const size_t cnt = shuffled_columns(cols, t % 2 ? 80 : LAP_SELECT_MAX);
        for (size_t e = 0; e < cnt; e++)
            h[e] = (double)g_row.c[cols[e]] - g_row.v[cols[e]];
        const size_t keep = 1 + below(cnt);
        K->select(h, cols, cnt, keep, o1);
        S->select(h, cols, cnt, keep, o2);
        for (size_t e = 0; e < keep; e++)
            if (!same_bits(o1[e].h, o2[e].h) || o1[e].j != o2[e].j)
                fail_msg("select, row %zu (kind %d, %zu of %zu): entry %zu (%a, %d) against "
                         "(%a, %d)",
                         t, g_row.kind, keep, cnt, e, o1[e].h, o1[e].j, o2[e].h, o2[e].j);
    }
}

static void test_list_min2(void **state) {
    (void)state;
    const lap_kernels *K = g_k;
    static int32_t lj[LAP_CANDIDATES + 1];
    static float lc[LAP_CANDIDATES + 1];
    for (size_t t = 0; t < ROWS; t++) {
        make_row(&g_row, t);
        const size_t len = shuffled_columns(lj, LAP_CANDIDATES + 1);
        for (size_t e = 0; e < len; e++)
            lc[e] = g_row.c[lj[e]];
        lap_min2 a, b;
        K->list_min2(lc, lj, g_row.v, len, &a);
        S->list_min2(lc, lj, g_row.v, len, &b);
        expect_same_min2(&a, &b, t, "list_min2");
        /* the bid scan: u1 bitwise and j1 as list_min2, u2 by value, j2 another list column
           exactly when list_min2 has one (+Inf entries never count) */
        K->list_bid_min2(lc, lj, g_row.v, len, &a);
        bool listed = false;
        for (size_t e = 0; e < len; e++)
            listed |= lj[e] == a.j2;
        if (memcmp(&a.u1, &b.u1, sizeof a.u1) != 0 || a.j1 != b.j1 || !(a.u2 == b.u2) ||
            (a.j2 >= 0) != (b.j2 >= 0) || (b.j2 >= 0 && (a.j2 == a.j1 || !listed)))
            fail_msg("list_bid_min2, row %zu (kind %d, len %zu): (%a, %d, %a, %d) against "
                     "(%a, %d, %a, %d)",
                     t, g_row.kind, len, a.u1, a.j1, a.u2, a.j2, b.u1, b.j1, b.u2, b.j2);
    }
}

/* argv[1]: the variant (avx2, avx512). Exit 77 (CTest: skipped) when this build or CPU lacks
   it: imi_active_arch() is the best variant this CPU and OS support, unless IMM_ARCH asks for
   less. */
int main(int argc, char **argv) {
    const variant *var = NULL;
    for (size_t t = 0; argc == 2 && t < sizeof g_variants / sizeof g_variants[0]; t++)
        if (strcmp(argv[1], g_variants[t].name) == 0)
            var = &g_variants[t];
    if (var == NULL) {
        fprintf(stderr, "usage: %s avx2|avx512\n", argv[0]);
        return 2;
    }
    if (var->k == NULL || imi_active_arch() < var->arch) {
        printf("SKIPPED: variant %s %s\n", var->name,
               var->k == NULL ? "not built" : "not supported by this CPU (or IMM_ARCH)");
        return 77;
    }
    g_k = var->k;
    printf("lap kernels: %s against scalar\n", var->name);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_two_smallest, same_rows),
        cmocka_unit_test_setup(test_relax, same_rows),
        cmocka_unit_test_setup(test_cut_filter, same_rows),
        cmocka_unit_test_setup(test_col_add, same_rows),
        cmocka_unit_test_setup(test_select, same_rows),
        cmocka_unit_test_setup(test_list_min2, same_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
