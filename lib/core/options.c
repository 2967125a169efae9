/* options.c - defaults and validation of imm_options. */
#include <string.h>

#include "core/internal.h"

void imm_options_init(imm_options *opts) {
    if (opts == NULL)
        return;
    memset(opts, 0, sizeof *opts);
    opts->solver = IMM_SOLVER_EXACT;
    opts->precision = IMM_PRECISION_FP32;
    opts->metric = IMM_METRIC_L2;
    opts->num_threads = 0;
}

int imi_options_resolve(const imm_options *opts, imm_options *out) {
    if (opts == NULL) {
        imm_options_init(out);
        return IMM_OK;
    }
    /* Enums are compared as ints: a caller may have stored any value in them. */
    int solver = (int)opts->solver, precision = (int)opts->precision, metric = (int)opts->metric;
    RETURN_ERROR_IF(solver != IMM_SOLVER_EXACT && solver != IMM_SOLVER_AUCTION,
                    IMM_ERR_INVALID_ARG);
    RETURN_ERROR_IF(precision < IMM_PRECISION_FP32 || precision > IMM_PRECISION_BF16,
                    IMM_ERR_INVALID_ARG);
    RETURN_ERROR_IF(metric != IMM_METRIC_L2 && metric != IMM_METRIC_SQL2, IMM_ERR_INVALID_ARG);
    RETURN_ERROR_IF(opts->num_threads < 0, IMM_ERR_INVALID_ARG);
    /* 0 (the default) or a share of the cost range in (0, 1]: an epsilon above the whole range
       bounds nothing, and would let the auction's prices run far beyond the costs. */
    RETURN_ERROR_IF(!(opts->accuracy >= 0.0 && opts->accuracy <= IMM_AUCTION_MAX_ACCURACY),
                    IMM_ERR_INVALID_ARG);
    RETURN_ERROR_IF(opts->reserved_int_ != 0, IMM_ERR_INVALID_ARG);
    for (size_t i = 0; i < sizeof opts->reserved_ / sizeof opts->reserved_[0]; i++)
        RETURN_ERROR_IF(opts->reserved_[i] != 0, IMM_ERR_INVALID_ARG);
    *out = *opts;
    if (out->accuracy == 0.0)
        out->accuracy = IMM_AUCTION_DEFAULT_ACCURACY;
    return IMM_OK;
}
