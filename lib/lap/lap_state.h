/* lap_state.h - the state the auction and the exact solver share.
 *
 * A rows x cols problem with few extra columns (cols - rows <= cols / 8) is solved as the square
 * cols x cols problem whose extra "dummy" rows cost 0 everywhere: every optimal square assignment
 * gives an optimal rectangular one, and the square duals are a rectangular certificate (all
 * columns left to dummy rows share the largest potential). Identical dummy rows fight price wars
 * in the auction, so problems with more extra columns ("wide") start on their real rows only,
 * from v = 0: v then only decreases, and only on columns that stay assigned, so unassigned
 * columns keep the largest potential as they must. Measured on image-noise costs with 2048
 * columns: 1024 rows take 76 ms that way (1004 ms with dummies in the auction), 2000 rows 115 ms
 * with dummies (710 ms without); the switch sits near the crossing. Where the rows' cheapest
 * columns gather on a few columns (noise pools), a wide problem gets one auction phase on its
 * real rows and then becomes the square problem with dummy rows after all, the dummy rows
 * holding the columns the auction left free and never bidding (lap_exact.c, wide_warm_start).
 */
#ifndef IMM_LAP_STATE_H
#define IMM_LAP_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lap/lap_kernels.h"

typedef struct {
    const float *cost;  /* rows x cols, row stride cols */
    size_t rows, n;     /* real rows; n = cols */
    size_t m;           /* rows solved: n (dummy rows added) or rows (wide problems) */
    const float *zeros; /* n zeros: the cost row of every dummy row */
    const lap_kernels *kern;
    int threads;
    bool forbidden;    /* some cost is +Inf (a forbidden pair): no auction; see lap_exact.c */
    double cmin, cmax; /* smallest and largest cost, dummy zeros included */
    int32_t *x;        /* m: column of row i, or -1 */
    int32_t *y;        /* n: row of column j, or -1 */
    double *v;         /* n: column potentials (minus the auction's prices) */
    float *vf;         /* NULL, or imi_lap_float_mirror() while an auction phase bids in float */
    /* Candidate lists (real rows only): the LAP_CANDIDATES columns of smallest reduced cost when
       the list was built, with their costs, and a lower bound on the reduced cost of every other
       column. v never increases (auction, ARR and Dijkstra only lower it), so the bound stays
       valid, and a scan of the list gives the exact row minimum whenever it stays below it. */
    int32_t *cand_j;  /* rows x k */
    float *cand_c;    /* rows x k */
    double *cand_thr; /* rows; NaN = list not built yet */
    size_t k;         /* list length: min(LAP_CANDIDATES, n), or 0: dense scans only */
    size_t cap;       /* the lists' row stride: min(LAP_CANDIDATES, n) */
    /* Sparse mode (lap_sparse.c): the lists hold the arcs of a sparse problem instead, cand_n[i]
       of them for row i, and every row scan of the auction, ARR and Dijkstra looks at those
       arcs only. cand_n and ucert borrow scratch the sparse phases do not use (free2, sc). */
    bool sparse;
    int32_t *cand_n; /* rows: arcs of row i */
    double *ucert;   /* rows: u[i] when row i was last proved against the full matrix */
    int64_t scans;   /* dense row scans (reads of a whole cost row), for imm_lap_info.passes */
    bool long_arr;   /* a wide problem without ties: ARR gets the longer budget (lap_exact.c) */
    bool hub; /* a wide problem solved with dummy rows after its warm start (lap_exact.c): the
                 dummy rows hold the columns it left free and never bid in ARR */
    bool in_team;    /* row scans run on a team (the Jacobi auction): count them atomically */
    int64_t bids;          /* the exact solver's warm-start bids */
    int64_t augmentations; /* Dijkstra searches */
    int32_t rounds;        /* certification passes of the sparse mode */
    bool proved_sparse;    /* the sparse mode proved the result */
    double seconds[4];     /* wall time per phase (imm_lap_info.seconds) */
    double clock;          /* when the current phase began */
    /* scratch */
    double *d, *sc, *bid_val, *win_val;
    int32_t *pred, *scanned, *free_, *free2, *bid_col, *win_k;
} lap_state;

/* Bytes of workspace for a rows x cols problem, 0 on overflow. */
size_t imi_lap_state_bytes(size_t rows, size_t cols);

/* Carves the state out of `work` (imi_lap_state_bytes long, 8-byte aligned). */
void imi_lap_state_init(lap_state *s, const float *cost, size_t rows, size_t cols, int threads,
                        void *work);

static inline const float *lap_row(const lap_state *s, size_t i) {
    return i < s->rows ? s->cost + i * s->n : s->zeros;
}

#define LAP_CANDIDATES 32

/* The exact solver's sparse mode (lap_sparse.c), on a square state whose v holds the column
   means. imi_lap_sparse_begin() gives every row its first arcs and enters sparse mode; the
   caller then runs the warm start and imi_lap_finish_exact() on the arcs; imi_lap_sparse_prove()
   then proves the result on the full matrix, adding arcs and augmenting again until no reduced
   cost is below its row's. True: x, y, v are an optimal assignment and its certificate. False:
   it gave up (a row needs more arcs than its list holds); x, y are partial, v is still usable,
   and imi_lap_sparse_end() returns the state to the dense phases. */
