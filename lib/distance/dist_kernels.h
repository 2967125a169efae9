/* dist_kernels.h - the dot-product micro-kernels behind imm_distance, one table per ISA.
 *
 * A micro-kernel multiplies one packed panel of MR rows of x by one packed panel of NR rows of
 * y over kb consecutive dimensions and adds the MR x NR block of dot products to a double tile:
 *
 *     c[r * NR + j] (+)= (double) sum_{k < kb} a[r][k] * b[j][k]
 *
 * The inner sum is formed in one fp32 (or int32) accumulator per output, starting from zero and
 * adding the products in increasing k (fp32: one FMA per product; bf16: vdpbf16ps order, the odd
 * element of each pair first). The front end calls it for consecutive blocks of the same kb for
 * every ISA, so each output's arithmetic is fixed by the precision alone: every kernel of a
 * precision returns bitwise the same tile, whatever its MR x NR, and whatever the tiling.
 *
 * Packed layout of a panel of P rows (P = MR for x, NR for y) over Dp dimensions (D rounded up
 * to `kgroup`), element e(row, k), groups of kgroup consecutive k:
 *     index((k / kgroup) * P + row) * kgroup + k % kgroup
 * padded rows and dimensions hold zeros. A block of kb dimensions starting at pc (a multiple of
 * kgroup) starts pc * P elements into the panel.
 */
#ifndef IMM_DISTANCE_DIST_KERNELS_H
#define IMM_DISTANCE_DIST_KERNELS_H

#include <immiscible.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a packed element is. */
typedef enum {
    DIST_STORE_F32 = 0,  /* float (FP32, FP16 rounded, BF16 rounded with pairs swapped) */
    DIST_STORE_BF16 = 1, /* bfloat16 bits, kgroup 2: the vdpbf16ps operand */
    DIST_STORE_I8 = 2,   /* x: int8 q, y: uint8 q + 128, kgroup 1 or 4 (vpdpbusd operand) */
    DIST_STORE_I16 = 3   /* x: int16 q, y: int16 q + 128, kgroup 2 (vpmaddwd operand) */
} dist_store;

/* c (MR x NR doubles, row-major) = (first ? 0 : c) + the block of dot products. For the int8
   stores the dot product is sum q_x * (q_y + 128); the front end removes the offset. */
typedef void (*dist_tile_fn)(const void *a, const void *b, size_t kb, double *c, int first);

struct dist_plan_s;
/* Packs panel `panel` of x (is_y false) or y into the plan's buffers (dist_pack_body.h). */
typedef void (*dist_pack_fn)(struct dist_plan_s *p, bool is_y, size_t panel, const float *src,
                             size_t rows, void *scratch);

typedef struct {
    dist_tile_fn tile;
    dist_pack_fn pack;
    const char *name; /* e.g. "f32_avx512_14x32", for benchmarks and bug reports */
    unsigned mr, nr;  /* micro-tile: rows of x, rows of y */
    unsigned kgroup;  /* consecutive dimensions per packed group */
    dist_store store;
    unsigned mc, nc; /* preferred cache block, in rows of x / rows of y */
} dist_kernel;

/* Dimensions per accumulation block (the "documented blocked order"): fp32 sums never run over
   more than DIST_KC_FLOAT products before they are added in double. int8 blocks only need to
   keep the int32 sum exact: DIST_KC_INT8 * 255 * 127 < 2^31. */
#define DIST_KC_FLOAT 256
#define DIST_KC_INT8 1024

/* The kernel of the active variant for a precision (chosen once; never NULL). */
const dist_kernel *imm_dist_kernel(imm_precision precision);

/* Per-ISA kernels. The ISA ones exist only when the build compiled them. */
extern const dist_kernel imm_dist_f32_scalar, imm_dist_i8_scalar;
extern const dist_kernel imm_dist_f32_avx2, imm_dist_i16_avx2;
extern const dist_kernel imm_dist_f32_avx512;
extern const dist_kernel imm_dist_bf16_avx512bf16;
extern const dist_kernel imm_dist_i8_avx512vnni;

/* The packers, one stamp of dist_pack_body.h per ISA. */
void imm_dist_pack_panel_scalar(struct dist_plan_s *p, bool is_y, size_t panel, const float *src,
                                size_t rows, void *scratch);
void imm_dist_pack_panel_avx2(struct dist_plan_s *p, bool is_y, size_t panel, const float *src,
                              size_t rows, void *scratch);
void imm_dist_pack_panel_avx512(struct dist_plan_s *p, bool is_y, size_t panel, const float *src,
                                size_t rows, void *scratch);

#endif
