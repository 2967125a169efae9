/* lap_exact.c - exact linear assignment: Jonker-Volgenant shortest augmenting paths.
 *
 * Costs are float and read in place; potentials are double. With u[i] + v[j] <= c[i][j] for all
 * i, j and equality on the assignment, the assignment is optimal (LP duality). The solver keeps
 * v explicitly and u implicitly (u[i] = c[i][x[i]] - v[x[i]] for an assigned row).
 *
 * Phases (see ../shared/LAP-NOTES.md for why):
 *  1. Column potentials. Image-noise costs carry a strong per-column offset (noise rows of small
 *     norm are close to every image). For square problems v starts at the column means, which
 *     removes that offset, and an epsilon-scaling auction (Bertsekas) then brings v close to
 *     optimal prices: a few cheap phases with large epsilon do what plain ARR does in many
 *     expensive tiny steps. Only the potentials are kept from the auction.
 *     Rectangular problems start from v = 0 and skip the auction: there, complementary slackness
 *     needs the unassigned columns to keep the largest potential, and v = const guarantees it
 *     (v only ever decreases, and only on assigned columns).
 *  2. Augmenting row reduction (JV), from an empty assignment: each free row takes its cheapest
 *     column, lowering that column's potential by the gap to its second cheapest, and evicts the
 *     previous owner. This is an auction bid with epsilon = 0, so it leaves every assigned row on
 *     its cheapest reduced cost. Two passes, capped: float rounding can make it cycle.
 *  3. Dijkstra shortest augmenting path from each remaining free row (JV's augment), in reduced
 *     costs, which are >= 0 by the invariant above.
 *
 * Ties: every minimum search takes the lowest column index among equal values; everything is
 * sequential, so the result depends on the input alone.
 */
#include <math.h>
#include <string.h>

#include "core/internal.h"
#include "lap/lap.h"
#include "lap/lap_kernels.h"

/* Auction warm start: the first epsilon is a quarter of the typical reduced-cost spread of a row,
   divided by 8 per phase down to 1e-4 of it (4 phases). Measured on image-noise costs at
   B = 1024..4096, this leaves 0-20 rows for the exact phases; uniform costs behave alike. */
#define AUCTION_EPS_FIRST 0.25
#define AUCTION_EPS_LAST 1e-4
#define AUCTION_EPS_DIVISOR 8.0
#define AUCTION_SAMPLE_ROWS 16
#define AUCTION_BIDS_PER_ROW 64 /* per phase; typical phases need 1-3 */

/* ARR after the auction: steps allowed per pass, per row. Enough for the short displacement
   chains left by the auction, small enough that a rounding cycle costs little before Dijkstra. */
#define ARR_PASSES 2
#define ARR_STEPS_PER_ROW 8

typedef struct {
    int32_t *y;       /* cols: row assigned to column j, or -1 */
    int32_t *pred;    /* cols: row from which column j was reached */
    int32_t *scanned; /* cols: columns scanned by Dijkstra, in scan order */
    int32_t *free_;   /* rows: free rows */
    double *v;        /* cols: column potentials */
    double *d;        /* cols: shortest distances (Dijkstra) */
    double *sc;       /* cols: 0 for unscanned columns, +Inf for scanned ones (Dijkstra) */
} lap_work;

size_t imm_lap_workspace_bytes(size_t rows, size_t cols) {
    size_t a, b, c;
    if (!imm_mul_size(cols, 3 * sizeof(double) + 3 * sizeof(int32_t), &a) ||
        !imm_mul_size(rows, sizeof(int32_t), &b))
        return 0;
    c = a + b;
    return c < a ? 0 : c;
}

static lap_work carve(void *work, size_t cols) {
    lap_work w;
    double *dp = work;
    w.v = dp;
    w.d = dp + cols;
    w.sc = dp + 2 * cols;
    int32_t *ip = (int32_t *)(dp + 3 * cols);
    w.y = ip;
    w.pred = ip + cols;
    w.scanned = ip + 2 * cols;
    w.free_ = ip + 3 * cols;
    return w;
}

