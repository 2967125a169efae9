/* stats.h - the statistics of imm-ddpm's multi-seed comparison: mean, sample standard deviation,
 * Student-t quantiles and intervals, paired differences, and "steps to reach a target".
 *
 * Nothing is looked up in a table: the t quantile is found by bisection on the Student-t CDF,
 * which is computed from the regularized incomplete beta function (continued fraction). */
#ifndef DDPM_STATS_H
#define DDPM_STATS_H

/* One sample summarized: n values, their mean, their sample standard deviation (divisor n - 1)
   and the two-sided t-interval of the mean at the requested level. */
typedef struct stats_summary {
    int n;
    double mean;
    double sd;     /* sample standard deviation; 0 when n == 1 */
    double half;   /* half-width t_{(1+level)/2, n-1} * sd / sqrt(n); NAN when n < 2 */
    double lo, hi; /* mean -+ half; NAN when n < 2 */
} stats_summary;

/* The interval's position against 0, which is what every verdict of the report uses. */
typedef enum stats_sign {
    STATS_BELOW = -1,   /* hi < 0: the whole interval is below 0 */
    STATS_COVERS = 0,   /* lo <= 0 <= hi */
    STATS_ABOVE = 1,    /* lo > 0 */
    STATS_UNDEFINED = 2 /* no interval (fewer than 2 values) */
} stats_sign;

/* Regularized incomplete beta function I_x(a, b), a, b > 0, x in [0, 1]; NAN outside. */
double stats_incbeta(double a, double b, double x);

/* Student-t CDF P(T <= t) with df > 0 degrees of freedom (df need not be an integer). */
double stats_t_cdf(double t, double df);

/* The p-quantile of Student's t with df > 0 degrees of freedom, p in (0, 1); NAN otherwise.
   Accurate to about 1e-12 relative (bisection to the last bit on the CDF). */
double stats_t_quantile(double p, double df);

/* Summarizes x[0..n) with a two-sided interval at `level` (0.95 for 95 %), level in (0, 1).
   @return 0, or -1 when n < 1, level is out of range or a value is not finite. */
int stats_summarize(const double *x, int n, double level, stats_summary *out);

/* Summarizes the paired differences a[i] - b[i], i < n (at most STATS_MAX_N pairs). */
#define STATS_MAX_N 1024
int stats_paired(const double *a, const double *b, int n, double level, stats_summary *out);

stats_sign stats_interval_sign(const stats_summary *s);

/* The first step at which a curve sampled at steps[0..n) (increasing) with values y[0..n)
   reaches y <= target, interpolated linearly between the last checkpoint above the target and
   the first at or below it. A curve already at or below the target at its first checkpoint
   gives steps[0] (there is nothing before it to interpolate from).
   @return 1 and *step when the target is reached, 0 when it never is (censored: *step is set
           to steps[n-1], the length of the run, which bounds the true value from below). */
int stats_first_reach(const int *steps, const double *y, int n, double target, double *step);

#endif /* DDPM_STATS_H */
