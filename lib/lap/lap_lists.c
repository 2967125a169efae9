/* lap_lists.c - per-row candidate lists: the LAP_CANDIDATES columns of smallest reduced cost,
 * kept across row scans while they still decide the row's two minima (see lap_state.h).
 */
#include <math.h>
#include <string.h>

#include "core/parallel.h"
#include "lap/lap_lists.h"
#include "lap/lap_sort.h"

#define LIST_FILTER_CAP LAP_SELECT_MAX /* most columns a guessed cut-off may let through */
#define REBUILD_CHUNK 4

lap_pots imi_lap_pots(const lap_state *s) {
    return (lap_pots){s->v, s->vf, fmax(fabs(s->cmin), fabs(s->cmax))};
}

lap_pots imi_lap_pots_mirror(lap_state *s) {
    lap_pots p = imi_lap_pots(s);
    p.vf = imi_lap_float_mirror(s);
    return p;
}

/* The keep smallest (h, j) of row ci, sorted. A cut-off lets few columns through one cheap SIMD
   pass; only they are looked at. Any cut with at least keep columns below it gives the same
   entries. */
void imi_lap_smallest(const lap_state *s, const lap_pots *p, const float *ci, size_t keep,
                      lap_entry *out) {
    lap_entry buf[LIST_FILTER_CAP];
    const size_t n = s->n;
    const double cut = s->kern->cut(ci, p, n, keep);
    if (cut < INFINITY) {
        double hb[LIST_FILTER_CAP + 8];
        int32_t jb[LIST_FILTER_CAP + 8];
        size_t cnt = s->kern->filter(ci, p, n, cut, hb, jb, LIST_FILTER_CAP);
        if (cnt >= keep && cnt <= LIST_FILTER_CAP) {
            s->kern->select(hb, jb, cnt, keep, out);
            return;
        }
    }
    /* Short rows (or a cut that let too many through): the whole row, a chunk at a time. */
    size_t have = 0, j = 0;
    while (j < n) {
        size_t len = have;
        memcpy(buf, out, have * sizeof(lap_entry));
        for (; j < n && len < LIST_FILTER_CAP; j++)
            buf[len++] = (lap_entry){(double)ci[j] - p->v[j], (int32_t)j};
        have = len < keep ? len : keep;
        imi_lap_keep_smallest(buf, len, have, out);
    }
}

/* Rebuilds row i's list: its k + 1 smallest reduced costs; the largest of them becomes the
   threshold (every column outside the list is at least that), unless the list holds the row. */
static void build_list(lap_state *s, size_t i) {
    const float *ci = s->cost + i * s->n;
    const size_t keep = s->k < s->n ? s->k + 1 : s->k;
    lap_entry best[LAP_CANDIDATES + 1];
    const lap_pots p = imi_lap_pots(s);
    imi_lap_smallest(s, &p, ci, keep, best);
    s->cand_thr[i] = keep > s->k ? best[s->k].h : INFINITY;
    int32_t *lj = s->cand_j + i * s->cap;
    float *lc = s->cand_c + i * s->cap;
    for (size_t t = 0; t < s->k; t++) {
        lj[t] = best[t].j;
        lc[t] = ci[lj[t]];
    }
}

/* Two smallest over the first len entries of row i's list, by (value, column); for a bid, the
   runner-up's value only (list_bid_min2). */
static void list_min2(const lap_state *s, size_t i, size_t len, bool bid, lap_min2 *m) {
    (bid ? s->kern->list_bid_min2 : s->kern->list_min2)(s->cand_c + i * s->cap,
                                                        s->cand_j + i * s->cap, s->v, len, m);
}

/* A dense scan of row i (dummy rows are cheap: v is in cache, and they are not counted); in
   float while an auction phase bids in float, then for a bid (its kernel need not say which
   column is second: bid_f32). */
static void dense_min2(lap_state *s, size_t i, bool bid, lap_min2 *m) {
    if (s->vf != NULL)
        (bid ? s->kern->bid_f32 : s->kern->two_smallest_f32)(lap_row(s, i), s->vf, s->n, m);
    else
        s->kern->two_smallest(lap_row(s, i), s->v, s->n, m);
    if (i < s->rows)
        imi_lap_count_scan(s);
}

/* Whether row i's built list answers: exact (both minima below the threshold, so below every
   column outside the list) or, for a bid, the minimum below it (then no other column ties with
   it, and the runner-up is at least min(u2, threshold), which *m then holds). */
static bool list_answers(lap_state *s, size_t i, bool bid, lap_min2 *m) {
    list_min2(s, i, s->k, bid, m);
    if (!bid)
        return m->u2 < s->cand_thr[i];
    if (!(m->u1 < s->cand_thr[i]))
        return false;
    m->u2 = fmin(m->u2, s->cand_thr[i]);
    return true;
}

/* imi_lap_row_min2 (bid false) and imi_lap_row_bid_min2 (true). */
static void row_min2(lap_state *s, size_t i, bool bid, lap_min2 *m) {
    if (s->sparse) {
        list_min2(s, i, (size_t)s->cand_n[i], bid, m);
        return;
    }
    if (i >= s->rows || s->k < 2) {
        dense_min2(s, i, bid, m);
        return;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        if (attempt > 0 || isnan(s->cand_thr[i])) {
            build_list(s, i);
            imi_lap_count_scan(s);
        }
        if (list_answers(s, i, bid, m))
            return;
    }
    /* Ties at the threshold: only the dense scan knows the lowest index. */
    dense_min2(s, i, bid, m);
}

void imi_lap_row_min2(lap_state *s, size_t i, lap_min2 *m) { row_min2(s, i, false, m); }

void imi_lap_row_bid_min2(lap_state *s, size_t i, lap_min2 *m) { row_min2(s, i, true, m); }

bool imi_lap_list_bid_min2(lap_state *s, size_t i, lap_min2 *m) {
    return !isnan(s->cand_thr[i]) && list_answers(s, i, true, m);
}

typedef struct {
    lap_state *s;
    const int32_t *rows;
} rebuild_job;

static void rebuild_one(long t, int tid, void *arg) {
    (void)tid;
    const rebuild_job *job = arg;
    build_list(job->s, (size_t)job->rows[t]);
}

void imi_lap_rebuild_lists(lap_state *s, const int32_t *rows, size_t count) {
    rebuild_job job = {s, rows};
    const int threads = count * s->n >= LAP_TEAM_REBUILD_CELLS ? s->threads : 1;
    imi_parallel_for(threads, (long)count, REBUILD_CHUNK, rebuild_one, &job);
    s->scans += (int64_t)count;
}
