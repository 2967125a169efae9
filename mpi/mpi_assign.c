/* mpi_assign.c - global-batch noise assignment: agreement, distance columns, one solve on the
 * solver rank, and the noise rows sent to the ranks whose images received them.
 * The steps and their traffic are described in include/immiscible_mpi.h.
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "mpi_internal.h"

#define ROOT MPI_SOLVER_RANK

/* Bits of the largest |v| of n floats (NaN and Inf compare above every finite value). */
static uint32_t max_abs_bits(const float *v, size_t n) {
    uint32_t top = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &v[i], sizeof b);
        b &= 0x7fffffffu;
        top = b > top ? b : top;
    }
    return top;
}

static int min_status(int a, int b) { return a < b ? a : b; }

/* This rank's own arguments, before any communication. */
static int check_local(const float *x, const float *noise, size_t n, size_t dim,
                       const int32_t *perm) {
    size_t bytes;
    RETURN_ERROR_IF(!imm_mpi_mul(n, dim, &bytes) || !imm_mpi_mul(bytes, sizeof(float), &bytes),
                    IMM_ERR_TOO_LARGE);
    RETURN_ERROR_IF(n > (size_t)INT_MAX || dim > (size_t)INT_MAX, IMM_ERR_TOO_LARGE);
    RETURN_ERROR_IF(n > 0 && (x == NULL || noise == NULL), IMM_ERR_INVALID_ARG);
    const size_t pb = n * sizeof(int32_t);
    RETURN_ERROR_IF(imm_mpi_overlap(noise, bytes, x, bytes) ||
                        imm_mpi_overlap(perm, pb, x, bytes) ||
                        imm_mpi_overlap(perm, pb, noise, bytes),
                    IMM_ERR_INVALID_ARG);
    return IMM_OK;
}

/* Step 1: every rank's status, local_batch and dim (one MPI_Allgather), then the global problem
   checked as imm_assign_noise would check it. The same verdict on every rank. */
static int agree_arguments(imm_mpi_ctx *ctx, int local_status, size_t n, size_t dim) {
    uint64_t mine[MPI_RECORD_WORDS] = {(uint64_t)(int64_t)local_status, n, dim, 0};
    MPI_Allgather(mine, MPI_RECORD_WORDS, MPI_UINT64_T, ctx->records, MPI_RECORD_WORDS,
                  MPI_UINT64_T, ctx->comm);
    int status = IMM_OK;
    for (int r = 0; r < ctx->size; r++)
        status = min_status(status, (int)(int64_t)ctx->records[r * MPI_RECORD_WORDS]);
    FORWARD_IF_ERROR(status);
    size_t batch = 0;
    ctx->offset[0] = 0;
    for (int r = 0; r < ctx->size; r++) {
        const uint64_t *rec = ctx->records + (size_t)r * MPI_RECORD_WORDS;
        RETURN_ERROR_IF(rec[2] != ctx->records[2], IMM_ERR_INVALID_ARG); /* dim differs */
        RETURN_ERROR_IF(batch + rec[1] < batch, IMM_ERR_TOO_LARGE);
        ctx->count[r] = (size_t)rec[1];
        batch += (size_t)rec[1];
        ctx->offset[r + 1] = batch;
    }
    ctx->batch = batch;
    /* The global problem's own limits (rows, matrix size, INT8 dim): imm_assign_noise's. */
    size_t bytes;
    FORWARD_IF_ERROR(imm_ctx_workspace_size(&ctx->opts, batch, dim, &bytes));
    return IMM_OK;
}

