/* dist_kernels_avx2.c - AVX2 + FMA micro-kernels (compiled with -mavx2 -mfma -mf16c).
 *
 * f32: 6 x 16, the classic Haswell shape: 12 ymm accumulators, 2 loads of y and 6 broadcasts
 * of x per dimension. i16: INT8 values widened to int16 pairs for vpmaddwd, which cannot
 * saturate (|q_x| <= 127, q_y + 128 <= 255), same 6 x 16 shape. Both reproduce the scalar
 * reference bit for bit: FMA per product in k order, block sums added in fp32 / exact integer
 * sums.
 */
#include <immintrin.h>
#include <string.h>

#include "distance/dist_kernels.h"

#define MR 6
#define NR 16

/* c[0..7] = v (first block) or c[0..7] + v. */
static inline void add_f32x8(float *c, __m256 v, int first) {
    _mm256_storeu_ps(c, first ? v : _mm256_add_ps(_mm256_loadu_ps(c), v));
}

static inline void add_i32x8(int32_t *c, __m256i v, int first) {
    __m256i *p = (__m256i *)c;
    _mm256_storeu_si256(p, first ? v : _mm256_add_epi32(_mm256_loadu_si256(p), v));
}

static void tile_f32_avx2(const void *av, const void *bv, size_t kb, void *cv, size_t ldc,
                          int first) {
    const float *a = av, *b = bv;
    float *c = cv;
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (size_t k = 0; k < kb; k++, a += MR, b += NR) {
        const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        __m256 x;
#define ROW(r)                                                                                     \
    x = _mm256_broadcast_ss(a + r);                                                                \
    c##r##0 = _mm256_fmadd_ps(x, b0, c##r##0);                                                     \
    c##r##1 = _mm256_fmadd_ps(x, b1, c##r##1);
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
#undef ROW
    }
    const __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21},
                               {c30, c31}, {c40, c41}, {c50, c51}};
    for (int r = 0; r < MR; r++) {
        add_f32x8(c + r * ldc, acc[r][0], first);
        add_f32x8(c + r * ldc + 8, acc[r][1], first);
    }
}

static void tile_i16_avx2(const void *av, const void *bv, size_t kb, void *cv, size_t ldc,
                          int first) {
    const int16_t *a = av, *b = bv;
    int32_t *c = cv;
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256i c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (size_t k = 0; k < kb; k += 2, a += 2 * MR, b += 2 * NR) {
        const __m256i b0 = _mm256_load_si256((const __m256i *)b);
        const __m256i b1 = _mm256_load_si256((const __m256i *)(b + 16));
        __m256i x;
        int32_t pair;
#define ROW(r)                                                                                     \
    memcpy(&pair, a + 2 * r, sizeof pair);                                                         \
    x = _mm256_set1_epi32(pair);                                                                   \
    c##r##0 = _mm256_add_epi32(c##r##0, _mm256_madd_epi16(x, b0));                                 \
    c##r##1 = _mm256_add_epi32(c##r##1, _mm256_madd_epi16(x, b1));
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
#undef ROW
    }
    const __m256i acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21},
                                {c30, c31}, {c40, c41}, {c50, c51}};
    for (int r = 0; r < MR; r++) {
        add_i32x8(c + r * ldc, acc[r][0], first);
        add_i32x8(c + r * ldc + 8, acc[r][1], first);
    }
}

const dist_kernel imi_dist_f32_avx2 = {
    .tile = tile_f32_avx2,
    .pack = imi_dist_pack_panel_avx2,
    .stats = imi_dist_row_stats_avx2,
    .finish = imi_dist_finish_rows_avx2,
    .name = "f32_avx2_6x16",
    .mr = MR,
    .nr = NR,
    .kgroup = 1,
    .store = DIST_STORE_F32,
    .mc = 96,
};
const dist_kernel imi_dist_i16_avx2 = {
    .tile = tile_i16_avx2,
    .pack = imi_dist_pack_panel_avx2,
    .stats = imi_dist_row_stats_avx2,
    .finish = imi_dist_finish_rows_avx2,
    .name = "i16_avx2_6x16",
    .mr = MR,
    .nr = NR,
    .kgroup = 2,
    .store = DIST_STORE_I16,
    .mc = 96,
};
