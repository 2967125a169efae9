/* lap_sparse.c - the exact solver on a few candidate arcs per row, proved optimal on the whole
 * matrix.
 *
 * After the auction's first phase, a row's optimal column is nearly always among its few cheapest
 * reduced costs (with v at the bare column means, 19 % of the rows of an image-noise matrix are
 * not: docs/solver.md). Each row therefore keeps SPARSE_ARCS arcs: its cheapest reduced
 * costs, plus its diagonal column, so that the identity is a complete assignment on the arcs
 * and the sparse problem always has one (then every free row has an augmenting path: Berge).
 * The auction warm start, ARR and Dijkstra run on the arcs only (lap_lists.c answers the row
 * minima from them, imi_lap_sparse_augment() searches them), which leaves an assignment that is
 * optimal for the sparse problem: every arc has c - v >= u.
 *
 * A certification pass then reads the full matrix. A row with columns of c - v < u (u its
 * assigned reduced cost) gets them as new arcs and is freed, and the freed rows are augmented
 * again. Potentials only ever decrease, so a row proved at u stays proved while its u does not
 * rise: later passes read only the rows whose u rose. When a pass adds no arc, every reduced cost
 * of the matrix is >= u: v is a dual certificate and the assignment is optimal. A row that would
 * need more arcs than its list holds (LAP_CANDIDATES) ends the sparse mode: the caller goes on
 * with the dense phases (lap_exact.c; seen on structured matrices such as rank one, never on
 * image-noise ones).
 *
 * Thread counts: the list builds and the certification passes are per-row work (a team when the
 * matrix is large); everything that decides the assignment runs on the calling thread in row
 * order, so the result does not depend on the thread count.
 */
#include <math.h>

#include "core/parallel.h"
#include "lap/lap.h"
#include "lap/lap_lists.h"

#define SPARSE_ARCS 24 /* cheapest columns per row at the start (< LAP_CANDIDATES) */
#define SPARSE_ROUNDS 16    /* certification passes before handing over to the dense phases */
#define ROWS_PER_CHUNK 32

/* Row status after a certification pass (kept in s->scanned, free between augmentations). */
enum { ROW_SKIPPED = 0, ROW_PROVED = 1, ROW_GAINED = 2, ROW_FULL = 3 };

static int team(const lap_state *s) {
    return s->n * s->n >= LAP_TEAM_CELLS ? s->threads : 1;
}

/* What the row passes read: the state, and its potentials with a float mirror. */
typedef struct {
    lap_state *s;
    lap_pots p;
} pass_job;

/* Row i's first arcs: its SPARSE_ARCS cheapest reduced costs and its diagonal. */
static void first_arcs(long row, int tid, void *arg) {
    (void)tid;
    const pass_job *job = arg;
    lap_state *s = job->s;
    const size_t i = (size_t)row, n = s->n, keep = n < SPARSE_ARCS ? n : SPARSE_ARCS;
    const float *ci = s->cost + i * n;
    lap_entry best[SPARSE_ARCS];
    imi_lap_smallest(s, &job->p, ci, keep, best);
    int32_t *lj = s->cand_j + i * s->cap;
    float *lc = s->cand_c + i * s->cap;
    bool diagonal = false;
    for (size_t t = 0; t < keep; t++) {
        lj[t] = best[t].j;
        lc[t] = ci[lj[t]];
        diagonal |= lj[t] == (int32_t)i;
    }
    size_t count = keep;
    if (!diagonal) { /* keep < n here, and cap > keep */
        lj[count] = (int32_t)i;
        lc[count++] = ci[i];
    }
    s->cand_n[i] = (int32_t)count;
}

void imi_lap_sparse_begin(lap_state *s) {
    const size_t n = s->n;
    pass_job job = {s, imi_lap_pots_mirror(s)};
    imi_parallel_for(team(s), (long)n, ROWS_PER_CHUNK, first_arcs, &job);
    s->scans += (int64_t)n;
    for (size_t j = 0; j < n; j++) {
        s->d[j] = INFINITY;
        s->win_k[j] = -1; /* heap positions (imi_lap_sparse_augment) */
        s->ucert[j] = -INFINITY;
    }
    s->sparse = true;
}

void imi_lap_sparse_end(lap_state *s) {
    s->sparse = false;
    for (size_t i = 0; i < s->rows; i++)
        s->cand_thr[i] = NAN; /* the dense lists start afresh */
}

/* The Dijkstra search's heap of reached, unscanned columns, ordered by d[j], then free columns
   first, then j: the same column wins as in the dense search (lap_exact.c, augment). pos[j]:
   index in heap, -1 when not reached, -2 once scanned. y does not change during a search. */
typedef struct {
    int32_t *heap, *pos;
    const double *d;
    const int32_t *y;
    size_t len;
} col_heap;

static inline bool heap_before(const col_heap *h, int32_t a, int32_t b) {
    if (h->d[a] != h->d[b])
        return h->d[a] < h->d[b];
    const bool fa = h->y[a] < 0, fb = h->y[b] < 0;
    return fa != fb ? fa : a < b;
}

static void heap_up(col_heap *h, size_t k) {
    const int32_t j = h->heap[k];
    while (k > 0) {
        const size_t p = (k - 1) / 2;
        const int32_t q = h->heap[p];
        if (!heap_before(h, j, q))
            break;
        h->heap[k] = q;
        h->pos[q] = (int32_t)k;
        k = p;
    }
    h->heap[k] = j;
    h->pos[j] = (int32_t)k;
}

