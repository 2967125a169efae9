/* dist_kernels_avx512vnni.c - INT8 with vpdpbusd, 14 x 32 (compiled with -mavx512vnni).
 * y holds q + 128 as the unsigned operand, x holds q (broadcast, signed); vpdpbusd does not
 * saturate and a block of DIST_KC_INT8 dimensions stays below 2^31, so the int32 sums are exact
 * and equal the scalar reference's. */
#include <string.h>

#include "distance/dist_avx512_common.h"
#include "distance/dist_kernels.h"

/* acc += b (u8) . x (s8) per 4 bytes. GCC 12 copies and spills the accumulators around the
   _mm512_dpbusd_epi32 builtin; the asm keeps each one in its register (measured 3x faster). */
#define DPBUSD(acc, b, x) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(b), "v"(x))

static void tile_i8_avx512vnni(const void *av, const void *bv, size_t kb, void *cv, size_t ldc,
                               int first) {
    int32_t *c = cv;
    const int8_t *a = av;
    const uint8_t *b = bv;
    dist_z_prefetch_c(c, ldc * sizeof *c, first);
    DIST_Z_DECLARE(__m512i, _mm512_setzero_si512());
    for (size_t k = 0; k < kb; k += 4, a += 4 * DIST_Z_MR, b += 4 * DIST_Z_NR) {
        const __m512i b0 = _mm512_load_si512(b), b1 = _mm512_load_si512(b + 64);
        __m512i x;
        int32_t quad;
#define ROW(r)                                                                                     \
    memcpy(&quad, a + 4 * r, sizeof quad);                                                         \
    x = _mm512_set1_epi32(quad);                                                                   \
    DPBUSD(c##r##0, b0, x);                                                                        \
    DPBUSD(c##r##1, b1, x);
        DIST_Z_ROWS(ROW)
#undef ROW
    }
    DIST_Z_STORE(dist_z_add_i32, c, first);
}

const dist_kernel imi_dist_i8_avx512vnni = {
    .tile = tile_i8_avx512vnni,
    .pack = imi_dist_pack_panel_avx512,
    .stats = imi_dist_row_stats_avx512,
    .finish = imi_dist_finish_rows_avx512,
    .name = "i8_avx512vnni_14x32",
    .mr = DIST_Z_MR,
    .nr = DIST_Z_NR,
    .kgroup = 4,
    .store = DIST_STORE_I8,
    .mc = 112,
};