void imi_lap_sparse_begin(lap_state *s);
bool imi_lap_sparse_prove(lap_state *s);
void imi_lap_sparse_end(lap_state *s);

/* Dijkstra augmentation from free row f on the sparse arcs (lap_sparse.c); false when no free
   column is reachable. */
bool imi_lap_sparse_augment(lap_state *s, int32_t f);

/* Wall-clock seconds (C11 timespec_get: informational only, never part of a result). */
static inline double imi_lap_now(void) {
    struct timespec t;
    timespec_get(&t, TIME_UTC);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Ends the current phase, charging its time to seconds[phase]. */
static inline void imi_lap_phase_end(lap_state *s, int phase) {
    const double now = imi_lap_now();
    s->seconds[phase] += now - s->clock;
    s->clock = now;
}

/* Passes over at least this many cells run on a team (imi_parallel_for); smaller ones on the
   calling thread. On the shared 2-core machines a region waits for whichever thread was
   preempted, up to a scheduler slice. Measured (image-noise, 2 threads, bench_lap medians, ms
   at B = 1024 / 2048 / 4096), teams from 2^18 cells (2^16 for rebuild batches) against 2^22
   (2^20): idle 3.5 / 15.4 / 53 against 4.5 / 17.0 / 58; one busy process beside them
   38 / 29-48 / 132-176 against 4.5 / 20-61 / 88-107. Robustness wins: a trainer's data
   loaders keep the cores busy. */
#define LAP_TEAM_CELLS ((size_t)1 << 22)
#define LAP_TEAM_REBUILD_CELLS ((size_t)1 << 20) /* a batch of list rebuilds (auction.c) */

/* One more dense row scan. */
static inline void imi_lap_count_scan(lap_state *s) {
    if (s->in_team)
        __atomic_fetch_add(&s->scans, 1, __ATOMIC_RELAXED);
    else
        s->scans++;
}

/* Empties the assignment and puts every row on the free list; returns m. */
size_t imi_lap_free_all(lap_state *s);

/* Sets v to the column means (dummy rows included; finite costs only when s->forbidden) and fills
   cmin / cmax (finite costs). Without s->forbidden, false when a column sum is not finite: the
   matrix holds a NaN or an infinity, and v is garbage (the solver's entry point then scans it
   for the precise status: one pass instead of two for valid matrices). */
bool imi_lap_column_means(lap_state *s);

/* Typical gap between a row's mean and its smallest reduced cost (first rows sampled). */
double imi_lap_spread(const lap_state *s);

/* Whether the costs are full of ties, exact or near: 16 real rows, evenly spaced, hold on
   average at least 6 columns within delta of their three smallest values (the smallest, the
   smallest beyond it + delta, and the next), delta = (mean - min) / (8 cols) of the row. Such
   matrices (small integers, {0, 1}, levels plus a small jitter, levels under a few distinct
   values) are solved from v = 0 without the warm start (lap_exact.c; docs/solver.md, "Exact
   ties"). Continuous costs hold 3-4 (image-noise 3.0, uniform 3.2, 1000 + 10 U(0, 1) 3.8 at
   B = 4096); integers in [0, 1000) at B = 1024 about 5 and keep the warm start (7 against 12
   ms from v = 0), those in [0, 100) 30 (52 against 8 ms). */
bool imi_lap_tied(const lap_state *s);

/* Whether the real rows' cheapest columns (under the current v) gather on few columns: at most
   half of up to 32 real rows, evenly spaced, have distinct ones. Measured with v = 0 on wide
   problems (256 x 512 ... 2048 x 4096) and 64 rows sampled: image-noise costs against a noise
   pool 8-15 distinct (a few noise rows of small norm are the nearest for every image), latent
   N(0, 1) pairs 51-58, uniform costs 60-63; 32 rows split those shapes the same way. */
bool imi_lap_minima_gather(const lap_state *s);

/* Potentials this far from zero, relative to the largest |cost|, would leave reduced costs c - v
   with too few correct digits for the exact phases (and overflow soon after). An auction with a
   valid accuracy stays far inside: its prices move by a few cost ranges per phase. */
#define LAP_V_BAND 0x1p10

/* Whether the exact phases can start from s->v: finite and within LAP_V_BAND max(|cmin|, |cmax|)
   of zero (cmin / cmax as set by imi_lap_column_means()). */
bool imi_lap_potentials_usable(const lap_state *s);

/* v rounded to float, written into bid_val's room (the Jacobi auction's scratch: free during the
   serial phases and between phases), or NULL when some |v_j| exceeds LAP_FLOAT_RANGE. The
   mirror holds until v changes (the serial phases update it with v). */
float *imi_lap_float_mirror(lap_state *s);

#endif