static int32_t heap_pop(col_heap *h) {
    const int32_t top = h->heap[0];
    const int32_t last = h->heap[--h->len];
    size_t k = 0;
    for (;;) {
        size_t c = 2 * k + 1;
        if (c >= h->len)
            break;
        if (c + 1 < h->len && heap_before(h, h->heap[c + 1], h->heap[c]))
            c++;
        if (!heap_before(h, h->heap[c], last))
            break;
        h->heap[k] = h->heap[c];
        h->pos[h->heap[k]] = (int32_t)k;
        k = c;
    }
    if (h->len > 0) {
        h->heap[k] = last;
        h->pos[last] = (int32_t)k;
    }
    h->pos[top] = -2;
    return top;
}

bool imi_lap_sparse_augment(lap_state *s, int32_t f) {
    const size_t n = s->n;
    double *d = s->d, *v = s->v;
    int32_t *y = s->y, *x = s->x, *pred = s->pred, *scanned = s->scanned;
    col_heap h = {s->bid_col, s->win_k, d, y, 0};
    size_t nscan = 0;
    int32_t i = f, j = -1;
    double r = 0.0; /* as in the dense search (lap_exact.c) */
    bool found = false;
    for (;;) {
        const int32_t *lj = s->cand_j + (size_t)i * s->cap;
        const float *lc = s->cand_c + (size_t)i * s->cap;
        for (int32_t t = 0; t < s->cand_n[i]; t++) {
            const int32_t c = lj[t];
            if (h.pos[c] == -2)
                continue;
            const double dist = ((double)lc[t] - v[c]) - r;
            if (dist < d[c]) {
                d[c] = dist;
                pred[c] = i;
                if (h.pos[c] < 0) {
                    h.heap[h.len] = c;
                    h.pos[c] = (int32_t)h.len++;
                }
                heap_up(&h, (size_t)h.pos[c]);
            }
        }
        if (h.len == 0)
            break;
        j = heap_pop(&h);
        scanned[nscan++] = j;
        if (y[j] < 0) {
            found = true;
            break;
        }
        i = y[j];
        r = ((double)s->cost[(size_t)i * n + (size_t)j] - v[j]) - d[j];
    }
    if (found) {
        const double dmin = d[j]; /* never raise v: see lap_exact.c */
        for (size_t k = 0; k + 1 < nscan; k++)
            v[scanned[k]] += fmin(0.0, d[scanned[k]] - dmin);
        for (;;) {
            const int32_t row = pred[j];
            y[j] = row;
            const int32_t prev = x[row];
            x[row] = j;
            if (row == f)
                break;
            j = prev;
        }
    }
    for (size_t k = 0; k < nscan; k++) {
        d[scanned[k]] = INFINITY;
        h.pos[scanned[k]] = -1;
    }
    for (size_t k = 0; k < h.len; k++) {
        d[h.heap[k]] = INFINITY;
        h.pos[h.heap[k]] = -1;
    }
    return found;
}

/* Proves row i against the whole matrix, unless its u has not risen since its last proof.
   Columns with c - v < u become arcs (ROW_GAINED) or do not fit (ROW_FULL). An arc already in
   the list can show up only through rounding (the sparse phases keep arcs at c - v >= u): it
   is not a new arc. */
static void prove_row(long row, int tid, void *arg) {
    (void)tid;
    const pass_job *job = arg;
    lap_state *s = job->s;
    const size_t i = (size_t)row, n = s->n;
    const float *ci = s->cost + i * n;
    const int32_t j0 = s->x[i];
    const double u = (double)ci[j0] - s->v[j0];
    int32_t *status = s->scanned;
    if (!(u > s->ucert[i])) {
        status[i] = ROW_SKIPPED;
        return;
    }
    s->ucert[i] = u;
    double hb[LAP_CANDIDATES + 8];
    int32_t jb[LAP_CANDIDATES + 8];
    const size_t cnt = s->kern->filter(ci, &job->p, n, nextafter(u, -INFINITY), hb, jb, s->cap);
    if (cnt > s->cap) {
        status[i] = ROW_FULL;
        return;
    }
    int32_t *lj = s->cand_j + i * s->cap;
    float *lc = s->cand_c + i * s->cap;
    int32_t have = s->cand_n[i];
    const int32_t listed = have;
    for (size_t t = 0; t < cnt; t++) {
        bool known = false;
        for (int32_t q = 0; q < listed; q++)
            known |= lj[q] == jb[t];
        if (known)
            continue;
        if ((size_t)have == s->cap) {
            status[i] = ROW_FULL;
            return;
        }
        lj[have] = jb[t];
        lc[have++] = ci[jb[t]];
    }
    s->cand_n[i] = have;
    status[i] = have > listed ? ROW_GAINED : ROW_PROVED;
}

bool imi_lap_sparse_prove(lap_state *s) {
    const size_t n = s->n;
    int32_t *status = s->scanned;
    for (int round = 0; round < SPARSE_ROUNDS; round++) {
        s->rounds++;
        pass_job job = {s, imi_lap_pots_mirror(s)};
        imi_parallel_for(team(s), (long)n, ROWS_PER_CHUNK, prove_row, &job);
        size_t freed = 0;
        for (size_t i = 0; i < n; i++) {
            s->scans += status[i] != ROW_SKIPPED;
            if (status[i] == ROW_FULL)
                return false;
            if (status[i] == ROW_GAINED) {
                s->y[s->x[i]] = -1;
                s->x[i] = -1;
                freed++;
            }
        }
        if (freed == 0)
            return true;
        for (size_t i = 0; i < n; i++)
            if (s->x[i] < 0 && !imi_lap_sparse_augment(s, (int32_t)i))
                return false; /* impossible: the diagonal arcs form a complete assignment */
        s->augmentations += (int64_t)freed;
    }
    return false;
}
