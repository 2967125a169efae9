/* lap_exact.c - exact linear assignment: Jonker-Volgenant shortest augmenting paths.
 *
 * Costs are float and read in place; potentials are double. With u[i] + v[j] <= c[i][j] for all
 * i, j and equality on the assignment, the assignment is optimal (LP duality). The solver keeps
 * v explicitly and u implicitly (u[i] = c[i][x[i]] - v[x[i]] for an assigned row).
 *
 * Phases (docs/solver.md says why, with measurements):
 *  1. Column potentials. Image-noise costs carry a strong per-column offset (noise rows of small
 *     norm are close to every image). v starts at the column means, which removes that offset,
 *     and a short epsilon-scaling auction (auction.c, Gauss-Seidel bidding on the calling
 *     thread) then brings v close to optimal prices: a few cheap phases with large epsilon do
 *     what plain ARR would do in many tiny steps. Only the potentials are kept from it.
 *  2. Augmenting row reduction (JV), from an empty assignment: each free row takes its cheapest
 *     column, lowering that column's potential by the gap to its second cheapest, and evicts the
 *     previous owner. This is an auction bid with epsilon = 0, so it leaves every assigned row on
 *     its cheapest reduced cost. Two passes, capped: float rounding can make it cycle.
 *  3. Dijkstra shortest augmenting path from each remaining free row (JV's augment), in reduced
 *     costs, which are >= 0 by the invariant above.
 *
 * Wide problems (lap_state.h) start from v = 0 with ARR (a longer budget) and Dijkstra, or,
 * where the rows' cheapest columns gather on a few columns, with one auction phase and then the
 * square problem with dummy rows holding the columns it left free (wide_warm_start).
 *
 * Square problems from SPARSE_MIN_COLS columns on run the sparse mode (lap_sparse.c) after the
 * auction's first phase: the remaining phases, ARR and Dijkstra on a few arcs per row, then
 * certification passes over the full matrix. It hands over to the dense phases above when its
 * arcs lead to a price war twice, or a row needs more arcs than its list holds.
 *
 * Ties: every minimum search takes the lowest column index among equal values; the exact phases
 * are sequential and the auction is thread-count independent, so the result depends on the input
 * alone.
 *
 * Forbidden pairs (+Inf costs) have reduced cost +Inf and are never chosen: the potentials start
 * at the means of the finite costs, the auction is skipped (its bids would move prices by an
 * infinite gap), ARR does not lower a potential when the second-best column is forbidden, and a
 * Dijkstra search that finds no reachable free column proves that no complete assignment avoids
 * the forbidden pairs (its tree violates Hall's condition).
 */
#include <math.h>
#include <string.h>

#include "core/internal.h"
#include "lap/auction.h"
#include "lap/lap.h"
#include "lap/lap_lists.h"

/* The warm start's first epsilon, as a share of imi_lap_spread(). Smaller than the auction
   solver's AUCTION_FIRST_EPS_SPREAD: with Gauss-Seidel bids, 0.03 takes this share of the time
   0.1 took (1 thread, two interleaved runs, load average 1.6-1.9): uniform costs 0.88 / 0.67 /
   0.62 at B = 1024 / 2048 / 4096 (4096: 102-106 against 167-171 ms), image-noise 0.89-0.94 /
   0.79 / 0.97, B = 256 within the noise; 0.01 and 0.003 were no better at B <= 1024. */
#define WARM_EPS_FIRST 0.03

/* The warm start runs the auction from WARM_EPS_FIRST down to 1e-4 of the typical
   reduced-cost spread of a row. Measured on image-noise costs at B = 1024..4096, this leaves
   0-20 rows for the exact phases; uniform costs behave alike. */
#define WARM_EPS_LAST 1e-4

/* Square problems from this many columns on (and below LIST_MIN_COLS, where bids use candidate
   lists instead) run in sparse mode after the first auction phase (lap_sparse.c). */
#define SPARSE_MIN_COLS 512
#define SPARSE_BIDS_PER_ROW 16 /* per phase; more means a price war on the arcs */
#define SPARSE_ATTEMPTS 8 /* epsilons at which the arcs are taken before going dense */

/* ARR after the auction: steps allowed per pass, per row. Enough for the short displacement
   chains left by the auction, small enough that a rounding cycle costs little before Dijkstra. */
#define ARR_PASSES 2
#define ARR_STEPS_PER_ROW 8

