/* bench_measure.c - imm-bench's problems and timed cells (see bench_measure.h). */
#define _POSIX_C_SOURCE 200809L

#include "bench_measure.h"

#include <immiscible.h>

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Seed purposes: 1-3 as bench_lap, so that its image and uniform matrices are the same ones. */
enum {
    PURPOSE_IMAGES = 1,
    PURPOSE_NOISE = 2,
    PURPOSE_UNIFORM = 3,
    PURPOSE_LATENT = 4,
    PURPOSE_POOL = 5,
    PURPOSE_KNN = 6
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void msg(char *buf, size_t len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* a * b * sizeof(float), or 0 on overflow (callers treat 0 as "too large"). */
static size_t floats_bytes(size_t a, size_t b) {
    if (a && b > SIZE_MAX / sizeof(float) / a)
        return 0;
    return a * b * sizeof(float);
}

static float *alloc_floats(size_t a, size_t b) {
    size_t bytes = floats_bytes(a, b);
    return bytes ? malloc(bytes) : NULL;
}

static imm_options options_fp32(void) {
    imm_options o;
    imm_options_init(&o);
    return o; /* fp32, L2, exact, every thread: the reference everything is scored on */
}

static int is_perm_method(bg_method m) { return m.kind <= BG_METHOD_AUCTION_EXACT; }

/* ---- problems ---------------------------------------------------------------------------- */

int bm_problem_build(bm_problem *p, const wl_source *src, bg_workload w, size_t batch, size_t dim,
                     uint64_t seed, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    p->workload = w;
    p->batch = batch;
    p->dim = w == BG_WORKLOAD_UNIFORM ? 0 : dim;
    p->seed = seed;
    p->extra_for.kind = BG_METHOD_EXACT; /* nothing prepared yet */
    p->ref = alloc_floats(batch, batch);
    if (!p->ref)
        goto nomem;
    imm_options ref = options_fp32();
    int st;
    if (w == BG_WORKLOAD_UNIFORM) {
        wl_uniform_matrix(wl_seed_for(seed, PURPOSE_UNIFORM, batch), batch, batch, (float)batch,
                          p->ref);
    } else {
        p->x = alloc_floats(batch, dim);
        p->noise = alloc_floats(batch, dim);
        if (!p->x || !p->noise)
            goto nomem;
        if (w == BG_WORKLOAD_IMAGE)
            wl_sample_images(src, wl_seed_for(seed, PURPOSE_IMAGES, batch), batch, dim, p->x);
        else
            wl_gaussian(wl_seed_for(seed, PURPOSE_LATENT, batch), batch * dim, p->x);
        wl_gaussian(wl_seed_for(seed, PURPOSE_NOISE, batch), batch * dim, p->noise);
        st = imm_distance(p->x, batch, p->noise, batch, dim, &ref, p->ref);
        if (st != IMM_OK) {
            msg(err, errlen, "imm_distance (fp32 reference): %s", imm_strerror(st));
            bm_problem_free(p);
            return -1;
        }
    }
    int32_t *assign = malloc(batch * sizeof *assign);
    if (!assign)
        goto nomem;
    st = imm_lap_solve(p->ref, batch, batch, &ref, assign, &p->opt_total);
    free(assign);
    if (st != IMM_OK) {
        msg(err, errlen, "imm_lap_solve (reference optimum): %s", imm_strerror(st));
        bm_problem_free(p);
        return -1;
    }
    p->id_total = 0.0;
    for (size_t i = 0; i < batch; i++)
        p->id_total += p->ref[i * batch + i];
    return 0;
nomem:
    msg(err, errlen, "out of memory for B = %zu, D = %zu", batch, dim);
    bm_problem_free(p);
    return -1;
}

static void free_extra(bm_problem *p) {
    free(p->extra);
    free(p->extra_ref);
    p->extra = p->extra_ref = NULL;
    p->extra_rows = 0;
    p->extra_for.kind = BG_METHOD_EXACT;
}

void bm_problem_free(bm_problem *p) {
    free(p->x);
    free(p->noise);
    free(p->ref);
    free_extra(p);
    memset(p, 0, sizeof *p);
}

/* Pool (M*B rows: the noise, then fresh draws) or knn candidates (k per image: noise row i,
 * then fresh draws), with their fp32 reference distances and optimum. */
static int prepare_extra(bm_problem *p, bg_method m, char *err, size_t errlen) {
    if (p->extra && p->extra_for.kind == m.kind && p->extra_for.param == m.param)
        return 0;
    free_extra(p);
    const size_t b = p->batch, d = p->dim, k = m.param;
    const size_t rows = b * k; /* pool: M * B; knn: B * k */
    imm_options ref = options_fp32();
    int st;
    p->extra = alloc_floats(rows, d);
    p->extra_ref = alloc_floats(b, m.kind == BG_METHOD_POOL ? rows : k);
    float *fresh = rows > b ? alloc_floats(rows - b, d) : NULL;
    if (!p->extra || !p->extra_ref || (rows > b && !fresh)) {
        free(fresh);
        free_extra(p);
        msg(err, errlen, "out of memory for %zu extra noise rows", rows);
        return -1;
    }
    if (fresh)
        wl_gaussian(wl_seed_for(p->seed, m.kind == BG_METHOD_POOL ? PURPOSE_POOL : PURPOSE_KNN,
                                b * 1024 + k),
                    (rows - b) * d, fresh);
    if (m.kind == BG_METHOD_POOL) {
        memcpy(p->extra, p->noise, b * d * sizeof(float));
        if (fresh)
            memcpy(p->extra + b * d, fresh, (rows - b) * d * sizeof(float));
        st = imm_distance(p->x, b, p->extra, rows, d, &ref, p->extra_ref);
        int32_t *assign = st == IMM_OK ? malloc(b * sizeof *assign) : NULL;
        if (st == IMM_OK && !assign)
            st = IMM_ERR_NOMEM;
        if (st == IMM_OK)
            st = imm_lap_solve(p->extra_ref, b, rows, &ref, assign, &p->extra_opt);
        free(assign);
    } else {
        for (size_t i = 0; i < b; i++) {
            float *ci = p->extra + i * k * d;
            memcpy(ci, p->noise + i * d, d * sizeof(float));
            if (k > 1)
                memcpy(ci + d, fresh + i * (k - 1) * d, (k - 1) * d * sizeof(float));
        }
        st = IMM_OK;
        p->extra_opt = 0.0;
        for (size_t i = 0; i < b && st == IMM_OK; i++) {
            float *di = p->extra_ref + i * k;
            st = imm_distance(p->x + i * d, 1, p->extra + i * k * d, k, d, &ref, di);
            float best = di[0];
            for (size_t t = 1; t < k; t++)
                best = di[t] < best ? di[t] : best;
            p->extra_opt += best;
        }
    }
    free(fresh);
    if (st != IMM_OK) {
        msg(err, errlen, "reference for %s: %s", m.kind == BG_METHOD_POOL ? "pool" : "knn",
            imm_strerror(st));
        free_extra(p);
        return -1;
    }
    p->extra_rows = rows;
    p->extra_for = m;
    return 0;
}

/* ---- cells ------------------------------------------------------------------------------- */

static imm_options cell_options(bg_method m, bg_precision prec, int threads, double accuracy) {
    imm_options o;
    imm_options_init(&o);
    o.solver = m.kind == BG_METHOD_AUCTION || m.kind == BG_METHOD_AUCTION_EXACT ? IMM_SOLVER_AUCTION
                                                                                : IMM_SOLVER_EXACT;
    o.exact_finish = m.kind == BG_METHOD_AUCTION_EXACT;
    o.accuracy = accuracy;
    o.precision = (imm_precision)prec;
    o.num_threads = threads;
    return o;
}

static void fail(br_cell *c, int st, const char *what) {
    if (st == IMM_ERR_UNSUPPORTED) {
        c->status = BR_UNSUPPORTED;
        snprintf(c->note, sizeof c->note, "%s", what);
    } else {
        c->status = BR_FAILED;
        snprintf(c->note, sizeof c->note, "%s: %s (%d)", what, imm_strerror(st), st);
    }
}

static void cell_keys(br_cell *c, const bm_problem *p, bg_method m, bg_precision prec, int threads,
                      int threads_all, int reps) {
    br_cell_init(c);
    c->workload = p->workload;
    c->batch = p->batch;
    c->dim = p->dim;
    c->method = m;
    c->precision = p->workload == BG_WORKLOAD_UNIFORM ? 0 : prec;
    c->threads = threads;
    c->threads_all = threads_all;
    c->reps = reps;
}

/* Timings of the four measurements, one slot per timed repetition. */
typedef struct timings {
    double *dist, *solve, *permute, *total;
} timings;

void bm_measure_cell(bm_problem *p, bg_method m, bg_precision prec, int threads, int threads_all,
                     int warmup, int reps, double accuracy, br_cell *c) {
    cell_keys(c, p, m, prec, threads, threads_all, reps);
    if (p->workload == BG_WORKLOAD_UNIFORM) { /* a matrix only: the solver is the whole cost */
        bm_measure_lap(p, m, threads, threads_all, warmup, reps, accuracy, c);
        c->section = BR_SECTION_GRID;
        c->total = c->solve;
        return;
    }
    const size_t b = p->batch, d = p->dim;
    if (!is_perm_method(m) && prepare_extra(p, m, c->note, sizeof c->note) != 0) {
        c->status = BR_FAILED;
        return;
    }
    const size_t cols = m.kind == BG_METHOD_POOL ? p->extra_rows : b;
    imm_options o = cell_options(m, prec, threads, accuracy);
    imm_ctx *ctx = NULL;
    float *cost = NULL, *work = alloc_floats(b, d);
    int32_t *assign = malloc(b * sizeof *assign), *perm = malloc(b * sizeof *perm);
    double *ms = malloc(4 * (size_t)reps * sizeof *ms);
    timings t = {ms, ms + reps, ms + 2 * reps, ms + 3 * reps};
    if (m.kind != BG_METHOD_KNN)
        cost = alloc_floats(b, cols);
    if (!work || !assign || !perm || !ms || (m.kind != BG_METHOD_KNN && !cost)) {
        fail(c, IMM_ERR_NOMEM, "buffers");
        goto done;
    }
    int st = imm_ctx_create(&ctx, &o);
    if (st != IMM_OK) {
        fail(c, st, "imm_ctx_create");
        goto done;
    }
    int split_differs = 0;
    for (int r = -warmup; r < reps; r++) {
        double t0, t1;
        if (m.kind != BG_METHOD_KNN) {
            /* The same steps as the library, from outside it: distance, solve, permute. */
            const float *cols_data = m.kind == BG_METHOD_POOL ? p->extra : p->noise;
            t0 = now_ms();
            st = imm_distance(p->x, b, cols_data, cols, d, &o, cost);
            t1 = now_ms();
            if (st != IMM_OK) {
                fail(c, st, "imm_distance");
                goto done;
            }
            if (r >= 0)
                t.dist[r] = t1 - t0;
            imm_lap_info info;
            t0 = now_ms();
            st = imm_lap_solve_ex(cost, b, cols, &o, assign, NULL, NULL, &info);
            t1 = now_ms();
            if (st != IMM_OK) {
                fail(c, st, "imm_lap_solve_ex");
                goto done;
            }
            if (r >= 0)
                t.solve[r] = t1 - t0;
            if (m.kind == BG_METHOD_POOL) {
                t0 = now_ms();
                for (size_t i = 0; i < b; i++)
                    memcpy(work + i * d, p->extra + (size_t)assign[i] * d, d * sizeof(float));
                t1 = now_ms();
            } else {
                memcpy(work, p->noise, b * d * sizeof(float));
                t0 = now_ms();
                st = imm_permute_rows(work, b, d, assign);
                t1 = now_ms();
                if (st != IMM_OK) {
                    fail(c, st, "imm_permute_rows");
                    goto done;
                }
            }
            if (r >= 0)
                t.permute[r] = t1 - t0;
        }
        /* The real call, on its own. */
        if (m.kind == BG_METHOD_KNN) {
            t0 = now_ms();
            st = imm_ctx_select_noise_knn(ctx, p->x, b, p->extra, m.param, d, work, perm);
            t1 = now_ms();
        } else if (m.kind == BG_METHOD_POOL) {
            t0 = now_ms();
            st = imm_ctx_assign_noise_pool(ctx, p->x, b, p->extra, cols, d, work, perm);
            t1 = now_ms();
        } else {
            memcpy(work, p->noise, b * d * sizeof(float));
            t0 = now_ms();
            st = imm_ctx_assign_noise(ctx, p->x, work, b, d, perm);
            t1 = now_ms();
        }
        if (st != IMM_OK) {
            fail(c, st,
                 m.kind == BG_METHOD_KNN    ? "imm_ctx_select_noise_knn"
                 : m.kind == BG_METHOD_POOL ? "imm_ctx_assign_noise_pool"
                                            : "imm_ctx_assign_noise");
            goto done;
        }
        if (r >= 0)
            t.total[r] = t1 - t0;
        if (m.kind != BG_METHOD_KNN && memcmp(assign, perm, b * sizeof *perm) != 0)
            split_differs = 1;
    }
    if (m.kind != BG_METHOD_KNN) {
        c->dist = br_stat_of(t.dist, reps);
        c->solve = br_stat_of(t.solve, reps);
        c->permute = br_stat_of(t.permute, reps);
    }
    c->total = br_stat_of(t.total, reps);
    /* Score the real call's result on the fp32 reference. */
    double got = 0.0;
    for (size_t i = 0; i < b; i++) {
        size_t j = (size_t)perm[i];
        if (is_perm_method(m))
            got += p->ref[i * b + j];
        else /* pool: B x M*B, knn: B x k */
            got += p->extra_ref[i * (m.kind == BG_METHOD_POOL ? cols : m.param) + j];
    }
    c->mean_before = p->id_total / (double)b;
    c->mean_after = got / (double)b;
    c->mean_perm_opt = p->opt_total / (double)b;
    if (is_perm_method(m)) {
        c->mean_opt = c->mean_perm_opt;
        if (p->id_total > p->opt_total)
            c->quality = (p->id_total - got) / (p->id_total - p->opt_total);
    } else {
        c->mean_opt = p->extra_opt / (double)b;
    }
    if (split_differs)
        snprintf(c->note, sizeof c->note, "the split path and the real call chose differently");
    c->status = BR_OK;
done:
    imm_ctx_free(ctx);
    free(cost);
    free(work);
    free(assign);
    free(perm);
    free(ms);
}

void bm_measure_lap(const bm_problem *p, bg_method m, int threads, int threads_all, int warmup,
                    int reps, double accuracy, br_cell *c) {
    cell_keys(c, p, m, 0, threads, threads_all, reps);
    c->section = BR_SECTION_LAP;
    const size_t b = p->batch;
    if (!is_perm_method(m)) {
        c->status = BR_FAILED;
        snprintf(c->note, sizeof c->note, "not a solver");
        return;
    }
    imm_options o = cell_options(m, 0, threads, accuracy);
    int32_t *assign = malloc(b * sizeof *assign);
    double *ms = malloc((size_t)reps * sizeof *ms);
    if (!assign || !ms) {
        fail(c, IMM_ERR_NOMEM, "buffers");
        goto done;
    }
    for (int r = -warmup; r < reps; r++) {
        imm_lap_info info;
        double t0 = now_ms();
        int st = imm_lap_solve_ex(p->ref, b, b, &o, assign, NULL, NULL, &info);
        double t1 = now_ms();
        if (st != IMM_OK) {
            fail(c, st, "imm_lap_solve_ex");
            goto done;
        }
        if (r >= 0)
            ms[r] = t1 - t0;
    }
    c->solve = br_stat_of(ms, reps);
    double got = 0.0;
    for (size_t i = 0; i < b; i++)
        got += p->ref[i * b + (size_t)assign[i]];
    c->mean_before = p->id_total / (double)b;
    c->mean_after = got / (double)b;
    c->mean_opt = c->mean_perm_opt = p->opt_total / (double)b;
    if (p->id_total > p->opt_total)
        c->quality = (p->id_total - got) / (p->id_total - p->opt_total);
    c->status = BR_OK;
done:
    free(assign);
    free(ms);
}
