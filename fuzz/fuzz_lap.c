/*
 * fuzz_lap.c - imm_lap_solve_ex() (exact, auction, auction + exact finish) on square and
 * rectangular problems up to 8 x 8 with adversarial float costs and options, checked against a
 * brute-force optimum and the header's promises:
 *   - the status is the one the header prescribes (bad options / rows > cols / NULL assign:
 *     IMM_ERR_INVALID_ARG, NaN / -Inf cost: IMM_ERR_NONFINITE; +Inf = forbidden pair: auction
 *     IMM_ERR_UNSUPPORTED, exact IMM_ERR_INFEASIBLE when no assignment avoids them; else IMM_OK;
 *     IMM_ERR_NOMEM is tolerated), and on any error assign, u, v and info are untouched;
 *   - no forbidden pair is assigned, and the optimum is taken over the allowed assignments;
 *   - assign is injective; info->total is the assignment's total;
 *   - exact results (IMM_SOLVER_EXACT, exact_finish, rectangular problems with many extra
 *     columns, or info->exact == 1) are optimal and their potentials a dual certificate;
 *   - auction results: lower_bound finite and <= optimum, total - optimum <= gap_bound and
 *     <= accuracy * (max cost - min cost), u[i] = min_j cost[i][j] - v[j];
 *   - the thread count changes nothing (a second solve with another num_threads, through
 *     imm_lap_solve_dual, gives the same assignment and total).
 *
 * Tolerances. S = 8 DBL_EPSILON (sum |c| over the library's assignment + over an optimal one)
 * covers the rounding of the totals themselves: the library sums at most 8 floats in double
 * (error <= 7 u sum|c|, u = 2^-53, i.e. < 4 DBL_EPSILON sum|c|), the reference sums in long
 * double (negligible), and each of the two totals compared gets that allowance. On top of S,
 * the header grants exact results "a dual certificate with tolerance tau = 1e-9 max|cost| (+1e-30)
 * per entry", i.e. a gap of at most 2 rows tau (3 rows tau when rows < cols), and the auction's bounds
 * "rounding aside: ~1e-9 max|cost| per row", i.e. rows tau. Define FUZZ_STRICT to drop those
 * header allowances and demand optimality up to S alone.
 */
#include "fuzz_common.h"

#ifdef FUZZ_STRICT
#define HDR_ALLOW(x) 0.0L
#else
#define HDR_ALLOW(x) (x)
#endif

static struct {
    const float *cost;
    size_t rows, cols;
    const int32_t *assign;
    const double *u, *v;
} g;