/* Wide problems (rows < cols, solved from v = 0 without the auction: lap_state.h) without
   exact ties have no warm start, and ARR is their auction at epsilon = 0: a longer budget
   assigns nearly every row before Dijkstra, whose searches cost far more per row there.
   Image-noise costs, 2 threads, ms, with 2 x 8 / 3 x 32 (docs/solver.md, "Wide problems"):
   1024 x 2048 126 / 47, 2048 x 4096 645 / 65, 1024 x 1280 211 / 64, 512 x 2048 16.5 / 11.3,
   256 x 512 3.1 / 2.3. */
#define ARR_PASSES_WIDE 3
#define ARR_STEPS_PER_ROW_WIDE 32

/* One pass of augmenting row reduction over the free list, spending at most *budget row scans;
   returns the new number of free rows. */
static size_t augmenting_row_reduction(lap_state *s, size_t nfree, size_t *budget) {
    size_t k = 0, kept = 0;
    while (k < nfree) {
        int32_t i = s->free_[k++];
        if (*budget == 0) {
            s->free_[kept++] = i; /* budget spent: leave the rest to Dijkstra */
            continue;
        }
        --*budget;
        lap_min2 m;
        imi_lap_row_min2(s, (size_t)i, &m);
        if (m.j1 < 0) { /* every column forbidden: Dijkstra will say so */
            s->free_[kept++] = i;
            continue;
        }
        int32_t j1 = m.j1, i0 = s->y[j1];
        bool lowered = false;
        if (m.j2 >= 0 && m.u2 < INFINITY) {
            double vj = s->v[j1] - (m.u2 - m.u1);
            if (vj < s->v[j1]) { /* strictly lower after rounding: progress is real */
                s->v[j1] = vj;
                lowered = true;
            } else if (i0 >= 0) { /* tie: take the second column so that nobody cycles */
                j1 = m.j2;
                i0 = s->y[j1];
            }
        }
        s->x[i] = j1;
        s->y[j1] = i;
        if (i0 >= 0) {
            s->x[i0] = -1;
            if (s->hub && (size_t)i0 >= s->rows)
                s->free_[kept++] = i0; /* a dummy row: identical ones would only trade columns */
            else if (lowered)
                s->free_[--k] = i0; /* the evicted row bids next */
            else
                s->free_[kept++] = i0;
        }
    }
    return kept;
}

/* Dijkstra from free row f in reduced costs; augments along the shortest path to a free column
   and updates the potentials of the scanned columns. False (nothing changed but scratch) when no
   free column is reachable through allowed pairs. */
