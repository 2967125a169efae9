/* context.c - context lifetime and workspace growth. */
#include <stdlib.h>

#include "core/context.h"

int imi_ctx_init_local(imm_ctx *ctx, const imm_options *opts) {
    *ctx = (imm_ctx){0};
    FORWARD_IF_ERROR(imi_options_resolve(opts, &ctx->opts));
    return imi_options_supported(&ctx->opts);
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
    /* malloc, aligned by hand: glibc hands a freed large block back to the next one-shot call,
       where aligned_alloc's fresh mapping would page-fault on every 4 KiB again. */
    RETURN_ERROR_IF(bytes > SIZE_MAX - 63, IMM_ERR_NOMEM);
    void *raw = malloc(bytes + 63);
    RETURN_ERROR_IF(raw == NULL, IMM_ERR_NOMEM);
    free(ctx->raw);
    ctx->raw = raw;
    ctx->work = (void *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    ctx->work_bytes = bytes;
    return IMM_OK;
}
