/*
 * immiscible_mpi.h - global-batch noise assignment across MPI processes (library immiscible_mpi).
 *
 * A data-parallel trainer holds a slice of the global batch on every rank. These calls assign the
 * noise over the GLOBAL batch, as the Immiscible Diffusion reference does (it gathers every GPU's
 * latents and noise and solves the whole problem on one rank), and give every rank its own rows
 * of the result: bitwise the rows imm_assign_noise() gives on the concatenated batch.
 *
 * The style is FFTW's MPI interface: every rank calls the same function, collectively, with the
 * same global parameters; an error found on one rank is agreed on by all (an MPI_Allreduce of
 * the status) before anything the caller passed in is written.
 *
 * Two levels, as in immiscible.h: a one-shot imm_mpi_assign_noise(), and a context
 * (imm_mpi_ctx_*) bound to a communicator that keeps its buffers across steps.
 *
 * Conventions (in addition to those of immiscible.h, which hold here too):
 *   1. The global batch is the concatenation, in rank order of the communicator, of every
 *      rank's local_batch rows. Ranks may hold different numbers of rows, 0 included.
 *      imm_mpi_batch_layout() says where a rank's rows start.
 *   2. Collective: every rank of the communicator must make the call, in the same order as its
 *      other collective calls on that communicator. A call returns the same status on every
 *      rank; on an error no rank's noise or perm has been modified and no rank waits forever.
 *   3. What must agree across ranks: dim (ranks with no rows included), and the options that
 *      define the result: solver, precision, metric, accuracy and exact_finish (compared field
 *      by field; num_threads may differ, results never depend on it). A mismatch is
 *      IMM_ERR_INVALID_ARG on every rank. local_batch and the buffers are per rank.
 *   4. Statuses: the arguments are agreed first (argument errors of any rank, a mismatched dim
 *      or options, a global problem too large for imm_assign_noise: INVALID_ARG / TOO_LARGE),
 *      then the memory and the data (NOMEM, NONFINITE), then the distances (NONFINITE when one
 *      overflows float) and the solve. At each step the status returned everywhere is the lowest
 *      (most negative) imm_status any rank found. Apart from NOMEM, which depends on each
 *      machine's memory, that is the status imm_assign_noise() returns on the concatenated
 *      batch.
 *   5. Local errors that cannot be agreed on: a NULL context or MPI_COMM_NULL, or MPI not
 *      initialised, are IMM_ERR_INVALID_ARG at once on the rank that has them (it cannot reach
 *      the others). Errors reported by MPI itself follow the communicator's error handler
 *      (MPI_ERRORS_ARE_FATAL by default); the library installs none.
 *   6. Thread safety: as MPI allows. Calls on one context must not run concurrently. The
 *      library never calls MPI_Init or MPI_Finalize.
 *
 * How the work is split (normal case; R ranks, global batch B, rank r holds n_r rows of D
 * floats, the solving rank is rank 0):
 *   a. every rank gathers all images (MPI_Allgatherv of x) and computes, with imm_distance(), the
 *      distance COLUMNS of its own noise rows: a B x n_r block. The distance of an image to a
 *      noise row depends on those two rows only, so the block holds exactly the entries of the
 *      single-process B x B matrix;
 *   b. the blocks go to rank 0 (one MPI_Alltoallw that writes them straight into the columns
 *      of the B x B matrix), which solves it with imm_lap_solve() and the same options: what
 *      imm_assign_noise() does with its own matrix;
 *   c. rank 0 scatters (MPI_Scatterv) to each rank the global noise index of each of its images
 *      and the list of its noise rows to send, in destination order;
 *   d. one MPI_Alltoallv moves each noise row from its owner to the rank whose image received
 *      it: a rank receives exactly the rows it needs (only rows that move to another rank cross
 *      the network; a row that stays is copied locally by MPI).
 *   Exception: when the power-of-two prescale of imm_distance() (its note 4: FP32 and BF16,
 *   max|v| sqrt(dim) above 2^60) could apply, the distances depend on the whole batch's largest
 *   value. Then (detected from an MPI_Allreduce of max|v|, conservatively from 2^59) rank 0
 *   gathers x and noise (MPI_Gatherv), runs imm_assign_noise() on the whole batch, and scatters
 *   the rows back. Such values (|v| around 1e16 at D = 3072) do not occur in diffusion training.
 *
 * Bytes moved per call, normal case (payload, 4-byte floats; small agreement messages of
 * 64 R + 16 bytes per rank aside):
 *   rank r sends    4 n_r D      to each other rank (images, allgather)
 *                 + 4 B n_r      to rank 0 (distance columns; rank 0 keeps its own)
 *                 + <= 4 n_r D   (its noise rows that go to other ranks)
 *   rank r receives 4 (B - n_r) D (the other ranks' images)
 *                 + 12 (n_r + 1) (its perm and its send list, from rank 0)
 *                 + <= 4 n_r D   (the noise rows its images received from other ranks)
 *   rank 0 also receives 4 B (B - n_0) (the distance columns) and sends 12 (B - n_0 + R - 1).
 *   So every rank receives about one global batch of images (4 B D bytes) and at most its own
 *   share of noise; rank 0 receives the B x B matrix.
 *
 * Memory (held by a context, grown to the largest call, reused):
 *   every rank: 4 B D (all images) + 8 n_r D (noise send / receive rows) + 4 B n_r (its distance
 *               block; not on rank 0, which computes into the matrix) + 12 n_r + O(R);
 *   rank 0:     + 4 B^2 (the distance matrix) + 16 B + 12 R (assignment, scatter records);
 *   plus a core context (imm_ctx_distance(), imm_ctx_lap_solve()) holding the larger of the
 *   distance workspace (imm_distance note 7) and, on rank 0, the solver's (imm_lap_solve note 5:
 *   76 B + 8 (1 + min(32, B)) B bytes), also grown once and reused. In the prescaled case rank
 *   0 also holds 4 B D more (the whole noise), and imm_assign_noise() its own workspace.
 */