/* One pass of augmenting row reduction over the free list (with eps > 0: one round of auction
   bids), spending at most *budget row scans; returns the new number of free rows. */
static size_t augmenting_row_reduction(const float *cost, size_t cols, int32_t *x, lap_work *w,
                                       const lap_kernels *kern, double eps, size_t nfree,
                                       size_t *budget) {
    size_t k = 0, kept = 0;
    while (k < nfree) {
        int32_t i = w->free_[k++];
        if (*budget == 0) {
            w->free_[kept++] = i; /* budget spent: leave the rest to the exact phase */
            continue;
        }
        --*budget;
        lap_min2 m;
        kern->two_smallest(cost + (size_t)i * cols, w->v, cols, &m);
        int32_t j1 = m.j1, i0 = w->y[j1];
        bool lowered = false;
        if (m.j2 >= 0) {
            double vj = w->v[j1] - ((m.u2 - m.u1) + eps);
            if (vj < w->v[j1]) { /* strictly lower after rounding: progress is real */
                w->v[j1] = vj;
                lowered = true;
            } else if (i0 >= 0) { /* tie: take the second column so that nobody cycles */
                j1 = m.j2;
                i0 = w->y[j1];
            }
        }
        x[i] = j1;
        w->y[j1] = i;
        if (i0 >= 0) {
            x[i0] = -1;
            if (lowered)
                w->free_[--k] = i0; /* the evicted row bids next */
            else
                w->free_[kept++] = i0;
        }
    }
    return kept;
}

/* Dijkstra from free row f in reduced costs; augments along the shortest path to a free column
   and updates the potentials of the scanned columns. */
static void augment(const float *cost, size_t cols, int32_t *x, lap_work *w,
                    const lap_kernels *kern, int32_t f) {
    double *d = w->d, *v = w->v, *sc = w->sc;
    int32_t *y = w->y;
    for (size_t j = 0; j < cols; j++) {
        d[j] = INFINITY;
        sc[j] = 0.0;
    }
    size_t nscan = 0;
    int32_t i = f, j;
    double r = 0.0; /* u[i] - (distance to row i); the free row has both 0 */
    for (;;) {
        kern->relax(cost + (size_t)i * cols, v, sc, r, i, cols, d, w->pred, &j);
        sc[j] = INFINITY;
        w->scanned[nscan++] = j;

        if (y[j] < 0)
            break;
        i = y[j];
        r = ((double)cost[(size_t)i * cols + (size_t)j] - v[j]) - d[j];
    }
    /* v[j] += d[j] - dmin on scanned columns keeps reduced costs >= 0 and makes the path tight;
       the sink (the last one scanned) has d == dmin. */
    const double dmin = d[j];
    for (size_t k = 0; k + 1 < nscan; k++) {
        int32_t s = w->scanned[k];
        v[s] += d[s] - dmin;
    }
    /* Flip the path. */
    for (;;) {
        int32_t row = w->pred[j];
        y[j] = row;
        int32_t prev = x[row];
        x[row] = j;
        if (row == f)
            break;
        j = prev;
    }
}

/* Column means: v[j] = mean over i of c[i][j]. */
static void column_means(const float *cost, size_t rows, size_t cols, double *v) {
    memset(v, 0, cols * sizeof(double));
    for (size_t i = 0; i < rows; i++) {
        const float *ci = cost + i * cols;
        for (size_t j = 0; j < cols; j++)
            v[j] += (double)ci[j];
    }
    for (size_t j = 0; j < cols; j++)
        v[j] /= (double)rows;
}

/* Typical gap between a row's mean and its minimum reduced cost, over the first few rows: the
   scale of the auction's first epsilon. 0 when the sampled rows are constant. */
