/* dist_kernels_scalar.c - the reference micro-kernels, in portable C.
 *
 * They define the arithmetic every other variant reproduces bit for bit: one fp32 accumulator
 * per output, fmaf() per product in increasing k, the block sum added in double; int8 sums in
 * int32 (exact). Small tiles: this is the reference, not the fast path.
 */
#include <math.h>

#include "distance/dist_kernels.h"

#define MR 4
#define NR 4

static void tile_f32_scalar(const void *av, const void *bv, size_t kb, double *c, int first) {
    const float *a = av, *b = bv;
    float acc[MR][NR] = {{0}};
    for (size_t k = 0; k < kb; k++)
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NR; j++)
                acc[r][j] = fmaf(a[k * MR + r], b[k * NR + j], acc[r][j]);
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++)
            c[r * NR + j] = first ? (double)acc[r][j] : c[r * NR + j] + (double)acc[r][j];
}

static void tile_i8_scalar(const void *av, const void *bv, size_t kb, double *c, int first) {
    const int8_t *a = av;
    const uint8_t *b = bv;
    int32_t acc[MR][NR] = {{0}};
    for (size_t k = 0; k < kb; k++)
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NR; j++)
                acc[r][j] += (int32_t)a[k * MR + r] * (int32_t)b[k * NR + j];
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++)
            c[r * NR + j] = first ? (double)acc[r][j] : c[r * NR + j] + (double)acc[r][j];
}

const dist_kernel imm_dist_f32_scalar = {tile_f32_scalar,
                                         imm_dist_pack_panel_scalar,
                                         "f32_scalar_4x4",
                                         MR,
                                         NR,
                                         1,
                                         DIST_STORE_F32,
                                         64,
                                         256};
const dist_kernel imm_dist_i8_scalar = {
    tile_i8_scalar, imm_dist_pack_panel_scalar, "i8_scalar_4x4", MR, NR, 1, DIST_STORE_I8, 64, 256};