#ifndef IMMISCIBLE_MPI_H
#define IMMISCIBLE_MPI_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "immiscible.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(IMM_STATIC_DEFINE)
#define IMM_MPI_API
#elif defined(_WIN32)
#if defined(IMM_MPI_BUILDING)
#define IMM_MPI_API __declspec(dllexport)
#else
#define IMM_MPI_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#define IMM_MPI_API __attribute__((visibility("default")))
#else
#define IMM_MPI_API
#endif

/*! imm_mpi_assign_noise() :
 *  Collective over comm. Reorders the global batch's noise rows as imm_assign_noise() does on the
 *  concatenation (in rank order) of every rank's rows, and leaves on each rank its own rows of
 *  the result: afterwards this rank's noise[i] is bitwise the row imm_assign_noise() puts at
 *  global row offset + i (offset: imm_mpi_batch_layout()).
 *  @param comm        an intracommunicator; rank 0 solves.
 *  @param x           local_batch x dim image rows (read only).
 *  @param noise       local_batch x dim noise rows, replaced by this rank's assigned rows.
 *  @param local_batch this rank's rows (0 allowed: x, noise, perm may then be NULL).
 *  @param dim         row length; the same on every rank (convention 3).
 *  @param opts        NULL (defaults) or options, agreeing across ranks (convention 3).
 *  @param perm        out (may be NULL): local_batch int32, the GLOBAL noise index that each local
 *                     image received (global noise row = the rank's offset + local row).
 *  @return on every rank the same: IMM_OK, IMM_ERR_INVALID_ARG (NULL data with local_batch > 0,
 *          overlapping buffers, dim or options differing between ranks, dim == 0 with a
 *          non-empty global batch, bad options), IMM_ERR_TOO_LARGE (the global problem, as
 *          imm_assign_noise would report it; also local_batch or dim above INT_MAX, MPI's
 *          count limit), IMM_ERR_NONFINITE (NaN / Inf on any rank, a value outside the
 *          precision's range, a distance overflowing float), IMM_ERR_NOMEM (on any rank).
 *  Notes: 1. A global batch of 0 rows is valid and does nothing.
 *         2. The one-shot call duplicates comm (MPI_Comm_dup) for its messages and frees the
 *            copy, and allocates its buffers, on every call; a context does both once.
 *         3. Traffic and memory: see the introduction of this header. */
