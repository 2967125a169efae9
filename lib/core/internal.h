/* internal.h - what every part of the library needs: status macros, checked sizes, options. */
#ifndef IMM_CORE_INTERNAL_H
#define IMM_CORE_INTERNAL_H

#include <immiscible.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Keep the happy path readable: bail out with a status, or forward a callee's error. */
#define RETURN_ERROR_IF(cond, status)                                                              \
    do {                                                                                           \
        if (cond)                                                                                  \
            return (status);                                                                       \
    } while (0)
#define FORWARD_IF_ERROR(expr)                                                                     \
    do {                                                                                           \
        int imm_fwd_status_ = (expr);                                                              \
        if (imm_fwd_status_ != IMM_OK)                                                             \
            return imm_fwd_status_;                                                                \
    } while (0)

/* *out = a * b, or false when the product overflows size_t. */
static inline bool imm_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

/* Validates options (NULL allowed) and copies them, or the defaults, into *out. */
int imm_options_resolve(const imm_options *opts, imm_options *out);

/* IMM_OK when this build can serve the (valid) options, else IMM_ERR_UNSUPPORTED. */
int imm_options_supported(const imm_options *opts);

/* The thread count to pass to OpenMP num_threads clauses. */
int imm_threads(const imm_options *opts);

/* True when all n floats are finite. */
bool imm_all_finite(const float *p, size_t n);

#endif