static bool augment(lap_state *s, int32_t f) {
    const size_t n = s->n;
    double *d = s->d, *v = s->v, *sc = s->sc;
    int32_t *y = s->y, *x = s->x;
    int32_t *fcols = s->bid_col; /* the free columns, in increasing order */
    size_t nf = 0;
    for (size_t j = 0; j < n; j++) {
        d[j] = INFINITY;
        sc[j] = 0.0;
        fcols[nf] = (int32_t)j; /* branch-free: which columns are free is random */
        nf += y[j] < 0;
    }
    size_t nscan = 0, relaxed = 0; /* dense row scans, for imm_lap_info.passes */
    int32_t i = f, j;
    double r = 0.0; /* u[i] - (distance to row i); the free row has both 0 */
    bool hub = (size_t)f >= s->rows; /* a dummy row has been relaxed */
    for (;;) {
        s->kern->relax(lap_row(s, (size_t)i), v, sc, r, i, n, d, s->pred, &j);
        relaxed += (size_t)i < s->rows;
    settle:
        if (j < 0 || !(d[j] < INFINITY)) {
            s->scans += (int64_t)relaxed;
            return false;
        }
        /* Among columns at the smallest distance a free one ends the search at once: with the
           lowest index alone, a matrix of ties (all zeros, {0, 1}) walked every assigned column
           below the first free one, one row relaxation each: O(n) steps per search instead of
           1 (1024 x 2048 zeros: 900 ms; scipy prefers free columns too). Free columns are
           never scanned, so their key is d. What the look costs is the free list's length per
           step: 1.4-1.7x the solve on 1024 x 2048 image-noise costs while ARR left 423 rows to
           Dijkstra, within the noise since it leaves ~12 (and on 1024 x 1152). Looking only
           when a step repeats the last step's distance made tied matrices ~1.15x slower (two
           steps per search) and broke the rule above; listing the free columns on first need
           measured the same as listing them here. */
        if (y[j] >= 0)
            for (size_t k = 0; k < nf; k++)
                if (d[fcols[k]] == d[j]) {
                    j = fcols[k];
                    break;
                }
        sc[j] = INFINITY;
        s->scanned[nscan++] = j;
        if (y[j] < 0)
            break;
        i = y[j];
        if ((size_t)i >= s->rows) {
            if (hub) {
                /* Dummy rows hold columns of one potential, the largest (their duals' feasibility
                   says so), and the first dummy row relaxed here reached every column from the
                   first of them: the others would relax the same zero row from the same point
                   and improve nothing. Settle them together, then take the smallest distance
                   again. One row scan each before: with 64-128 dummy rows (1024 x 1088 / 1152,
                   900 x 1000) the solves took 1.16-1.69x the time, same assignments. */
                for (size_t c = 0; c < n; c++)
                    if (y[c] >= (int32_t)s->rows && sc[c] == 0.0) {
                        sc[c] = INFINITY;
                        s->scanned[nscan++] = (int32_t)c;
                    }
                /* r = -Inf relaxes nothing: the kernel's smallest-distance search alone */
                s->kern->relax(s->zeros, v, sc, -INFINITY, i, n, d, s->pred, &j);
                goto settle;
            }
            hub = true;
        }
        r = ((double)lap_row(s, (size_t)i)[j] - v[j]) - d[j];
    }
    /* v[j] += d[j] - dmin on scanned columns keeps reduced costs >= 0 and makes the path tight;
       the sink (the last one scanned) has d == dmin. Rounding can put a d a hair above dmin:
       never raise v, the candidate lists rely on it (lap_state.h). */
    const double dmin = d[j];
    for (size_t k = 0; k + 1 < nscan; k++) {
        int32_t c = s->scanned[k];
        v[c] += fmin(0.0, d[c] - dmin);
    }
    for (;;) { /* flip the path */
        int32_t row = s->pred[j];
        y[j] = row;
        int32_t prev = x[row];
        x[row] = j;
        if (row == f)
            break;
        j = prev;
    }
    s->scans += (int64_t)relaxed;
    return true;
}

int64_t imi_lap_augment_free(lap_state *s) {
    int64_t count = 0;
    for (size_t i = 0; i < s->m; i++)
        if (s->x[i] < 0) {
            if (!(s->sparse ? imi_lap_sparse_augment(s, (int32_t)i) : augment(s, (int32_t)i)))
                return -1;
            count++;
        }
    s->augmentations += count;
    return count;
}

bool imi_lap_finish_exact(lap_state *s) {
    size_t nfree = imi_lap_free_all(s);
    const int passes = s->long_arr ? ARR_PASSES_WIDE : ARR_PASSES;
    for (int pass = 0; pass < passes && nfree > 0; pass++) {
        size_t budget = (s->long_arr ? ARR_STEPS_PER_ROW_WIDE : ARR_STEPS_PER_ROW) * s->m;
        nfree = augmenting_row_reduction(s, nfree, &budget);
    }
    return imi_lap_augment_free(s) >= 0;
}

/* The wide warm start's epsilon, as a share of imi_lap_spread(): one auction phase. A phase
   from v = 0 leaves the columns it did not price at v = 0, the largest potential; more phases
   leave columns priced in one phase and free after the next, which the warm start must raise
   back to that level, and rows then go to them. Image-noise costs, 2 threads, ms, against the
   cold path (docs/solver.md, "Wide problems"): 1024 x 2048 one phase at 1e-3 9.2-10.0 against
   37-41; 5e-4 10.1, 2e-3 9.3, 1e-2 13.3; phases from 8e-3 or 0.03 down to 1e-3 13.0 / 27.7. */
#define WIDE_EPS 1e-3

/* The wide warm start pays where the rows' cheapest columns gather on a few columns (image-noise
   costs against a noise pool: ARR from v = 0 fights long price wars over them), and while bids
   scan dense rows or the pool is at most twice the batch: with candidate lists, 1024 x 4096
   image-noise costs took 20 ms with it and 11-13 without (2048 x 4096: 46 against 60). Latent
   and uniform costs, whose rows' minima spread out, stay on the cold path, 1.3-8 times faster
   there at 256 x 512 ... 2048 x 4096. */
static bool wide_warm_pays(const lap_state *s) {
    return (s->k == 0 || s->n <= 2 * s->rows) && imi_lap_minima_gather(s);
}

