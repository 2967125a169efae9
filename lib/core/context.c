/* context.c - context lifetime and workspace growth. */
#include <stdlib.h>

#include "core/context.h"
#include "core/layout.h"

void *imi_alloc64(size_t bytes, void **raw) {
    if (bytes > SIZE_MAX - 63)
        return NULL;
    *raw = malloc(bytes + 63);
    return *raw == NULL ? NULL : (void *)(((uintptr_t)*raw + 63) & ~(uintptr_t)63);
}

int imi_ctx_init_local(imm_ctx *ctx, const imm_options *opts) {
    *ctx = (imm_ctx){0};
    return imi_options_resolve(opts, &ctx->opts);
}

int imm_ctx_create(imm_ctx **ctx, const imm_options *opts) {
    imm_ctx local;
    RETURN_ERROR_IF(ctx == NULL, IMM_ERR_INVALID_ARG);
    RETURN_ERROR_IF(imi_overlap(ctx, sizeof *ctx, opts, sizeof *opts), IMM_ERR_INVALID_ARG);
    FORWARD_IF_ERROR(imi_ctx_init_local(&local, opts));
    imm_ctx *c = malloc(sizeof *c);
    RETURN_ERROR_IF(c == NULL, IMM_ERR_NOMEM);
    *c = local;
    *ctx = c;
    return IMM_OK;
}

void imi_ctx_release(imm_ctx *ctx) {
    free(ctx->raw);
    ctx->raw = NULL;
    ctx->work = NULL;
    ctx->work_bytes = 0;
}

void imm_ctx_free(imm_ctx *ctx) {
    if (ctx == NULL)
        return;
    imi_ctx_release(ctx);
    free(ctx);
}

int imi_ctx_reserve(imm_ctx *ctx, size_t bytes) {
    if (bytes <= ctx->work_bytes)
        return IMM_OK;
    void *raw, *work = imi_alloc64(bytes, &raw);
    RETURN_ERROR_IF(work == NULL, IMM_ERR_NOMEM);
    free(ctx->raw);
    ctx->raw = raw;
    ctx->work = work;
    ctx->work_bytes = bytes;
    return IMM_OK;
}