/* Step 2a: the buffers and datatypes of the call, before any data is read. */
static int reserve(imm_mpi_ctx *ctx, size_t dim) {
    const size_t b = ctx->batch, n = ctx->count[ctx->rank];
    const bool root = ctx->rank == ROOT;
    /* 4 B dim and 4 B^2 fit in size_t (agree_arguments); n x dim and B x n are smaller. */
    const size_t xb = b * dim * sizeof(float), rows = n * dim * sizeof(float);
    const size_t block = root ? b * b * sizeof(float) : b * n * sizeof(float);
    const size_t recs = (root ? b + (size_t)ctx->size : n + 1) * 3 * sizeof(int32_t);
    RETURN_ERROR_IF(!imm_mpi_grow(&ctx->x_all, xb) || !imm_mpi_grow(&ctx->block, block) ||
                        !imm_mpi_grow(&ctx->send_rows, rows) ||
                        !imm_mpi_grow(&ctx->recv_rows, rows) || !imm_mpi_grow(&ctx->recs, recs) ||
                        (root && !imm_mpi_grow(&ctx->assign, b * sizeof(int32_t))),
                    IMM_ERR_NOMEM);
    return imm_mpi_types(ctx, dim);
}

/* Step 2b: memory and data agreed (one MPI_Allreduce): status, then NaN / Inf and the
   precision's range from the largest |v| of the whole batch. Sets *prescaled when
   imm_distance's power-of-two prescale could apply (then the distances depend on the whole
   batch: the caller takes the gathered path). */
static int agree_data(imm_mpi_ctx *ctx, int local_status, const float *x, const float *noise,
                      size_t n, size_t dim, bool *prescaled) {
    uint32_t top = 0;
    if (local_status == IMM_OK) {
        const uint32_t tx = max_abs_bits(x, n * dim), tn = max_abs_bits(noise, n * dim);
        top = tx > tn ? tx : tn;
    }
    int64_t mine[2] = {-(int64_t)local_status, (int64_t)top}, all[2];
    MPI_Allreduce(mine, all, 2, MPI_INT64_T, MPI_MAX, ctx->comm);
    FORWARD_IF_ERROR(-(int)all[0]);
    const uint32_t gtop = (uint32_t)all[1];
    RETURN_ERROR_IF(gtop >= 0x7f800000u, IMM_ERR_NONFINITE);
    /* FP16: 65520 and up round to Inf in half (immiscible.h, imm_distance note 4). */
    RETURN_ERROR_IF(ctx->opts.precision == IMM_PRECISION_FP16 && gtop >= 0x477ff000u,
                    IMM_ERR_NONFINITE);
    float a;
    memcpy(&a, &gtop, sizeof a);
    /* imm_distance prescales FP32 / BF16 rows when max|v| sqrt(dim) exceeds 2^60; from 2^59
       the gathered path is taken, so that no rounding of this test can miss it. */
    *prescaled =
        (ctx->opts.precision == IMM_PRECISION_FP32 || ctx->opts.precision == IMM_PRECISION_BF16) &&
        (double)a * sqrt((double)dim) > 0x1p59;
    return IMM_OK;
}

/* Step 3: this rank's distance columns, B x n, and their status agreed. On the solver rank they
   are computed into the first B n floats of the B x B matrix and spread to their columns. */
static int distances(imm_mpi_ctx *ctx, const float *noise, size_t dim) {
    const size_t b = ctx->batch, n = ctx->count[ctx->rank];
    float *out = ctx->block.ptr;
    int status = ctx->core != NULL ? IMM_OK : imm_ctx_create(&ctx->core, &ctx->opts);
    if (status == IMM_OK)
        status = imm_ctx_distance(ctx->core, ctx->x_all.ptr, b, noise, n, dim, out);
    if (status == IMM_OK && ctx->rank == ROOT && n > 0)
        for (size_t i = b; i-- > 1;) /* row i moves up to i B >= i n: last row first */
            memmove(out + i * b, out + i * n, n * sizeof(float));
    int agreed;
    MPI_Allreduce(&status, &agreed, 1, MPI_INT, MPI_MIN, ctx->comm);
    return agreed;
}

