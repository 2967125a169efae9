/* stats.c - mean, standard deviation, Student-t quantiles and intervals (see stats.h). */
#include "stats.h"

#include <math.h>
#include <stddef.h>

/* One step of Lentz's method for a continued fraction with partial numerator num: updates the
   running c and d (kept away from 0 by tiny) and returns the factor for the value. */
static double lentz_step(double num, double *c, double *d, double tiny) {
    *d = 1.0 + num * *d;
    *c = 1.0 + num / *c;
    if (fabs(*d) < tiny)
        *d = tiny;
    if (fabs(*c) < tiny)
        *c = tiny;
    *d = 1.0 / *d;
    return *d * *c;
}

/* The continued fraction of I_x(a, b) (modified Lentz; converges fast for x < (a+1)/(a+b+2)). */
static double incbeta_cf(double a, double b, double x) {
    const double tiny = 1e-300;
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    if (fabs(d) < tiny)
        d = tiny;
    d = 1.0 / d;
    double f = d;
    for (int m = 1; m <= 10000; m++) {
        double m2 = 2.0 * m;
        /* even step */
        f *= lentz_step(m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)), &c, &d, tiny);
        /* odd step */
        double delta =
            lentz_step(-(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0)), &c, &d, tiny);
        f *= delta;
        if (fabs(delta - 1.0) < 1e-16)
            break;
    }
    return f;
}

double stats_incbeta(double a, double b, double x) {
    if (!(a > 0) || !(b > 0) || !(x >= 0 && x <= 1))
        return NAN;
    if (x == 0 || x == 1)
        return x;
    double log_front = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1.0) / (a + b + 2.0))
        return exp(log_front) * incbeta_cf(a, b, x) / a;
    return 1.0 - exp(log_front) * incbeta_cf(b, a, 1.0 - x) / b; /* I_x(a,b) = 1 - I_{1-x}(b,a) */
}

double stats_t_cdf(double t, double df) {
    if (!(df > 0) || isnan(t))
        return NAN;
    if (isinf(t))
        return t > 0 ? 1.0 : 0.0;
    /* P(|T| > |t|) = I_{df/(df+t^2)}(df/2, 1/2) */
    double tail = 0.5 * stats_incbeta(0.5 * df, 0.5, df / (df + t * t));
    return t > 0 ? 1.0 - tail : tail;
}

double stats_t_quantile(double p, double df) {
    if (!(p > 0 && p < 1) || !(df > 0))
        return NAN;
    if (p == 0.5)
        return 0.0;
    /* Solve for the upper tail q = min(p, 1-p) on x = df / (df + t^2) in (0, 1), where
       I_x(df/2, 1/2) = 2q is increasing in x; then t = sqrt(df (1 - x) / x). Bisection until the
       bracket stops shrinking: ~60 halvings, plain and robust for every df. */
    double q = p < 0.5 ? p : 1.0 - p, lo = 0.0, hi = 1.0;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi)
            break;
        if (stats_incbeta(0.5 * df, 0.5, mid) < 2.0 * q)
            lo = mid;
        else
            hi = mid;
    }
    double x = 0.5 * (lo + hi);
    double t = sqrt(df * (1.0 - x) / x);
    return p < 0.5 ? -t : t;
}

int stats_summarize(const double *x, int n, double level, stats_summary *out) {
    if (x == NULL || out == NULL || n < 1 || !(level > 0 && level < 1))
        return -1;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            return -1;
        sum += x[i];
    }
    double mean = sum / n, ss = 0;
    for (int i = 0; i < n; i++) /* two passes: no cancellation */
        ss += (x[i] - mean) * (x[i] - mean);
    out->n = n;
    out->mean = mean;
    out->sd = n > 1 ? sqrt(ss / (n - 1)) : 0.0;
    if (n > 1) {
        out->half = stats_t_quantile(0.5 + 0.5 * level, n - 1) * out->sd / sqrt((double)n);
        out->lo = mean - out->half;
        out->hi = mean + out->half;
    } else {
        out->half = out->lo = out->hi = NAN;
    }
    return 0;
}

int stats_paired(const double *a, const double *b, int n, double level, stats_summary *out) {
    if (a == NULL || b == NULL || n < 1 || n > STATS_MAX_N)
        return -1;
    double d[STATS_MAX_N];
    for (int i = 0; i < n; i++)
        d[i] = a[i] - b[i];
    return stats_summarize(d, n, level, out);
}

stats_sign stats_interval_sign(const stats_summary *s) {
    if (s->n < 2 || isnan(s->lo) || isnan(s->hi))
        return STATS_UNDEFINED;
    if (s->hi < 0)
        return STATS_BELOW;
    if (s->lo > 0)
        return STATS_ABOVE;
    return STATS_COVERS;
}

int stats_first_reach(const int *steps, const double *y, int n, double target, double *step) {
    if (n < 1) {
        *step = NAN;
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (!(y[i] <= target))
            continue;
        if (i == 0) {
            *step = steps[0];
            return 1;
        }
        /* y[i-1] > target >= y[i]: the straight line between the two checkpoints */
        double f = (y[i - 1] - target) / (y[i - 1] - y[i]);
        *step = steps[i - 1] + f * (steps[i] - steps[i - 1]);
        return 1;
    }
    *step = steps[n - 1];
    return 0;
}
