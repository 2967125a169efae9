/*
 * fuzz_assign.c - the noise entry points: imm_assign_noise(), imm_assign_noise_pool() and
 * imm_select_noise_knn(), batch <= 6 rows of dim <= 16, adversarial options and inputs (mostly
 * moderate values).
 *
 * Checks (include/immiscible.h):
 *   - status: bad options, dim == 0 (batch > 0), pool_size < batch, k == 0: INVALID_ARG;
 *     batch == 0: IMM_OK; NaN / Inf input or a value outside the precision's range:
 *     IMM_ERR_NONFINITE (also for k == 1); IMM_OK when every distance is comfortably inside
 *     float range (near or past FLT_MAX IMM_ERR_NONFINITE is accepted). IMM_ERR_NOMEM tolerated.
 *   - on error nothing is modified (noise bitwise as before; out / perm / index untouched).
 *   - imm_assign_noise: the rows afterwards are a bitwise permutation of the rows before
 *     (multiset kept), noise[i] == old noise[perm[i]]; with an optimal solver (EXACT or
 *     exact_finish) perm is an optimal assignment of the imm_distance() matrix (same options),
 *     within the tolerance of imm_lap_solve (see fuzz_lap.c).
 *   - imm_assign_noise_pool: index distinct, out[i] == pool[index[i]] bitwise; with
 *     pool_size == batch the rows equal imm_assign_noise's (note 1).
 *   - imm_select_noise_knn: index[i] < k, out[i] == candidate index[i] of image i bitwise, and
 *     index[i] is the lowest t with the minimal imm_distance(x_i, candidates of i).
 */
#include "fuzz_common.h"

#define MAXB 6
#define MAXP 8
#define MAXK 4
#define MAXD 16

static struct {
    const float *x, *y;
    size_t n, m, dim;
    int api;
} g;

static void dump(void) {
    fprintf(stderr, "api %d\n", g.api);
    fz_print_matrix("x", g.x, g.n, g.dim);
    fz_print_matrix("noise / pool / candidates", g.y, g.m, g.dim);
}

/* The status the distance pre-pass must give for x (n rows) against y (m rows): sets *expect
   and an acceptable alternative *alt (NONFINITE near the float overflow edge, or for BF16 values
   that round past the largest bfloat16: see fuzz_distance.c). */
/* own == 0: every pair (i, j) is computed (the permutation and the pool); own = k: only the
   pairs of image i with its own candidates i k .. i k + k - 1 (KNN: imm_select_noise_knn's
   note 1, whatever the other images hold). */
static void dist_expect(const float *x, size_t n, const float *y, size_t m, size_t dim,
                        const imm_options *eff, size_t own, int *expect, int *alt) {
    static long double xt[MAXP * MAXK][MAXD], yt[MAXP * MAXK][MAXD];
    *expect = IMM_OK;
    *alt = IMM_ERR_NOMEM;
    if (!fz_all_finite(x, n * dim) || !fz_all_finite(y, m * dim)) {
        *expect = IMM_ERR_NONFINITE;
        return;
    }
    int in_range = 1;
    for (size_t i = 0; i < n; i++)
        in_range &= fz_round_row(eff->precision, x + i * dim, dim, xt[i]);
    for (size_t j = 0; j < m; j++)
        in_range &= fz_round_row(eff->precision, y + j * dim, dim, yt[j]);
    if (!in_range) {
        *expect = IMM_ERR_NONFINITE;
        if (eff->precision == IMM_PRECISION_BF16)
            *alt = IMM_OK;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < m; j++) {
            if (own != 0 && j / own != i)
                continue;
            const long double d2 = fz_sqdist(xt[i], yt[j], dim);
            const long double mv = eff->metric == IMM_METRIC_L2 ? sqrtl(d2) : d2;
            if (mv > (long double)FLT_MAX * (1.0L + 1e-5L))
                *expect = IMM_ERR_NONFINITE;
            else if (mv >= (long double)FLT_MAX * (1.0L - 1e-5L))
                *alt = IMM_ERR_NONFINITE;
        }
    }
}

static int cmp_rows_dim;
static int cmp_rows(const void *a, const void *b) {
    return memcmp(a, b, (size_t)cmp_rows_dim * sizeof(float));
}