/* A wide problem's warm start (rows < cols, no ties, no forbidden pair; s->m == rows, v = 0): one
   auction phase on the real rows from v = 0, then the square problem with dummy rows (cost 0
   everywhere) holding the columns the auction left free. The square duals are a rectangular
   certificate whatever v is (lap_state.h), so the auction's prices can stay, which the cold
   path (v = 0, no dummy rows) cannot allow: there a column priced and then left free breaks
   complementary slackness. False (nothing kept) when the auction gave nothing usable. */
static bool wide_warm_start(lap_state *s) {
    const double spread = imi_lap_spread(s);
    if (!(spread > 0.0))
        return false;
    auction_stats st;
    imi_auction_serial(s, WIDE_EPS * spread, WIDE_EPS * spread, 0, &st);
    s->bids += st.bids;
    if (!imi_lap_potentials_usable(s)) {
        memset(s->v, 0, s->n * sizeof(double));
        return false;
    }
    /* The auction's assignment stays (finish_wide keeps the rows it left on their smallest
       reduced cost). Every column it left free gets the highest price it charged, the largest
       potential of its columns (those it never bid on are lowered from 0: each row's column
       then costs it no more than they do), and a dummy row: dummy rows hold the largest
       potential, as their duals need. Dummy rows left over (the auction's budget ran out) are
       free. */
    double paid = -INFINITY;
    for (size_t i = 0; i < s->rows; i++)
        if (s->x[i] >= 0)
            paid = fmax(paid, s->v[s->x[i]]);
    if (!(paid > -INFINITY))
        paid = 0.0;
    s->m = s->n;
    s->hub = true;
    size_t dummy = s->rows;
    for (size_t j = 0; j < s->n; j++)
        if (s->y[j] < 0) {
            s->v[j] = paid;
            if (dummy == s->n) /* the auction left rows free: so many columns stay free too */
                continue;
            s->y[j] = (int32_t)dummy;
            s->x[dummy++] = (int32_t)j;
        }
    for (; dummy < s->n; dummy++)
        s->x[dummy] = -1;
    for (size_t i = 0; i < s->rows; i++) /* some potentials rose: no list's bound holds */
        s->cand_thr[i] = NAN;
    return true;
}

/* The exact phases after wide_warm_start(): a real row keeps its auction column when that is
   its smallest reduced cost (ties included), otherwise it is freed and bids in ARR (dummy rows
   never do); then every free row, dummy rows included, gets a Dijkstra search. */
static bool finish_wide(lap_state *s) {
    size_t nfree = 0;
    for (size_t i = 0; i < s->rows; i++) {
        const int32_t j = s->x[i];
        if (j >= 0) {
            lap_min2 m;
            imi_lap_row_min2(s, i, &m);
            if (!((double)lap_row(s, i)[j] - s->v[j] > m.u1))
                continue;
            s->y[j] = -1;
            s->x[i] = -1;
        }
        s->free_[nfree++] = (int32_t)i;
    }
    for (int pass = 0; pass < ARR_PASSES && nfree > 0; pass++) {
        size_t budget = ARR_STEPS_PER_ROW * s->rows;
        nfree = augmenting_row_reduction(s, nfree, &budget);
    }
    return imi_lap_augment_free(s) >= 0;
}

/* The auction warm start: potentials only (see the top of this file). */
static void warm_start(lap_state *s, double eps_first, double eps_last) {
    auction_stats st;
    /* Gauss-Seidel bids (thread-count independent by construction). The Jacobi auction's team
       paid a barrier per round: on the shared 2-core machines a barrier waits for a preempted
       thread and the team's idle spin takes the core the sequential phases need. Measured on
       image-noise costs at load average 4-5, 2 threads, B = 1024: 63-112 ms with the team
       against 13 ms on one thread; Gauss-Seidel also needs 12-24% fewer bids than Jacobi
       (B = 1024..4096, image-noise and uniform). */
    if (eps_first > 0.0) {
        imi_auction_serial(s, eps_first, eps_last, 0, &st);
        s->bids += st.bids;
    }
    if (!imi_lap_potentials_usable(s)) /* see lap_state.h: never seen, but never trusted */
        (void)imi_lap_column_means(s);  /* costs known valid here */
}

/* Back to the dense phases, with the potentials they had left (saved). */
static void leave_sparse(lap_state *s, const double *saved) {
    memcpy(s->v, saved, s->n * sizeof(double));
    imi_lap_sparse_end(s);
}

