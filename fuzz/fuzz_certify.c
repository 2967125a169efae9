/*
 * fuzz_certify.c - imm_lap_certify() must never report a small violation for a non-optimal
 * assignment.
 *
 * Problems up to 8 x 8 (square and rectangular) with adversarial float costs; the assignment and
 * the potentials are chosen by the fuzzer in one of several ways: raw doubles (+-1e300, near
 * DBL_MAX, subnormals, raw bits), potentials that make the assigned reduced costs vanish in
 * double (u[i] = cost[i][a_i] - v[a_i] with huge v), the solver's own certificate
 * (imm_lap_solve_dual) shifted by a constant K (u + K, v - K: the same certificate in exact
 * arithmetic, but with huge K the cost vanishes in rounding), optionally with a different
 * assignment.
 *
 * Checks:
 *   - the status is the header's (NULL pointer, rows > cols, assign not distinct columns in
 *     range: IMM_ERR_INVALID_ARG; NaN / -Inf in cost, NaN / Inf in u or v, or max|u| + max|v| +
 *     FLT_MAX not finite: IMM_ERR_NONFINITE; else IMM_OK (+Inf costs are forbidden pairs:
 *     assigning one must give an infinite violation);
 *     IMM_ERR_NOMEM tolerated) and on error *violation is untouched;
 *   - on IMM_OK, violation is >= 0 (not NaN), and the header's bound holds with violation in
 *     place of tau: total(assign) - optimum <= B * violation + S, B = 2 rows (3 rows if rows < cols)
 *     (header: "within 2 rows tau of the optimum (3 rows tau when rows < cols)"), S = 8 DBL_EPSILON (sum |c| over assign + over an optimal
 *     assignment): only the rounding of the two totals themselves (see fuzz_lap.c);
 *   - the solver's own certificate, unmodified, has violation <= 1e-9 max|cost| + 1e-30.
 */
#include "fuzz_common.h"

/* The header's bound: "within 2 rows tau of the optimum (3 rows tau when rows < cols)", with
   *violation in place of tau. (For rows < cols the unassigned-column term costs up to one
   violation per column an optimal assignment uses and this one does not, <= rows of them.) */
#define CERTIFY_FACTOR(rows, cols) ((rows) == (cols) ? 2.0L * (rows) : 3.0L * (rows))

static struct {
    const float *cost;
    size_t rows, cols;
    const int32_t *assign;
    const double *u, *v;
    int mode;
} g;

