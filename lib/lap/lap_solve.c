/* lap_solve.c - the public assignment entry points: validate, allocate, solve, write. */
#include <stdlib.h>

#include "core/internal.h"
#include "lap/lap.h"

int imm_lap_check_shape(size_t rows, size_t cols, size_t *cells) {
    RETURN_ERROR_IF(rows > cols, IMM_ERR_INVALID_ARG);
    RETURN_ERROR_IF(cols > (size_t)INT32_MAX, IMM_ERR_TOO_LARGE);
    RETURN_ERROR_IF(!imm_mul_size(rows, cols, cells), IMM_ERR_TOO_LARGE);
    RETURN_ERROR_IF(!imm_mul_size(*cells, sizeof(float), &(size_t){0}), IMM_ERR_TOO_LARGE);
    return IMM_OK;
}

int imm_lap_solve_dual(const float *cost, size_t rows, size_t cols, const imm_options *opts,
                       int32_t *assign, double *u, double *v, double *total) {
    imm_options o;
    size_t cells;
    FORWARD_IF_ERROR(imm_options_resolve(opts, &o));
    FORWARD_IF_ERROR(imm_lap_check_shape(rows, cols, &cells));
    RETURN_ERROR_IF(o.solver != IMM_SOLVER_EXACT, IMM_ERR_UNSUPPORTED);
    if (rows == 0) {
        if (v != NULL)
            for (size_t j = 0; j < cols; j++)
                v[j] = 0.0;
        if (total != NULL)
            *total = 0.0;
        return IMM_OK;
    }
    RETURN_ERROR_IF(cost == NULL || assign == NULL, IMM_ERR_INVALID_ARG);
    size_t bytes = imm_lap_workspace_bytes(rows, cols);
    RETURN_ERROR_IF(bytes == 0, IMM_ERR_TOO_LARGE);
    RETURN_ERROR_IF(!imm_all_finite(cost, cells), IMM_ERR_NONFINITE);
    void *work = malloc(bytes);
    RETURN_ERROR_IF(work == NULL, IMM_ERR_NOMEM);
    imm_lap_exact(cost, rows, cols, work, assign, u, v);
    free(work);
    if (total != NULL)
        *total = imm_lap_total(cost, rows, cols, assign);
    return IMM_OK;
}

int imm_lap_solve(const float *cost, size_t rows, size_t cols, const imm_options *opts,
                  int32_t *assign, double *total) {
    return imm_lap_solve_dual(cost, rows, cols, opts, assign, NULL, NULL, total);
}
