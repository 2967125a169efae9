/* dist_avx512_common.h - the 14 x 32 tile shape shared by the AVX-512 kernels (fp32, bf16,
 * int8): 28 zmm accumulators, per step 2 loads of y and 14 broadcasts of x. Included only by
 * files compiled with -mavx512f (and their extension flags). */
#ifndef IMM_DISTANCE_DIST_AVX512_COMMON_H
#define IMM_DISTANCE_DIST_AVX512_COMMON_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

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

/* c[0..15] = v (first block) or c[0..15] + v. */
static inline void dist_z_add_f32(float *c, __m512 v, int first) {
    _mm512_storeu_ps(c, first ? v : _mm512_add_ps(_mm512_loadu_ps(c), v));
}

static inline void dist_z_add_i32(int32_t *c, __m512i v, int first) {
    _mm512_storeu_si512(c, first ? v : _mm512_add_epi32(_mm512_loadu_si512(c), v));
}

/* The tile's rows of the output are read after the loop: fetch them now (they come from L3). */
static inline void dist_z_prefetch_c(const void *c, size_t ldc_bytes, int first) {
    if (first)
        return;
    const char *p = (const char *)c;
    for (int r = 0; r < DIST_Z_MR; r++, p += ldc_bytes) {
        _mm_prefetch(p, _MM_HINT_T0);
        _mm_prefetch(p + 64, _MM_HINT_T0);
    }
}

/* Writes the 28 accumulators of a tile (row r at c + r * ldc) with ADD(c, v, first). */
#define DIST_Z_STORE(ADD, c, first)                                                                \
    do {                                                                                           \
        ADD(c + 0 * ldc, c00, first), ADD(c + 0 * ldc + 16, c01, first);                           \
        ADD(c + 1 * ldc, c10, first), ADD(c + 1 * ldc + 16, c11, first);                           \
        ADD(c + 2 * ldc, c20, first), ADD(c + 2 * ldc + 16, c21, first);                           \
        ADD(c + 3 * ldc, c30, first), ADD(c + 3 * ldc + 16, c31, first);                           \
        ADD(c + 4 * ldc, c40, first), ADD(c + 4 * ldc + 16, c41, first);                           \
        ADD(c + 5 * ldc, c50, first), ADD(c + 5 * ldc + 16, c51, first);                           \
        ADD(c + 6 * ldc, c60, first), ADD(c + 6 * ldc + 16, c61, first);                           \
        ADD(c + 7 * ldc, c70, first), ADD(c + 7 * ldc + 16, c71, first);                           \
        ADD(c + 8 * ldc, c80, first), ADD(c + 8 * ldc + 16, c81, first);                           \
        ADD(c + 9 * ldc, c90, first), ADD(c + 9 * ldc + 16, c91, first);                           \
        ADD(c + 10 * ldc, c100, first), ADD(c + 10 * ldc + 16, c101, first);                       \
        ADD(c + 11 * ldc, c110, first), ADD(c + 11 * ldc + 16, c111, first);                       \
        ADD(c + 12 * ldc, c120, first), ADD(c + 12 * ldc + 16, c121, first);                       \
        ADD(c + 13 * ldc, c130, first), ADD(c + 13 * ldc + 16, c131, first);                       \
    } while (0)

#endif
