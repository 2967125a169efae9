/* lap_solve.c - the public assignment entry points: validate, allocate, solve, write. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/internal.h"
#include "core/layout.h"
#include "core/parallel.h"
#include "lap/auction.h"
#include "lap/lap.h"

int imi_lap_check_shape(size_t rows, size_t cols, size_t *cells) {
    size_t bytes;
    RETURN_ERROR_IF(rows > cols, IMM_ERR_INVALID_ARG);
    RETURN_ERROR_IF(cols > (size_t)INT32_MAX, IMM_ERR_TOO_LARGE);
    RETURN_ERROR_IF(!imi_mul_size(rows, cols, cells) ||
                        !imi_mul_size(*cells, sizeof(float), &bytes),
                    IMM_ERR_TOO_LARGE);
    return IMM_OK;
}

/* Rounding-error factor of a double operation, with room to spare: the unit roundoff is 2^-53. */
#define LAP_ROUNDING 0x1p-51

typedef struct {
    const lap_state *s;
    double *mins;
} row_min_job;

#define ROW_MIN_CHUNK 16

static void row_min_part(long i, int tid, void *arg) {
    (void)tid;
    const row_min_job *job = arg;
    lap_min2 m;
    job->s->kern->two_smallest(lap_row(job->s, (size_t)i), job->s->v, job->s->n, &m);
    job->mins[i] = m.u1;
}

/* Weak duality on the square problem (dummy rows cost 0): for any v, with u[i] the smallest
   reduced cost of row i, sum(u) + sum(v) - (n - rows) max(v) <= the optimum. Computed so that it
   holds in exact arithmetic: each u[i] is lowered by a bound on the rounding of c - v, and the
   sum by a bound on the rounding of the sum (n + rows + 1 terms). u_out (rows) receives those u,
   which with v are then dual feasible exactly. */
static double dual_lower_bound(const lap_state *s, double *u_out) {
    const size_t n = s->n, terms = n + s->rows + 2;
    double sum = 0.0, mag = 0.0, vmax = -INFINITY, vabs = 0.0;
    for (size_t j = 0; j < n; j++) {
        sum += s->v[j];
        mag += fabs(s->v[j]);
        vmax = fmax(vmax, s->v[j]);
        vabs = fmax(vabs, fabs(s->v[j]));
    }
    /* |fl(c - v) - (c - v)| <= 2^-53 (|c| + |v|) */
    const double slack = LAP_ROUNDING * (fmax(fabs(s->cmin), fabs(s->cmax)) + vabs);
    /* the row minima on a team (a pass over the matrix), summed in row order below */
    double *mins = u_out != NULL ? u_out : s->d; /* s->d: Dijkstra's scratch, n >= rows */
    row_min_job job = {s, mins};
    imi_parallel_for(s->rows * n >= LAP_TEAM_CELLS ? s->threads : 1, (long)s->rows, ROW_MIN_CHUNK,
                     row_min_part, &job);
    for (size_t i = 0; i < s->rows; i++) {
        const double u = mins[i] - slack;
        if (u_out != NULL)
            u_out[i] = u;
        sum += u;
        mag += fabs(u);
    }
    const double extra = (double)(n - s->rows) * vmax;
    sum -= extra;
    mag += fabs(extra);
    return sum - (double)terms * LAP_ROUNDING * mag;
}

static int scan_costs(const float *cost, size_t cells, const imm_options *o, int threads,
                      bool *forbidden);

