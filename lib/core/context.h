/* context.h - the explicit context: options plus one growable workspace. */
#ifndef IMM_CORE_CONTEXT_H
#define IMM_CORE_CONTEXT_H

#include "core/internal.h"

struct imm_ctx {
    imm_options opts;
    void *work;        /* 64-byte aligned, grown on demand, never shrunk */
    void *raw;         /* what malloc returned for work */
    size_t work_bytes;
};

/* Makes ctx->work at least `bytes` long (contents not kept). IMM_OK or IMM_ERR_NOMEM; on failure
   the old workspace is kept. */
int imi_ctx_reserve(imm_ctx *ctx, size_t bytes);

/* Sets up a context that lives on the stack (the one-shot calls run on one, so they give the
   context calls' results bitwise): validated options, no workspace yet. Nothing to release on
   error. */
int imi_ctx_init_local(imm_ctx *ctx, const imm_options *opts);

/* Releases the workspace of a context that lives on the stack (the one-shot calls). */
void imi_ctx_release(imm_ctx *ctx);

#endif
