/* compare.c - the multi-seed report, its CSV and its plot (see compare.h). */
#define _POSIX_C_SOURCE 200809L
#include "compare.h"

#include "plot.h"
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void compare_mode_label(const compare_set *c, int m, char *buf, size_t n) {
    if (c->modes[m] == NOISE_KNN)
        snprintf(buf, n, "knn k=%d", c->k);
    else
        snprintf(buf, n, "%s", noise_mode_name(c->modes[m]));
}

static const train_result *run(const compare_set *c, int m, int s) {
    return &c->res[(size_t)m * (size_t)c->n_seeds + (size_t)s];
}

/* Every run must have the checkpoints of the first. */
static int same_checkpoints(const compare_set *c) {
    const train_result *r0 = run(c, 0, 0);
    for (int m = 0; m < c->n_modes; m++)
        for (int s = 0; s < c->n_seeds; s++) {
            const train_result *r = run(c, m, s);
            if (r->n_evals != r0->n_evals)
                return 0;
            for (int e = 0; e < r->n_evals; e++)
                if (r->eval_step[e] != r0->eval_step[e])
                    return 0;
        }
    return 1;
}

/* The verdict on an interval of (mode - vanilla), where lower is better. */
static const char *verdict(const stats_summary *d) {
    switch (stats_interval_sign(d)) {
    case STATS_BELOW: return "faster";
    case STATS_ABOVE: return "slower";
    case STATS_COVERS: return "no detectable difference at this budget";
    case STATS_UNDEFINED: break;
    }
    return "no verdict (one seed: no interval)";
}

/* "12.34 +- 0.56 [11.01, 13.67]" or, with one seed, "12.34". */
static void cell(char *buf, size_t n, const stats_summary *st, int decimals, int sign) {
    const char *fmt_mean = sign ? "%+.*f" : "%.*f";
    int len = snprintf(buf, n, fmt_mean, decimals, st->mean);
    if (st->n > 1 && len > 0 && (size_t)len < n)
        snprintf(buf + len, n - (size_t)len,
                 sign ? " +- %.*f [%+.*f, %+.*f]" : " +- %.*f [%.*f, %.*f]", decimals, st->sd,
                 decimals, st->lo, decimals, st->hi);
}

/* stats_summarize / stats_paired, with an all-NAN summary (no interval, no verdict) for values
   they refuse (a non-finite FD). */
static void summarize(const double *x, int n, stats_summary *st) {
    if (stats_summarize(x, n, COMPARE_LEVEL, st) != 0)
        *st = (stats_summary){n, NAN, NAN, NAN, NAN, NAN};
}

static void paired(const double *x, const double *y, int n, stats_summary *st) {
    if (stats_paired(x, y, n, COMPARE_LEVEL, st) != 0)
        *st = (stats_summary){n, NAN, NAN, NAN, NAN, NAN};
}

/* The FD of mode m at checkpoint e, one value per seed. */
static void fd_column(const compare_set *c, int m, int e, double *out) {
    for (int s = 0; s < c->n_seeds; s++)
        out[s] = run(c, m, s)->fd[e];
}

