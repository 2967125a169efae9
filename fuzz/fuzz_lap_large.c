/*
 * fuzz_lap_large.c - the exact solver on square problems of 512 to 600 columns, where it takes
 * its sparse mode and hands over to the dense phases when the mode gives up (lib/lap/
 * lap_sparse.c). Too large for a brute-force optimum: the checks are the header's certificate
 * and its determinism promise.
 *
 * The input is a recipe, not the matrix: the size, a structure (row and column offsets over a
 * small residual, image-noise-like square roots, low rank, small-integer ties, uniform costs,
 * scales mixed by rows, a huge constant over a perturbation near the float resolution), its
 * parameters, a seed for the repository's generator (examples/ddpm/rng.c), optional +Inf
 * (forbidden) pairs, and up to 32 adversarial floats written at chosen places. Checks:
 *   - the status: IMM_OK, IMM_ERR_INFEASIBLE only with forbidden pairs (then outputs untouched),
 *     IMM_ERR_NOMEM tolerated;
 *   - assign is a permutation that avoids forbidden pairs, info->exact == 1, info->total its
 *     total;
 *   - imm_lap_certify(assign, u, v) <= tau = 1e-9 max|cost| (+1e-30): the exact solver's
 *     certificate (imm_lap_solve note 2);
 *   - 1 and 2 threads give the same assign, u, v and total, bit for bit (note 3).
 */
#include "fuzz_common.h"

#include "rng.h"

#define MIN_N 512
#define MAX_N 600
#define MAX_POKES 32

static struct {
    size_t n;
    unsigned kind;
} g;

static void dump(void) { fprintf(stderr, "n = %zu, kind %u\n", g.n, g.kind); }

/* 1 when assign is a permutation of 0..n-1 (seen: n bytes of scratch). */
static int is_permutation(const int32_t *assign, size_t n, unsigned char *seen) {
    memset(seen, 0, n);
    for (size_t i = 0; i < n; i++) {
        if (assign[i] < 0 || (size_t)assign[i] >= n || seen[assign[i]])
            return 0;
        seen[assign[i]] = 1;
    }
    return 1;
}