IMM_MPI_API IMM_NODISCARD int imm_mpi_assign_noise(MPI_Comm comm, const float *x, float *noise,
                                                   size_t local_batch, size_t dim,
                                                   const imm_options *opts, int32_t *perm);

/*! imm_mpi_batch_layout() :
 *  Collective over comm: where this rank's rows sit in the global batch.
 *  @param offset       out (may be NULL): global index of this rank's first row (the sum of the
 *                      local_batch of the lower ranks).
 *  @param global_batch out (may be NULL): the sum over all ranks.
 *  @return IMM_OK, IMM_ERR_INVALID_ARG (MPI_COMM_NULL or MPI not initialised: local),
 *          IMM_ERR_TOO_LARGE (the sum overflows size_t; on every rank). */
IMM_MPI_API IMM_NODISCARD int imm_mpi_batch_layout(MPI_Comm comm, size_t local_batch,
                                                   size_t *offset, size_t *global_batch);

/*-*********************************************************************************************
 *  Context
 ***********************************************************************************************/

typedef struct imm_mpi_ctx imm_mpi_ctx;

/*! imm_mpi_ctx_create() :
 *  Collective over comm. Creates a context holding a duplicate of comm (its messages never mix
 *  with the caller's) and a copy of *opts (NULL = defaults); buffers come with the first call.
 *  @return the same status on every rank: IMM_OK (and *ctx), IMM_ERR_INVALID_ARG (bad options on
 *          any rank, or options that differ between ranks: convention 3), IMM_ERR_NOMEM.
 *          ctx == NULL, MPI_COMM_NULL or MPI not initialised are local IMM_ERR_INVALID_ARG
 *          (convention 5). On error *ctx is untouched and nothing is left allocated. */
IMM_MPI_API IMM_NODISCARD int imm_mpi_ctx_create(imm_mpi_ctx **ctx, MPI_Comm comm,
                                                 const imm_options *opts);

/*! imm_mpi_ctx_free() :
 *  Collective over the context's communicator (it frees the duplicate): every rank frees its
 *  context, or none. NULL is a no-op. */
IMM_MPI_API void imm_mpi_ctx_free(imm_mpi_ctx *ctx);

/*! imm_mpi_ctx_assign_noise() :
 *  imm_mpi_assign_noise() on the context's communicator with its options: the same result,
 *  bitwise. Its buffers grow to the largest global batch, local batch and dim seen and are
 *  reused: once warm, the library allocates nothing (MPI datatypes included, which are rebuilt
 *  only when the sizes change; the distances and the solve run on a core context); MPI may
 *  allocate internally.
 *  Collective; not safe to call concurrently on one context. */
IMM_MPI_API IMM_NODISCARD int imm_mpi_ctx_assign_noise(imm_mpi_ctx *ctx, const float *x,
                                                       float *noise, size_t local_batch, size_t dim,
                                                       int32_t *perm);

/*! imm_mpi_step_stats : what the last call of a context moved and how long each phase took on
 *  this rank (for benchmarks; seconds of MPI_Wtime, bytes of payload as this rank's buffers
 *  see them). A phase a rank takes no part in reads 0. */
typedef struct imm_mpi_step_stats {
    double agree_s;    /* argument and data agreement (two small collectives) */
    double images_s;   /* MPI_Allgatherv of the images */
    double distance_s; /* imm_distance() of the local block, and the status agreement */
    double gather_s;   /* the distance columns to rank 0 */
    double solve_s;    /* imm_lap_solve() on rank 0 (0 elsewhere) */
    double scatter_s;  /* scatter of the permutation records */
    double exchange_s; /* MPI_Alltoallv of the noise rows, and the final copy */
    uint64_t bytes_sent;
    uint64_t bytes_received;
    int32_t fallback; /* 1 when the call took the prescaled path (whole problem on rank 0) */
    int32_t reserved_;
} imm_mpi_step_stats;

/*! imm_mpi_ctx_last_stats() :
 *  Local (not collective). @return IMM_OK and *stats, or IMM_ERR_INVALID_ARG (NULL). */
IMM_MPI_API IMM_NODISCARD int imm_mpi_ctx_last_stats(const imm_mpi_ctx *ctx,
                                                     imm_mpi_step_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* IMMISCIBLE_MPI_H */
