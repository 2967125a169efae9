/* auction.h - the epsilon-scaling auction (auction.c): the auction solver, and the warm start of
 * the exact one. */
#ifndef IMM_LAP_AUCTION_H
#define IMM_LAP_AUCTION_H

#include <stdbool.h>
#include <stdint.h>

#include "lap/lap_state.h"

/* The first epsilon, as a share of imi_lap_spread(): large enough that the first phase settles
   the coarse structure in few bids, small enough that candidate lists survive it (0.25 cost
   ~25% more time at B = 4096 on image-noise costs, 0.04 about the same as 0.1). */
#define AUCTION_FIRST_EPS_SPREAD 0.1

/* Each phase's epsilon is the previous one's divided by this. */
#define AUCTION_EPS_DIVISOR 8.0

typedef struct {
    int64_t bids;
    int32_t phases;
    double eps; /* epsilon of the last phase */
    bool exhausted; /* a phase spent its bid budget */
} auction_stats;

/* Epsilon-scaling auction from the current v: phases with eps_first, eps_first / 8, ... down to
   eps_last (the last phase runs at eps_last exactly). Jacobi bidding: all free rows bid against
   the same prices, in parallel; the highest bid per column wins, ties to the earlier row, so the
   result does not depend on the thread count. Leaves x / y holding the last phase's assignment,
   complete unless a phase spent its bid budget. */
void imi_auction(lap_state *s, double eps_first, double eps_last, auction_stats *st);

/* The same phases with Gauss-Seidel bidding (the exact solver's warm start): each bid is settled
   at once and the row it evicts bids next; candidate lists are rebuilt in batches (auction.c).
   A phase may make bids_per_row * m bids (0: the default budget); the first phase that spends
   its budget is the last (st->exhausted). */
void imi_auction_serial(lap_state *s, double eps_first, double eps_last, int64_t bids_per_row,
                        auction_stats *st);

#endif
