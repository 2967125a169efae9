/*
 * fuzz_distance.c - imm_distance() for n, m <= 6 rows of dim <= 40, every precision and metric,
 * adversarial options, inputs mostly moderate with adversarial values, an optional power-of-two
 * scale (huge / tiny regimes) and nearly equal rows (the cancellation path).
 *
 * Checks (include/immiscible.h, imm_distance):
 *   - status: bad options or dim == 0 (n, m > 0): IMM_ERR_INVALID_ARG; n == 0 or m == 0:
 *     IMM_OK; NaN / Inf input, or a value outside the precision's range (FP16: |v| >= 65520):
 *     IMM_ERR_NONFINITE; a distance that overflows float: IMM_ERR_NONFINITE; a distance
 *     comfortably inside float range with valid inputs: IMM_OK. (IMM_ERR_NOMEM tolerated.)
 *     On any error (and for n == 0 or m == 0) out is untouched.
 *   - on IMM_OK every output is finite and >= 0, and against the rounded rows x~, y~ (computed
 *     here from the header's definitions, note 4) and d~ = |x~ - y~| in long double, note 5:
 *       L2:   |out^2 - d~^2| <= 1e-6 (|x~|^2 + |y~|^2) + U
 *       SQL2: |out   - d~^2| <= 1e-6 (|x~|^2 + |y~|^2) + U
 *     and the relative error <= 1e-5 (+ U) where d~ >= 0.1 sqrt(|x~|^2 + |y~|^2).
 *     U covers only that out is a float: it cannot be finer than the subnormal spacing
 *     FLT_TRUE_MIN (U = FLT_TRUE_MIN for SQL2, 2 FLT_TRUE_MIN d~ + FLT_TRUE_MIN^2 for out^2).
 *   - the thread count changes nothing: a second call with another num_threads is bitwise equal.
 *
 * Header ambiguity handled leniently: BF16 is documented for "any finite input", but values
 * above the largest bfloat16 (+ half an ulp) round to Inf under the stated ties-to-even rule;
 * for those both IMM_OK (finite outputs) and IMM_ERR_NONFINITE are accepted.
 */
#include "fuzz_common.h"

#define MAXN 6
#define MAXD 40

static struct {
    const float *x, *y;
    size_t n, m, dim;
} g;

static void dump(void) {
    fz_print_matrix("x", g.x, g.n, g.dim);
    fz_print_matrix("y", g.y, g.m, g.dim);
}

