/* lap.h - the assignment solvers behind imm_lap_solve, for use inside the library. */
#ifndef IMM_LAP_LAP_H
#define IMM_LAP_LAP_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of workspace imm_lap_exact needs for a rows x cols problem (0 on overflow). */
size_t imm_lap_workspace_bytes(size_t rows, size_t cols);

/* Exact minimum-cost assignment of rows <= cols, both <= INT32_MAX, finite costs.
   `work` is imm_lap_workspace_bytes(rows, cols) bytes aligned to 8. Writes assign[rows] and, when
   not NULL, the duals u[rows] and v[cols]. Cannot fail: callers validate first. */
void imm_lap_exact(const float *cost, size_t rows, size_t cols, void *work, int32_t *assign,
                   double *u, double *v);

/* Shape checks shared by the solver and the certificate: rows <= cols <= INT32_MAX and the
   matrix size fits size_t. Sets *cells = rows * cols. */
int imm_lap_check_shape(size_t rows, size_t cols, size_t *cells);

/* Sum of the assigned float costs, in double. */
double imm_lap_total(const float *cost, size_t rows, size_t cols, const int32_t *assign);

#endif
