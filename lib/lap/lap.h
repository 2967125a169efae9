/* lap.h - the assignment solvers behind imm_lap_solve, for use inside the library. */
#ifndef IMM_LAP_LAP_H
#define IMM_LAP_LAP_H

#include <immiscible.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lap/lap_state.h"

/* Shape checks shared by the solver and the certificate: rows <= cols <= INT32_MAX and the
   matrix size fits size_t. Sets *cells = rows * cols. */
int imi_lap_check_shape(size_t rows, size_t cols, size_t *cells);

/* Exact phases from the current v: ARR from an empty assignment, then Dijkstra augmentations.
   False when a row has no augmenting path: forbidden pairs leave no complete assignment. */
bool imi_lap_finish_exact(lap_state *s);

/* Dijkstra augmentation for every free row (completes any partial assignment). Returns the
   count, or -1 when a row has no augmenting path (infeasible). */
int64_t imi_lap_augment_free(lap_state *s);

/* Exact solver on an initialised state whose v holds the column means (lap_exact.c). False:
   infeasible (forbidden pairs). */
bool imi_lap_exact(lap_state *s);

/* Solves with the options' solver on an initialised state and writes assign[rows], u, v, info,
   *total (each may be NULL except assign). The costs are validated here, by the column means'
   pass: IMM_OK, IMM_ERR_NONFINITE (NaN / -Inf), IMM_ERR_UNSUPPORTED (the auction with forbidden
   pairs) or IMM_ERR_INFEASIBLE (no assignment avoids them); on error nothing is written.
   Callers validate shapes, options and buffers first. */
int imi_lap_run(lap_state *s, const imm_options *o, int32_t *assign, double *u, double *v,
                imm_lap_info *info, double *total);

/* Costs without NaN or -Inf (one vectorised pass, on up to `threads` threads); *forbidden: some
   cost is +Inf, a forbidden pair. */
bool imi_lap_costs_valid(const float *cost, size_t cells, int threads, bool *forbidden);

/* Sum of the assigned float costs, in double. */
double imi_lap_total(const float *cost, size_t rows, size_t cols, const int32_t *assign);

#endif
