/* mpi_context.c - the MPI context: creation (options agreed by every rank), buffers, datatypes,
 * and the small local-size helper.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_internal.h"

int imm_mpi_usable(MPI_Comm comm) {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    RETURN_ERROR_IF(!initialized || finalized || comm == MPI_COMM_NULL, IMM_ERR_INVALID_ARG);
    return IMM_OK;
}

bool imm_mpi_grow(mpi_buffer *b, size_t bytes) {
    if (bytes <= b->cap)
        return true;
    free(b->ptr);
    b->ptr = malloc(bytes);
    b->cap = b->ptr != NULL ? bytes : 0;
    return b->ptr != NULL;
}

int imm_mpi_owner(const imm_mpi_ctx *ctx, size_t g) {
    int lo = 0, hi = ctx->size - 1; /* the last rank r with offset[r] <= g and rows to own */
    while (lo < hi) {
        const int mid = lo + (hi - lo + 1) / 2;
        if (ctx->offset[mid] <= g)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

static void free_type(MPI_Datatype *t) {
    if (*t != MPI_DATATYPE_NULL)
        MPI_Type_free(t);
    *t = MPI_DATATYPE_NULL;
}

static int contiguous(size_t n, MPI_Datatype *t) {
    free_type(t);
    RETURN_ERROR_IF(MPI_Type_contiguous((int)n, MPI_FLOAT, t) != MPI_SUCCESS, IMM_ERR_NOMEM);
    if (MPI_Type_commit(t) != MPI_SUCCESS) {
        free_type(t);
        return IMM_ERR_NOMEM;
    }
    return IMM_OK;
}

/* Rank r's columns of the B x B matrix: B runs of count[r] floats, B apart, starting at column
   offset[r] (the offset is part of the type: MPI_Alltoallw's displacements are int bytes). */
static int column_type(const imm_mpi_ctx *ctx, int r, MPI_Datatype *t) {
    MPI_Datatype vec;
    const size_t b = ctx->batch;
    if (MPI_Type_vector((int)b, (int)ctx->count[r], (int)b, MPI_FLOAT, &vec) != MPI_SUCCESS)
        return IMM_ERR_NOMEM;
    int one = 1;
    MPI_Aint disp = (MPI_Aint)(ctx->offset[r] * sizeof(float));
    int rc = MPI_Type_create_struct(1, &one, &disp, &vec, t);
    MPI_Type_free(&vec);
    RETURN_ERROR_IF(rc != MPI_SUCCESS, IMM_ERR_NOMEM);
    if (MPI_Type_commit(t) != MPI_SUCCESS) {
        free_type(t);
        return IMM_ERR_NOMEM;
    }
    return IMM_OK;
}

int imm_mpi_types(imm_mpi_ctx *ctx, size_t dim) {
    const size_t n = ctx->count[ctx->rank];
    if (dim != ctx->row_dim) {
        ctx->row_dim = 0;
        FORWARD_IF_ERROR(contiguous(dim, &ctx->row_type));
        ctx->row_dim = dim;
    }
    if (n > 0 && n != ctx->brow_n) {
        ctx->brow_n = 0;
        FORWARD_IF_ERROR(contiguous(n, &ctx->brow_type));
        ctx->brow_n = n;
    }
    if (ctx->rank != MPI_SOLVER_RANK)
        return IMM_OK;
    /* The column types depend on the batch and on every rank's count. */
    bool same = ctx->col_valid && ctx->col_key[ctx->size] == ctx->batch;
    for (int r = 0; same && r < ctx->size; r++)
        same = ctx->col_key[r] == ctx->count[r];
    if (same)
        return IMM_OK;
    ctx->col_valid = false;
    for (int r = 0; r < ctx->size; r++) {
        free_type(&ctx->col_type[r]);
        if (r != MPI_SOLVER_RANK && ctx->count[r] > 0)
            FORWARD_IF_ERROR(column_type(ctx, r, &ctx->col_type[r]));
        ctx->col_key[r] = ctx->count[r];
    }
    ctx->col_key[ctx->size] = ctx->batch;
    ctx->col_valid = true;
    return IMM_OK;
}

static void release(imm_mpi_ctx *ctx) {
    if (ctx == NULL)
        return;
    free_type(&ctx->row_type);
    free_type(&ctx->brow_type);
    free_type(&ctx->rec_type);
    if (ctx->col_type != NULL)
        for (int r = 0; r < ctx->size; r++)
            free_type(&ctx->col_type[r]);
    mpi_buffer *bufs[] = {&ctx->x_all, &ctx->block,  &ctx->send_rows, &ctx->recv_rows,
                          &ctx->recs,  &ctx->assign, &ctx->noise_all};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]->ptr);
    imm_ctx_free(ctx->core);
    free(ctx->records);
    free(ctx->count);
    free(ctx->offset);
    free(ctx->scount);
    free(ctx->sdispl);
    free(ctx->rcount);
    free(ctx->rdispl);
    free(ctx->cursor);
    free(ctx->stype);
    free(ctx->rtype);
    free(ctx->col_type);
    free(ctx->col_key);
    free(ctx);
}