int compare_report(FILE *out, const compare_set *c) {
    if (c->n_modes < 1 || c->n_seeds < 1 || !same_checkpoints(c))
        return -1;
    const train_result *r0 = run(c, 0, 0);
    const int ne = r0->n_evals, ns = c->n_seeds;
    const int have_vanilla = c->modes[0] == NOISE_VANILLA && c->n_modes > 1;
    char label[COMPARE_MAX_MODES][32], buf[128];
    for (int m = 0; m < c->n_modes; m++)
        compare_mode_label(c, m, label[m], sizeof label[m]);
    double a[COMPARE_MAX_SEEDS], b[COMPARE_MAX_SEEDS];
    stats_summary st;

    fprintf(out, "\n== Comparison: %d mode%s x %d seed%s (seeds %llu..%llu), FD at step",
            c->n_modes, c->n_modes > 1 ? "s" : "", ns, ns > 1 ? "s" : "",
            (unsigned long long)c->seeds[0], (unsigned long long)c->seeds[ns - 1]);
    for (int e = 0; e < ne; e++)
        fprintf(out, "%s %d", e ? "," : "", r0->eval_step[e]);
    fprintf(out, "%s ==\n", ne ? "" : " (none: --evals 0)");
    if (ns > 1)
        fprintf(out,
                "Intervals: 95%% two-sided Student t, mean -+ t * sd / sqrt(n), n = %d seeds, "
                "t(0.975, df = %d) = %.4f. sd: sample standard deviation (n - 1).\n",
                ns, ns - 1, stats_t_quantile(0.975, ns - 1));
    else
        fprintf(out, "One seed: no standard deviation, no interval, no verdict (--seeds 2 or more "
                     "for those).\n");

    /* Per run: the raw numbers. */
    fprintf(out, "\nPer run (FD; lower is better)\n%-10s %5s", "mode", "seed");
    for (int e = 0; e < ne; e++) {
        snprintf(buf, sizeof buf, "FD@%d", r0->eval_step[e]);
        fprintf(out, " %9s", buf);
    }
    fprintf(out, " %10s %9s %10s\n", "final loss", "ms/step", "assign ms");
    for (int m = 0; m < c->n_modes; m++)
        for (int s = 0; s < ns; s++) {
            const train_result *r = run(c, m, s);
            fprintf(out, "%-10s %5llu", label[m], (unsigned long long)c->seeds[s]);
            for (int e = 0; e < ne; e++)
                fprintf(out, " %9.4f", r->fd[e]);
            fprintf(out, " %10.5f %9.2f %10.3f\n", r->final_loss, r->ms_step, r->assign_ms);
        }

    if (ne == 0)
        goto cost;
    /* Per mode and checkpoint. */
    fprintf(out, "\nFD per checkpoint: mean +- sd [95%% interval of the mean] over %d seed%s\n%6s",
            ns, ns > 1 ? "s" : "", "step");
    for (int m = 0; m < c->n_modes; m++)
        fprintf(out, "  %-*s", m + 1 < c->n_modes ? 34 : 0, label[m]);
    fprintf(out, "\n");
    for (int e = 0; e < ne; e++) {
        fprintf(out, "%6d", r0->eval_step[e]);
        for (int m = 0; m < c->n_modes; m++) {
            fd_column(c, m, e, a);
            summarize(a, ns, &st);
            cell(buf, sizeof buf, &st, 2, 0);
            fprintf(out, "  %-*s", m + 1 < c->n_modes ? 34 : 0, buf);
        }
        fprintf(out, "\n");
    }

    if (have_vanilla) {
        fprintf(out,
                "\nPaired difference to vanilla: FD(mode) - FD(vanilla) of the same seed, mean +- "
                "sd [95%% interval]; < 0: lower FD\n%6s",
                "step");
        for (int m = 1; m < c->n_modes; m++)
            fprintf(out, "  %-*s", m + 1 < c->n_modes ? 38 : 0, label[m]);
        fprintf(out, "\n");
        for (int e = 0; e < ne; e++) {
            fprintf(out, "%6d", r0->eval_step[e]);
            fd_column(c, 0, e, b);
            for (int m = 1; m < c->n_modes; m++) {
                fd_column(c, m, e, a);
                paired(a, b, ns, &st);
                cell(buf, sizeof buf, &st, 2, 1);
                fprintf(out, "  %-*s", m + 1 < c->n_modes ? 38 : 0, buf);
            }
            fprintf(out, "\n");
        }
        fprintf(out, "\nVerdict per checkpoint (decided by the 95%% interval of the paired "
                     "difference: entirely below 0 = faster, entirely above 0 = slower):\n");
        for (int e = 0; e < ne; e++) {
            fprintf(out, "verdict FD@%d:", r0->eval_step[e]);
            fd_column(c, 0, e, b);
            for (int m = 1; m < c->n_modes; m++) {
                fd_column(c, m, e, a);
                paired(a, b, ns, &st);
                fprintf(out, "%s %s %s", m > 1 ? ";" : "", label[m], verdict(&st));
            }
            fprintf(out, "\n");
        }
    }
    if (have_vanilla) {
        /* Steps to reach vanilla's final FD. */
        const int last = r0->eval_step[ne - 1];
        double steps[COMPARE_MAX_MODES][COMPARE_MAX_SEEDS];
        int reached[COMPARE_MAX_MODES] = {0};
        for (int m = 0; m < c->n_modes; m++)
            for (int s = 0; s < ns; s++) {
                double target = run(c, 0, s)->fd[ne - 1];
                reached[m] +=
                    stats_first_reach(r0->eval_step, run(c, m, s)->fd, ne, target, &steps[m][s]);
            }
        fprintf(out,
                "\nSteps to reach vanilla's final FD (the paper's speed-up metric). Per seed the "
                "target is vanilla's FD@%d of that\nseed; a run's value is the first step at which "
                "its FD <= target, interpolated linearly between the checkpoints around\nthe "
                "crossing (the first checkpoint if it is already there). A run that never gets "
                "there is censored and counted\nas %d, which understates its steps: with censored "
                "runs only \"slower\" is concluded (it then holds a fortiori).\n",
                last, last);
        fprintf(out, "%-10s %8s  %-34s  %-38s %8s\n", "mode", "reached", "steps: mean +- sd [95%]",
                "minus vanilla: mean +- sd [95%]", "speed-up");
        stats_summary van;
        summarize(steps[0], ns, &van);
        stats_summary diff[COMPARE_MAX_MODES];
        for (int m = 0; m < c->n_modes; m++) {
            /* With censored runs the numbers are bounds: ">=" steps, "<=" speed-up. */
            const char *ge = reached[m] < ns ? ">=" : "", *le = reached[m] < ns ? "<=" : "";
            char reach[32], cbuf[96], dbuf[128] = "-", speed[32];
            summarize(steps[m], ns, &st);
            cell(cbuf, sizeof cbuf, &st, 0, 0);
            snprintf(buf, sizeof buf, "%s%s", ge, cbuf);
            snprintf(reach, sizeof reach, "%d/%d", reached[m], ns);
            if (m > 0) {
                paired(steps[m], steps[0], ns, &diff[m]);
                cell(cbuf, sizeof cbuf, &diff[m], 0, 1);
                snprintf(dbuf, sizeof dbuf, "%s%s", ge, cbuf);
            }
            snprintf(speed, sizeof speed, "%s%.2fx", le, van.mean / st.mean);
            fprintf(out, "%-10s %8s  %-34s  %-38s %8s\n", label[m], reach, buf, dbuf, speed);
        }
        fprintf(out,
                "speed-up: vanilla's mean steps / the mode's mean steps (a point estimate; the "
                "verdict uses the paired interval).\n>= / <=: bounds, where runs are censored.\n");
        fprintf(out, "verdict steps to reach vanilla's final FD:");
        for (int m = 1; m < c->n_modes; m++) {
            fprintf(out, "%s %s ", m > 1 ? ";" : "", label[m]);
            if (reached[m] < ns && stats_interval_sign(&diff[m]) != STATS_ABOVE)
                fprintf(out,
                        "not decided (%d of %d runs never reached the target within %d steps: "
                        "their steps are unknown)",
                        ns - reached[m], ns, last);
            else
                fprintf(out, "%s", verdict(&diff[m]));
        }
        fprintf(out, "\n");
    }

cost:
    /* Cost. */
    fprintf(out,
            "\nTime per training step (evaluation excluded)%s\n"
            "%-10s %-20s %-20s %s\n",
            ns > 1 ? ", mean +- sd over seeds" : "", "mode", "ms/step", "assignment ms",
            "share of the step");
    for (int m = 0; m < c->n_modes; m++) {
        double share[COMPARE_MAX_SEEDS];
        for (int s = 0; s < ns; s++) {
            a[s] = run(c, m, s)->ms_step;
            b[s] = run(c, m, s)->assign_ms;
            share[s] = 100.0 * b[s] / a[s];
        }
        stats_summary ms, as, sh;
        summarize(a, ns, &ms);
        summarize(b, ns, &as);
        summarize(share, ns, &sh);
        char c1[48], c2[48];
        if (ns > 1) {
            snprintf(c1, sizeof c1, "%.2f +- %.2f", ms.mean, ms.sd);
            snprintf(c2, sizeof c2, "%.3f +- %.3f", as.mean, as.sd);
        } else {
            snprintf(c1, sizeof c1, "%.2f", ms.mean);
            snprintf(c2, sizeof c2, "%.3f", as.mean);
        }
        fprintf(out, "%-10s %-20s %-20s %.1f%%\n", label[m], c1, c2, sh.mean);
    }
    return 0;
}