/* The sparse mode (lap_sparse.c): a dense auction phase at eps, then the arcs and the remaining
   phases on them. A sparse phase that spends its budget is a price war on arcs that miss the
   structure: the dense phases go one epsilon further from the potentials they left, and the
   arcs are taken again (uniform costs U(0, 1) B need that: 1 retry at B = 4096, 2 at 16384;
   heavy ties never settle on arcs). True when the sparse mode proved an optimal assignment;
   false when it gave up (price wars down to the last epsilon, or a row needed more arcs than
   its list holds), with *eps where the dense phases continue and v what they left there. */
static bool sparse_solve(lap_state *s, double *eps, double eps_last) {
    auction_stats st;
    for (int attempt = 0; attempt < SPARSE_ATTEMPTS && *eps > eps_last; attempt++) {
        imi_auction_serial(s, *eps, *eps, 0, &st);
        s->bids += st.bids;
        *eps /= AUCTION_EPS_DIVISOR;
        if (!imi_lap_potentials_usable(s))
            return false;
        double *saved = s->win_val; /* scratch of the Jacobi auction only */
        memcpy(saved, s->v, s->n * sizeof(double));
        imi_lap_sparse_begin(s);
        imi_auction_serial(s, *eps, eps_last, SPARSE_BIDS_PER_ROW, &st);
        s->bids += st.bids;
        if (st.exhausted || !imi_lap_potentials_usable(s)) {
            /* a price war distorts the prices it fought over: the dense phases go on from
               the potentials they left */
            leave_sparse(s, saved);
            continue;
        }
        imi_lap_phase_end(s, 1);
        bool ok = imi_lap_finish_exact(s);
        imi_lap_phase_end(s, 2);
        ok = ok && imi_lap_sparse_prove(s);
        imi_lap_phase_end(s, 3);
        if (!ok) /* the arcs missed too much: the dense phases take over from the same point */
            leave_sparse(s, saved);
        s->proved_sparse = ok;
        return ok;
    }
    return false;
}

bool imi_lap_exact(lap_state *s) {
    /* Many ties, exact or near (small integer costs, levels plus a jitter): JV from v = 0, where
       exact ties survive and a search ends at the first free column among them. The warm
       start's potentials break them apart, and its sparse mode fights price wars on near ties:
       1024 x 1024 random integers in [0, 10) took 466 ms that way and take 5 this way (scipy:
       15 ms); in [0, 10) + 1e-4 U(0, 1): 489 against 19 ms (scipy 125). */
    const bool tied = s->n > 1 && !s->forbidden && imi_lap_tied(s);
    if (s->m < s->n) /* wide problems start from v = 0: see lap_state.h */
        memset(s->v, 0, s->n * sizeof(double));
    if (s->m < s->n && !tied && !s->forbidden && s->n > 1 && wide_warm_pays(s) &&
        wide_warm_start(s)) {
        imi_lap_phase_end(s, 1);
        const bool ok = finish_wide(s);
        imi_lap_phase_end(s, 2);
        return ok;
    }
    if (s->m < s->n || tied) { /* wide problems always start from v = 0: see lap_state.h */
        memset(s->v, 0, s->n * sizeof(double));
        /* ARR is the only warm start here; on ties it makes no progress (1024 x 2048 {0, 1}:
           7.0 ms with the short budget, 8.2 with the long one) */
        s->long_arr = !tied;
        if (tied) /* dense scans only: with ties at a list's threshold every ARR step built a
                     list and then scanned the row anyway (4096 x 4096 integers in [0, 100):
                     132 -> 69 ms, the same assignment) */
            s->k = 0;
    } else if (s->n > 1 && !s->forbidden) {
        const double spread = imi_lap_spread(s);
        double first = WARM_EPS_FIRST * spread;
        const double last = WARM_EPS_LAST * spread;
        if (s->rows == s->n && s->n >= SPARSE_MIN_COLS && spread > 0.0) {
            if (sparse_solve(s, &first, last))
                return true;
            /* the dense phases continue from the sparse mode's potentials */
        }
        warm_start(s, first, last);
        imi_lap_phase_end(s, 1);
    }
    const bool ok = imi_lap_finish_exact(s);
    imi_lap_phase_end(s, 2);
    return ok;
}

double imi_lap_total(const float *cost, size_t rows, size_t cols, const int32_t *assign) {
    double total = 0.0;
    for (size_t i = 0; i < rows; i++)
        total += (double)cost[i * cols + (size_t)assign[i]];
    return total;
}
