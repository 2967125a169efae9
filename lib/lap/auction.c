/* auction.c - epsilon-scaling auction (Bertsekas): Jacobi bidding with OpenMP for the auction
 * solver, Gauss-Seidel bidding on one thread for the exact solver's warm start.
 *
 * In this library's sign convention a column's price is -v[j]: a bid lowers v. Row i bids for
 * its cheapest reduced cost c[i][j1] - v[j1], lowering v[j1] until j1 is epsilon worse than its
 * second choice j2: v[j1] <- v[j1] - (u2 - u1) - eps. A phase starts from an empty assignment and
 * ends when every row is assigned; then the assignment is within n * eps of optimal.
 *
 * Termination on every input: a bid always lowers v[j1] strictly (at least one ulp, even where
 * eps or the gap round away), and eps never goes below ~2^-40 of the magnitudes involved, so a
 * phase needs a bounded number of bids; each phase also has a bid budget, after which the caller
 * completes the assignment with exact augmentations.
 */
#include <math.h>

#include "core/internal.h"
#include "lap/auction.h"
#include "lap/lap_lists.h"

#define BIDS_PER_ROW 64    /* per phase; phases typically need 1-3 */
#define PARALLEL_BIDS 1024 /* rounds with fewer bids run on one thread: cheaper than a fork */

/* Row i's bid: the column and its new potential. loose: a lower bound of the second smallest
   reduced cost will do (imi_lap_row_bid_min2): the bid then lowers v less, but still leaves row
   i within eps of its minimum. */
static void bid(lap_state *s, int32_t i, double eps, bool loose, int32_t *col, double *val) {
    lap_min2 m;
    if (loose)
        imi_lap_row_bid_min2(s, (size_t)i, &m);
    else
        imi_lap_row_min2(s, (size_t)i, &m);
    double gap = m.j2 >= 0 ? m.u2 - m.u1 : 0.0;
    double old = s->v[m.j1], nv = old - (gap + eps);
    if (!(nv < old))
        nv = nextafter(old, -INFINITY);
    *col = m.j1;
    *val = nv;
}

/* The free rows of a phase, as two lists that swap after every round. */
typedef struct {
    int32_t *list, *next;
    size_t nfree;
    int64_t bids, budget;
} round_state;

/* Highest bid per column wins; on equal bids the earlier one in the list. Makes the winners'
   assignments and the next round's free list (losers and evicted owners, in list order). */
static void settle(lap_state *s, round_state *r) {
    const size_t nfree = r->nfree;
    r->bids += (int64_t)nfree;
    for (size_t k = 0; k < nfree; k++) {
        int32_t j = s->bid_col[k];
        if (s->win_k[j] < 0 || s->bid_val[k] < s->win_val[j]) {
            s->win_k[j] = (int32_t)k;
            s->win_val[j] = s->bid_val[k];
        }
    }
    size_t nnext = 0;
    for (size_t k = 0; k < nfree; k++) {
        int32_t i = r->list[k], j = s->bid_col[k];
        if (s->win_k[j] != (int32_t)k) {
            r->next[nnext++] = i;
            continue;
        }
        int32_t old = s->y[j];
        if (old >= 0) {
            s->x[old] = -1;
            r->next[nnext++] = old;
        }
        s->y[j] = i;
        s->x[i] = j;
        s->v[j] = s->win_val[j];
    }
    for (size_t k = 0; k < nfree; k++)
        s->win_k[s->bid_col[k]] = -1;
    int32_t *t = r->list;
    r->list = r->next;
    r->next = t;
    r->nfree = nnext;
}

static bool more_rounds(const round_state *r, size_t at_least) {
    return r->nfree >= at_least && r->nfree > 0 && r->bids < r->budget;
}

/* Rounds while many rows are free: one team for all of them (bids in parallel, settled by one
   thread), left as soon as the free list gets short. */
static void parallel_rounds(lap_state *s, double eps, round_state *r) {
    s->in_team = true;
#pragma omp parallel num_threads(s->threads)
    {
        imi_fpenv fe;
        imi_fpenv_enter(&fe);
        /* Every thread reads r between barriers only, so all leave the loop together. */
        while (more_rounds(r, PARALLEL_BIDS)) {
            const long long count = (long long)r->nfree;
#pragma omp for schedule(static)
            for (long long k = 0; k < count; k++)
                bid(s, r->list[k], eps, false, &s->bid_col[k], &s->bid_val[k]);
#pragma omp single
            settle(s, r);
        }
        imi_fpenv_leave(&fe);
    }
    s->in_team = false;
}

/* One phase; returns the number of bids made. */
static int64_t phase(lap_state *s, double eps, int64_t budget) {
    round_state r = {s->free_, s->free2, imi_lap_free_all(s), 0, budget};
    for (size_t j = 0; j < s->n; j++)
        s->win_k[j] = -1;
    if (s->threads > 1 && more_rounds(&r, PARALLEL_BIDS))
        parallel_rounds(s, eps, &r);
    while (more_rounds(&r, 1)) { /* short free lists: a team would cost more than it saves */
        for (size_t k = 0; k < r.nfree; k++)
            bid(s, r.list[k], eps, false, &s->bid_col[k], &s->bid_val[k]);
        settle(s, &r);
    }
    if (r.list != s->free_) /* keep the free rows where the callers look for them */
        for (size_t k = 0; k < r.nfree; k++)
            s->free_[k] = r.list[k];
    return r.bids;
}