int compare_write_csv(const char *path, const compare_set *c, char *err, size_t errlen) {
    errno = 0;
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f, "mode,k,seed,step,fd,final_loss,ms_per_step,assign_ms\n");
    for (int m = 0; m < c->n_modes; m++)
        for (int s = 0; s < c->n_seeds; s++) {
            const train_result *r = run(c, m, s);
            for (int e = 0; e < r->n_evals; e++)
                fprintf(f, "%s,%d,%llu,%d,%.17g,%.17g,%.17g,%.17g\n", noise_mode_name(c->modes[m]),
                        c->modes[m] == NOISE_KNN ? c->k : 1, (unsigned long long)c->seeds[s],
                        r->eval_step[e], r->fd[e], r->final_loss, r->ms_step, r->assign_ms);
        }
    if (fclose(f) != 0) {
        snprintf(err, errlen, "writing %s failed", path);
        return -1;
    }
    return 0;
}

/* One parsed row of the CSV. */
typedef struct csv_row {
    noise_mode mode;
    int k, step;
    unsigned long long seed;
    double fd, final_loss, ms_step, assign_ms;
} csv_row;

static int parse_row(char *line, csv_row *r) {
    char *field[8], *save = NULL, *end;
    int n = 0;
    for (char *tok = strtok_r(line, ",\r\n", &save); tok && n < 8;
         tok = strtok_r(NULL, ",\r\n", &save))
        field[n++] = tok;
    if (n != 8 || strtok_r(NULL, ",\r\n", &save) != NULL)
        return -1;
    if (strcmp(field[0], "vanilla") == 0)
        r->mode = NOISE_VANILLA;
    else if (strcmp(field[0], "assign") == 0)
        r->mode = NOISE_ASSIGN;
    else if (strcmp(field[0], "knn") == 0)
        r->mode = NOISE_KNN;
    else
        return -1;
    errno = 0;
    long k = strtol(field[1], &end, 10);
    if (*end || k < 1 || k > 64)
        return -1;
    r->k = (int)k;
    r->seed = strtoull(field[2], &end, 10);
    if (*end || errno)
        return -1;
    long step = strtol(field[3], &end, 10);
    if (*end || step < 1 || step > 10000000)
        return -1;
    r->step = (int)step;
    double *v[4] = {&r->fd, &r->final_loss, &r->ms_step, &r->assign_ms};
    for (int i = 0; i < 4; i++) {
        *v[i] = strtod(field[4 + i], &end);
        if (*end || !isfinite(*v[i]))
            return -1;
    }
    return 0;
}

