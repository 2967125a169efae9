/* dist_nearest.h - the fused row kernels behind imi_dist_nearest() (nearest-of-k noise selection),
 * one per ISA: dist_nearest_body.h (the portable reference, stamped for scalar),
 * dist_nearest_avx2.c and dist_nearest_avx512.c.
 *
 * A kernel reads one row x and k rows y once from memory and returns, per row, what the general
 * distance path (imi_dist_compute(x, 1, y, k)) computes for it before its finish pass, bitwise:
 *
 *   - maxbits: max |v| of the row as given, as float bits (the pre-pass);
 *   - norm: the squared norm of the row as the kernels see it (dist_pack_body.h's row stats:
 *     FP32 / FP16 / BF16 the 8-lane double sum of the rounded values, INT8 (max/127)^2 sum q^2);
 *   - dot (y rows only): FP32 / FP16 / BF16 the fp32 dot product x~.y~ in the documented blocked
 *     order (dist_kernels.h: per block of DIST_KC_FLOAT dimensions one fp32 FMA chain in
 *     increasing k - BF16: per pair the odd product, then the even one - and the block sums added
 *     in fp32 in block order), widened to double; INT8 the exact integer q_x.q_y.
 *
 * Unlike the general path there is no packing and nothing is done twice per row but in L1: the
 * norms walk each row in its own order, and the dot products take the blocks side by side (the
 * vector kernels put the blocks in vector lanes, which is what keeps each block's chain in k
 * order). The kernels never scale rows (a call that imi_dist_compute would scale goes the general
 * way: the front end decides, dist_nearest.c).
 */
#ifndef IMM_DISTANCE_DIST_NEAREST_H
#define IMM_DISTANCE_DIST_NEAREST_H

#include <immiscible.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/fpenv.h" /* refuses -ffast-math builds */

typedef struct {
    uint32_t maxbits; /* max |v| as float bits; >= 0x7f800000: NaN / Inf */
    double norm;      /* squared norm as the kernels see the row */
    double dot;       /* y rows: x~.y~ (FP: the fp32 sum; INT8: the exact integer q_x.q_y) */
} dist_near_row;

/* Fills *xr and yr[0..k) for x (dim floats) and the k rows of y (row t at y + t * dim), using
   `scratch` (imi_dist_near_scratch_bytes(dim), 64-byte aligned). Returns false, leaving the rest
   unspecified, as soon as a row holds NaN / Inf (its maxbits says so): the caller then goes the
   general way, which reports it. A hint only, which changes no result: the caller reads the
   dim floats at next_x (NULL: none) and the rows that follow y's next, and a kernel may fetch
   them into cache meanwhile. */
typedef bool (*dist_near_fn)(imm_precision prec, const float *x, const float *y, size_t k,
                             size_t dim, const float *next_x, void *scratch, dist_near_row *xr,
                             dist_near_row *yr);

/* Blocks of DIST_KC_FLOAT dimensions side by side: the AVX-512 kernel takes 16 at a time, the
   AVX2 one 8 (the scratch is laid out for 16, which 8-lane groups fit in). */
#define DIST_NEAR_LANES 16

/* Bytes of scratch every kernel fits in for rows of dim floats (0: does not fit in size_t):
   16 lanes x DIST_KC_FLOAT floats per group of 16 blocks for x's transposed copy, and two rows
   of whole blocks. */
size_t imi_dist_near_scratch_bytes(size_t dim);

bool imi_dist_near_rows_scalar(imm_precision prec, const float *x, const float *y, size_t k,
                               size_t dim, const float *next_x, void *scratch, dist_near_row *xr,
                               dist_near_row *yr);
bool imi_dist_near_rows_avx2(imm_precision prec, const float *x, const float *y, size_t k,
                             size_t dim, const float *next_x, void *scratch, dist_near_row *xr,
                             dist_near_row *yr);
bool imi_dist_near_rows_avx512(imm_precision prec, const float *x, const float *y, size_t k,
                               size_t dim, const float *next_x, void *scratch, dist_near_row *xr,
                               dist_near_row *yr);

#endif