/* Row i's bid in a Gauss-Seidel phase, or false when its list must be rebuilt first and the
   row can wait: rows whose list was rebuilt for this bid (fresh[i]) never wait again. */
static bool bid_serial(lap_state *s, int32_t i, double eps, int32_t *fresh, int32_t *col,
                       double *val) {
    const bool lists = s->k >= 2 && !s->sparse && (size_t)i < s->rows;
    lap_min2 m;
    if (lists && !fresh[i]) {
        if (!imi_lap_list_bid_min2(s, (size_t)i, &m))
            return false;
    } else {
        imi_lap_row_bid_min2(s, (size_t)i, &m);
    }
    if (lists)
        fresh[i] = 0;
    double gap = m.j2 >= 0 ? m.u2 - m.u1 : 0.0;
    double old = s->v[m.j1], nv = old - (gap + eps);
    if (!(nv < old))
        nv = nextafter(old, -INFINITY);
    *col = m.j1;
    *val = nv;
    return true;
}

/* One Gauss-Seidel phase: each bid settles at once and the evicted owner bids next. A row whose
   candidate list must be rebuilt waits in a queue while the other rows bid; when the free list
   runs out, the queue's lists are rebuilt together (on a team when worth it: the rebuilds are
   nearly all of the cost at large B, and each reads a whole cost row) and its rows bid next.
   The order is fixed by the input alone. Returns the number of bids made; rows left free when
   the budget runs out stay on the free list. */
static int64_t phase_serial(lap_state *s, double eps, int64_t budget) {
    const size_t nfree = imi_lap_free_all(s);
    /* Scratch of the dense lists only: the sparse mode keeps other things there. */
    int32_t *queue = s->free2, *fresh = s->win_k;
    if (s->k >= 2 && !s->sparse)
        for (size_t i = 0; i < s->m; i++)
            fresh[i] = 0;
    size_t k = 0, kept = 0, queued = 0;
    int64_t bids = 0;
    for (;;) {
        if (k == nfree) {
            if (queued == 0)
                break;
            /* Every slot below nfree was read once, and each read left at most one row kept
               or queued: kept + queued <= nfree. */
            imi_lap_rebuild_lists(s, queue, queued);
            k = nfree - queued;
            for (size_t q = 0; q < queued; q++) {
                s->free_[k + q] = queue[q];
                fresh[queue[q]] = 1;
            }
            queued = 0;
        }
        int32_t i = s->free_[k++], j;
        if (bids >= budget) {
            s->free_[kept++] = i;
            continue;
        }
        double nv;
        if (!bid_serial(s, i, eps, fresh, &j, &nv)) {
            queue[queued++] = i;
            continue;
        }
        bids++;
        s->v[j] = nv;
        if (s->vf != NULL)
            s->vf[j] = (float)nv;
        const int32_t old = s->y[j];
        s->y[j] = i;
        s->x[i] = j;
        if (old >= 0) {
            s->x[old] = -1;
            s->free_[--k] = old; /* the evicted row bids next */
        }
    }
    return bids;
}

/* Bids of a Gauss-Seidel phase scan dense rows in float (twice the lanes) while float resolves
   them: eps at least 2^-18 of the magnitudes involved (float's unit roundoff is 2^-24), and
   magnitudes within LAP_FLOAT_RANGE. Only the potentials depend on it, never the exactness of
   what follows (the exact phases scan in double). */
#define FLOAT_BID_RESOLUTION 0x1p-18

static void float_bids(lap_state *s, double eps, double vmax) {
    const double mag = fmax(vmax, fmax(fabs(s->cmin), fabs(s->cmax)));
    if (mag <= LAP_FLOAT_RANGE && eps >= FLOAT_BID_RESOLUTION * mag)
        s->vf = imi_lap_float_mirror(s);
}

/* The phases of imi_auction (serial = false) and imi_auction_serial (true). */
static void auction_phases(lap_state *s, double eps_first, double eps_last, auction_stats *st,
                           bool serial, int64_t bids_per_row) {
    st->bids = 0;
    st->phases = 0;
    st->eps = eps_first;
    st->exhausted = false;
    double vmax = 0.0;
    for (size_t j = 0; j < s->n; j++)
        vmax = fmax(vmax, fabs(s->v[j]));
    const double floor = 0x1p-40 * (vmax + fmax(fabs(s->cmin), fabs(s->cmax)));
    double eps = fmax(eps_first, floor);
    const double last = fmax(eps_last, floor);
    const int64_t budget = bids_per_row * (int64_t)s->m;
    for (;;) {
        if (eps < last)
            eps = last;
        if (serial)
            float_bids(s, eps, vmax);
        const int64_t bids = serial ? phase_serial(s, eps, budget) : phase(s, eps, budget);
        s->vf = NULL;
        st->bids += bids;
        st->phases++;
        st->eps = eps;
        if (bids >= budget) {
            st->exhausted = true;
            if (serial)
                break; /* the caller changes strategy */
        }
        if (eps <= last)
            break;
        eps /= AUCTION_EPS_DIVISOR;
    }
}

void imi_auction(lap_state *s, double eps_first, double eps_last, auction_stats *st) {
    auction_phases(s, eps_first, eps_last, st, false, BIDS_PER_ROW);
}

void imi_auction_serial(lap_state *s, double eps_first, double eps_last, int64_t bids_per_row,
                        auction_stats *st) {
    auction_phases(s, eps_first, eps_last, st, true,
                   bids_per_row > 0 ? bids_per_row : BIDS_PER_ROW);
}