static float scaled(float v, int k) {
    if (k == 0 || !isfinite(v))
        return v;
    double s = ldexp((double)v, k);
    if (fabs(s) > FLT_MAX)
        s = copysign(FLT_MAX, s);
    return (float)s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz f;
    fz_init(&f, data, size);
    fz_opts fo;
    fz_options(&f, &fo);
    const uint8_t bn = fz_u8(&f), bm = fz_u8(&f), bd = fz_u8(&f), flags = fz_u8(&f),
                  bscale = fz_u8(&f), near = fz_u8(&f);
    const size_t n = bn >= 250 ? 0 : 1 + bn % MAXN, m = bm >= 250 ? 0 : 1 + bm % MAXN;
    const size_t dim = bd == 255 ? 0 : 1 + bd % MAXD;
    const int vflags = FZ_MOSTLY_MODERATE | (flags == 0xff ? FZ_NONFINITE_OK : 0);
    const int k = bscale < 200 ? 0 : ((int)bscale - 200) * 5 - 140;

    float x[MAXN * MAXD], y[MAXN * MAXD];
    for (size_t i = 0; i < n * dim; i++)
        x[i] = scaled(fz_float(&f, vflags), k);
    for (size_t j = 0; j < m; j++) {
        if (n > 0 && (near >> (j % 8)) & 1) {
            /* Nearly equal to a row of x: copy, then nudge a few values by an ulp. */
            memcpy(y + j * dim, x + (j % n) * dim, dim * sizeof(float));
            for (size_t t = fz_u8(&f) % 4; t > 0 && dim > 0; t--) {
                float *p = y + j * dim + fz_u8(&f) % dim;
                *p = nextafterf(*p, (t & 1) ? INFINITY : -INFINITY);
                if (!isfinite(*p))
                    *p = copysign(FLT_MAX, *p);
            }
        } else {
            for (size_t t = 0; t < dim; t++)
                y[j * dim + t] = scaled(fz_float(&f, vflags), k);
        }
    }

    g.x = x;
    g.y = y;
    g.n = n;
    g.m = m;
    g.dim = dim;
    fz_dump_hook = dump;

    float out[MAXN * MAXN];
    memset(out, FZ_CANARY, sizeof out);
    float xcopy[MAXN * MAXD], ycopy[MAXN * MAXD];
    memcpy(xcopy, x, sizeof x);
    memcpy(ycopy, y, sizeof y);
    const int st = imm_distance(x, n, y, m, dim, fo.ptr, out);
    FZ_CHECK(memcmp(x, xcopy, n * dim * sizeof(float)) == 0 &&
                 memcmp(y, ycopy, m * dim * sizeof(float)) == 0,
             "imm_distance modified its inputs");

    imm_options eff;
    fz_effective(&fo, &eff);

    /* The rows the kernels see, and the exact distances between them. */
    long double xt[MAXN][MAXD], yt[MAXN][MAXD], xn[MAXN], yn[MAXN];
    int in_range = 1, bf16_overflow = 0, finite = fz_all_finite(x, n * dim) && fz_all_finite(y, m * dim);
    long double d2[MAXN][MAXN];
    int must_overflow = 0, may_overflow = 0;
    if (fo.valid && finite && dim > 0) {
        for (size_t i = 0; i < n; i++) {
            if (!fz_round_row(eff.precision, x + i * dim, dim, xt[i]))
                in_range = 0;
            xn[i] = fz_sqnorm(xt[i], dim);
        }
        for (size_t j = 0; j < m; j++) {
            if (!fz_round_row(eff.precision, y + j * dim, dim, yt[j]))
                in_range = 0;
            yn[j] = fz_sqnorm(yt[j], dim);
        }
        if (!in_range && eff.precision == IMM_PRECISION_BF16)
            bf16_overflow = 1;
        if (in_range) {
            for (size_t i = 0; i < n; i++) {
                for (size_t j = 0; j < m; j++) {
                    d2[i][j] = fz_sqdist(xt[i], yt[j], dim);
                    const long double mv =
                        eff.metric == IMM_METRIC_L2 ? sqrtl(d2[i][j]) : d2[i][j];
                    if (mv > (long double)FLT_MAX * (1.0L + 1e-5L))
                        must_overflow = 1;
                    if (mv >= (long double)FLT_MAX * (1.0L - 1e-5L))
                        may_overflow = 1;
                }
            }
        }
    }

    int expect, alt = IMM_ERR_NOMEM;
    if (!fo.valid)
        expect = IMM_ERR_INVALID_ARG;
    else if (n == 0 || m == 0)
        expect = IMM_OK;
    else if (dim == 0)
        expect = IMM_ERR_INVALID_ARG;
    else if (!finite)
        expect = IMM_ERR_NONFINITE;
    else if (bf16_overflow)
        expect = IMM_ERR_NONFINITE, alt = IMM_OK;
    else if (!in_range || must_overflow)
        expect = IMM_ERR_NONFINITE;
    else if (may_overflow)
        expect = IMM_OK, alt = IMM_ERR_NONFINITE;
    else
        expect = IMM_OK;
    FZ_CHECK(st == expect || st == alt || st == IMM_ERR_NOMEM,
             "imm_distance returned %d, expected %d (n=%zu m=%zu dim=%zu, %s)", st, expect, n, m,
             dim, fz_opts_str(&fo));
    if (st != IMM_OK || n == 0 || m == 0) {
        FZ_CHECK(fz_untouched(out, sizeof out), "imm_distance returned %d but wrote out", st);
        return 0;
    }
    FZ_CHECK(fz_untouched(out + n * m, sizeof out - n * m * sizeof(float)),
             "imm_distance wrote past n x m");

    const long double tm = (long double)FLT_TRUE_MIN;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < m; j++) {
            const float o = out[i * m + j];
            FZ_CHECK(isfinite(o) && o >= 0.0f, "out[%zu][%zu] = %a", i, j, (double)o);
            if (bf16_overflow)
                continue;
            const long double N = xn[i] + yn[j], D2 = d2[i][j], D = sqrtl(D2);
            const long double lo = (long double)o;
            if (eff.metric == IMM_METRIC_L2) {
                const long double U = 2.0L * tm * D + tm * tm;
                FZ_CHECK(fabsl(lo * lo - D2) <= 1e-6L * N + U,
                         "L2 out[%zu][%zu] = %a: |out^2 - d~^2| = %La > 1e-6 (|x~|^2 + |y~|^2) = %La "
                         "(d~ = %La, %s)",
                         i, j, (double)o, fabsl(lo * lo - D2), 1e-6L * N, D, fz_opts_str(&fo));
                if (D >= 0.1L * sqrtl(N))
                    FZ_CHECK(fabsl(lo - D) <= 1e-5L * D + tm,
                             "L2 out[%zu][%zu] = %a: relative error %Lg > 1e-5 (d~ = %La, %s)", i,
                             j, (double)o, fabsl(lo - D) / D, D, fz_opts_str(&fo));
            } else {
                FZ_CHECK(fabsl(lo - D2) <= 1e-6L * N + tm,
                         "SQL2 out[%zu][%zu] = %a: |out - d~^2| = %La > 1e-6 (|x~|^2 + |y~|^2) = %La "
                         "(d~^2 = %La, %s)",
                         i, j, (double)o, fabsl(lo - D2), 1e-6L * N, D2, fz_opts_str(&fo));
                if (D >= 0.1L * sqrtl(N))
                    FZ_CHECK(fabsl(lo - D2) <= 1e-5L * D2 + tm,
                             "SQL2 out[%zu][%zu] = %a: relative error %Lg > 1e-5 (d~^2 = %La, %s)",
                             i, j, (double)o, fabsl(lo - D2) / D2, D2, fz_opts_str(&fo));
            }
        }
    }

    /* Convention 3: out overlapping x (here out == x) is IMM_ERR_INVALID_ARG, nothing written. */
    if (flags == 0xfe) {
        float alias[MAXN * MAXD];
        memcpy(alias, x, sizeof alias);
        const int sa = imm_distance(alias, n, y, m, dim, fo.ptr, alias);
        FZ_CHECK(sa == IMM_ERR_INVALID_ARG, "imm_distance with out == x returned %d", sa);
        FZ_CHECK(memcmp(alias, x, sizeof alias) == 0, "imm_distance with out == x wrote x");
    }

    /* Convention 6 / note 3: the thread count changes nothing, bitwise. */
    imm_options o2 = fo.ptr != NULL ? fo.o : eff;
    o2.num_threads = eff.num_threads == 1 ? 3 : 1;
    float out2[MAXN * MAXN];
    const int st2 = imm_distance(x, n, y, m, dim, &o2, out2);
    FZ_CHECK(st2 == IMM_OK || st2 == IMM_ERR_NOMEM, "second call returned %d", st2);
    if (st2 == IMM_OK)
        FZ_CHECK(memcmp(out, out2, n * m * sizeof(float)) == 0,
                 "out depends on num_threads (%d vs %d, %s)", eff.num_threads, o2.num_threads,
                 fz_opts_str(&fo));
    return 0;
}
