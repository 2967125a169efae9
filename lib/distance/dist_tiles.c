/* dist_tiles.c - the blocked, parallel part of a distance call.
 *
 * For each round of kpack dimensions (in order): the threads pack y's panels of the round into
 * the shared buffer; then each task (a block of x's micro-panels against a block of y's) packs
 * its rows of x and, block of kc by block (INT8: the whole round at once), runs the micro-kernel
 * over every MR x NR tile, storing (first block) or adding the dot products into out. After the
 * last block, the norms are summed and each row of out is turned into distances. Which thread runs a task, and the task sizes, change nothing: every
 * output goes through the same operations in the same order. Compiled without ISA flags.
 *
 * A kernel with per-thread state (AMX: the tile configuration) gets enter() / leave() around the
 * tiles of each task, on the thread that runs it: the caller's thread in the serial path, each
 * OpenMP worker in the parallel one. Nothing is assumed about a thread between tasks.
 */
#include <omp.h>
#include <string.h>

#include "core/fpenv.h"
#include "distance/dist_convert.h"
#include "distance/dist_plan.h"

/* A partial tile (at the right or bottom edge) went to `edge`: add its valid part to out the way
   the kernel would have (fp32 add, or int32 add for INT8). */
static void merge_edge(const dist_plan *p, const void *edge, size_t rows, size_t cols, float *c,
                       bool first) {
    const size_t NR = p->k->nr, m = p->m;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < cols; j++) {
            if (p->prec == IMM_PRECISION_INT8) {
                int32_t e = ((const int32_t *)edge)[r * NR + j], o;
                if (!first) {
                    memcpy(&o, c + r * m + j, sizeof o);
                    e = (int32_t)((uint32_t)e + (uint32_t)o);
                }
                memcpy(c + r * m + j, &e, sizeof e);
            } else {
                float e = ((const float *)edge)[r * NR + j];
                c[r * m + j] = first ? e : c[r * m + j] + e;
            }
        }
}

/* One task: rows [i0, i0 + rows) of x against rows [j0, j0 + cols) of y, over the round of
   dimensions [k0, k0 + kb): each block of kc in it, in order. */
static void run_task(const dist_plan *p, size_t i0, size_t rows, size_t j0, size_t cols, size_t k0,
                     size_t kb, const float *x, int tid, float *out) {
    const dist_kernel *k = p->k;
    const size_t MR = k->mr, NR = k->nr, m = p->m;
    const size_t kp = (kb + p->group - 1) / p->group * p->group; /* packed dimensions */
    const size_t apanel = MR * kp * p->elem, bpanel = NR * kp * p->elem;
    void *edge = (unsigned char *)p->edge + (size_t)tid * MR * NR * 4;
    const size_t nir = (rows + MR - 1) / MR, njr = (cols + NR - 1) / NR;
    const unsigned char *a;
    size_t astride = apanel; /* from one x panel to the next */
    if (p->xprepacked) { /* the pre-pass packed x's panels, all dimensions: this round's part */
        astride = MR * ((p->dim + p->group - 1) / p->group * p->group) * p->elem;
        a = p->xpacked + i0 / MR * astride + k0 * MR * p->elem;
    } else {
        unsigned char *mine = p->ablock + (size_t)tid * p->mc * p->kpack * p->elem;
        void *scratch = p->scratch + (size_t)tid * DIST_PACK_SCRATCH;
        for (size_t ir = 0; ir < nir; ir++)
            k->pack(p, false, i0 + ir * MR, x, k0, kb, mine + ir * apanel, scratch);
        a = mine;
    }
    if (k->enter != NULL) /* per-thread kernel state (AMX tile configuration) */
        k->enter();
    /* INT8 sums are exact in any order: one pass over the round's dimensions per tile, so each
       round reads and writes out once. FP32 / BF16 blocks are the arithmetic (kc). */
    const size_t blk = dist_store_int(k->store) ? kp : p->kc;
    for (size_t s0 = 0; s0 < kp; s0 += blk) {
        const size_t ks = kp - s0 < blk ? kp - s0 : blk;
        const bool first = k0 + s0 == 0;
        for (size_t jr = 0; jr < njr; jr++) {
            const unsigned char *b = p->bblock + (j0 / NR + jr) * bpanel + s0 * NR * p->elem;
            const size_t jc = j0 + jr * NR, cw = cols - jr * NR < NR ? cols - jr * NR : NR;
            for (size_t ir = 0; ir < nir; ir++) {
                const unsigned char *ai = a + ir * astride + s0 * MR * p->elem;
                const size_t ic = i0 + ir * MR, rh = rows - ir * MR < MR ? rows - ir * MR : MR;
                float *c = out + ic * m + jc;
                if (rh == MR && cw == NR) {
                    k->tile(ai, b, ks, c, m, first);
                } else {
                    k->tile(ai, b, ks, edge, NR, 1);
                    merge_edge(p, edge, rh, cw, c, first);
                }
            }
        }
    }
    if (k->leave != NULL)
        k->leave();
}

