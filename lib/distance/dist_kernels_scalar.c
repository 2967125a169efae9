/* dist_kernels_scalar.c - the reference micro-kernels, in portable C.
 *
 * They define the arithmetic every other variant reproduces bit for bit: one fp32 accumulator
 * per output, fmaf() per product in increasing k, the block sum stored or added (fp32) to the
 * output; int8 sums in int32 (exact). Small tiles: this is the reference, not the fast path.
 */
#include <math.h>

#include "distance/dist_kernels.h"

#define MR 4
#define NR 4

static void tile_f32_scalar(const void *av, const void *bv, size_t kb, void *cv, size_t ldc,
                            int first) {
    const float *a = av, *b = bv;
    float *c = cv;
    float acc[MR][NR] = {{0}};
    for (size_t k = 0; k < kb; k++)
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NR; j++)
                acc[r][j] = fmaf(a[k * MR + r], b[k * NR + j], acc[r][j]);
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++)
            c[r * ldc + j] = first ? acc[r][j] : c[r * ldc + j] + acc[r][j];
}

static void tile_i8_scalar(const void *av, const void *bv, size_t kb, void *cv, size_t ldc,
                           int first) {
    const int8_t *a = av;
    const uint8_t *b = bv;
    int32_t *c = cv;
    int32_t acc[MR][NR] = {{0}};
    for (size_t k = 0; k < kb; k++)
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NR; j++)
                acc[r][j] += (int32_t)a[k * MR + r] * (int32_t)b[k * NR + j];
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++)
            c[r * ldc + j] = first ? acc[r][j] : c[r * ldc + j] + acc[r][j];
}

const dist_kernel imi_dist_f32_scalar = {
    .tile = tile_f32_scalar,
    .pack = imi_dist_pack_panel_scalar,
    .stats = imi_dist_row_stats_scalar,
    .finish = imi_dist_finish_rows_scalar,
    .name = "f32_scalar_4x4",
    .mr = MR,
    .nr = NR,
    .kgroup = 1,
    .store = DIST_STORE_F32,
    .mc = 64,
};
const dist_kernel imi_dist_i8_scalar = {
    .tile = tile_i8_scalar,
    .pack = imi_dist_pack_panel_scalar,
    .stats = imi_dist_row_stats_scalar,
    .finish = imi_dist_finish_rows_scalar,
    .name = "i8_scalar_4x4",
    .mr = MR,
    .nr = NR,
    .kgroup = 1,
    .store = DIST_STORE_I8,
    .mc = 64,
};
