/* lap_lists.h - the row minima of the auction and the exact phases, from per-row candidate
 * lists where they decide them (lap_lists.c). */
#ifndef IMM_LAP_LISTS_H
#define IMM_LAP_LISTS_H

#include "lap/lap_sort.h"
#include "lap/lap_state.h"

/* The keep smallest (c[j] - v[j], j) of the cost row ci, sorted by (value, column), v being
   p->v (p->vf, when set, only speeds the scan up); keep <= LAP_CANDIDATES + 1 and keep <= n.
   Reads only ci and p: rows may be done in parallel. */
void imi_lap_smallest(const lap_state *s, const lap_pots *p, const float *ci, size_t keep,
                      lap_entry *out);

/* s->v as the row scans' potentials, with s->vf (the auction's float mirror, or NULL). */
lap_pots imi_lap_pots(const lap_state *s);

/* The same with a fresh float mirror of v (imi_lap_float_mirror; outside the auction's phases):
   for passes over many rows while v stays put. */
lap_pots imi_lap_pots_mirror(lap_state *s);

/* Smallest two reduced costs of row i (exactly what the dense kernel returns), from the row's
   candidate list when it decides them, else from a fresh list or the dense row. Touches only
   row i's list, so rows may be scanned in parallel. */
void imi_lap_row_min2(lap_state *s, size_t i, lap_min2 *m);

/* What an auction bid needs: the smallest reduced cost u1 of row i and its column j1 exactly (as
   imi_lap_row_min2), but u2 only as a lower bound of the second smallest, between u1 and it:
   when the list decides the minimum but not the runner-up, u2 is the list's threshold, which
   saves rebuilding the list. A bid with that u2 still leaves the row within eps of its
   minimum. j2 only says whether a second column exists (>= 0), not which it is. */
void imi_lap_row_bid_min2(lap_state *s, size_t i, lap_min2 *m);

/* The bid minima of real row i (lists in use, s->k >= 2) from its list alone: false, with *m
   undefined, when the list must be rebuilt first (never built, or no longer deciding the
   minimum). Never reads the dense row. */
bool imi_lap_list_bid_min2(lap_state *s, size_t i, lap_min2 *m);

/* Rebuilds the lists of real rows rows[0..count), on a team when there is enough to read: each
   list depends on its row and v only, so the result does not depend on the thread count. */
void imi_lap_rebuild_lists(lap_state *s, const int32_t *rows, size_t count);

#endif