static double reduced_cost_spread(const float *cost, size_t rows, size_t cols, const double *v) {
    const size_t sample = rows < AUCTION_SAMPLE_ROWS ? rows : AUCTION_SAMPLE_ROWS;
    double spread = 0.0;
    for (size_t i = 0; i < sample; i++) {
        const float *ci = cost + i * cols;
        double lo = INFINITY, sum = 0.0;
        for (size_t j = 0; j < cols; j++) {
            double h = (double)ci[j] - v[j];
            sum += h;
            lo = fmin(lo, h);
        }
        spread += sum / (double)cols - lo;
    }
    return spread / (double)sample;
}

static size_t free_all_rows(size_t rows, size_t cols, int32_t *x, lap_work *w) {
    for (size_t j = 0; j < cols; j++)
        w->y[j] = -1;
    for (size_t i = 0; i < rows; i++) {
        x[i] = -1;
        w->free_[i] = (int32_t)i;
    }
    return rows;
}

/* Epsilon-scaling auction (Gauss-Seidel, one row bids at a time) on the potentials v. Each phase
   starts from an empty assignment and runs until every row is assigned or its bid budget is
   spent; only the potentials are kept. Bids raise a price by at least epsilon, which is kept far
   above the rounding unit of the potentials, so every phase terminates. */
static void auction_warm_start(const float *cost, size_t rows, size_t cols, int32_t *x,
                               lap_work *w, const lap_kernels *kern) {
    const double spread = reduced_cost_spread(cost, rows, cols, w->v);
    double vmax = 0.0;
    for (size_t j = 0; j < cols; j++)
        vmax = fmax(vmax, fabs(w->v[j]));
    const double floor = 1e-12 * (vmax + spread); /* ~4500 ulps of the largest potential */
    for (double eps = AUCTION_EPS_FIRST * spread;
         eps > AUCTION_EPS_LAST * spread && eps > floor; eps /= AUCTION_EPS_DIVISOR) {
        size_t nfree = free_all_rows(rows, cols, x, w);
        size_t budget = AUCTION_BIDS_PER_ROW * rows;
        while (nfree > 0 && budget > 0)
            nfree = augmenting_row_reduction(cost, cols, x, w, kern, eps, nfree, &budget);
    }
}

void imm_lap_exact(const float *cost, size_t rows, size_t cols, void *work, int32_t *assign,
                   double *u, double *v_out) {
    if (rows == 0) {
        if (v_out != NULL)
            for (size_t j = 0; j < cols; j++)
                v_out[j] = 0.0;
        return;
    }
    lap_work w = carve(work, cols);
    const lap_kernels *kern = imm_lap_kernels();
    int32_t *x = assign;

    /* Phase 1: column potentials. */
    if (rows == cols && rows > 1) {
        column_means(cost, rows, cols, w.v);
        auction_warm_start(cost, rows, cols, x, &w, kern);
    } else {
        memset(w.v, 0, cols * sizeof(double));
    }

    /* Phase 2: augmenting row reduction from an empty assignment, two capped passes. */
    size_t nfree = free_all_rows(rows, cols, x, &w);
    for (int pass = 0; pass < ARR_PASSES && nfree > 0; pass++) {
        size_t budget = ARR_STEPS_PER_ROW * rows;
        nfree = augmenting_row_reduction(cost, cols, x, &w, kern, 0.0, nfree, &budget);
    }

    /* Phase 3: shortest augmenting paths, free rows in increasing index order. */
    for (size_t i = 0; i < rows; i++)
        if (x[i] < 0)
            augment(cost, cols, x, &w, kern, (int32_t)i);

    if (u != NULL)
        for (size_t i = 0; i < rows; i++)
            u[i] = (double)cost[i * cols + (size_t)x[i]] - w.v[x[i]];
    if (v_out != NULL)
        memcpy(v_out, w.v, cols * sizeof(double));
}

double imm_lap_total(const float *cost, size_t rows, size_t cols, const int32_t *assign) {
    double total = 0.0;
    for (size_t i = 0; i < rows; i++)
        total += (double)cost[i * cols + (size_t)assign[i]];
    return total;
}
