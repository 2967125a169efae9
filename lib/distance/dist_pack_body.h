/* dist_pack_body.h - packing one panel of x or y: rounding (FP16, BF16), per-row INT8
 * quantization, squared norms once per row. Stamped once per ISA (dist_pack.c, dist_pack_avx2.c,
 * dist_pack_avx512.c), like the kernels: each file defines DIST_PACK_PANEL to the name of its
 * entry point and includes this body, compiled with its own flags.
 *
 * Only plain IEEE arithmetic in a fixed order (selects, no libm, no FMA: the files are compiled
 * with -ffp-contract=off), so whatever the compiler vectorises, every stamp writes the same bits.
 * Norms use the 8-lane order of dist_convert.h.
 */
#include <math.h>
#include <string.h>

#include "distance/dist_convert.h"
#include "distance/dist_plan.h"

#ifndef DIST_PACK_PANEL
#error "define DIST_PACK_PANEL before including dist_pack_body.h"
#endif

#define CHUNK                                                                                      \
    64           /* dimensions per pass over a panel's rows: that slice of the panel stays in L1   \
                  */
#define P_MAX 64 /* rows per panel, at most */

/* Running sums of one panel's rows, in the fixed 8-lane order. */
typedef struct {
    double conv[P_MAX][8]; /* squares of the packed values */
    double raw[P_MAX][8];  /* squares of the inputs (BF16 only: tells NaN/Inf from overflow) */
    int64_t sq[P_MAX], sum[P_MAX];
    double inv[P_MAX]; /* INT8: 127 / max|v| of the row */
} panel_sums;
_Static_assert(sizeof(panel_sums) <= DIST_PACK_SCRATCH, "DIST_PACK_SCRATCH too small");

static void add_squares(double l[8], const float *v, size_t k0, size_t n) {
    /* k0 is a multiple of 8 except in the last chunk's tail, handled one by one */
    size_t k = 0;
    for (; k + 8 <= n; k += 8)
        for (int j = 0; j < 8; j++)
            l[j] += (double)v[k + j] * (double)v[k + j];
    for (; k < n; k++)
        l[(k0 + k) & 7] += (double)v[k] * (double)v[k];
}

/* Rounds v[0..n) to what the kernels see. */
static void convert_chunk(const dist_plan *p, const float *v, size_t n, float *out) {
    const float s = p->prescale;
    switch (p->prec) {
    case IMM_PRECISION_FP16:
        for (size_t k = 0; k < n; k++)
            out[k] = dist_round_half(v[k]);
        break;
    case IMM_PRECISION_BF16:
        for (size_t k = 0; k < n; k++)
            out[k] = dist_round_bf16(v[k] * s);
        break;
    default:
        for (size_t k = 0; k < n; k++)
            out[k] = v[k] * s;
        break;
    }
}

/* One chunk [k0, k0 + n) of row r of a float / bf16 panel. */
static void pack_chunk_float(const dist_plan *p, const float *v, size_t k0, size_t n, void *panel,
                             size_t P, size_t r, panel_sums *ps) {
    float stage[CHUNK];
    convert_chunk(p, v + k0, n, stage);
    add_squares(ps->conv[r], stage, k0, n);
    if (p->prec == IMM_PRECISION_BF16)
        add_squares(ps->raw[r], v + k0, k0, n);
    if (p->k->store == DIST_STORE_BF16) {
        uint16_t *o = panel;
        for (size_t k = 0; k < n; k++)
            o[(((k0 + k) >> 1) * P + r) * 2 + ((k0 + k) & 1)] =
                (uint16_t)(dist_bits(stage[k]) >> 16);
    } else {
        float *o = panel;
        const size_t sw = p->swap_pairs ? 1 : 0;
        for (size_t k = 0; k < n; k++)
            o[((k0 + k) ^ sw) * P + r] = stage[k];
    }
}

/* INT8, first pass over a row: max|v| and the raw squares (which also catch NaN/Inf). */
static void int8_row_scale(const float *v, size_t dim, size_t r, panel_sums *ps) {
    float amax = 0.0f;
    for (size_t k = 0; k < dim; k++) {
        float a = fabsf(v[k]);
        amax = a > amax ? a : amax;
    }
    add_squares(ps->raw[r], v, 0, dim);
    ps->inv[r] = amax > 0.0f ? 127.0 / (double)amax : 0.0;
    ps->conv[r][0] = (double)amax / 127.0; /* the row's scale, kept here until the end */
}