/* Step 4: the columns to the solver rank (MPI_Alltoallw: each block lands in its columns). */
static void gather_columns(imm_mpi_ctx *ctx) {
    const bool root = ctx->rank == ROOT;
    const size_t n = ctx->count[ctx->rank];
    for (int r = 0; r < ctx->size; r++) {
        ctx->scount[r] = 0, ctx->sdispl[r] = 0, ctx->stype[r] = MPI_FLOAT;
        ctx->rcount[r] = 0, ctx->rdispl[r] = 0, ctx->rtype[r] = MPI_FLOAT;
        if (root && r != ROOT && ctx->count[r] > 0)
            ctx->rcount[r] = 1, ctx->rtype[r] = ctx->col_type[r];
    }
    if (!root && n > 0)
        ctx->scount[ROOT] = (int)ctx->batch, ctx->stype[ROOT] = ctx->brow_type;
    /* The block is sent (elsewhere) or received into (solver rank), never both: the unused
       side names another buffer, so that the two never alias. */
    void *unused = ctx->recs.ptr;
    MPI_Alltoallw(root ? unused : ctx->block.ptr, ctx->scount, ctx->sdispl, ctx->stype,
                  root ? ctx->block.ptr : unused, ctx->rcount, ctx->rdispl, ctx->rtype, ctx->comm);
}

/* Step 5 (solver rank): solve, then one record of 3 int32 per row for every rank r, at
   (offset[r] + r) records: first {status, 0, 0}, then for its image i {the global noise row it
   received, its i-th row to send (local index), the rank that row goes to}; rows to send are
   listed in the global order of the images receiving them. */
static void solve_and_plan(imm_mpi_ctx *ctx) {
    const size_t b = ctx->batch;
    int32_t *assign = ctx->assign.ptr, *rec = ctx->recs.ptr;
    int status = imm_ctx_lap_solve(ctx->core, ctx->block.ptr, b, b, assign, NULL, NULL, NULL);
    for (int r = 0; r < ctx->size; r++) {
        int32_t *head = rec + 3 * (ctx->offset[r] + (size_t)r);
        head[0] = status, head[1] = 0, head[2] = 0;
        ctx->cursor[r] = 0;
    }
    if (status != IMM_OK)
        return;
    int r = 0;
    for (size_t g = 0; g < b; g++) {
        while (g >= ctx->offset[r + 1])
            r++;
        const size_t col = (size_t)assign[g];
        const int s = imm_mpi_owner(ctx, col);
        rec[3 * (ctx->offset[r] + (size_t)r + 1 + (g - ctx->offset[r]))] = (int32_t)col;
        int32_t *send = rec + 3 * (ctx->offset[s] + (size_t)s + 1 + (size_t)ctx->cursor[s]++);
        send[1] = (int32_t)(col - ctx->offset[s]);
        send[2] = r;
    }
}

/* Step 6: the records to their ranks; returns the solve's status, the same everywhere. */
static int scatter_plan(imm_mpi_ctx *ctx, const int32_t **mine) {
    const bool root = ctx->rank == ROOT;
    for (int r = 0; r < ctx->size; r++) {
        ctx->scount[r] = (int)ctx->count[r] + 1;
        ctx->sdispl[r] = (int)(ctx->offset[r] + (size_t)r);
    }
    int32_t *rec = ctx->recs.ptr;
    const int n1 = (int)ctx->count[ctx->rank] + 1;
    if (root)
        MPI_Scatterv(rec, ctx->scount, ctx->sdispl, ctx->rec_type, MPI_IN_PLACE, n1, ctx->rec_type,
                     ROOT, ctx->comm);
    else
        MPI_Scatterv(NULL, NULL, NULL, ctx->rec_type, rec, n1, ctx->rec_type, ROOT, ctx->comm);
    *mine = root ? rec + 3 * (ctx->offset[ROOT] + ROOT) : rec;
    return (*mine)[0];
}