static float make_cost(unsigned kind, size_t i, size_t j, const double *a, const double *b,
                       double p, rng *r) {
    switch (kind) {
    case 0: return (float)(a[i] + b[j] + p * rng_uniform(r)); /* offsets over a residual */
    case 1: return (float)sqrt(a[i] * a[i] + b[j] * b[j] + p * rng_normal(r) + 4096.0);
    case 2: return (float)(a[i] * b[j]); /* rank one */
    case 3: return (float)rng_below(r, 2 + (uint64_t)(p * 4.0)); /* ties */
    case 4: return (float)(rng_uniform(r) * p * 1e4);
    case 5: return (float)(ldexp(1.0, (int)(i % 9) * 4 - 16) * rng_uniform(r)); /* row scales */
    default: return (float)(1e6 + p * rng_uniform(r)); /* below float's resolution at 1e6 */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz f;
    fz_init(&f, data, size);
    const size_t n = MIN_N + fz_u16(&f) % (MAX_N - MIN_N + 1);
    const unsigned kind = fz_u8(&f) % 7;
    const uint64_t seed = fz_u64(&f);
    const double p = (double)(fz_u8(&f) + 1) / 64.0; /* the structure's residual or range */
    const unsigned forbid = fz_u8(&f), pokes = fz_u8(&f) % (MAX_POKES + 1);
    g.n = n;
    g.kind = kind;
    fz_dump_hook = dump;

    float *c = malloc(n * n * sizeof *c);
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    double *u1 = malloc(n * sizeof *u1), *v1 = malloc(n * sizeof *v1);
    double *u2 = malloc(n * sizeof *u2), *v2 = malloc(n * sizeof *v2);
    int32_t *x1 = malloc(n * sizeof *x1), *x2 = malloc(n * sizeof *x2);
    unsigned char *seen = malloc(n);
    if (!c || !a || !b || !u1 || !v1 || !u2 || !v2 || !x1 || !x2 || !seen)
        goto done;
    rng r;
    rng_seed_plain(&r, seed);
    for (size_t i = 0; i < n; i++) {
        a[i] = 1e2 * rng_uniform(&r) * p;
        b[i] = 1e2 * rng_uniform(&r);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            c[i * n + j] = make_cost(kind, i, j, a, b, p, &r);
    /* forbidden pairs: none, a few, or a share of one row block */
    const int has_forbidden = forbid >= 192;
    if (has_forbidden)
        for (unsigned t = 0; t < (forbid - 191u) * 8u; t++)
            c[rng_below(&r, n * n)] = INFINITY;
    for (unsigned t = 0; t < pokes; t++) {
        const size_t at = (size_t)(fz_u32(&f) % (uint32_t)(n * n));
        const float val = fz_float(&f, 0); /* finite */
        if (isfinite(val))
            c[at] = val;
    }

    imm_options o;
    imm_options_init(&o);
    o.num_threads = 1;
    imm_lap_info info;
    memset(x1, FZ_CANARY, n * sizeof *x1);
    memset(&info, FZ_CANARY, sizeof info);
    int st = imm_lap_solve_ex(c, n, n, &o, x1, u1, v1, &info);
    if (st == IMM_ERR_NOMEM)
        goto done;
    if (st == IMM_ERR_INFEASIBLE) {
        FZ_CHECK(has_forbidden, "IMM_ERR_INFEASIBLE without a forbidden pair");
        FZ_CHECK(fz_untouched(x1, n * sizeof *x1) && fz_untouched(&info, sizeof info),
                 "outputs written on IMM_ERR_INFEASIBLE");
        goto done;
    }
    FZ_CHECK(st == IMM_OK, "status %d", st);
    FZ_CHECK(is_permutation(x1, n, seen), "assign is not a permutation");
    FZ_CHECK(info.exact == 1, "info.exact = %d", (int)info.exact);
    double total = 0.0, cmax = 0.0;
    for (size_t i = 0; i < n; i++) {
        FZ_CHECK(c[i * n + (size_t)x1[i]] < INFINITY, "row %zu assigned a forbidden pair", i);
        total += (double)c[i * n + (size_t)x1[i]];
    }
    for (size_t t = 0; t < n * n; t++)
        if (isfinite(c[t]))
            cmax = fmax(cmax, fabs((double)c[t]));
    FZ_CHECK(fabs(total - info.total) <= 1e-12 * fabs(total) + 1e-300, "info.total %.17g vs %.17g",
             info.total, total);
    double violation = -1.0;
    st = imm_lap_certify(c, n, n, x1, u1, v1, &violation);
    FZ_CHECK(st == IMM_OK, "imm_lap_certify returned %d", st);
    const double tau = 1e-9 * cmax + 1e-30;
    FZ_CHECK(violation <= tau, "certificate violation %.6g > tau %.6g", violation, tau);

    o.num_threads = 2;
    double total2 = 0.0;
    st = imm_lap_solve_dual(c, n, n, &o, x2, u2, v2, &total2);
    if (st == IMM_ERR_NOMEM)
        goto done;
    FZ_CHECK(st == IMM_OK, "2 threads: status %d", st);
    FZ_CHECK(memcmp(x1, x2, n * sizeof *x1) == 0 && memcmp(u1, u2, n * sizeof *u1) == 0 &&
                 memcmp(v1, v2, n * sizeof *v1) == 0 && memcmp(&total2, &info.total, sizeof total2) == 0,
             "1 and 2 threads differ");
done:
    free(c);
    free(a);
    free(b);
    free(u1);
    free(v1);
    free(u2);
    free(v2);
    free(x1);
    free(x2);
    free(seen);
    return 0;
}