static void dump(void) {
    fprintf(stderr, "mode %d\n", g.mode);
    fz_print_matrix("cost", g.cost, g.rows, g.cols);
    fprintf(stderr, "assign = {");
    for (size_t i = 0; i < g.rows; i++)
        fprintf(stderr, " %d", g.assign[i]);
    fprintf(stderr, " }\n");
    for (size_t i = 0; i < g.rows; i++)
        fprintf(stderr, "u[%zu] = %a\n", i, g.u[i]);
    for (size_t j = 0; j < g.cols; j++)
        fprintf(stderr, "v[%zu] = %a\n", j, g.v[j]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz f;
    fz_init(&f, data, size);
    const uint8_t shape = fz_u8(&f), extra = fz_u8(&f), mode = fz_u8(&f), flags = fz_u8(&f);
    size_t rows = shape % 9, cols = rows + extra % (9 - rows);
    if (extra == 255 && rows > 0)
        cols = rows - 1; /* rows > cols: invalid */

    float cost[64];
    const int cflags = (flags & 0x80) ? FZ_NONFINITE_OK : 0;
    for (size_t i = 0; i < rows * cols; i++)
        cost[i] = fz_float(&f, cflags);

    /* An injective assignment picked by the fuzzer (and, rarely, an invalid one). */
    int32_t assign[8] = {0};
    {
        int32_t free_cols[8];
        size_t nfree = cols;
        for (size_t j = 0; j < cols; j++)
            free_cols[j] = (int32_t)j;
        for (size_t i = 0; i < rows && i < cols; i++) {
            const size_t t = fz_u8(&f) % nfree;
            assign[i] = free_cols[t];
            free_cols[t] = free_cols[--nfree];
        }
    }
    int assign_valid = rows <= cols;
    if (rows > 0 && rows <= cols && flags == 0x7f) {
        assign[0] = fz_u8(&f) & 1 ? (int32_t)cols : -1;
        assign_valid = 0;
    } else if (rows > 1 && rows <= cols && flags == 0x7e) {
        assign[1] = assign[0];
        assign_valid = 0;
    }

    double u[8], v[8];
    const int dflags = (flags & 0x40) && (flags & 0x20) ? FZ_NONFINITE_OK : 0;
    int pristine = 0; /* u, v, assign are the solver's own certificate */
    switch (mode % 4) {
    case 0: /* raw potentials */
        for (size_t i = 0; i < rows; i++)
            u[i] = fz_double(&f, dflags);
        for (size_t j = 0; j < cols; j++)
            v[j] = fz_double(&f, dflags);
        break;
    case 1: /* raw v; u makes the assigned reduced costs zero (in double) */
    case 3: /* one huge v for all columns plus small offsets; same u */
    {
        const double K = (mode % 4) == 3 ? fz_double(&f, 0) : 0.0;
        for (size_t j = 0; j < cols; j++)
            v[j] = (mode % 4) == 3 ? K + (double)(int8_t)fz_u8(&f) : fz_double(&f, dflags);
        for (size_t i = 0; i < rows && rows <= cols; i++)
            u[i] = (double)cost[i * cols + (size_t)(assign[i] >= 0 && (size_t)assign[i] < cols ? assign[i] : 0)] -
                   v[assign[i] >= 0 && (size_t)assign[i] < cols ? assign[i] : 0];
        for (size_t i = 0; i < rows && rows > cols; i++)
            u[i] = 0.0;
        break;
    }
    case 2: /* the solver's certificate, shifted by K, maybe with another assignment */
    {
        const double K = (mode & 4) ? fz_double(&f, 0) : 0.0;
        const int keep_assign = !(mode & 8);
        int32_t sa[8];
        for (size_t i = 0; i < rows; i++)
            u[i] = 0.0;
        for (size_t j = 0; j < cols; j++)
            v[j] = 0.0;
        if (rows <= cols && fz_all_finite(cost, rows * cols) &&
            imm_lap_solve_dual(rows ? cost : NULL, rows, cols, NULL, sa, u, v, NULL) == IMM_OK) {
            if (keep_assign && assign_valid) {
                memcpy(assign, sa, rows * sizeof sa[0]);
                pristine = K == 0.0;
            }
            for (size_t i = 0; i < rows; i++)
                u[i] += K;
            for (size_t j = 0; j < cols; j++)
                v[j] -= K;
        }
        break;
    }
    }

    double violation;
    memset(&violation, FZ_CANARY, sizeof violation);
    const int null_sel = flags == 0x7d ? 1 + fz_u8(&f) % 4 : 0;
    g.cost = cost;
    g.rows = rows;
    g.cols = cols;
    g.assign = assign;
    g.u = u;
    g.v = v;
    g.mode = mode;
    fz_dump_hook = rows <= cols ? dump : NULL;
    const int st = imm_lap_certify(null_sel == 1 ? NULL : cost, rows, cols,
                                   null_sel == 2 ? NULL : assign, null_sel == 3 ? NULL : u,
                                   null_sel == 4 ? NULL : v, flags == 0x7c ? NULL : &violation);

    int expect;
    /* +Inf costs are forbidden pairs (allowed); NaN and -Inf are IMM_ERR_NONFINITE. */
    int finite = 1;
    for (size_t i = 0; i < rows * cols; i++)
        finite &= !isnan(cost[i]) && !(isinf(cost[i]) && cost[i] < 0);
    for (size_t i = 0; i < rows; i++)
        finite &= isfinite(u[i]) != 0;
    for (size_t j = 0; j < cols; j++)
        finite &= isfinite(v[j]) != 0;
    if (rows > cols || flags == 0x7c)
        expect = IMM_ERR_INVALID_ARG;
    else if (rows == 0)
        expect = IMM_OK;
    else if (null_sel != 0 || !assign_valid)
        expect = IMM_ERR_INVALID_ARG;
    else if (!finite)
        expect = IMM_ERR_NONFINITE;
    else
        expect = IMM_OK;
    /* Header: "IMM_ERR_NONFINITE ... for potentials whose sums overflow (max|u| + max|v| +
       FLT_MAX not finite)". */
    if (expect == IMM_OK && rows > 0) {
        double um = 0.0, vm = 0.0;
        for (size_t i = 0; i < rows; i++)
            um = fmax(um, fabs(u[i]));
        for (size_t j = 0; j < cols; j++)
            vm = fmax(vm, fabs(v[j]));
        if (!isfinite(um + vm + (double)FLT_MAX))
            expect = IMM_ERR_NONFINITE;
    }
    FZ_CHECK(st == expect || st == IMM_ERR_NOMEM,
             "imm_lap_certify returned %d, expected %d (rows=%zu cols=%zu)", st, expect, rows, cols);
    if (st != IMM_OK) {
        FZ_CHECK(fz_untouched(&violation, sizeof violation),
                 "imm_lap_certify returned %d but wrote *violation", st);
        return 0;
    }
    if (flags == 0x7c)
        return 0;
    FZ_CHECK(violation >= 0.0, "violation = %a", violation);
    if (rows == 0)
        return 0;

    long double abs_a, abs_o;
    int feasible;
    const long double T = fz_total(cost, cols, assign, rows, &abs_a);
    const long double O = fz_lap_optimum_f(cost, rows, cols, &abs_o, &feasible);
    if (isinf(T)) {
        FZ_CHECK(isinf(violation), "assigned a forbidden (+Inf) pair but violation = %a",
                 violation);
        return 0;
    }
    if (!feasible)
        return 0;
    const long double S = 8.0L * DBL_EPSILON * (abs_a + abs_o);
    const long double bound = CERTIFY_FACTOR((long double)rows, (long double)cols) * violation;
    FZ_CHECK(T - O <= bound + S,
             "certified a non-optimal assignment: total %La, optimum %La, diff %La > "
             "factor * violation = %La (violation %a)",
             T, O, T - O, bound, violation);

    if (pristine) {
        double maxabs = 0.0;
        for (size_t i = 0; i < rows * cols; i++)
            if (isfinite(cost[i]))
                maxabs = fmax(maxabs, fabs((double)cost[i]));
        const double tau = 1e-9 * maxabs + 1e-30;
        FZ_CHECK(violation <= tau,
                 "the solver's own certificate has violation %a > tau = 1e-9 max|cost| + 1e-30 = %a",
                 violation, tau);
    }
    return 0;
}
