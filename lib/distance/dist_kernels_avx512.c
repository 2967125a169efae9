/* dist_kernels_avx512.c - the AVX-512 fp32 micro-kernel, 14 x 32 (compiled with -mavx512f/vl/bw).
 * One FMA per product in k order, as the scalar reference: bitwise the same tile. Serves FP32,
 * FP16 (values rounded to half while packing) and BF16 on CPUs without vdpbf16ps. */
#include "distance/dist_avx512_common.h"
#include "distance/dist_kernels.h"

static void tile_f32_avx512(const void *av, const void *bv, size_t kb, void *cv, size_t ldc,
                            int first) {
    float *c = cv;
    const float *a = av, *b = bv;
    dist_z_prefetch_c(c, ldc * sizeof *c, first);
    DIST_Z_DECLARE(__m512, _mm512_setzero_ps());
    for (size_t k = 0; k < kb; k++, a += DIST_Z_MR, b += DIST_Z_NR) {
        const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        __m512 x;
#define ROW(r)                                                                                     \
    x = _mm512_set1_ps(a[r]);                                                                      \
    c##r##0 = _mm512_fmadd_ps(x, b0, c##r##0);                                                     \
    c##r##1 = _mm512_fmadd_ps(x, b1, c##r##1);
        DIST_Z_ROWS(ROW)
#undef ROW
    }
    DIST_Z_STORE(dist_z_add_f32, c, first);
}

const dist_kernel imi_dist_f32_avx512 = {
    .tile = tile_f32_avx512,
    .pack = imi_dist_pack_panel_avx512,
    .stats = imi_dist_row_stats_avx512,
    .finish = imi_dist_finish_rows_avx512,
    .name = "f32_avx512_14x32",
    .mr = DIST_Z_MR,
    .nr = DIST_Z_NR,
    .kgroup = 1,
    .store = DIST_STORE_F32,
    .mc = 112,
};
