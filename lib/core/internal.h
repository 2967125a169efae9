/* internal.h - what every part of the library needs: status macros, checked sizes, options. */
#ifndef IMM_CORE_INTERNAL_H
#define IMM_CORE_INTERNAL_H

#include <immiscible.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/errors.h"
#include "core/fpenv.h"
#include "core/parallel.h"

/* *out = a * b, or false when the product overflows size_t. */
static inline bool imi_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

/* True when the byte ranges [a, a + abytes) and [b, b + bbytes) share a byte. Empty ranges share
   none. Every entry point rejects an output that overlaps an input or another output with it. */
static inline bool imi_overlap(const void *a, size_t abytes, const void *b, size_t bbytes) {
    const uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    return abytes != 0 && bbytes != 0 && a != NULL && b != NULL && pa < pb + bbytes &&
           pb < pa + abytes;
}

/* A caller's buffer: where it starts and how many bytes the call may read or write there. */
typedef struct {
    const void *p;
    size_t bytes;
} imi_span;

/* True when an output shares a byte with another output or with an input (inputs may overlap
   each other): the check every entry point makes before reading anything. */
static inline bool imi_outputs_overlap(const imi_span *out, size_t nout, const imi_span *in,
                                       size_t nin) {
    for (size_t a = 0; a < nout; a++) {
        for (size_t b = a + 1; b < nout; b++)
            if (imi_overlap(out[a].p, out[a].bytes, out[b].p, out[b].bytes))
                return true;
        for (size_t b = 0; b < nin; b++)
            if (imi_overlap(out[a].p, out[a].bytes, in[b].p, in[b].bytes))
                return true;
    }
    return false;
}

/* Validates options (NULL allowed) and copies them, or the defaults, into *out. */
int imi_options_resolve(const imm_options *opts, imm_options *out);

#endif