int imi_lap_run(lap_state *s, const imm_options *o, int32_t *assign, double *u, double *v,
                imm_lap_info *info, double *total) {
    /* The column means double as the validation pass: their sums are finite exactly when the
       matrix is (lap_state.h). Otherwise one more scan tells NaN / -Inf from forbidden pairs,
       and the means are taken again over the finite costs. */
    if (!imi_lap_column_means(s)) {
        bool forbidden;
        FORWARD_IF_ERROR(scan_costs(s->cost, s->rows * s->n, o, s->threads, &forbidden));
        s->forbidden = forbidden;
        s->scans += (int64_t)s->rows;
        (void)imi_lap_column_means(s);
    }
    imi_lap_phase_end(s, 0);
    imm_lap_info in;
    memset(&in, 0, sizeof in);
    if (o->solver == IMM_SOLVER_AUCTION && s->n > 1 && s->m == s->n) {
        double spread = imi_lap_spread(s);
        double target = o->accuracy * (s->cmax - s->cmin) / (double)s->rows;
        auction_stats st = {0, 0, 0.0, false};
        imi_lap_free_all(s);
        if (spread > 0.0 && target > 0.0)
            imi_auction(s, fmax(AUCTION_FIRST_EPS_SPREAD * spread, target), target, &st);
        /* Whatever the auction did, the phases below need potentials they can compute with:
           otherwise they start afresh from the column means (still exact with the finish). */
        if (!imi_lap_potentials_usable(s))
            (void)imi_lap_column_means(s);
        in.bids = st.bids;
        in.phases = st.phases;
        in.final_eps = st.eps;
        imi_lap_phase_end(s, 1);
        if (o->exact_finish) {
            imi_lap_finish_exact(s); /* no forbidden pair here: cannot fail */
            in.exact = 1;
        } else {
            /* A phase that spent its bid budget (or no auction at all, for constant costs)
               leaves free rows: complete with augmentations, which is still within the bound. */
            imi_lap_augment_free(s);
        }
        imi_lap_phase_end(s, 2);
    } else {
        RETURN_ERROR_IF(!imi_lap_exact(s), IMM_ERR_INFEASIBLE);
        in.exact = 1;
        in.bids = s->bids;
    }
    for (size_t i = 0; i < s->rows; i++)
        assign[i] = s->x[i];
    in.total = imi_lap_total(s->cost, s->rows, s->n, assign);
    if (info != NULL || (u != NULL && !in.exact)) {
        in.lower_bound = dual_lower_bound(s, in.exact ? NULL : u);
        in.gap_bound = fmax(0.0, in.total - in.lower_bound);
        s->scans += (int64_t)s->rows; /* its pass counts, its time does not (header) */
    }
    in.augmentations = s->augmentations;
    in.passes = (double)s->scans / (double)s->rows;
    for (int p = 0; p < 4; p++)
        in.seconds[p] = s->seconds[p];
    in.sparse = s->proved_sparse;
    in.rounds = s->rounds;
    if (u != NULL && in.exact)
        for (size_t i = 0; i < s->rows; i++)
            u[i] = (double)lap_row(s, i)[assign[i]] - s->v[assign[i]];
    if (v != NULL)
        memcpy(v, s->v, s->n * sizeof(double));
    if (info != NULL)
        *info = in;
    if (total != NULL)
        *total = in.total;
    return IMM_OK;
}

/* Bits of one chunk of the scan: bit 0 = NaN or -Inf seen, bit 1 = +Inf seen. Integer
   OR-reductions over the bits, so the loop vectorises. */
static uint32_t scan_chunk(const float *cost, size_t cells) {
    uint32_t bad = 0, inf = 0;
    for (size_t t = 0; t < cells; t++) {
        uint32_t bits;
        memcpy(&bits, cost + t, sizeof bits);
        inf |= (uint32_t)(bits == 0x7f800000u);
        bad |= (uint32_t)((bits & 0x7f800000u) == 0x7f800000u && bits != 0x7f800000u);
    }
    return bad | inf << 1;
}

#define SCAN_CHUNK (1u << 16)

typedef struct {
    const float *cost;
    size_t cells;
    uint32_t seen;
} scan_job;

static void scan_part(long c, int tid, void *arg) {
    (void)tid;
    scan_job *job = arg;
    const size_t from = (size_t)c * SCAN_CHUNK;
    const size_t len = job->cells - from < SCAN_CHUNK ? job->cells - from : SCAN_CHUNK;
    const uint32_t seen = scan_chunk(job->cost + from, len);
    if (seen)
        __atomic_fetch_or(&job->seen, seen, __ATOMIC_RELAXED);
}

/* NaN and -Inf are errors; +Inf marks a forbidden pair (*forbidden), which only the exact solver
   serves. Chunks on a team when there are several: an OR does not depend on the order. */
bool imi_lap_costs_valid(const float *cost, size_t cells, int threads, bool *forbidden) {
    scan_job job = {cost, cells, 0};
    const size_t chunks = (cells + SCAN_CHUNK - 1) / SCAN_CHUNK;
    imi_parallel_for(cells >= LAP_TEAM_CELLS ? threads : 1, (long)chunks, 1, scan_part, &job);
    *forbidden = (job.seen & 2u) != 0;
    return (job.seen & 1u) == 0;
}

/* The costs' errors for the options' solver: NONFINITE, or UNSUPPORTED for the auction with
   forbidden pairs. */
static int scan_costs(const float *cost, size_t cells, const imm_options *o, int threads,
                      bool *forbidden) {
    RETURN_ERROR_IF(!imi_lap_costs_valid(cost, cells, threads, forbidden), IMM_ERR_NONFINITE);
    RETURN_ERROR_IF(*forbidden && o->solver == IMM_SOLVER_AUCTION, IMM_ERR_UNSUPPORTED);
    return IMM_OK;
}

