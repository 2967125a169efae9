/* dist_avx512_common.h - the 14 x 32 tile shape shared by the AVX-512 kernels (fp32, bf16,
 * int8): 28 zmm accumulators, per step 2 loads of y and 14 broadcasts of x. Included only by
 * files compiled with -mavx512f (and their extension flags). */
#ifndef IMM_DISTANCE_DIST_AVX512_COMMON_H
#define IMM_DISTANCE_DIST_AVX512_COMMON_H

#include <immintrin.h>

#define DIST_Z_MR 14
#define DIST_Z_NR 32

/* Declares the accumulators c<r>0, c<r>1 for r = 0..13 with initial value `init`. */
#define DIST_Z_DECLARE(type, init)                                                                 \
    type c00 = init, c01 = init, c10 = init, c11 = init, c20 = init, c21 = init, c30 = init,       \
         c31 = init, c40 = init, c41 = init, c50 = init, c51 = init, c60 = init, c61 = init,       \
         c70 = init, c71 = init, c80 = init, c81 = init, c90 = init, c91 = init, c100 = init,      \
         c101 = init, c110 = init, c111 = init, c120 = init, c121 = init, c130 = init, c131 = init

/* Applies ROW(r) to the 14 rows. */
#define DIST_Z_ROWS(ROW)                                                                           \
    ROW(0)                                                                                         \
    ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7) ROW(8) ROW(9) ROW(10) ROW(11) ROW(12) ROW(13)

/* c[0..15] (+)= v widened to double. */
static inline void dist_z_add_f32(double *c, __m512 v, int first) {
    __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    if (!first) {
        lo = _mm512_add_pd(lo, _mm512_loadu_pd(c));
        hi = _mm512_add_pd(hi, _mm512_loadu_pd(c + 8));
    }
    _mm512_storeu_pd(c, lo);
    _mm512_storeu_pd(c + 8, hi);
}

static inline void dist_z_add_i32(double *c, __m512i v, int first) {
    __m512d lo = _mm512_cvtepi32_pd(_mm512_castsi512_si256(v));
    __m512d hi = _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(v, 1));
    if (!first) {
        lo = _mm512_add_pd(lo, _mm512_loadu_pd(c));
        hi = _mm512_add_pd(hi, _mm512_loadu_pd(c + 8));
    }
    _mm512_storeu_pd(c, lo);
    _mm512_storeu_pd(c + 8, hi);
}

/* Writes the 28 accumulators of a tile (rows of 32 outputs) with ADD(c, v, first). */
#define DIST_Z_STORE(ADD, c, first)                                                                \
    do {                                                                                           \
        ADD(c + 0 * 32, c00, first), ADD(c + 0 * 32 + 16, c01, first);                             \
        ADD(c + 1 * 32, c10, first), ADD(c + 1 * 32 + 16, c11, first);                             \
        ADD(c + 2 * 32, c20, first), ADD(c + 2 * 32 + 16, c21, first);                             \
        ADD(c + 3 * 32, c30, first), ADD(c + 3 * 32 + 16, c31, first);                             \
        ADD(c + 4 * 32, c40, first), ADD(c + 4 * 32 + 16, c41, first);                             \
        ADD(c + 5 * 32, c50, first), ADD(c + 5 * 32 + 16, c51, first);                             \
        ADD(c + 6 * 32, c60, first), ADD(c + 6 * 32 + 16, c61, first);                             \
        ADD(c + 7 * 32, c70, first), ADD(c + 7 * 32 + 16, c71, first);                             \
        ADD(c + 8 * 32, c80, first), ADD(c + 8 * 32 + 16, c81, first);                             \
        ADD(c + 9 * 32, c90, first), ADD(c + 9 * 32 + 16, c91, first);                             \
        ADD(c + 10 * 32, c100, first), ADD(c + 10 * 32 + 16, c101, first);                         \
        ADD(c + 11 * 32, c110, first), ADD(c + 11 * 32 + 16, c111, first);                         \
        ADD(c + 12 * 32, c120, first), ADD(c + 12 * 32 + 16, c121, first);                         \
        ADD(c + 13 * 32, c130, first), ADD(c + 13 * 32 + 16, c131, first);                         \
    } while (0)

#endif