static void dump(void) {
    fz_print_matrix("cost", g.cost, g.rows, g.cols);
    if (g.assign != NULL) {
        fprintf(stderr, "assign = {");
        for (size_t i = 0; i < g.rows; i++)
            fprintf(stderr, " %d", g.assign[i]);
        fprintf(stderr, " }\n");
    }
    if (g.u != NULL)
        for (size_t i = 0; i < g.rows; i++)
            fprintf(stderr, "u[%zu] = %a\n", i, g.u[i]);
    if (g.v != NULL)
        for (size_t j = 0; j < g.cols; j++)
            fprintf(stderr, "v[%zu] = %a\n", j, g.v[j]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz f;
    fz_init(&f, data, size);
    fz_opts fo;
    fz_options(&f, &fo);
    /* Biased towards AUCTION: the exact solver is also reached through rectangular shapes. */
    const uint8_t shape = fz_u8(&f), extra = fz_u8(&f), nulls = fz_u8(&f);
    size_t rows = shape % 9, cols = rows + extra % (9 - rows);
    if (extra == 255 && rows > 0)
        cols = rows - 1; /* rows > cols: invalid */
    const int u_null = nulls & 1, v_null = (nulls >> 1) & 1, info_null = (nulls >> 2) & 1;
    const int assign_null = nulls == 0xfe;

    float cost[64];
    for (size_t i = 0; i < rows * cols; i++)
        cost[i] = fz_float(&f, FZ_NONFINITE_OK);

    int32_t assign[8];
    double u[8], v[8];
    imm_lap_info info;
    memset(assign, FZ_CANARY, sizeof assign);
    memset(u, FZ_CANARY, sizeof u);
    memset(v, FZ_CANARY, sizeof v);
    memset(&info, FZ_CANARY, sizeof info);

    fz_dump_hook = dump;
    g.cost = cost;
    g.rows = rows;
    g.cols = cols;
    g.assign = assign_null ? NULL : assign;
    g.u = u_null ? NULL : u;
    g.v = v_null ? NULL : v;
    const int st = imm_lap_solve_ex(rows * cols ? cost : NULL, rows, cols, fo.ptr,
                                    assign_null ? NULL : assign, u_null ? NULL : u,
                                    v_null ? NULL : v, info_null ? NULL : &info);

    /* Note 4: +Inf marks a forbidden pair; NaN and -Inf are IMM_ERR_NONFINITE. */
    int nan_or_neg_inf = 0, pos_inf = 0, feasible = 1;
    for (size_t i = 0; i < rows * cols; i++) {
        nan_or_neg_inf |= isnan(cost[i]) || (isinf(cost[i]) && cost[i] < 0);
        pos_inf |= isinf(cost[i]) && cost[i] > 0;
    }
    long double abs_o = 0.0L, O = 0.0L;
    if (rows <= cols && !nan_or_neg_inf)
        O = fz_lap_optimum_f(cost, rows, cols, &abs_o, &feasible);

    int expect;
    if (!fo.valid || rows > cols)
        expect = IMM_ERR_INVALID_ARG;
    else if (rows == 0)
        expect = IMM_OK;
    else if (assign_null)
        expect = IMM_ERR_INVALID_ARG;
    else if (nan_or_neg_inf)
        expect = IMM_ERR_NONFINITE;
    else if (pos_inf && fo.valid && (fo.ptr != NULL && fo.o.solver == IMM_SOLVER_AUCTION))
        expect = IMM_ERR_UNSUPPORTED; /* note 4: the auction on forbidden pairs */
    else if (pos_inf && !feasible)
        expect = IMM_ERR_INFEASIBLE;
    else
        expect = IMM_OK;
    FZ_CHECK(st == expect || st == IMM_ERR_NOMEM, "imm_lap_solve_ex returned %d, expected %d (%s, rows=%zu cols=%zu)",
             st, expect, fz_opts_str(&fo), rows, cols);

    if (st != IMM_OK) {
        FZ_CHECK(fz_untouched(assign, sizeof assign) && fz_untouched(u, sizeof u) &&
                     fz_untouched(v, sizeof v) && fz_untouched(&info, sizeof info),
                 "imm_lap_solve_ex returned %d but wrote an output (%s)", st, fz_opts_str(&fo));
        return 0;
    }
    if (rows == 0)
        return 0;

    imm_options eff;
    fz_effective(&fo, &eff);

    /* Validity of the assignment, and the reference optimum. */
    FZ_CHECK(fz_is_injective(assign, rows, cols), "assign is not injective (rows=%zu cols=%zu)",
             rows, cols);
    long double abs_a;
    const long double T = fz_total(cost, cols, assign, rows, &abs_a);
    FZ_CHECK(isfinite(T), "the assignment uses a forbidden (+Inf) pair");
    const long double S = 8.0L * DBL_EPSILON * (abs_a + abs_o);
    /* max|cost|, min and max over the finite (allowed) costs */
    double maxabs = 0.0, cmin = INFINITY, cmax = -INFINITY;
    for (size_t i = 0; i < rows * cols; i++) {
        if (!isfinite(cost[i]))
            continue;
        maxabs = fmax(maxabs, fabs((double)cost[i]));
        cmin = fmin(cmin, (double)cost[i]);
        cmax = fmax(cmax, (double)cost[i]);
    }
    const long double tau = 1e-9L * (long double)maxabs + 1e-30L;

    const int must_be_exact = eff.solver == IMM_SOLVER_EXACT || eff.exact_finish != 0 ||
                              (cols - rows) * 8 > cols;
    if (!info_null) {
        FZ_CHECK(info.exact == 0 || info.exact == 1, "info.exact = %d", info.exact);
        FZ_CHECK(!must_be_exact || info.exact == 1,
                 "info.exact = 0 although the result must be optimal (%s, rows=%zu cols=%zu)",
                 fz_opts_str(&fo), rows, cols);
        FZ_CHECK(fabsl((long double)info.total - T) <= 8.0L * DBL_EPSILON * abs_a,
                 "info.total = %a, the assignment's total is %La", info.total, T);
        FZ_CHECK(isfinite(info.lower_bound) && isfinite(info.gap_bound) && info.gap_bound >= 0.0,
                 "lower_bound = %a, gap_bound = %a", info.lower_bound, info.gap_bound);
        FZ_CHECK(isfinite(info.final_eps) && info.final_eps >= 0.0 && info.bids >= 0 &&
                     info.augmentations >= 0 && info.phases >= 0,
                 "counters: final_eps=%a bids=%lld augmentations=%lld phases=%d", info.final_eps,
                 (long long)info.bids, (long long)info.augmentations, info.phases);
        const double g = fmax(0.0, info.total - info.lower_bound);
        FZ_CHECK(fabs(info.gap_bound - g) <= 2.0 * DBL_EPSILON * fabs(g),
                 "gap_bound = %a but max(0, total - lower_bound) = %a", info.gap_bound, g);
    }
    const int exact = must_be_exact || (!info_null && info.exact == 1);

    /* Note 2: "within 2 rows tau of the optimum (3 rows tau when rows < cols)". */
    const long double exact_allow = (rows == cols ? 2.0L : 3.0L) * (long double)rows * tau;
    if (exact) {
        FZ_CHECK(T - O <= HDR_ALLOW(exact_allow) + S,
                 "exact result not optimal: total %La, optimum %La, diff %La, allowed %La (%s)",
                 T, O, T - O, HDR_ALLOW(exact_allow) + S, fz_opts_str(&fo));
    } else {
        /* The auction's promise: gap <= accuracy * (max cost - min cost). */
        const long double acc_bound = (long double)eff.accuracy * ((long double)cmax - cmin);
        FZ_CHECK(T - O <= acc_bound + HDR_ALLOW((long double)rows * tau) + S,
                 "auction gap %La exceeds accuracy * (max - min) = %La (%s, total %La, opt %La)",
                 T - O, acc_bound, fz_opts_str(&fo), T, O);
    }
    if (!info_null) {
        FZ_CHECK((long double)info.lower_bound <= O + HDR_ALLOW((long double)rows * tau) + S,
                 "lower_bound %a exceeds the optimum %La (%s)", info.lower_bound, O,
                 fz_opts_str(&fo));
        FZ_CHECK(T - O <= (long double)info.gap_bound + HDR_ALLOW((long double)rows * tau) + 2.0L * S,
                 "total - optimum = %La exceeds gap_bound %a (%s)", T - O, info.gap_bound,
                 fz_opts_str(&fo));
    }

    /* Potentials. */
    if (!u_null)
        for (size_t i = 0; i < rows; i++)
            FZ_CHECK(isfinite(u[i]), "u[%zu] = %a", i, u[i]);
    if (!v_null)
        for (size_t j = 0; j < cols; j++)
            FZ_CHECK(isfinite(v[j]), "v[%zu] = %a", j, v[j]);
    if (!u_null && !v_null) {
        if (exact) {
            /* imm_lap_solve_dual's certificate, with the header's tau. */
            long double vmax = -INFINITY;
            for (size_t j = 0; j < cols; j++)
                vmax = fmaxl(vmax, (long double)v[j]);
            for (size_t i = 0; i < rows; i++) {
                for (size_t j = 0; j < cols; j++) {
                    const long double r = (long double)cost[i * cols + j] - u[i] - v[j];
                    FZ_CHECK(r >= -tau, "reduced cost [%zu][%zu] = %La < -tau = %La", i, j, r,
                             -tau);
                    if ((int32_t)j == assign[i])
                        FZ_CHECK(fabsl(r) <= tau, "assigned reduced cost [%zu][%zu] = %La", i,
                                 j, r);
                }
            }
            unsigned used = 0;
            for (size_t i = 0; i < rows; i++)
                used |= 1u << assign[i];
            for (size_t j = 0; j < cols; j++)
                if (!(used & (1u << j)))
                    FZ_CHECK(vmax - v[j] <= tau, "unassigned column %zu: v = %a, max v = %La", j,
                             v[j], vmax);
        } else if (!info_null && info.exact == 0) {
            /* "u[i] = min over j of cost[i][j] - v[j]", up to double rounding at the scale of
               the problem (the library may work on shifted costs, e.g. minus column means):
               4 DBL_EPSILON (max|cost| + max|v|). */
            long double sum = 0.0L, sabs = 0.0L, vabs = 0.0L;
            for (size_t j = 0; j < cols; j++)
                vabs = fmaxl(vabs, fabsl((long double)v[j]));
            const long double mag = (long double)maxabs + vabs;
            for (size_t i = 0; i < rows; i++) {
                long double mn = INFINITY;
                for (size_t j = 0; j < cols; j++)
                    mn = fminl(mn, (long double)cost[i * cols + j] - v[j]);
                FZ_CHECK(fabsl((long double)u[i] - mn) <= 4.0L * DBL_EPSILON * mag,
                         "auction u[%zu] = %a, min_j cost - v = %La", i, u[i], mn);
                sum += u[i];
                sabs += fabsl((long double)u[i]);
            }
            for (size_t j = 0; j < cols; j++) {
                sum += v[j];
                sabs += fabsl((long double)v[j]);
            }
            /* u and v "prove info->lower_bound": on the square problems the auction runs on,
               weak duality gives optimum >= sum u + sum v >= lower_bound (up to rounding at the
               problem's scale). */
            if (!info_null && rows == cols)
                FZ_CHECK((long double)info.lower_bound <=
                             sum + 16.0L * DBL_EPSILON * (sabs + (long double)rows * mag),
                         "lower_bound %a, sum u + sum v = %La", info.lower_bound, sum);
        }
    }

    /* Thread count independence (convention 6), through imm_lap_solve_dual. */
    imm_options o2 = eff;
    if (fo.ptr != NULL)
        o2 = fo.o;
    o2.num_threads = eff.num_threads == 1 ? 3 : 1;
    int32_t assign2[8];
    double total2 = 0.0;
    const int st2 = imm_lap_solve_dual(cost, rows, cols, &o2, assign2, NULL, NULL, &total2);
    FZ_CHECK(st2 == IMM_OK || st2 == IMM_ERR_NOMEM, "second solve returned %d", st2);
    if (st2 == IMM_OK) {
        FZ_CHECK(memcmp(assign, assign2, rows * sizeof assign[0]) == 0,
                 "assignment depends on num_threads (%d vs %d) or on the entry point (%s)",
                 eff.num_threads, o2.num_threads, fz_opts_str(&fo));
        if (!info_null)
            FZ_CHECK(memcmp(&total2, &info.total, sizeof total2) == 0, "total %a vs %a", total2,
                     info.total);
    }
    return 0;
}
