/* mpi_internal.h - the MPI layer's context and the helpers its files share. */
#ifndef IMM_MPI_INTERNAL_H
#define IMM_MPI_INTERNAL_H

#include <immiscible_mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/errors.h" /* RETURN_ERROR_IF, FORWARD_IF_ERROR: the core's */

/* The rank that gathers the distance columns and solves. */
#define MPI_SOLVER_RANK 0

/* One grow-only buffer: its contents are not kept when it grows. */
typedef struct {
    void *ptr;
    size_t cap;
} mpi_buffer;

struct imm_mpi_ctx {
    MPI_Comm comm; /* the caller's communicator, duplicated */
    int rank, size;
    imm_options opts;
    imm_ctx *core; /* the core library's context for distances and the solve (created at the
                      first call, once the options are known to be valid) */

    /* Per-call layout, the same on every rank: local_batch and first global row per rank. */
    uint64_t *records;      /* size x MPI_RECORD_WORDS, from the argument allgather */
    size_t *count, *offset; /* size, size + 1 */
    size_t batch;           /* the global batch */

    /* size ints each: counts and displacements of the collectives, cursors. */
    int *scount, *sdispl, *rcount, *rdispl, *cursor;
    MPI_Datatype *stype, *rtype; /* size each: the per-peer types of MPI_Alltoallw */

    /* MPI datatypes, rebuilt only when the sizes they describe change. */
    MPI_Datatype row_type;  /* dim floats */
    size_t row_dim;         /* 0: none */
    MPI_Datatype brow_type; /* n floats: one row of this rank's distance block */
    size_t brow_n;          /* 0: none */
    MPI_Datatype rec_type;  /* 3 int32: a scatter record */
    MPI_Datatype *col_type; /* solver rank: rank r's columns inside the B x B matrix */
    size_t *col_key;        /* size + 1: the batch and counts col_type was built for */
    bool col_valid;

    /* Grow-only buffers (see the header's memory note). */
    mpi_buffer x_all;     /* B x dim images */
    mpi_buffer block;     /* B x n distance block; the B x B matrix on the solver rank */
    mpi_buffer send_rows; /* n x dim */
    mpi_buffer recv_rows; /* n x dim */
    mpi_buffer recs;      /* solver rank: (B + size) records; elsewhere (n + 1) */
    mpi_buffer assign;    /* solver rank: B int32 */
    mpi_buffer noise_all; /* solver rank, prescaled path only: B x dim */

    imm_mpi_step_stats stats;
};

#define MPI_RECORD_WORDS 4 /* status, local_batch, dim, reserved */

/* Grows *b to at least `bytes` (contents lost). False on allocation failure. */
bool imm_mpi_grow(mpi_buffer *b, size_t bytes);

/* Builds (or keeps) the datatypes a call with this layout needs. IMM_OK or IMM_ERR_NOMEM. */
int imm_mpi_types(imm_mpi_ctx *ctx, size_t dim);

/* The rank owning global row g (binary search in ctx->offset). */
int imm_mpi_owner(const imm_mpi_ctx *ctx, size_t g);

/* *out = a * b, or false when the product overflows size_t. */
static inline bool imm_mpi_mul(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

/* True when [a, a + abytes) and [b, b + bbytes) share a byte (empty ranges share none). */
static inline bool imm_mpi_overlap(const void *a, size_t abytes, const void *b, size_t bbytes) {
    const uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    return abytes != 0 && bbytes != 0 && a != NULL && b != NULL && pa < pb + bbytes &&
           pb < pa + abytes;
}

/* IMM_OK when MPI can be used (initialised, not finalised) and comm is not MPI_COMM_NULL. */
int imm_mpi_usable(MPI_Comm comm);

#endif