/* The steps of a round, and the finish: each runs the same way on any thread. */
static void pack_y(const dist_plan *p, long jp, const float *y, size_t k0, size_t kb, int tid) {
    const size_t NR = p->k->nr, kp = (kb + p->group - 1) / p->group * p->group;
    p->k->pack(p, true, (size_t)jp * NR, y, k0, kb, p->bblock + (size_t)jp * NR * kp * p->elem,
               p->scratch + (size_t)tid * DIST_PACK_SCRATCH);
}

/* Task t: block t / njb of x's micro-panels against block t % njb of y's, each block taking its
   share of the panels (the shares differ by at most one panel). */
static void task(const dist_plan *p, long t, const float *x, size_t k0, size_t kb, int tid,
                 float *out) {
    const size_t MR = p->k->mr, NR = p->k->nr;
    const size_t xpanels = (p->n + MR - 1) / MR, ypanels = p->ypanels;
    const size_t ib = (size_t)t / p->njb, jb = (size_t)t % p->njb;
    const size_t i0 = ib * xpanels / p->nib * MR, i1 = (ib + 1) * xpanels / p->nib * MR;
    const size_t j0 = jb * ypanels / p->njb * NR, j1 = (jb + 1) * ypanels / p->njb * NR;
    run_task(p, i0, (i1 < p->n ? i1 : p->n) - i0, j0, (j1 < p->m ? j1 : p->m) - j0, k0, kb, x,
             tid, out);
}

void imi_dist_run(dist_plan *p, const float *x, const float *y, float *out) {
    const size_t n = p->n, m = p->m;
    const long tasks = (long)(p->nib * p->njb), ypanels = (long)p->ypanels;
    /* Below ~0.1 ms of work a team costs more than it saves: the calling thread does it all. */
    const bool big = (double)n * (double)m * (double)p->dim > 2e7;
    if (!big || p->threads < 2) {
        for (size_t k0 = 0; k0 < p->dim; k0 += p->kpack) {
            const size_t kb = p->dim - k0 < p->kpack ? p->dim - k0 : p->kpack;
            for (long jp = 0; jp < (p->yprepacked ? 0 : ypanels); jp++)
                pack_y(p, jp, y, k0, kb, 0);
            for (long t = 0; t < tasks; t++)
                task(p, t, x, k0, kb, 0, out);
        }
        p->k->finish(p, 0, n, x, y, out);
        return;
    }
    /* One team for the whole call: two barriers per round and one at the end; dynamic schedules
       everywhere, so that a thread the OS has descheduled holds as little of the work as
       possible. */
#pragma omp parallel num_threads(p->threads)
    {
        imi_fpenv fe;
        imi_fpenv_enter(&fe);
        const int tid = omp_get_thread_num();
        for (size_t k0 = 0; k0 < p->dim; k0 += p->kpack) {
            const size_t kb = p->dim - k0 < p->kpack ? p->dim - k0 : p->kpack;
#pragma omp for schedule(dynamic, 1)
            for (long jp = 0; jp < (p->yprepacked ? 0 : ypanels); jp++)
                pack_y(p, jp, y, k0, kb, tid);
#pragma omp for schedule(dynamic, 1)
            for (long t = 0; t < tasks; t++)
                task(p, t, x, k0, kb, tid, out);
        }
#pragma omp for schedule(dynamic, 4)
        for (long i = 0; i < (long)n; i++)
            p->k->finish(p, (size_t)i, (size_t)i + 1, x, y, out);
        imi_fpenv_leave(&fe);
    }
}
