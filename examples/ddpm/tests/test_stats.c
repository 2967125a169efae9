/* test_stats.c - the statistics of the multi-seed comparison against known values.
 *
 * Reference values. Student-t quantiles: mpmath 1.2 at 30 significant digits, the root of
 * 1 - betainc(df/2, 1/2, 0, df/(df+t^2), regularized=True)/2 = p (mpmath.findroot), rounded to
 * 17 digits. scipy 1.10.1's scipy.stats.t.ppf agrees with them only to ~3e-9 relative (e.g.
 * df = 5: 2.5705818366147395; its t.cdf of that value is 0.97500000003), so it was not used for
 * the quantiles; printed t tables agree to their digits (12.706, 4.303, 2.776, 2.228, 2.042).
 * CDF values: scipy.stats.t.cdf(t, df) (scipy 1.10.1), which mpmath confirms to 1e-16.
 * Intervals: mean -+ t * sd / sqrt(n), evaluated in mpmath with the quantiles above. */
#include "../stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int failures;

static void check(const char *what, double got, double want, double rel) {
    double err = fabs(got - want), tol = rel * fmax(1.0, fabs(want));
    if (!(err <= tol)) {
        printf("FAIL: %s = %.17g, expected %.17g (error %.3g > %.3g)\n", what, got, want, err, tol);
        failures++;
    } else {
        printf("ok: %s = %.12g\n", what, got);
    }
}

static void check_true(const char *what, int cond) {
    printf("%s: %s\n", cond ? "ok" : "FAIL", what);
    failures += !cond;
}

