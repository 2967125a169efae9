/* noise.h - permutation helpers shared by the noise entry points. */
#ifndef IMM_NOISE_NOISE_H
#define IMM_NOISE_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when perm is a permutation of 0..n-1. marks: n bytes of scratch (left zeroed). */
bool imi_is_permutation(const int32_t *perm, size_t n, unsigned char *marks);

/* rows[i] <- old rows[perm[i]] for a valid perm, following cycles. marks: n zeroed bytes (left
   zeroed), tmp: dim floats. */
void imi_permute_apply(float *rows, size_t n, size_t dim, const int32_t *perm,
                       unsigned char *marks, float *tmp);

#endif
