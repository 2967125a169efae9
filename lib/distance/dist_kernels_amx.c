/* dist_kernels_amx.c - INT8 with AMX tiles (tdpbusd), 32 x 32 (compiled with -mamx-tile
 * -mamx-int8 on top of the AVX-512 flags).
 *
 * tdpbusd multiplies an unsigned tile (A) by a signed one (B), so this kernel packs the other
 * way round from vpdpbusd (DIST_STORE_I8_AMX): x holds q + 128 as A, rows of 64 bytes (kgroup
 * 64), y holds q as B, groups of 4 bytes ("VNNI layout", 16 rows of y per tile), and the front
 * end removes 128 * sum(q_y) per column (dist_finish_body.h). The int32 sums are exact (no
 * saturation, |sum| < 255 * 127 * DIST_INT8_MAX_DIM < 2^31), so the distances are bitwise those of
 * every other INT8 kernel.
 *
 * Eight tile registers: C00 C01 C10 C11 (tmm0-3, x rows 0-15 / 16-31 by y rows 0-15 / 16-31),
 * A0 A1 (tmm4-5: x rows), B0 B1 (tmm6-7: y rows), all 16 rows x 64 bytes. Per 64 dimensions:
 * 4 tile loads, 4 tdpbusd.
 *
 * Tile configuration is per thread: the front end calls enter() (LDTILECFG) on the thread that
 * runs a task before its first tile and leave() (TILERELEASE) after its last (dist_tiles.c), so
 * every thread that runs tiles - the caller's thread or an OpenMP worker - loads the
 * configuration itself and releases the tile state when its task is done (no thread keeps AMX
 * state in use between calls). The process-wide permission (arch_prctl) is requested once at
 * detection (core/cpu.c); this kernel is never selected without it.
 */
#include <stdint.h>
#include <string.h>

#include "distance/dist_kernels.h"

#define AMX_MR 32
#define AMX_NR 32

/* The tile instructions in asm with a memory clobber (GCC 12's intrinsics have none). */
#define TILE_LOAD(t, base, stride)                                                                 \
    __asm__ volatile("tileloadd (%0,%1,1), %%tmm" #t ::"r"(base), "r"((long)(stride)) : "memory")
#define TILE_STORE(t, base, stride)                                                                \
    __asm__ volatile("tilestored %%tmm" #t ", (%0,%1,1)" ::"r"(base), "r"((long)(stride))         \
                     : "memory")
#define TILE_ZERO(t) __asm__ volatile("tilezero %%tmm" #t ::)
/* tmm<c> += tmm<a> (u8) . tmm<b> (s8) per 4 bytes; AT&T order: b, a, c. */
#define TILE_DPBUSD(c, a, b) __asm__ volatile("tdpbusd %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::)

/* Palette 1: tiles 0-7 of 16 rows x 64 bytes. */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_config;
_Static_assert(sizeof(amx_config) == 64, "LDTILECFG reads 64 bytes");

static void amx_enter(void) {
    amx_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    __asm__ volatile("ldtilecfg %0" ::"m"(cfg));
}

static void amx_leave(void) { __asm__ volatile("tilerelease" ::: "memory"); }

static void tile_i8_amx(const void *av, const void *bv, size_t kb, void *cv, size_t ldc,
                        int first) {
    const uint8_t *a = av;
    const int8_t *b = bv;
    int32_t *c = cv;
    const size_t cs = ldc * sizeof *c; /* bytes between rows of c */
    int32_t *c10 = c + 16 * ldc;
    if (first) {
        TILE_ZERO(0);
        TILE_ZERO(1);
        TILE_ZERO(2);
        TILE_ZERO(3);
    } else { /* int32 adds are exact: starting from c is adding the block sum to it */
        TILE_LOAD(0, c, cs);
        TILE_LOAD(1, c + 16, cs);
        TILE_LOAD(2, c10, cs);
        TILE_LOAD(3, c10 + 16, cs);
    }
    /* kb is a multiple of 64 (the packed group): x's chunk of 64 dimensions is AMX_MR rows of
       64 bytes, y's is 16 rows (groups of 4 dimensions) of AMX_NR x 4 bytes. */
    for (size_t k = 0; k < kb; k += 64, a += 64 * AMX_MR, b += 64 * AMX_NR) {
        TILE_LOAD(4, a, 64);
        TILE_LOAD(6, b, 4 * AMX_NR);
        TILE_LOAD(5, a + 16 * 64, 64);
        TILE_LOAD(7, b + 64, 4 * AMX_NR);
        TILE_DPBUSD(0, 4, 6);
        TILE_DPBUSD(1, 4, 7);
        TILE_DPBUSD(2, 5, 6);
        TILE_DPBUSD(3, 5, 7);
    }
    TILE_STORE(0, c, cs);
    TILE_STORE(1, c + 16, cs);
    TILE_STORE(2, c10, cs);
    TILE_STORE(3, c10 + 16, cs);
}

const dist_kernel imi_dist_i8_amx = {
    .tile = tile_i8_amx,
    .pack = imi_dist_pack_panel_avx512,
    .stats = imi_dist_row_stats_avx512,
    .finish = imi_dist_finish_rows_avx512,
    .enter = amx_enter,
    .leave = amx_leave,
    .name = "i8_amx_32x32",
    .mr = AMX_MR,
    .nr = AMX_NR,
    .kgroup = 64,
    .store = DIST_STORE_I8_AMX,
    .mc = 128,
};
