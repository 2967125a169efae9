/* distance.h - distance matrices, for use inside the library (imm_distance and the noise path). */
#ifndef IMM_DISTANCE_DISTANCE_H
#define IMM_DISTANCE_DISTANCE_H

#include <immiscible.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of workspace imi_dist_compute() needs for n rows of x against m rows of y with the
   (resolved) options o, or 0 when that does not fit in size_t. Depends on the options' thread
   count and on the SIMD variant in use. */
size_t imi_dist_workspace_bytes(size_t n, size_t m, size_t dim, const imm_options *o);

/* out[i * m + j] = metric(x_i, y_j) in o->precision, using `work` (imi_dist_workspace_bytes()
   bytes, 64-byte aligned) and nothing else: no allocation. Arguments must be checked already:
   n, m, dim > 0, pointers non-NULL, options resolved; out must not overlap x or y (it holds the
   dot products while they are summed). Returns IMM_OK, or IMM_ERR_NONFINITE (NaN/Inf input, a
   value that overflows the precision, or a distance that overflows float) without writing out.
   imi_dist_workspace_bytes() is 0 (TOO_LARGE) for INT8 with dim > 66311. */
int imi_dist_compute(const float *x, size_t n, const float *y, size_t m, size_t dim,
                     const imm_options *o, void *work, float *out);

/* imi_dist_compute() that also says (*scaled) whether the call scaled its rows by a power of two
   (imm_distance note 4): only then can an output depend on the other rows of the call. */
int imi_dist_compute_scaled(const float *x, size_t n, const float *y, size_t m, size_t dim,
                            const imm_options *o, void *work, float *out, bool *scaled);

/* Bytes of scratch imi_dist_nearest() needs for k rows of dim floats (64-byte aligned), or 0
   when that does not fit in size_t. Does not depend on the SIMD variant. */
size_t imi_dist_nearest_bytes(size_t k, size_t dim);

/* The nearest of the k rows of y (row t at y + t * dim) to the one row x: *best = the t with the
   smallest out[t] of imi_dist_compute(x, 1, y, k, dim, o), the first on ties, bitwise, from one
   fused pass over the rows (no packing; dist_nearest.c). Returns false, having written nothing
   but scratch, where that call would do something else than the plain formula: fail (NaN / Inf,
   a value out of the precision's range), scale its rows, or check or compute some distance
   directly (overflow suspects, cancellation, tiny norms); the caller then runs it. Same
   preconditions as imi_dist_compute(), with imi_dist_nearest_bytes(k, dim) bytes of scratch.
   next_x (NULL: none): the row of dim floats the caller reads next, with the rows that follow
   y's k; they may be fetched into cache meanwhile (a hint: no result depends on it). */
bool imi_dist_nearest(const float *x, const float *y, size_t k, size_t dim, const imm_options *o,
                      const float *next_x, void *scratch, int32_t *best);

#endif
