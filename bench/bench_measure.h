/*
 * bench_measure.h - imm-bench's data and timings, through the public API only.
 *
 * A problem is one (workload, B, D): the images x, the noise and the fp32 reference distance
 * matrix with its identity and optimal totals, against which every method's result is scored.
 * A cell times one method on a problem in four separate measurements per repetition:
 *   distance  imm_distance(x, noise) in the cell's precision,
 *   solve     imm_lap_solve_ex on that matrix,
 *   permute   imm_permute_rows with that assignment (pool: copying the B chosen rows),
 *   total     the real call on a warm context (imm_ctx_assign_noise, imm_ctx_assign_noise_pool,
 *             imm_ctx_select_noise_knn): the number a user sees.
 * The noise is restored from a pristine copy before each permuting call, outside the timer.
 */
#ifndef IMM_BENCH_MEASURE_H
#define IMM_BENCH_MEASURE_H

#include "bench_grid.h"
#include "bench_report.h"
#include "workload.h"

typedef struct bm_problem {
    bg_workload workload;
    size_t batch, dim; /* dim 0 for uniform matrices */
    uint64_t seed;
    float *x, *noise; /* batch x dim each; NULL for uniform */
    float *ref;       /* batch x batch fp32 L2 distances (uniform: the cost matrix itself) */
    double id_total;  /* sum of ref[i][i] */
    double opt_total; /* the exact optimum of ref */
    /* The data of the last pool / knn method prepared (rebuilt when the method changes):
       pool: pool_rows = M*B rows, the first B being `noise`; knn: B*k rows, image-major, the
       first candidate of image i being noise row i. Both keep the identity pairing comparable. */
    bg_method extra_for;
    float *extra; /* extra_rows x dim */
    size_t extra_rows;
    float *extra_ref; /* pool: batch x extra_rows; knn: batch x k (fp32 L2) */
    double extra_opt; /* pool: its exact optimum; knn: sum of each row's minimum */
} bm_problem;

/* bm_problem_build() :
 *  Builds the data of one problem (seeded by seed, workload, B) and its reference.
 *  @return 0, or -1 with a message in err (allocation or library failure). */
int bm_problem_build(bm_problem *p, const wl_source *src, bg_workload w, size_t batch, size_t dim,
                     uint64_t seed, char *err, size_t errlen);
void bm_problem_free(bm_problem *p);

/* bm_measure_cell() :
 *  Times method m at precision prec with `threads` threads (threads_all: that is "all") on p,
 *  warmup + reps times, and scores the real call's result. Fills *c (status BR_UNSUPPORTED when
 *  the library says so, BR_FAILED with a note on any other error). */
void bm_measure_cell(bm_problem *p, bg_method m, bg_precision prec, int threads, int threads_all,
                     int warmup, int reps, double accuracy, br_cell *c);

/* bm_measure_lap() :
 *  The solver section: imm_lap_solve_ex alone on p->ref (exact, auction or auction+exact),
 *  scored against p->opt_total. */
void bm_measure_lap(const bm_problem *p, bg_method m, int threads, int threads_all, int warmup,
                    int reps, double accuracy, br_cell *c);

#endif /* IMM_BENCH_MEASURE_H */
