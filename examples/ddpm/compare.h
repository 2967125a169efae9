/* compare.h - the multi-seed comparison of imm-ddpm: every mode trained from the same N seeds,
 * summarized with 95 % t-intervals, paired against vanilla seed by seed, and judged by the
 * intervals (stats.h). Also the CSV of every seed x mode x checkpoint and the PNG of the curves. */
#ifndef DDPM_COMPARE_H
#define DDPM_COMPARE_H

#include "trainer.h"

#include <stdint.h>
#include <stdio.h>

#define COMPARE_MAX_MODES 3
#define COMPARE_MAX_SEEDS 100
#define COMPARE_LEVEL 0.95 /* two-sided level of every interval */

typedef struct compare_set {
    int n_modes, n_seeds;
    noise_mode modes[COMPARE_MAX_MODES]; /* vanilla first when present: the paired reference */
    int k;                               /* knn candidates, for the labels */
    uint64_t seeds[COMPARE_MAX_SEEDS];
    train_result
        *res; /* res[m * n_seeds + s]: mode m, seed s; every run has the same checkpoints */
} compare_set;

/* "vanilla", "assign", "knn k=4". */
void compare_mode_label(const compare_set *c, int m, char *buf, size_t n);

/* The report: per mode and checkpoint the FD's mean +- sd and 95 % interval; the paired
   difference to vanilla with its interval and one verdict line per checkpoint; steps to reach
   vanilla's final FD with their intervals and verdict; time per step and the assignment's share.
   Intervals need 2 seeds or more; with one seed the report says so and gives no verdict.
   @return 0, or -1 if the runs do not share their checkpoints. */
int compare_report(FILE *out, const compare_set *c);

/* mode,k,seed,step,fd,final_loss,ms_per_step,assign_ms - one row per seed x mode x checkpoint,
   numbers with 17 significant digits (the doubles exactly: examples/pytorch/seedstats.py reprints
   the same report from the file). @return 0, or -1 with a message in err. */
int compare_write_csv(const char *path, const compare_set *c, char *err, size_t errlen);

/* Reads a CSV written by compare_write_csv() (or the concatenation of several, e.g. one per
   seed from different machines, headers repeated or not) into c, which gets c->res from malloc
   (free it). Every mode must have every seed at every checkpoint, exactly once.
   @return 0, or -1 with a message in err. */
int compare_read_csv(const char *path, compare_set *c, char *err, size_t errlen);

/* FD against the step: the mean over seeds per mode, its 95 % interval as a band. */
int compare_write_plot(const char *path, const compare_set *c, const char *subtitle, char *err,
                       size_t errlen);

/* The paired difference FD(mode) - FD(vanilla) against the step, mean and 95 % interval per
   mode, with a dashed line at 0: a band entirely below the line is a "faster" verdict.
   Needs vanilla and another mode. */
int compare_write_diff_plot(const char *path, const compare_set *c, const char *subtitle, char *err,
                            size_t errlen);

#endif /* DDPM_COMPARE_H */
