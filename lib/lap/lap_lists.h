/* lap_lists.h - the row minima of the auction and the exact phases, from per-row candidate
 * lists where they decide them (lap_lists.c). */
#ifndef IMM_LAP_LISTS_H
#define IMM_LAP_LISTS_H

#include "lap/lap_state.h"

/* Smallest two reduced costs of row i (exactly what the dense kernel returns), from the row's
   candidate list when it decides them, else from a fresh list or the dense row. Touches only
   row i's list, so rows may be scanned in parallel. */
void imi_lap_row_min2(lap_state *s, size_t i, lap_min2 *m);

#endif
