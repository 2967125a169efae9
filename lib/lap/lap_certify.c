/* lap_certify.c - an optimality certificate recomputed from the costs alone. */
#include <math.h>
#include <stdlib.h>

#include "core/internal.h"
#include "lap/lap.h"

static bool all_finite_d(const double *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(p[i]))
            return false;
    return true;
}

int imm_lap_certify(const float *cost, size_t rows, size_t cols, const int32_t *assign,
                    const double *u, const double *v, double *violation) {
    size_t cells;
    RETURN_ERROR_IF(violation == NULL, IMM_ERR_INVALID_ARG);
    FORWARD_IF_ERROR(imm_lap_check_shape(rows, cols, &cells));
    if (rows == 0) {
        *violation = 0.0;
        return IMM_OK;
    }
    RETURN_ERROR_IF(cost == NULL || assign == NULL || u == NULL || v == NULL, IMM_ERR_INVALID_ARG);
    unsigned char *used = calloc(cols, 1);
    RETURN_ERROR_IF(used == NULL, IMM_ERR_NOMEM);
    int status = IMM_OK;
    for (size_t i = 0; i < rows && status == IMM_OK; i++) {
        int32_t j = assign[i];
        if (j < 0 || (size_t)j >= cols || used[j])
            status = IMM_ERR_INVALID_ARG;
        else
            used[j] = 1;
    }
    if (status == IMM_OK && (!imm_all_finite(cost, cells) || !all_finite_d(u, rows) ||
                             !all_finite_d(v, cols)))
        status = IMM_ERR_NONFINITE;
    if (status != IMM_OK) {
        free(used);
        return status;
    }
    double worst = 0.0;
    for (size_t i = 0; i < rows; i++) {
        const float *ci = cost + i * cols;
        for (size_t j = 0; j < cols; j++)
            worst = fmax(worst, u[i] + v[j] - (double)ci[j]);
        worst = fmax(worst, fabs((double)ci[assign[i]] - u[i] - v[assign[i]]));
    }
    if (rows < cols) {
        double vmax = -INFINITY;
        for (size_t j = 0; j < cols; j++)
            vmax = fmax(vmax, v[j]);
        for (size_t j = 0; j < cols; j++)
            if (!used[j])
                worst = fmax(worst, vmax - v[j]);
    }
    free(used);
    *violation = worst;
    return IMM_OK;
}