/* Step 7: every noise row to the rank of the image that received it, then the outputs. */
static void exchange_rows(imm_mpi_ctx *ctx, const int32_t *rec, float *noise, size_t dim,
                          int32_t *perm) {
    const size_t n = ctx->count[ctx->rank];
    float *send = ctx->send_rows.ptr, *recv = ctx->recv_rows.ptr;
    const int32_t *row = rec + 3; /* after the status record */
    for (int r = 0; r < ctx->size; r++)
        ctx->scount[r] = 0, ctx->rcount[r] = 0;
    for (size_t k = 0; k < n; k++) {
        memcpy(send + k * dim, noise + (size_t)row[3 * k + 1] * dim, dim * sizeof(float));
        ctx->scount[row[3 * k + 2]]++;
        ctx->rcount[imm_mpi_owner(ctx, (size_t)row[3 * k])]++;
    }
    /* Rows that stay on this rank skip MPI: they are read from the send buffer directly. */
    const int me = ctx->rank;
    int sd = 0, rd = 0, own = 0;
    for (int r = 0; r < ctx->size; r++) {
        ctx->sdispl[r] = sd, ctx->rdispl[r] = rd, ctx->cursor[r] = 0;
        sd += ctx->scount[r], rd += ctx->rcount[r];
    }
    own = ctx->sdispl[me];
    ctx->scount[me] = 0, ctx->rcount[me] = 0;
    MPI_Alltoallv(send, ctx->scount, ctx->sdispl, ctx->row_type, recv, ctx->rcount, ctx->rdispl,
                  ctx->row_type, ctx->comm);
    /* Rows from rank s arrive in the order of the images receiving them. */
    for (size_t i = 0; i < n; i++) {
        const int s = imm_mpi_owner(ctx, (size_t)row[3 * i]);
        const float *src = s == me ? send + (size_t)(own + ctx->cursor[s]++) * dim
                                   : recv + (size_t)(ctx->rdispl[s] + ctx->cursor[s]++) * dim;
        memcpy(noise + i * dim, src, dim * sizeof(float));
        if (perm != NULL)
            perm[i] = row[3 * i];
    }
    uint64_t moved_out = 0, moved_in = 0;
    for (int r = 0; r < ctx->size; r++) /* the own counts are 0 now */
        moved_out += (uint64_t)ctx->scount[r], moved_in += (uint64_t)ctx->rcount[r];
    ctx->stats.bytes_sent += moved_out * dim * sizeof(float);
    ctx->stats.bytes_received += moved_in * dim * sizeof(float);
}

/* The prescaled case: the whole problem on the solver rank, imm_assign_noise there. */
static int gathered_path(imm_mpi_ctx *ctx, const float *x, float *noise, size_t dim,
                         int32_t *perm) {
    const bool root = ctx->rank == ROOT;
    const size_t b = ctx->batch, n = ctx->count[ctx->rank];
    int status = IMM_OK;
    if (root && !imm_mpi_grow(&ctx->noise_all, b * dim * sizeof(float)))
        status = IMM_ERR_NOMEM;
    MPI_Bcast(&status, 1, MPI_INT, ROOT, ctx->comm);
    FORWARD_IF_ERROR(status);
    for (int r = 0; r < ctx->size; r++)
        ctx->scount[r] = (int)ctx->count[r], ctx->sdispl[r] = (int)ctx->offset[r];
    float *xa = ctx->x_all.ptr, *na = ctx->noise_all.ptr;
    int32_t *pa = ctx->assign.ptr, *mine = ctx->recs.ptr;
    MPI_Gatherv(x, (int)n, ctx->row_type, xa, ctx->scount, ctx->sdispl, ctx->row_type, ROOT,
                ctx->comm);
    MPI_Gatherv(noise, (int)n, ctx->row_type, na, ctx->scount, ctx->sdispl, ctx->row_type, ROOT,
                ctx->comm);
    if (root)
        status = imm_assign_noise(xa, na, b, dim, &ctx->opts, pa);
    MPI_Bcast(&status, 1, MPI_INT, ROOT, ctx->comm);
    FORWARD_IF_ERROR(status);
    MPI_Scatterv(na, ctx->scount, ctx->sdispl, ctx->row_type, ctx->recv_rows.ptr, (int)n,
                 ctx->row_type, ROOT, ctx->comm);
    MPI_Scatterv(pa, ctx->scount, ctx->sdispl, MPI_INT32_T, mine, (int)n, MPI_INT32_T, ROOT,
                 ctx->comm);
    if (n > 0)
        memcpy(noise, ctx->recv_rows.ptr, n * dim * sizeof(float));
    if (perm != NULL && n > 0)
        memcpy(perm, mine, n * sizeof(int32_t));
    const uint64_t row = dim * sizeof(float), other = b - n; /* rows of the other ranks */
    ctx->stats.bytes_sent = root ? other * (row + sizeof(int32_t)) : 2 * n * row;
    ctx->stats.bytes_received = root ? 2 * other * row : n * (row + sizeof(int32_t));
    ctx->stats.fallback = 1;
    return IMM_OK;
}

