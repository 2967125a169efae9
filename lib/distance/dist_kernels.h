/* dist_kernels.h - the dot-product micro-kernels behind imm_distance, one table per ISA.
 *
 * A micro-kernel multiplies one packed panel of MR rows of x by one packed panel of NR rows of
 * y over kb consecutive dimensions and stores (first block) or adds its MR x NR dot products to
 * the output, which accumulates them across the blocks of dimensions:
 *
 *     c[r * ldc + j] = (first ? 0 : c[r * ldc + j]) + sum_{k < kb} a[r][k] * b[j][k]
 *
 * FP32 / FP16 / BF16: c is float; the block sum is formed in one fp32 accumulator per output,
 * starting from zero and adding the products in increasing k (one FMA each; BF16 as vdpbf16ps:
 * per pair of k the odd product, rounded, then the even one), then added to c in fp32 (the first
 * block is stored as is). INT8: c is int32 and every sum is exact. The front end uses the same
 * blocks (DIST_KC_*) for every ISA, so each output's arithmetic depends on the precision alone:
 * every kernel of a precision gives bitwise the same c, whatever its MR x NR and the tiling.
 *
 * Packed layout of a panel of P rows (P = MR for x, NR for y) over a block of kb dimensions
 * (rounded up to `kgroup`), element e(row, k), groups of kgroup consecutive k:
 *     index ((k / kgroup) * P + row) * kgroup + k % kgroup
 * Padded rows and dimensions hold zeros. DIST_STORE_I8_AMX (kgroup 64) lays out x that way and y
 * in groups of 4 (the layout above with kgroup 4), each chunk of 64 dimensions padded whole.
 */
#ifndef IMM_DISTANCE_DIST_KERNELS_H
#define IMM_DISTANCE_DIST_KERNELS_H

#include <immiscible.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/fpenv.h" /* refuses -ffast-math builds */

/* What a packed element is. */
typedef enum {
    DIST_STORE_F32 = 0,  /* float (FP32, FP16 rounded, BF16 rounded with pairs swapped) */
    DIST_STORE_BF16 = 1, /* bfloat16 bits, kgroup 2: the vdpbf16ps operand */
    DIST_STORE_I8 = 2,   /* x: int8 q, y: uint8 q + 128, kgroup 1 or 4 (vpdpbusd operand) */
    DIST_STORE_I16 = 3,  /* x: int16 q, y: int16 q + 128, kgroup 2 (vpmaddwd operand) */
    /* x: uint8 q + 128 in rows of 64 bytes (kgroup 64: the unsigned A tile of tdpbusd), y: int8 q
       in groups of 4 (the signed B tile); the offset is removed per column (128 sum q_y). */
    DIST_STORE_I8_AMX = 4
} dist_store;

/* c: float (int32 for the INT8 stores: the sum of q_x * (q_y + 128), or (q_x + 128) * q_y for
   DIST_STORE_I8_AMX; the front end removes the offset). Row r of the tile at c + r * ldc. */
typedef void (*dist_tile_fn)(const void *a, const void *b, size_t kb, void *c, size_t ldc,
                             int first);

struct dist_plan_s;

/* The most rows in a panel (every kernel's mr and nr). */
#define DIST_PANEL_MAX 32

/* Packs rows [r0, r0 + P) of src (x or y), dimensions [k0, k0 + kb), into one panel at dst
   (dist_pack_body.h). INT8 rows it packs in the pre-pass (dist_plan.h: xprepacked, yprepacked;
   whole rows) also get their sum q and norm from it, which the statistics then leave to it. */
typedef void (*dist_pack_fn)(const struct dist_plan_s *p, bool is_y, size_t r0, const float *src,
                             size_t k0, size_t kb, void *dst, void *scratch);

/* Pre-pass of `rows` consecutive rows from v (dim floats each): maxbits[r] = max |v| as float
   bits (unless max_known); if finite, norm[r] = the squared norm of the row as the kernels see
   it, and for INT8 scale[r] and sumq[r] (the sum of q). INT8 with norm and sumq NULL: only
   maxbits and scale (rows packed in the pre-pass: the packer stores the rest). */
typedef void (*dist_stats_fn)(const struct dist_plan_s *p, const float *v, size_t rows,
                              bool max_known, uint32_t *maxbits, double *norm, double *scale,
                              double *sumq);

/* Turns rows [i0, i1) of the output, holding dot products, into distances (dist_finish_body.h). */
typedef void (*dist_finish_fn)(const struct dist_plan_s *p, size_t i0, size_t i1, const float *x,
                               const float *y, float *out);

typedef struct {
    dist_tile_fn tile;
    dist_pack_fn pack;
    dist_stats_fn stats;
    dist_finish_fn finish;
    /* Optional (NULL for most): per-thread state the tile function needs (AMX: the tile
       configuration), set up by enter() on the thread that runs a task before its first tile,
       and dropped by leave() after its last one (dist_tiles.c). */
    void (*enter)(void);
    void (*leave)(void);
    const char *name; /* e.g. "f32_avx512_14x32", for benchmarks and bug reports */
    unsigned mr, nr;  /* micro-tile: rows of x, rows of y (at most DIST_PANEL_MAX) */
    unsigned kgroup;  /* consecutive dimensions per packed group */
    dist_store store;
    unsigned mc; /* preferred block of rows of x per task (a multiple of mr) */
} dist_kernel;

/* Dimensions per block (the "documented blocked order"): an fp32 sum never runs over more than
   DIST_KC_FLOAT products before it is added to the output. INT8 blocks only bound the packing
   buffers: the int32 sums stay exact over DIST_INT8_MAX_DIM dimensions, 255 * 127 * D < 2^31. */
#define DIST_KC_FLOAT 256
#define DIST_KC_INT8 1024
#define DIST_INT8_MAX_DIM 66311

/* The kernel of the active variant for a precision (chosen once; never NULL). */
const dist_kernel *imi_dist_kernel(imm_precision precision);

/* Per-ISA kernels. The ISA ones exist only when the build compiled them. */
extern const dist_kernel imi_dist_f32_scalar, imi_dist_i8_scalar;
extern const dist_kernel imi_dist_f32_avx2, imi_dist_i16_avx2;
extern const dist_kernel imi_dist_f32_avx512;
extern const dist_kernel imi_dist_bf16_avx512bf16;
extern const dist_kernel imi_dist_i8_avx512vnni;
extern const dist_kernel imi_dist_i8_amx;

/* Whether a store holds INT8 values (int32 sums, DIST_KC_INT8 blocks). */
static inline bool dist_store_int(dist_store s) {
    return s == DIST_STORE_I8 || s == DIST_STORE_I16 || s == DIST_STORE_I8_AMX;
}

/* Pre-pass, packers and finishers: one stamp of dist_pack_body.h / dist_finish_body.h per ISA. */
#define DIST_DECLARE_STAMP(isa)                                                                    \
    void imi_dist_pack_panel_##isa(const struct dist_plan_s *p, bool is_y, size_t r0,              \
                                   const float *src, size_t k0, size_t kb, void *dst,              \
                                   void *scratch);                                                 \
    void imi_dist_row_stats_##isa(const struct dist_plan_s *p, const float *v, size_t rows,        \
                                  bool max_known, uint32_t *maxbits, double *norm, double *scale, \
                                  double *sumq);                                                  \
    void imi_dist_finish_rows_##isa(const struct dist_plan_s *p, size_t i0, size_t i1,             \
                                    const float *x, const float *y, float *out);
DIST_DECLARE_STAMP(scalar)
DIST_DECLARE_STAMP(avx2)
DIST_DECLARE_STAMP(avx512)

#endif