/* ctx NULL: the one-shot calls (opts; a workspace allocated and freed here); else the context's
   options and growing workspace. One code path, so both give the same bits. */
static int solve(imm_ctx *ctx, const float *cost, size_t rows, size_t cols, const imm_options *opts,
                 int32_t *assign, double *u, double *v, imm_lap_info *info, double *total) {
    imm_options o;
    size_t cells;
    if (ctx != NULL)
        o = ctx->opts;
    else
        FORWARD_IF_ERROR(imi_options_resolve(opts, &o));
    FORWARD_IF_ERROR(imi_lap_check_shape(rows, cols, &cells));
    const imi_span outputs[5] = {{assign, rows * sizeof(int32_t)},
                                 {u, rows * sizeof(double)},
                                 {v, cols * sizeof(double)},
                                 {info, sizeof(imm_lap_info)},
                                 {total, sizeof(double)}};
    const imi_span input = {cost, cells * sizeof(float)};
    RETURN_ERROR_IF(imi_outputs_overlap(outputs, 5, &input, 1), IMM_ERR_INVALID_ARG);
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
    size_t bytes = imi_lap_state_bytes(rows, cols);
    RETURN_ERROR_IF(bytes == 0, IMM_ERR_TOO_LARGE);
    const double started = imi_lap_now();
    const int threads = imi_threads(&o);
    void *block = NULL, *work;
    if (ctx != NULL) {
        FORWARD_IF_ERROR(imi_ctx_reserve(ctx, bytes));
        work = ctx->work;
    } else {
        work = block = malloc(bytes);
        RETURN_ERROR_IF(work == NULL, IMM_ERR_NOMEM);
    }
    lap_state s;
    imi_lap_state_init(&s, cost, rows, cols, threads, work);
    s.clock = started;
    imi_fpenv fe;
    imi_fpenv_enter(&fe);
    const int status = imi_lap_run(&s, &o, assign, u, v, info, total);
    imi_fpenv_leave(&fe);
    free(block);
    return status;
}

int imm_lap_solve_ex(const float *cost, size_t rows, size_t cols, const imm_options *opts,
                     int32_t *assign, double *u, double *v, imm_lap_info *info) {
    return solve(NULL, cost, rows, cols, opts, assign, u, v, info, NULL);
}

int imm_lap_solve_dual(const float *cost, size_t rows, size_t cols, const imm_options *opts,
                       int32_t *assign, double *u, double *v, double *total) {
    return solve(NULL, cost, rows, cols, opts, assign, u, v, NULL, total);
}

int imm_ctx_lap_solve(imm_ctx *ctx, const float *cost, size_t rows, size_t cols, int32_t *assign,
                      double *u, double *v, double *total) {
    RETURN_ERROR_IF(ctx == NULL, IMM_ERR_INVALID_ARG);
    return solve(ctx, cost, rows, cols, NULL, assign, u, v, NULL, total);
}

int imm_lap_solve(const float *cost, size_t rows, size_t cols, const imm_options *opts,
                  int32_t *assign, double *total) {
    return imm_lap_solve_dual(cost, rows, cols, opts, assign, NULL, NULL, total);
}

/*-----------------------------------------------------------------------------------------------
 *  Many problems of one shape: one per thread at a time, results held until all are solved.
 *---------------------------------------------------------------------------------------------*/

typedef struct {
    const float *cost;
    size_t rows, cols, cells, state_bytes;
    imm_options one;                /* the caller's options on one thread */
    unsigned char *states;          /* a lap_state workspace per thread */
    const unsigned char *forbidden; /* per problem */
    int32_t *assign;
    double *u, *v, *totals;
    int infeasible;
} batch_job;

static void batch_problem(long p, int tid, void *arg) {
    batch_job *job = arg;
    const size_t q = (size_t)p;
    lap_state s;
    imi_lap_state_init(&s, job->cost + q * job->cells, job->rows, job->cols, 1,
                       job->states + (size_t)tid * job->state_bytes);
    s.forbidden = job->forbidden[q] != 0;
    if (imi_lap_run(&s, &job->one, job->assign + q * job->rows, job->u + q * job->rows,
                    job->v + q * job->cols, NULL, job->totals + q) != IMM_OK) {
#pragma omp atomic write
        job->infeasible = 1;
    }
}

/* The batch's workspace: a state per thread, then the results (u, v, totals, assign) and the
   problems' forbidden flags. */
typedef struct {
    size_t state_bytes, u, v, totals, assign, flags, total;
} batch_layout;

