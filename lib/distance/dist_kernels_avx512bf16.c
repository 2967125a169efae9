/* dist_kernels_avx512bf16.c - BF16 with vdpbf16ps, 14 x 32 (compiled with -mavx512bf16).
 * vdpbf16ps adds the odd product of each pair, rounds, then the even one, rounds (measured on
 * Zen 5 to match Intel's pseudocode bit for bit); the packing flushes |v| < 2^-40 so its built-in
 * DAZ/FTZ never triggers. The fp32 kernel on pair-swapped values gives the same bits. */
#include <string.h>

#include "distance/dist_avx512_common.h"
#include "distance/dist_kernels.h"

static void tile_bf16_avx512(const void *av, const void *bv, size_t kb, void *cv, size_t ldc,
                             int first) {
    float *c = cv;
    const uint16_t *a = av, *b = bv;
    dist_z_prefetch_c(c, ldc * sizeof *c, first);
    DIST_Z_DECLARE(__m512, _mm512_setzero_ps());
    for (size_t k = 0; k < kb; k += 2, a += 2 * DIST_Z_MR, b += 2 * DIST_Z_NR) {
        const __m512bh b0 = (__m512bh)_mm512_load_si512(b);
        const __m512bh b1 = (__m512bh)_mm512_load_si512(b + 32);
        __m512bh x;
        int32_t pair;
#define ROW(r)                                                                                     \
    memcpy(&pair, a + 2 * r, sizeof pair);                                                         \
    x = (__m512bh)_mm512_set1_epi32(pair);                                                         \
    c##r##0 = _mm512_dpbf16_ps(c##r##0, b0, x);                                                    \
    c##r##1 = _mm512_dpbf16_ps(c##r##1, b1, x);
        DIST_Z_ROWS(ROW)
#undef ROW
    }
    DIST_Z_STORE(dist_z_add_f32, c, first);
}

const dist_kernel imi_dist_bf16_avx512bf16 = {
    .tile = tile_bf16_avx512,
    .pack = imi_dist_pack_panel_avx512,
    .stats = imi_dist_row_stats_avx512,
    .finish = imi_dist_finish_rows_avx512,
    .name = "bf16_avx512bf16_14x32",
    .mr = DIST_Z_MR,
    .nr = DIST_Z_NR,
    .kgroup = 2,
    .store = DIST_STORE_BF16,
    .mc = 112,
};
