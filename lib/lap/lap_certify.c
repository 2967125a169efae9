/* lap_certify.c - an optimality certificate recomputed from the costs alone. */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "core/internal.h"
#include "lap/lap.h"

/* Largest |p[i]|, or +Inf when one is not finite. */
static double max_abs(const double *p, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = isfinite(p[i]) ? fmax(m, fabs(p[i])) : INFINITY;
    return m;
}

/* The violation as computed in double, without the rounding margin. */
static double computed_violation(const float *cost, size_t rows, size_t cols, const int32_t *assign,
                                 const double *u, const double *v, const unsigned char *used) {
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
    return worst;
}

static int certify(const float *cost, size_t rows, size_t cols, const int32_t *assign,
                   const double *u, const double *v, double *violation) {
    size_t cells;
    RETURN_ERROR_IF(violation == NULL, IMM_ERR_INVALID_ARG);
    FORWARD_IF_ERROR(imi_lap_check_shape(rows, cols, &cells));
    const imi_span output = {violation, sizeof(double)};
    const imi_span inputs[4] = {{cost, cells * sizeof(float)},
                                {assign, rows * sizeof(int32_t)},
                                {u, rows * sizeof(double)},
                                {v, cols * sizeof(double)}};
    RETURN_ERROR_IF(imi_outputs_overlap(&output, 1, inputs, 4), IMM_ERR_INVALID_ARG);
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
    /* Potentials whose sums overflow prove nothing: NONFINITE like NaN / Inf. */
    const double umax = max_abs(u, rows), vmax = max_abs(v, cols);
    bool forbidden; /* +Inf costs: allowed, an assigned one is an infinite violation */
    if (status == IMM_OK && (!imi_lap_costs_valid(cost, cells, 1, &forbidden) || !isfinite(umax) ||
                             !isfinite(vmax) || !isfinite(umax + vmax + (double)FLT_MAX)))
        status = IMM_ERR_NONFINITE;
    if (status == IMM_OK) {
        /* Each term is formed with at most three roundings of operands no larger than
           |u| + |v| + |c|: adding 2^-50 of that bound makes the result an upper bound of the
           violation in exact arithmetic, so huge potentials cannot hide one in rounding. */
        double cabs = 0.0;
        for (size_t t = 0; t < cells; t++)
            if (cost[t] < INFINITY) /* forbidden pairs: an assigned one is an infinite violation */
                cabs = fmax(cabs, fabs((double)cost[t]));
        const double margin = 0x1p-50 * (umax + vmax + cabs);
        *violation = computed_violation(cost, rows, cols, assign, u, v, used) + margin;
    }
    free(used);
    return status;
}

int imm_lap_certify(const float *cost, size_t rows, size_t cols, const int32_t *assign,
                    const double *u, const double *v, double *violation) {
    imi_fpenv fe;
    imi_fpenv_enter(&fe);
    int status = certify(cost, rows, cols, assign, u, v, violation);
    imi_fpenv_leave(&fe);
    return status;
}