/* The context without its communicator, for `size` ranks; NULL on allocation failure. */
static imm_mpi_ctx *allocate(int size, const imm_options *opts) {
    imm_mpi_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL)
        return NULL;
    const size_t n = (size_t)size;
    ctx->size = size;
    ctx->row_type = ctx->brow_type = ctx->rec_type = MPI_DATATYPE_NULL;
    ctx->records = malloc(n * MPI_RECORD_WORDS * sizeof(uint64_t));
    ctx->count = malloc(n * sizeof(size_t));
    ctx->offset = malloc((n + 1) * sizeof(size_t));
    ctx->col_key = malloc((n + 1) * sizeof(size_t));
    ctx->scount = malloc(n * sizeof(int));
    ctx->sdispl = malloc(n * sizeof(int));
    ctx->rcount = malloc(n * sizeof(int));
    ctx->rdispl = malloc(n * sizeof(int));
    ctx->cursor = malloc(n * sizeof(int));
    ctx->stype = malloc(n * sizeof(MPI_Datatype));
    ctx->rtype = malloc(n * sizeof(MPI_Datatype));
    ctx->col_type = malloc(n * sizeof(MPI_Datatype));
    if (ctx->records == NULL || ctx->count == NULL || ctx->offset == NULL || ctx->col_key == NULL ||
        ctx->scount == NULL || ctx->sdispl == NULL || ctx->rcount == NULL || ctx->rdispl == NULL ||
        ctx->cursor == NULL || ctx->stype == NULL || ctx->rtype == NULL || ctx->col_type == NULL) {
        if (ctx->col_type != NULL)
            for (int r = 0; r < size; r++)
                ctx->col_type[r] = MPI_DATATYPE_NULL;
        release(ctx);
        return NULL;
    }
    for (int r = 0; r < size; r++)
        ctx->col_type[r] = MPI_DATATYPE_NULL;
    if (MPI_Type_contiguous(3, MPI_INT32_T, &ctx->rec_type) != MPI_SUCCESS ||
        MPI_Type_commit(&ctx->rec_type) != MPI_SUCCESS) {
        release(ctx);
        return NULL;
    }
    imm_options_init(&ctx->opts);
    if (opts != NULL)
        ctx->opts = *opts;
    return ctx;
}

/* The option fields that define the result, as words whose minimum and maximum over the ranks
   must agree (num_threads is left out: it never changes a result). */
#define OPTION_WORDS 5
static void option_words(const imm_options *o, uint64_t w[OPTION_WORDS]) {
    imm_options d;
    if (o == NULL) {
        imm_options_init(&d);
        o = &d;
    }
    w[0] = (uint32_t)o->solver;
    w[1] = (uint32_t)o->precision;
    w[2] = (uint32_t)o->metric;
    w[3] = (uint32_t)o->exact_finish;
    memcpy(&w[4], &o->accuracy, sizeof w[4]);
}