static int find_or_add_u64(unsigned long long *list, int *n, int max, unsigned long long v) {
    for (int i = 0; i < *n; i++)
        if (list[i] == v)
            return i;
    if (*n == max)
        return -1;
    list[*n] = v;
    return (*n)++;
}

static int cmp_u64(const void *a, const void *b) {
    unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;
    return (x > y) - (x < y);
}

int compare_read_csv(const char *path, compare_set *c, char *err, size_t errlen) {
    static const char header[] = "mode,k,seed,step,fd,final_loss,ms_per_step,assign_ms";
    memset(c, 0, sizeof *c);
    errno = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    /* Two passes: the modes, seeds and steps present, then the values into their places. */
    unsigned long long seeds[COMPARE_MAX_SEEDS], steps[TRAIN_MAX_EVALS];
    int n_seeds = 0, n_steps = 0, have[COMPARE_MAX_MODES] = {0}, status = -1, k = 4;
    unsigned char *seen = NULL;
    char line[1024];
    csv_row r;
    for (int pass = 0; pass < 2; pass++) {
        rewind(f);
        for (long no = 1; fgets(line, sizeof line, f) != NULL; no++) {
            if (strncmp(line, header, sizeof header - 1) == 0 || line[0] == '\n')
                continue;
            if (parse_row(line, &r) != 0) {
                snprintf(err, errlen, "%s:%ld: not a row of %s", path, no, header);
                goto done;
            }
            if (pass == 0) {
                have[r.mode] = 1;
                if (r.mode == NOISE_KNN)
                    k = r.k;
                if (find_or_add_u64(seeds, &n_seeds, COMPARE_MAX_SEEDS, r.seed) < 0 ||
                    find_or_add_u64(steps, &n_steps, TRAIN_MAX_EVALS, (unsigned long long)r.step) <
                        0) {
                    snprintf(err, errlen, "%s:%ld: more than %d seeds or %d checkpoints", path, no,
                             COMPARE_MAX_SEEDS, TRAIN_MAX_EVALS);
                    goto done;
                }
                continue;
            }
            int m = 0, s = 0, e = 0;
            while (c->modes[m] != r.mode)
                m++;
            while (c->seeds[s] != r.seed)
                s++;
            while (steps[e] != (unsigned long long)r.step)
                e++;
            size_t at = (size_t)m * (size_t)n_seeds + (size_t)s;
            if (seen[at * TRAIN_MAX_EVALS + (size_t)e]++) {
                snprintf(err, errlen, "%s:%ld: %s seed %llu step %d appears twice", path, no,
                         noise_mode_name(r.mode), r.seed, r.step);
                goto done;
            }
            train_result *res = &c->res[at];
            res->fd[e] = r.fd;
            res->final_loss = r.final_loss;
            res->ms_step = r.ms_step;
            res->assign_ms = r.assign_ms;
        }
        if (pass == 1)
            break;
        for (int m = 0; m < COMPARE_MAX_MODES; m++) /* vanilla, assign, knn: the report order */
            if (have[m])
                c->modes[c->n_modes++] = (noise_mode)m;
        if (c->n_modes == 0) {
            snprintf(err, errlen, "%s: no rows", path);
            goto done;
        }
        qsort(seeds, (size_t)n_seeds, sizeof seeds[0], cmp_u64);
        qsort(steps, (size_t)n_steps, sizeof steps[0], cmp_u64);
        c->n_seeds = n_seeds;
        c->k = k;
        for (int s = 0; s < n_seeds; s++)
            c->seeds[s] = seeds[s];
        c->res = calloc((size_t)c->n_modes * (size_t)n_seeds, sizeof *c->res);
        seen = calloc((size_t)c->n_modes * (size_t)n_seeds * TRAIN_MAX_EVALS, 1);
        if (c->res == NULL || seen == NULL) {
            snprintf(err, errlen, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < (size_t)c->n_modes * (size_t)n_seeds; i++) {
            c->res[i].n_evals = n_steps;
            for (int e = 0; e < n_steps; e++)
                c->res[i].eval_step[e] = (int)steps[e];
        }
    }
    for (int m = 0; m < c->n_modes; m++)
        for (int s = 0; s < n_seeds; s++)
            for (int e = 0; e < n_steps; e++)
                if (!seen[((size_t)m * (size_t)n_seeds + (size_t)s) * TRAIN_MAX_EVALS +
                          (size_t)e]) {
                    snprintf(err, errlen, "%s: no row for %s seed %llu step %llu", path,
                             noise_mode_name(c->modes[m]), (unsigned long long)c->seeds[s],
                             steps[e]);
                    goto done;
                }
    status = 0;
done:
    fclose(f);
    free(seen);
    if (status != 0) {
        free(c->res);
        c->res = NULL;
    }
    return status;
}

/* Draws mode by mode the per-checkpoint summary of FD(mode) (diff = 0) or of FD(mode) -
   FD(vanilla) (diff = 1, vanilla itself left out). */
static int write_plot(const char *path, const compare_set *c, int diff, const char *subtitle,
                      char *err, size_t errlen) {
    if (c->n_modes < 1 || c->n_seeds < 1 || !same_checkpoints(c) || run(c, 0, 0)->n_evals < 1 ||
        (diff && (c->modes[0] != NOISE_VANILLA || c->n_modes < 2))) {
        snprintf(err, errlen, "%s: nothing to plot", path);
        return -1;
    }
    static const unsigned char colours[COMPARE_MAX_MODES][3] = {
        {60, 60, 60}, {214, 39, 40}, {31, 119, 180}}; /* vanilla grey, assign red, knn blue */
    const int ne = run(c, 0, 0)->n_evals, ns = c->n_seeds;
    double x[COMPARE_MAX_MODES][TRAIN_MAX_EVALS], y[COMPARE_MAX_MODES][TRAIN_MAX_EVALS];
    double lo[COMPARE_MAX_MODES][TRAIN_MAX_EVALS], hi[COMPARE_MAX_MODES][TRAIN_MAX_EVALS];
    char label[COMPARE_MAX_MODES][48];
    plot_series series[COMPARE_MAX_MODES];
    double col[COMPARE_MAX_SEEDS], van[COMPARE_MAX_SEEDS];
    int n = 0;
    for (int m = diff ? 1 : 0; m < c->n_modes; m++, n++) {
        for (int e = 0; e < ne; e++) {
            stats_summary st;
            fd_column(c, m, e, col);
            if (diff) {
                fd_column(c, 0, e, van);
                paired(col, van, ns, &st);
            } else {
                summarize(col, ns, &st);
            }
            x[n][e] = run(c, 0, 0)->eval_step[e];
            y[n][e] = st.mean;
            lo[n][e] = st.lo; /* NAN with one seed: no band */
            hi[n][e] = st.hi;
        }
        char name[32];
        compare_mode_label(c, m, name, sizeof name);
        snprintf(label[n], sizeof label[n], diff ? "%s - vanilla" : "%s", name);
        const int ci = c->modes[m] == NOISE_VANILLA ? 0 : c->modes[m] == NOISE_ASSIGN ? 1 : 2;
        series[n] = (plot_series){.label = label[n],
                                  .rgb = {colours[ci][0], colours[ci][1], colours[ci][2]},
                                  .n = ne,
                                  .x = x[n],
                                  .y = y[n],
                                  .lo = lo[n],
                                  .hi = hi[n]};
    }
    char title[96];
    const char *what = diff ? "FD(mode) - FD(vanilla), same seed" : "FD vs step";
    if (ns > 1)
        snprintf(title, sizeof title, "%s: mean and 95%% interval, %d seeds", what, ns);
    else
        snprintf(title, sizeof title, "%s, 1 seed (no interval)", what);
    plot_spec spec = {.title = title,
                      .subtitle = subtitle,
                      .xlabel = "training step",
                      .ylabel = diff ? "FD difference (< 0: lower FD than vanilla)"
                                     : "FD (lower is better)",
                      .zero_line = diff};
    return plot_write_png(path, &spec, series, n, err, errlen);
}

int compare_write_plot(const char *path, const compare_set *c, const char *subtitle, char *err,
                       size_t errlen) {
    return write_plot(path, c, 0, subtitle, err, errlen);
}

int compare_write_diff_plot(const char *path, const compare_set *c, const char *subtitle, char *err,
                            size_t errlen) {
    return write_plot(path, c, 1, subtitle, err, errlen);
}
