/* lap_solve.c - the public assignment entry points: validate, allocate, solve, write. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "lap/lap.h"

int imm_lap_check_shape(size_t rows, size_t cols, size_t *cells) {
    size_t bytes;
    RETURN_ERROR_IF(rows > cols, IMM_ERR_INVALID_ARG);
    RETURN_ERROR_IF(cols > (size_t)INT32_MAX, IMM_ERR_TOO_LARGE);
    RETURN_ERROR_IF(!imm_mul_size(rows, cols, cells) || !imm_mul_size(*cells, sizeof(float), &bytes),
                    IMM_ERR_TOO_LARGE);
    return IMM_OK;
}

/* Weak duality on the square problem (dummy rows cost 0): for any v, with u[i] the smallest
   reduced cost of row i, sum(u) + sum(v) <= the optimum. u_out (rows) receives those u. */
static double dual_lower_bound(const lap_state *s, double *u_out) {
    double bound = 0.0, vmax = -INFINITY;
    for (size_t j = 0; j < s->n; j++) {
        bound += s->v[j];
        vmax = fmax(vmax, s->v[j]);
    }
    for (size_t i = 0; i < s->rows; i++) {
        lap_min2 m;
        s->kern->two_smallest(lap_row(s, i), s->v, s->n, &m);
        if (u_out != NULL)
            u_out[i] = m.u1;
        bound += m.u1;
    }
    return bound - (double)(s->n - s->rows) * vmax;
}

double imm_lap_run(lap_state *s, const imm_options *o, int32_t *assign, double *u, double *v,
                   imm_lap_info *info) {
    imm_lap_info in;
    memset(&in, 0, sizeof in);
    if (o->solver == IMM_SOLVER_AUCTION && s->n > 1 && s->m == s->n) {
        imm_lap_column_means(s);
        double spread = imm_lap_spread(s);
        double target = o->accuracy * (s->cmax - s->cmin) / (double)s->rows;
        auction_stats st = {0, 0, 0.0};
        imm_lap_free_all(s);
        if (spread > 0.0 && target > 0.0)
            imm_auction(s, fmax(AUCTION_FIRST_EPS_SPREAD * spread, target), target, &st);
        in.bids = st.bids;
        in.phases = st.phases;
        in.final_eps = st.eps;
        if (o->exact_finish) {
            imm_lap_finish_exact(s);
            in.exact = 1;
        } else {
            /* A phase that spent its bid budget (or no auction at all, for constant costs)
               leaves free rows: complete with augmentations, which is still within the bound. */
            in.augmentations = imm_lap_augment_free(s);
        }
    } else {
        imm_lap_exact(s);
        in.exact = 1;
    }
    for (size_t i = 0; i < s->rows; i++)
        assign[i] = s->x[i];
    in.total = imm_lap_total(s->cost, s->rows, s->n, assign);
    if (info != NULL || (u != NULL && !in.exact)) {
        in.lower_bound = dual_lower_bound(s, in.exact ? NULL : u);
        in.gap_bound = fmax(0.0, in.total - in.lower_bound);
    }
    if (u != NULL && in.exact)
        for (size_t i = 0; i < s->rows; i++)
            u[i] = (double)lap_row(s, i)[assign[i]] - s->v[assign[i]];
    if (v != NULL)
        memcpy(v, s->v, s->n * sizeof(double));
    if (info != NULL)
        *info = in;
    return in.total;
}

static int solve(const float *cost, size_t rows, size_t cols, const imm_options *opts,
                 int32_t *assign, double *u, double *v, imm_lap_info *info, double *total) {
    imm_options o;
    size_t cells;
    FORWARD_IF_ERROR(imm_options_resolve(opts, &o));
    FORWARD_IF_ERROR(imm_lap_check_shape(rows, cols, &cells));
    if (rows == 0) {
        if (v != NULL)
            for (size_t j = 0; j < cols; j++)
                v[j] = 0.0;
        if (info != NULL) {
            memset(info, 0, sizeof *info);
            info->exact = 1;
        }
        if (total != NULL)
            *total = 0.0;
        return IMM_OK;
    }
    RETURN_ERROR_IF(cost == NULL || assign == NULL, IMM_ERR_INVALID_ARG);
    size_t bytes = imm_lap_state_bytes(rows, cols);
    RETURN_ERROR_IF(bytes == 0, IMM_ERR_TOO_LARGE);
    RETURN_ERROR_IF(!imm_all_finite(cost, cells), IMM_ERR_NONFINITE);
    void *work = malloc(bytes);
    RETURN_ERROR_IF(work == NULL, IMM_ERR_NOMEM);
    lap_state s;
    imm_lap_state_init(&s, cost, rows, cols, imm_threads(&o), work);
    double t = imm_lap_run(&s, &o, assign, u, v, info);
    free(work);
    if (total != NULL)
        *total = t;
    return IMM_OK;
}

int imm_lap_solve_ex(const float *cost, size_t rows, size_t cols, const imm_options *opts,
                     int32_t *assign, double *u, double *v, imm_lap_info *info) {
    return solve(cost, rows, cols, opts, assign, u, v, info, NULL);
}

int imm_lap_solve_dual(const float *cost, size_t rows, size_t cols, const imm_options *opts,
                       int32_t *assign, double *u, double *v, double *total) {
    return solve(cost, rows, cols, opts, assign, u, v, NULL, total);
}

int imm_lap_solve(const float *cost, size_t rows, size_t cols, const imm_options *opts,
                  int32_t *assign, double *total) {
    return imm_lap_solve_dual(cost, rows, cols, opts, assign, NULL, NULL, total);
}