static double now(void) { return MPI_Wtime(); }

int imm_mpi_ctx_assign_noise(imm_mpi_ctx *ctx, const float *x, float *noise, size_t local_batch,
                             size_t dim, int32_t *perm) {
    RETURN_ERROR_IF(ctx == NULL, IMM_ERR_INVALID_ARG);
    FORWARD_IF_ERROR(imm_mpi_usable(ctx->comm));
    memset(&ctx->stats, 0, sizeof ctx->stats);
    const size_t n = local_batch;
    const bool root = ctx->rank == ROOT;
    double t = now();

    FORWARD_IF_ERROR(agree_arguments(ctx, check_local(x, noise, n, dim, perm), n, dim));
    if (ctx->batch == 0)
        return IMM_OK;
    bool prescaled = false;
    FORWARD_IF_ERROR(agree_data(ctx, reserve(ctx, dim), x, noise, n, dim, &prescaled));
    ctx->stats.agree_s = now() - t;
    if (prescaled)
        return gathered_path(ctx, x, noise, dim, perm);

    const size_t b = ctx->batch, R = (size_t)ctx->size;
    t = now();
    for (int r = 0; r < ctx->size; r++)
        ctx->rcount[r] = (int)ctx->count[r], ctx->rdispl[r] = (int)ctx->offset[r];
    MPI_Allgatherv(n > 0 ? x : ctx->x_all.ptr, (int)n, ctx->row_type, ctx->x_all.ptr, ctx->rcount,
                   ctx->rdispl, ctx->row_type, ctx->comm);
    ctx->stats.images_s = now() - t;
    ctx->stats.bytes_sent = (uint64_t)(n * dim * sizeof(float)) * (R - 1);
    ctx->stats.bytes_received = (uint64_t)((b - n) * dim * sizeof(float));

    t = now();
    FORWARD_IF_ERROR(distances(ctx, noise, dim));
    ctx->stats.distance_s = now() - t;

    t = now();
    gather_columns(ctx);
    ctx->stats.gather_s = now() - t;
    if (root)
        ctx->stats.bytes_received += (uint64_t)(b * (b - n) * sizeof(float));
    else
        ctx->stats.bytes_sent += (uint64_t)(b * n * sizeof(float));

    if (root) {
        t = now();
        solve_and_plan(ctx);
        ctx->stats.solve_s = now() - t;
    }
    t = now();
    const int32_t *rec;
    FORWARD_IF_ERROR(scatter_plan(ctx, &rec));
    ctx->stats.scatter_s = now() - t;
    if (root)
        ctx->stats.bytes_sent += (uint64_t)((b - n + R - 1) * 3 * sizeof(int32_t));
    else
        ctx->stats.bytes_received += (uint64_t)((n + 1) * 3 * sizeof(int32_t));

    t = now();
    exchange_rows(ctx, rec, noise, dim, perm);
    ctx->stats.exchange_s = now() - t;
    return IMM_OK;
}

int imm_mpi_assign_noise(MPI_Comm comm, const float *x, float *noise, size_t local_batch,
                         size_t dim, const imm_options *opts, int32_t *perm) {
    imm_mpi_ctx *ctx = NULL;
    FORWARD_IF_ERROR(imm_mpi_ctx_create(&ctx, comm, opts));
    int status = imm_mpi_ctx_assign_noise(ctx, x, noise, local_batch, dim, perm);
    imm_mpi_ctx_free(ctx);
    return status;
}