int main(void) {
    /* t quantiles t_{0.975, df} (mpmath, see the top) */
    static const struct {
        double df, q;
    } t975[] = {{1, 12.7062047361747046},  {2, 4.30265272974946385},   {3, 3.18244630528370959},
                {4, 2.77644510519779435},  {5, 2.57058183563631551},   {6, 2.44691185114496997},
                {7, 2.36462425159278534},  {9, 2.26215716279820554},   {10, 2.22813885198627474},
                {19, 2.09302405440830976}, {29, 2.04522964213270429},  {30, 2.04227245630123831},
                {60, 2.00029782201426050}, {100, 1.98397151852355228}, {1000, 1.96233908082640848}};
    char name[96];
    for (size_t i = 0; i < sizeof t975 / sizeof t975[0]; i++) {
        snprintf(name, sizeof name, "t_quantile(0.975, df=%g)", t975[i].df);
        check(name, stats_t_quantile(0.975, t975[i].df), t975[i].q, 1e-12);
        snprintf(name, sizeof name, "t_quantile(0.025, df=%g)", t975[i].df);
        check(name, stats_t_quantile(0.025, t975[i].df), -t975[i].q, 1e-12);
    }
    check("t_quantile(0.95, 4)", stats_t_quantile(0.95, 4), 2.1318467863266503, 1e-12);
    check("t_quantile(0.995, 10)", stats_t_quantile(0.995, 10), 3.1692726726169512, 1e-12);
    check("t_quantile(0.9, 2.5)", stats_t_quantile(0.9, 2.5), 1.7302509288071766, 1e-12);
    check("t_quantile(0.5, 3)", stats_t_quantile(0.5, 3), 0.0, 1e-15);
    check_true("t_quantile(1, 3) is NAN", isnan(stats_t_quantile(1.0, 3)));
    check_true("t_quantile(0.975, 0) is NAN", isnan(stats_t_quantile(0.975, 0)));
    /* scipy.stats.t.cdf */
    check("t_cdf(2, 3)", stats_t_cdf(2.0, 3), 0.9303370157205785, 1e-12);
    check("t_cdf(-1.5, 7)", stats_t_cdf(-1.5, 7), 0.08864924349498501, 1e-12);
    /* Closed forms: df = 1 is Cauchy, df = 2 has F(t) = 1/2 + t / (2 sqrt(t^2 + 2)). */
    check("t_cdf(1, 1) (Cauchy: 3/4)", stats_t_cdf(1.0, 1), 0.75, 1e-13);
    check("t_cdf(3, 2)", stats_t_cdf(3.0, 2), 0.5 + 3.0 / (2.0 * sqrt(11.0)), 1e-13);
    check("incbeta(2, 3, 0.4) (= 0.5248, by the binomial sum)", stats_incbeta(2, 3, 0.4), 0.5248,
          1e-13);

    /* One sample: 2 4 4 4 5 5 7 9, the textbook standard-deviation example (population sd 2,
       sample sd sqrt(32/7)); interval 5 -+ t_{0.975,7} sqrt(32/7) / sqrt(8). */
    const double x[] = {2, 4, 4, 4, 5, 5, 7, 9};
    stats_summary s;
    check_true("summarize(8 values) succeeds", stats_summarize(x, 8, 0.95, &s) == 0);
    check("mean", s.mean, 5.0, 1e-15);
    check("sd", s.sd, 2.138089935299395, 1e-14);
    check("interval lo", s.lo, 3.2125120817637891, 1e-12);
    check("interval hi", s.hi, 6.7874879182362109, 1e-12);
    check_true("interval above 0", stats_interval_sign(&s) == STATS_ABOVE);

    /* Paired: Student's sleep data (Cushny & Peebles; R's `sleep`), extra sleep with drug 2 minus
       drug 1 in the same 10 patients. R: t.test(g2, g1, paired = TRUE) gives t = 4.0621,
       mean 1.58, 95 % CI 0.7001142 2.4598858 (the digits below: mpmath). */
    const double g1[] = {0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
    const double g2[] = {1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};
    check_true("paired(10) succeeds", stats_paired(g2, g1, 10, 0.95, &s) == 0);
    check("paired mean", s.mean, 1.58, 1e-13);
    check("paired sd", s.sd, 1.2299954832798732, 1e-12);
    check("paired lo", s.lo, 0.70011423672301720, 1e-12);
    check("paired hi", s.hi, 2.4598857632769828, 1e-12);
    check("paired t statistic", s.mean / (s.sd / sqrt(10.0)), 4.0621276833820361, 1e-12);
    check_true("g2 - g1 interval above 0", stats_interval_sign(&s) == STATS_ABOVE);
    stats_paired(g1, g2, 10, 0.95, &s);
    check_true("g1 - g2 interval below 0", stats_interval_sign(&s) == STATS_BELOW);
    check("g1 - g2 lo", s.lo, -2.4598857632769828, 1e-12);

    /* Degenerate cases. */
    const double one = 3.5, same[] = {1, 1, 1}, mixed[] = {-1, 0, 1};
    check_true("summarize(1 value) succeeds", stats_summarize(&one, 1, 0.95, &s) == 0);
    check_true("1 value: sd 0, no interval", s.sd == 0 && isnan(s.lo) && isnan(s.hi) &&
                                                 stats_interval_sign(&s) == STATS_UNDEFINED);
    stats_summarize(same, 3, 0.95, &s);
    check_true("equal values: interval [1, 1]", s.lo == 1 && s.hi == 1);
    stats_summarize(mixed, 3, 0.95, &s);
    check_true("-1 0 1: interval covers 0", stats_interval_sign(&s) == STATS_COVERS);
    const double bad[] = {1, NAN};
    check_true("NAN refused", stats_summarize(bad, 2, 0.95, &s) == -1);
    check_true("n = 0 refused", stats_summarize(x, 0, 0.95, &s) == -1);
    check_true("level 1 refused", stats_summarize(x, 8, 1.0, &s) == -1);

    /* First reach, interpolated between checkpoints. */
    const int steps[] = {100, 200, 300, 400};
    const double fd[] = {40, 20, 12, 10};
    double at;
    check_true("reach 16: reached", stats_first_reach(steps, fd, 4, 16.0, &at) == 1);
    check("reach 16: halfway from 200 (20) to 300 (12)", at, 250.0, 1e-15);
    stats_first_reach(steps, fd, 4, 10.0, &at);
    check("reach 10: at the last checkpoint", at, 400.0, 1e-15);
    stats_first_reach(steps, fd, 4, 50.0, &at);
    check("reach 50: the first checkpoint", at, 100.0, 1e-15);
    check_true("reach 9: censored", stats_first_reach(steps, fd, 4, 9.0, &at) == 0 && at == 400);
    const double bumpy[] = {30, 14, 15, 11};
    stats_first_reach(steps, bumpy, 4, 14.5, &at);
    check("reach 14.5 on a bumpy curve: the FIRST crossing", at, 100 + 100 * 15.5 / 16, 1e-13);

    if (failures) {
        printf("%d failure(s)\n", failures);
        return EXIT_FAILURE;
    }
    printf("statistics tests passed\n");
    return EXIT_SUCCESS;
}