static batch_layout batch_layout_of(size_t count, size_t rows, size_t cols, int threads) {
    batch_layout b;
    imi_layout l = IMI_LAYOUT_INIT, one = IMI_LAYOUT_INIT;
    imi_layout_add(&one, imi_lap_state_bytes(rows, cols), 1, 64);
    b.state_bytes = imi_layout_total(&one, 64);
    imi_layout_add(&l, (size_t)threads, b.state_bytes, 64);
    b.u = imi_layout_add(&l, count, rows * sizeof(double), 64); /* rows, cols < 2^31 */
    b.v = imi_layout_add(&l, count, cols * sizeof(double), 8);
    b.totals = imi_layout_add(&l, count, sizeof(double), 8);
    b.assign = imi_layout_add(&l, count, rows * sizeof(int32_t), 8);
    b.flags = imi_layout_add(&l, count, 1, 1);
    b.total = b.state_bytes == 0 ? 0 : imi_layout_total(&l, 64);
    return b;
}

static int solve_batch(const float *cost, size_t count, size_t rows, size_t cols,
                       const imm_options *opts, int32_t *assign, double *u, double *v,
                       double *totals) {
    imm_options o;
    size_t cells, all, vbytes;
    FORWARD_IF_ERROR(imi_options_resolve(opts, &o));
    FORWARD_IF_ERROR(imi_lap_check_shape(rows, cols, &cells));
    /* cols <= INT32_MAX and rows <= cols: these two products bound every other one */
    RETURN_ERROR_IF(!imi_mul_size(cells, count, &all) || !imi_mul_size(all, sizeof(float), &all) ||
                        !imi_mul_size(count, cols * sizeof(double), &vbytes),
                    IMM_ERR_TOO_LARGE);
    const imi_span out[4] = {{assign, count * rows * sizeof(int32_t)},
                             {u, count * rows * sizeof(double)},
                             {v, vbytes},
                             {totals, count * sizeof(double)}};
    const imi_span input = {cost, all};
    RETURN_ERROR_IF(imi_outputs_overlap(out, 4, &input, 1), IMM_ERR_INVALID_ARG);
    if (count == 0)
        return IMM_OK;
    if (rows == 0) {
        if (v != NULL)
            memset(v, 0, out[2].bytes);
        if (totals != NULL)
            memset(totals, 0, out[3].bytes);
        return IMM_OK;
    }
    RETURN_ERROR_IF(cost == NULL || assign == NULL, IMM_ERR_INVALID_ARG);
    const int threads = imi_threads(&o);
    const batch_layout bl = batch_layout_of(count, rows, cols, threads);
    RETURN_ERROR_IF(bl.total == 0, IMM_ERR_TOO_LARGE);
    unsigned char *work = malloc(bl.total);
    RETURN_ERROR_IF(work == NULL, IMM_ERR_NOMEM);
    batch_job job = {cost, rows, cols, cells, bl.state_bytes, o, work,
                     NULL, NULL, NULL, NULL,  NULL,           0};
    job.one.num_threads = 1;
    job.u = (double *)(work + bl.u);
    job.v = (double *)(work + bl.v);
    job.totals = (double *)(work + bl.totals);
    job.assign = (int32_t *)(work + bl.assign);
    unsigned char *flags = work + bl.flags;
    job.forbidden = flags;
    int status = IMM_OK;
    for (size_t q = 0; q < count && status == IMM_OK; q++) {
        bool f = false;
        status = scan_costs(cost + q * cells, cells, &o, threads, &f);
        flags[q] = f;
    }
    if (status == IMM_OK) {
        imi_parallel_for(threads, (long)count, 1, batch_problem, &job);
        status = job.infeasible ? IMM_ERR_INFEASIBLE : IMM_OK;
    }
    if (status == IMM_OK) { /* outputs last */
        memcpy(assign, job.assign, out[0].bytes);
        if (u != NULL)
            memcpy(u, job.u, out[1].bytes);
        if (v != NULL)
            memcpy(v, job.v, out[2].bytes);
        if (totals != NULL)
            memcpy(totals, job.totals, out[3].bytes);
    }
    free(work);
    return status;
}

int imm_lap_solve_batch(const float *cost, size_t count, size_t rows, size_t cols,
                        const imm_options *opts, int32_t *assign, double *u, double *v,
                        double *totals) {
    imi_fpenv fe;
    imi_fpenv_enter(&fe);
    int status = solve_batch(cost, count, rows, cols, opts, assign, u, v, totals);
    imi_fpenv_leave(&fe);
    return status;
}
