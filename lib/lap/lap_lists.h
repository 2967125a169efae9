/* lap_lists.h - the row minima of the auction and the exact phases, from per-row candidate
 * lists where they decide them (lap_lists.c). */
#ifndef IMM_LAP_LISTS_H
#define IMM_LAP_LISTS_H

#include "lap/lap_state.h"

/* Smallest two reduced costs of row i (exactly what the dense kernel returns), from the row's
   candidate list when it decides them, else from a fresh list or the dense row. Touches only
   row i's list, so rows may be scanned in parallel. */
void imi_lap_row_min2(lap_state *s, size_t i, lap_min2 *m);

/* What an auction bid needs: the smallest reduced cost u1 of row i and its column j1 exactly (as
   imi_lap_row_min2), but u2 only as a lower bound of the second smallest, between u1 and it:
   when the list decides the minimum but not the runner-up, u2 is the list's threshold, which
   saves rebuilding the list. A bid with that u2 still leaves the row within eps of its
   minimum. */
void imi_lap_row_bid_min2(lap_state *s, size_t i, lap_min2 *m);

#endif