int imm_mpi_ctx_create(imm_mpi_ctx **out, MPI_Comm comm, const imm_options *opts) {
    RETURN_ERROR_IF(out == NULL, IMM_ERR_INVALID_ARG);
    FORWARD_IF_ERROR(imm_mpi_usable(comm));
    int size = 0, status = IMM_OK;
    MPI_Comm_size(comm, &size);
    /* Options: what imm_assign_noise would refuse (imm_ctx_workspace_size checks them without
       allocating). */
    size_t bytes;
    status = imm_ctx_workspace_size(opts, 0, 1, &bytes);
    imm_mpi_ctx *ctx = status == IMM_OK ? allocate(size, opts) : NULL;
    if (status == IMM_OK && ctx == NULL)
        status = IMM_ERR_NOMEM;

    MPI_Comm dup = MPI_COMM_NULL;
    MPI_Comm_dup(comm, &dup);
    /* One allreduce (MAX) agrees on the status (-status) and on the options: each word and its
       complement, whose maximum is the complement of the minimum. */
    uint64_t w[OPTION_WORDS], v[1 + 2 * OPTION_WORDS], agreed[1 + 2 * OPTION_WORDS];
    option_words(opts, w);
    v[0] = (uint64_t)(-(int64_t)status);
    for (int i = 0; i < OPTION_WORDS; i++) {
        v[1 + 2 * i] = w[i];
        v[2 + 2 * i] = ~w[i];
    }
    MPI_Allreduce(v, agreed, 1 + 2 * OPTION_WORDS, MPI_UINT64_T, MPI_MAX, dup);
    status = -(int)(int64_t)agreed[0];
    for (int i = 0; status == IMM_OK && i < OPTION_WORDS; i++)
        if (agreed[1 + 2 * i] != ~agreed[2 + 2 * i])
            status = IMM_ERR_INVALID_ARG;
    if (status != IMM_OK) {
        release(ctx);
        MPI_Comm_free(&dup);
        return status;
    }
    ctx->comm = dup;
    MPI_Comm_rank(dup, &ctx->rank);
    *out = ctx;
    return IMM_OK;
}

void imm_mpi_ctx_free(imm_mpi_ctx *ctx) {
    if (ctx == NULL)
        return;
    MPI_Comm comm = ctx->comm;
    release(ctx);
    MPI_Comm_free(&comm);
}

int imm_mpi_ctx_last_stats(const imm_mpi_ctx *ctx, imm_mpi_step_stats *stats) {
    RETURN_ERROR_IF(ctx == NULL || stats == NULL, IMM_ERR_INVALID_ARG);
    *stats = ctx->stats;
    return IMM_OK;
}

/* hi * 2^32 + lo, or false when it does not fit in size_t. */
static bool join_words(const uint64_t w[2], size_t *out) {
    if (w[0] > (SIZE_MAX >> 32) || (w[0] << 32) > SIZE_MAX - w[1])
        return false;
    *out = (size_t)((w[0] << 32) + w[1]);
    return true;
}

int imm_mpi_batch_layout(MPI_Comm comm, size_t local_batch, size_t *offset, size_t *global_batch) {
    FORWARD_IF_ERROR(imm_mpi_usable(comm));
    /* Sums of the high and low 32-bit halves cannot wrap (fewer than 2^31 ranks), so an
       overflowing total is seen, by every rank alike. */
    const uint64_t n = (uint64_t)local_batch;
    uint64_t mine[2] = {n >> 32, n & 0xffffffffu}, below[2] = {0, 0}, total[2];
    int rank;
    MPI_Comm_rank(comm, &rank);
    MPI_Exscan(mine, below, 2, MPI_UINT64_T, MPI_SUM, comm);
    if (rank == 0)
        below[0] = below[1] = 0; /* MPI_Exscan leaves rank 0's result undefined */
    MPI_Allreduce(mine, total, 2, MPI_UINT64_T, MPI_SUM, comm);
    size_t sum, first;
    RETURN_ERROR_IF(!join_words(total, &sum), IMM_ERR_TOO_LARGE);
    if (!join_words(below, &first))
        first = 0; /* not reached: the offset is at most the total */
    if (offset != NULL)
        *offset = first;
    if (global_batch != NULL)
        *global_batch = sum;
    return IMM_OK;
}