/* INT8: q = rint(v * 127 / max|v|); x keeps q, y stores q + 128 (the unsigned operand of
   vpdpbusd), in bytes (kgroup 1 or 4) or int16 pairs (kgroup 2, vpmaddwd). */
static void pack_chunk_int8(const dist_plan *p, bool is_y, const float *v, size_t k0, size_t n,
                            void *panel, size_t P, size_t r, panel_sums *ps) {
    const size_t g = p->k->kgroup;
    const int32_t off = is_y ? 128 : 0;
    const double inv = ps->inv[r];
    int32_t q[CHUNK];
    int64_t sq = 0, sum = 0;
    for (size_t k = 0; k < n; k++)
        q[k] = dist_quantize(v[k0 + k], inv);
    for (size_t k = 0; k < n; k++) {
        sq += q[k] * q[k];
        sum += q[k];
    }
    ps->sq[r] += sq;
    ps->sum[r] += sum;
    if (p->k->store == DIST_STORE_I16) {
        int16_t *o = panel;
        for (size_t k = k0; k < k0 + n; k++)
            o[((k >> 1) * P + r) * 2 + (k & 1)] = (int16_t)(q[k - k0] + off);
    } else if (g == 4) {
        uint8_t *o = panel;
        for (size_t k = k0; k < k0 + n; k++)
            o[((k >> 2) * P + r) * 4 + (k & 3)] = (uint8_t)(q[k - k0] + off);
    } else {
        uint8_t *o = panel;
        for (size_t k = k0; k < k0 + n; k++)
            o[k * P + r] = (uint8_t)(q[k - k0] + off);
    }
}

/* One panel of P rows starting at row r0 of src (rows of them exist). */
void DIST_PACK_PANEL(dist_plan *p, bool is_y, size_t panel_index, const float *src, size_t rows,
                     void *scratch) {
    panel_sums *ps = scratch;
    const size_t P = is_y ? p->k->nr : p->k->mr, r0 = panel_index * P, dim = p->dim;
    const size_t count = rows - r0 < P ? rows - r0 : P;
    const size_t panel_bytes = P * p->dp * p->elem;
    const bool int8 = p->prec == IMM_PRECISION_INT8;
    unsigned char *panel = (unsigned char *)(is_y ? p->py : p->px) + panel_index * panel_bytes;
    if (count < P || p->dp > dim)
        memset(panel, 0, panel_bytes);
    memset(ps, 0, sizeof *ps);
    if (int8)
        for (size_t r = 0; r < count; r++)
            int8_row_scale(src + (r0 + r) * dim, dim, r, ps);
    for (size_t k0 = 0; k0 < dim; k0 += CHUNK) {
        const size_t n = dim - k0 < CHUNK ? dim - k0 : CHUNK;
        for (size_t r = 0; r < count; r++) {
            const float *v = src + (r0 + r) * dim;
            if (!int8)
                pack_chunk_float(p, v, k0, n, panel, P, r, ps);
            else if (ps->inv[r] == ps->inv[r]) /* skip rows with NaN/Inf (the call fails) */
                pack_chunk_int8(p, is_y, v, k0, n, panel, P, r, ps);
        }
    }
    double *norm = is_y ? p->yn : p->xn, *scale = is_y ? p->ys : p->xs;
    double worst_raw = 0.0, worst_conv = 0.0;
    for (size_t r = 0; r < count; r++) {
        double conv, raw = dist_lanes8(ps->raw[r]);
        if (int8) {
            const double s = ps->conv[r][0];
            scale[r0 + r] = s;
            if (!is_y)
                p->xq[r0 + r] = (double)ps->sum[r];
            conv = (s * s) * (double)ps->sq[r];
        } else {
            conv = dist_lanes8(ps->conv[r]);
            if (p->prec != IMM_PRECISION_BF16)
                raw = conv;
        }
        norm[r0 + r] = conv;
        /* A NaN compares false: make the panel's maximum +Inf so it cannot hide. */
        worst_raw = raw <= worst_raw ? worst_raw : isnan(raw) ? INFINITY : raw;
        worst_conv = conv <= worst_conv ? worst_conv : isnan(conv) ? INFINITY : conv;
    }
    size_t slot = is_y ? p->xpanels + panel_index : panel_index;
    p->panel_raw[slot] = worst_raw;
    p->panel_conv[slot] = worst_conv;
}
