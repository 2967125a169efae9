/* parallel.h - how the library uses threads: how many, and how a team is started.
 *
 * Rules (the header's conventions 5 and 7 rely on them):
 *  - The thread count of a call is imi_threads(): opts->num_threads (or omp_get_max_threads() for
 *    0), clamped to what can run: at most omp_get_thread_limit() and omp_get_num_procs().
 *    Workspaces are sized for that count, never for the raw request.
 *  - A team is started only when the count is above 1 and the work is worth it; otherwise the
 *    work runs on the calling thread with no OpenMP construct at all, so that small problems
 *    never touch the OpenMP runtime (which allocates a team per region, and prints and exits
 *    when that fails).
 *  - Every thread of a team enters the library's floating-point environment (core/fpenv.h) on
 *    its way in and restores its own on its way out.
 *  - A region's bodies never use worksharing constructs or barriers outside the region that
 *    encloses them lexically: run on the calling thread, an orphaned construct would bind to a
 *    region of the caller's.
 */
#ifndef IMM_CORE_PARALLEL_H
#define IMM_CORE_PARALLEL_H

#include <immiscible.h>

/* The thread count for OpenMP num_threads clauses and per-thread workspaces: >= 1. */
int imi_threads(const imm_options *opts);

/* body(i, tid, arg) for every i in [0, count): on a team of `threads` threads (a dynamic schedule
   of `chunk` iterations; tid = omp_get_thread_num() < threads), or in order on the calling thread
   (tid 0) when threads < 2. The result must not depend on which thread runs which i. */
void imi_parallel_for(int threads, long count, long chunk, void (*body)(long i, int tid, void *arg),
                      void *arg);

#endif