static int same_multiset(const float *a, const float *b, size_t n, size_t dim) {
    float sa[MAXP * MAXD], sb[MAXP * MAXD];
    memcpy(sa, a, n * dim * sizeof(float));
    memcpy(sb, b, n * dim * sizeof(float));
    cmp_rows_dim = (int)dim;
    qsort(sa, n, dim * sizeof(float), cmp_rows);
    qsort(sb, n, dim * sizeof(float), cmp_rows);
    return memcmp(sa, sb, n * dim * sizeof(float)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz f;
    fz_init(&f, data, size);
    fz_opts fo;
    fz_options(&f, &fo);
    const uint8_t api = fz_u8(&f) % 3, bb = fz_u8(&f), bd = fz_u8(&f), flags = fz_u8(&f),
                  bextra = fz_u8(&f);
    const size_t batch = bb >= 250 ? 0 : 1 + bb % MAXB;
    const size_t dim = bd == 255 ? 0 : 1 + bd % MAXD;
    const int vflags = FZ_MOSTLY_MODERATE | (flags == 0xff ? FZ_NONFINITE_OK : 0);
    const int perm_null = (flags & 3) == 3;
    size_t m; /* rows of noise / pool / candidates */
    size_t pool_size = batch, k = 1;
    int shape_invalid = 0;
    if (api == 1) {
        pool_size = batch + bextra % (MAXP - batch + 1);
        if (bextra == 255 && batch > 0) {
            pool_size = batch - 1;
            shape_invalid = 1;
        }
        m = pool_size;
    } else if (api == 2) {
        k = bextra == 255 ? 0 : 1 + bextra % MAXK;
        shape_invalid = k == 0 && batch > 0;
        m = batch * k;
    } else {
        m = batch;
    }

    float x[MAXB * MAXD], y[MAXP * MAXK * MAXD], y0[MAXP * MAXK * MAXD], out[MAXB * MAXD];
    for (size_t i = 0; i < batch * dim; i++)
        x[i] = fz_float(&f, vflags);
    for (size_t i = 0; i < m * dim; i++)
        y[i] = fz_float(&f, vflags);
    memcpy(y0, y, m * dim * sizeof(float));
    int32_t idx[MAXB];
    memset(idx, FZ_CANARY, sizeof idx);
    memset(out, FZ_CANARY, sizeof out);
    g.x = x;
    g.y = y0;
    g.n = batch;
    g.m = m;
    g.dim = dim;
    g.api = api;
    fz_dump_hook = dump;

    int st;
    if (api == 0)
        st = imm_assign_noise(x, y, batch, dim, fo.ptr, perm_null ? NULL : idx);
    else if (api == 1)
        st = imm_assign_noise_pool(x, batch, y, pool_size, dim, fo.ptr, out,
                                   perm_null ? NULL : idx);
    else
        st = imm_select_noise_knn(x, batch, y, k, dim, fo.ptr, out, perm_null ? NULL : idx);

    imm_options eff;
    fz_effective(&fo, &eff);
    int expect, alt = IMM_ERR_NOMEM;
    if (!fo.valid)
        expect = IMM_ERR_INVALID_ARG;
    else if (batch == 0)
        expect = IMM_OK;
    else if (dim == 0 || shape_invalid)
        expect = IMM_ERR_INVALID_ARG;
    else
        dist_expect(x, batch, y0, m, dim, &eff, api == 2 ? k : 0, &expect, &alt);
    FZ_CHECK(st == expect || st == alt || st == IMM_ERR_NOMEM,
             "api %d returned %d, expected %d (batch=%zu dim=%zu pool=%zu k=%zu, %s)", api, st,
             expect, batch, dim, pool_size, k, fz_opts_str(&fo));

    if (api != 0)
        FZ_CHECK(memcmp(y, y0, m * dim * sizeof(float)) == 0, "api %d modified its input rows",
                 api);
    if (st != IMM_OK || batch == 0) {
        FZ_CHECK(memcmp(y, y0, m * dim * sizeof(float)) == 0 && fz_untouched(idx, sizeof idx) &&
                     fz_untouched(out, sizeof out),
                 "api %d returned %d but modified an output", api, st);
        return 0;
    }

    /* Convention 3: noise overlapping x (here the same buffer) is IMM_ERR_INVALID_ARG. */
    if (api == 0 && flags == 0xfe) {
        float alias[MAXB * MAXD], before[MAXB * MAXD];
        memcpy(alias, x, batch * dim * sizeof(float));
        memcpy(before, x, batch * dim * sizeof(float));
        const int sa = imm_assign_noise(alias, alias, batch, dim, fo.ptr, NULL);
        FZ_CHECK(sa == IMM_ERR_INVALID_ARG, "imm_assign_noise with noise == x returned %d", sa);
        FZ_CHECK(memcmp(alias, before, batch * dim * sizeof(float)) == 0,
                 "imm_assign_noise with noise == x modified it");
    }

    if (api == 0) {
        FZ_CHECK(same_multiset(y, y0, batch, dim),
                 "imm_assign_noise: the noise rows are not a permutation of the old ones");
        if (perm_null)
            return 0;
        FZ_CHECK(fz_is_injective(idx, batch, batch), "perm is not a permutation");
        for (size_t i = 0; i < batch; i++)
            FZ_CHECK(memcmp(y + i * dim, y0 + (size_t)idx[i] * dim, dim * sizeof(float)) == 0,
                     "noise[%zu] != old noise[perm[%zu] = %d]", i, i, idx[i]);
        if (eff.solver == IMM_SOLVER_EXACT || eff.exact_finish != 0) {
            float c[MAXB * MAXB];
            if (imm_distance(x, batch, y0, batch, dim, fo.ptr, c) == IMM_OK) {
                long double abs_a, abs_o;
                const long double T = fz_total(c, batch, idx, batch, &abs_a);
                const long double O = fz_lap_optimum(c, batch, batch, &abs_o);
                double maxabs = 0.0;
                for (size_t t = 0; t < batch * batch; t++)
                    maxabs = fmax(maxabs, fabs((double)c[t]));
                const long double tau = 1e-9L * (long double)maxabs + 1e-30L;
                FZ_CHECK(T - O <= 2.0L * (long double)batch * tau + 8.0L * DBL_EPSILON * (abs_a + abs_o),
                         "imm_assign_noise: perm not optimal for the distance matrix: total %La, "
                         "optimum %La (%s)",
                         T, O, fz_opts_str(&fo));
            }
        }
    } else if (api == 1) {
        int32_t index[MAXB];
        if (perm_null) {
            /* Recompute the index to check the rows: run again with an index. */
            FZ_CHECK(imm_assign_noise_pool(x, batch, y0, pool_size, dim, fo.ptr, out, index) ==
                         IMM_OK,
                     "second pool call failed");
        } else {
            memcpy(index, idx, sizeof index);
        }
        FZ_CHECK(fz_is_injective(index, batch, pool_size), "pool index not distinct / in range");
        for (size_t i = 0; i < batch; i++)
            FZ_CHECK(memcmp(out + i * dim, y0 + (size_t)index[i] * dim, dim * sizeof(float)) == 0,
                     "pool out[%zu] != pool[index[%zu] = %d]", i, i, index[i]);
        if (pool_size == batch) {
            float noise[MAXB * MAXD];
            memcpy(noise, y0, batch * dim * sizeof(float));
            if (imm_assign_noise(x, noise, batch, dim, fo.ptr, NULL) == IMM_OK)
                FZ_CHECK(memcmp(noise, out, batch * dim * sizeof(float)) == 0,
                         "pool_size == batch: rows differ from imm_assign_noise's (%s)",
                         fz_opts_str(&fo));
        }
    } else {
        int32_t index[MAXB];
        if (perm_null) {
            FZ_CHECK(imm_select_noise_knn(x, batch, y0, k, dim, fo.ptr, out, index) == IMM_OK,
                     "second knn call failed");
        } else {
            memcpy(index, idx, sizeof index);
        }
        for (size_t i = 0; i < batch; i++) {
            FZ_CHECK(index[i] >= 0 && (size_t)index[i] < k, "knn index[%zu] = %d, k = %zu", i,
                     index[i], k);
            FZ_CHECK(memcmp(out + i * dim, y0 + (i * k + (size_t)index[i]) * dim,
                            dim * sizeof(float)) == 0,
                     "knn out[%zu] is not candidate index[%zu] = %d", i, i, index[i]);
            float d[MAXK];
            if (imm_distance(x + i * dim, 1, y0 + i * k * dim, k, dim, fo.ptr, d) == IMM_OK) {
                for (size_t t = 0; t < k; t++) {
                    FZ_CHECK(d[t] >= d[index[i]],
                             "knn image %zu: candidate %zu is nearer (%a) than chosen %d (%a) (%s)",
                             i, t, (double)d[t], index[i], (double)d[index[i]], fz_opts_str(&fo));
                    FZ_CHECK(t >= (size_t)index[i] || d[t] > d[index[i]],
                             "knn image %zu: tie not broken to the lowest t (%zu vs %d)", i, t,
                             index[i]);
                }
            }
        }
    }
    return 0;
}
