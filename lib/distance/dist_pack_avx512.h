/* dist_pack_avx512.h - packing and INT8 row statistics with AVX-512 (included by
 * dist_stamp_avx512.c only, before dist_pack_body.h, which calls these through the hooks
 * DIST_PACK_FAST, DIST_STATS_INT8_FAST and DIST_STATS_NORMS_FAST).
 *
 * The general packer assembles a chunk of each row with scalar stores into an L1 buffer: one
 * element per store, the largest cost of an FP32 call after the micro-kernel. Here a panel is
 * written 16 words (16 floats, or 16 groups of 4 INT8 values) of 16 rows at a time: each row's
 * words are loaded (FP32, FP16 rounding) or quantized (INT8) into a vector, the 16 x 16 block is
 * transposed in registers, and word w of the rows is stored where the kernels read it, at
 * (w P + r) words from the panel's start. The values are those of dist_convert.h: the rounding is
 * the same IEEE operation (vcvtps2ph, a product in double rounded to the nearest integer with
 * ties to even), so the packed bits equal the general packer's, which the variant tests check.
 */
#ifndef IMM_DISTANCE_DIST_PACK_AVX512_H
#define IMM_DISTANCE_DIST_PACK_AVX512_H

#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "distance/dist_convert.h"
#include "distance/dist_plan.h"

/* v[w] = word w of rows 0..15, from v[r] = words 0..15 of row r. */
static inline void pz_transpose16(__m512i v[16]) {
    __m512i a[16], b[16];
    for (int i = 0; i < 16; i += 2) { /* per 128-bit lane: pairs of rows, words 4L..4L+3 */
        a[i] = _mm512_unpacklo_epi32(v[i], v[i + 1]);
        a[i + 1] = _mm512_unpackhi_epi32(v[i], v[i + 1]);
    }
    for (int j = 0; j < 16; j += 4) { /* b[j + t], lane L: word 4L + t of rows j..j+3 */
        b[j] = _mm512_unpacklo_epi64(a[j], a[j + 2]);
        b[j + 1] = _mm512_unpackhi_epi64(a[j], a[j + 2]);
        b[j + 2] = _mm512_unpacklo_epi64(a[j + 1], a[j + 3]);
        b[j + 3] = _mm512_unpackhi_epi64(a[j + 1], a[j + 3]);
    }
    for (int t = 0; t < 4; t++) { /* 4 x 4 transpose of the 128-bit lanes */
        const __m512i c0 = _mm512_shuffle_i32x4(b[t], b[4 + t], 0x44);
        const __m512i c1 = _mm512_shuffle_i32x4(b[t], b[4 + t], 0xee);
        const __m512i c2 = _mm512_shuffle_i32x4(b[8 + t], b[12 + t], 0x44);
        const __m512i c3 = _mm512_shuffle_i32x4(b[8 + t], b[12 + t], 0xee);
        v[t] = _mm512_shuffle_i32x4(c0, c2, 0x88);
        v[4 + t] = _mm512_shuffle_i32x4(c0, c2, 0xdd);
        v[8 + t] = _mm512_shuffle_i32x4(c1, c3, 0x88);
        v[12 + t] = _mm512_shuffle_i32x4(c1, c3, 0xdd);
    }
}

static inline __mmask16 pz_mask16(size_t n) {
    return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u);
}

/* dist_quantize of 16 floats (lanes outside `mask` read as 0): the product in double, rounded
   to the nearest integer, ties to even. */
static inline __m512i pz_quantize16(const float *v, __mmask16 mask, __m512d inv) {
    const __m512 f = _mm512_maskz_loadu_ps(mask, v);
    const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(f));
    const __m512d hi =
        _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(f), 1)));
#define PZ_NEAREST (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
    const __m256i qlo = _mm512_cvt_roundpd_epi32(_mm512_mul_pd(lo, inv), PZ_NEAREST);
    const __m256i qhi = _mm512_cvt_roundpd_epi32(_mm512_mul_pd(hi, inv), PZ_NEAREST);
#undef PZ_NEAREST
    return _mm512_inserti64x4(_mm512_castsi256_si512(qlo), qhi, 1);
}

/* Per-row sums of q and q^2 in int32 lanes (INT8 rows packed in the pre-pass): each lane takes one q of
   every 16, so |lane| <= 127^2 DIST_INT8_MAX_DIM / 16 < 2^31; all exact, in any order. */
typedef struct {
    __m512i sum, sq;
} pz_sums;

/* n <= 64 dimensions of a row quantized, plus `off`, as 64 bytes (bytes n.. are 0); the q
   added to *acc unless it is NULL. */
static inline __m512i pz_quantize64(const float *v, size_t n, __m512d inv, int32_t off,
                                    pz_sums *acc) {
    const __m512i offv = _mm512_set1_epi32(off);
    __m512i r = _mm512_setzero_si512();
    for (int h = 0; h < 4; h++) {
        const size_t left = n > 16 * (size_t)h ? n - 16 * (size_t)h : 0;
        const __mmask16 m = pz_mask16(left);
        const __m512i q0 = pz_quantize16(v + 16 * h, m, inv); /* 0 outside m */
        if (acc != NULL) {
            const __m512i a = _mm512_abs_epi32(q0); /* < 2^15: vpmaddwd squares it exactly */
            acc->sum = _mm512_add_epi32(acc->sum, q0);
            acc->sq = _mm512_add_epi32(acc->sq, _mm512_madd_epi16(a, a));
        }
        const __m512i q = _mm512_maskz_add_epi32(m, q0, offv);
        const __m128i bytes = _mm512_cvtepi32_epi8(q); /* 0 <= q + off <= 255, or |q| <= 127 */
        switch (h) { /* the lane index of inserti32x4 is an immediate */
        case 0: r = _mm512_inserti32x4(r, bytes, 0); break;
        case 1: r = _mm512_inserti32x4(r, bytes, 1); break;
        case 2: r = _mm512_inserti32x4(r, bytes, 2); break;
        default: r = _mm512_inserti32x4(r, bytes, 3); break;
        }
    }
    return r;
}

/* The 16 words of row `v` (its dimensions d0.. of the round) the packer stores, in a vector. */
typedef enum { PZ_FLOAT, PZ_HALF, PZ_INT8 } pz_kind;

static inline __m512i pz_row_words(pz_kind kind, const float *v, size_t n, __m512 scale,
                                   bool scaled, __m512d inv, int32_t off, pz_sums *acc) {
    if (kind == PZ_INT8)
        return pz_quantize64(v, n, inv, off, acc);
    __m512 f = _mm512_maskz_loadu_ps(pz_mask16(n), v);
    if (kind == PZ_HALF) /* the rounding of dist_round_half, as in convert_chunk */
        f = _mm512_cvtph_ps(_mm512_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    else if (scaled)
        f = _mm512_mul_ps(f, scale);
    return _mm512_castps_si512(f);
}

/* The word layouts of pz_pack_panel (all but AMX's x). */
static void pz_pack_words(const dist_plan *p, pz_kind kind, size_t P, size_t count, size_t r0,
                          const float *src, size_t k0, size_t kb, void *dst, __m512 scale,
                          bool scaled, const double *inv, int32_t off, pz_sums *acc) {
    const size_t dim = p->dim;
    /* Words: floats, or groups of 4 INT8 values (bytes k0 + 4w .. 4w + 3 of the round), up to
       the packing group (AMX's y: 64 dimensions), the padding zero. */
    const size_t per_word = kind == PZ_INT8 ? 4 : 1;
    const size_t words = (kb + p->group - 1) / p->group * p->group / per_word;
    uint32_t *out = dst;
    for (size_t w0 = 0; w0 < words; w0 += 16) {
        const size_t d0 = w0 * per_word;
        const size_t n = d0 >= kb ? 0 : kb - d0 < 16 * per_word ? kb - d0 : 16 * per_word;
        const size_t nw = words - w0 < 16 ? words - w0 : 16;
        for (size_t g = 0; g < P; g += 16) {
            __m512i v[16];
            for (size_t r = 0; r < 16; r++)
                v[r] = g + r < count ? pz_row_words(kind, src + (r0 + g + r) * dim + k0 + d0, n,
                                                    scale, scaled, _mm512_set1_pd(inv[g + r]),
                                                    off, acc != NULL ? &acc[g + r] : NULL)
                                     : _mm512_setzero_si512();
            pz_transpose16(v);
            const __mmask16 lanes = pz_mask16(P - g); /* rows count.. hold zeros */
            for (size_t t = 0; t < nw; t++)
                _mm512_mask_storeu_epi32(out + (w0 + t) * P + g, lanes, v[t]);
        }
    }
}

/* The panel as dist_pack_body.h lays it out, for the layouts above; false (nothing written)
   for the others (BF16, swapped pairs, int16 pairs, bytes per dimension, panels over 32 rows),
   which the general packer handles. */
static bool pz_pack_panel(const dist_plan *p, bool is_y, size_t r0, const float *src, size_t k0,
                          size_t kb, void *dst) {
    const dist_kernel *k = p->k;
    const size_t P = is_y ? k->nr : k->mr, rows = is_y ? p->m : p->n, dim = p->dim;
    const size_t count = rows - r0 < P ? rows - r0 : P;
    const bool amx = k->store == DIST_STORE_I8_AMX;
    pz_kind kind;
    if (p->prec == IMM_PRECISION_INT8 && (amx || (k->store == DIST_STORE_I8 && k->kgroup == 4)))
        kind = PZ_INT8;
    else if (k->store == DIST_STORE_F32 && !p->swap_pairs && p->prec == IMM_PRECISION_FP32)
        kind = PZ_FLOAT;
    else if (k->store == DIST_STORE_F32 && p->prec == IMM_PRECISION_FP16)
        kind = PZ_HALF;
    else
        return false;
    if (P > 32)
        return false;
    const uint32_t *maxbits = is_y ? p->ymax : p->xmax;
    const int32_t off = is_y != amx ? 128 : 0; /* as pack_chunk_int8 */
    const bool scaled = p->prescale != 1.0f;
    const __m512 scale = _mm512_set1_ps(p->prescale);
    double inv[32];
    for (size_t r = 0; r < count; r++)
        inv[r] = dist_quantize_inv(maxbits[r0 + r]);
    /* rows packed in the pre-pass (dist_plan.h): their sums, stored at the end */
    const bool sums = kind == PZ_INT8 && (is_y ? p->yprepacked : p->xprepacked);
    pz_sums acc[32];
    for (size_t r = 0; r < count; r++)
        acc[r].sum = acc[r].sq = _mm512_setzero_si512();
    if (amx && !is_y) { /* x as the A tile: each chunk of 64 dimensions is P rows of 64 bytes */
        uint8_t *out = dst;
        for (size_t c0 = 0; c0 < kb; c0 += 64, out += 64 * P) {
            const size_t n = kb - c0 < 64 ? kb - c0 : 64;
            for (size_t r = 0; r < P; r++) {
                const __m512i row =
                    r < count ? pz_quantize64(src + (r0 + r) * dim + k0 + c0, n,
                                              _mm512_set1_pd(inv[r]), off, sums ? &acc[r] : NULL)
                              : _mm512_setzero_si512();
                _mm512_storeu_si512(out + 64 * r, row);
            }
        }
    } else {
        pz_pack_words(p, kind, P, count, r0, src, k0, kb, dst, scale, scaled, inv, off,
                      sums ? acc : NULL);
    }
    for (size_t r = 0; sums && r < count; r++)
        dist_int8_sums(p, is_y, r0 + r, _mm512_reduce_add_epi32(acc[r].sum),
                       _mm512_reduce_add_epi32(acc[r].sq));
    return true;
}

/* INT8 row statistics: sum q and sum q^2 over the row. The rounded products are integers in
   double, so every partial sum is exact and the order does not matter: four pairs of
   accumulators, so that the adds do not wait for each other. */
static inline __m512d pz_round8(const float *v, __mmask8 m, __m512d inv) {
    const __m512d x = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, v));
    return _mm512_roundscale_pd(_mm512_mul_pd(x, inv),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

static void pz_int8_sums(const float *v, size_t dim, double inv, int64_t *sum, int64_t *sq) {
    const __m512d invv = _mm512_set1_pd(inv);
    __m512d s[4], s2[4];
    for (int u = 0; u < 4; u++)
        s[u] = s2[u] = _mm512_setzero_pd();
    size_t k = 0;
    for (; k + 32 <= dim; k += 32)
        for (int u = 0; u < 4; u++) {
            const __m512d q = pz_round8(v + k + 8 * u, 0xff, invv);
            s[u] = _mm512_add_pd(s[u], q);
            s2[u] = _mm512_add_pd(s2[u], _mm512_mul_pd(q, q));
        }
    for (; k < dim; k += 8) {
        const size_t left = dim - k < 8 ? dim - k : 8;
        const __m512d q = pz_round8(v + k, (__mmask8)((1u << left) - 1u), invv);
        s[0] = _mm512_add_pd(s[0], q);
        s2[0] = _mm512_add_pd(s2[0], _mm512_mul_pd(q, q));
    }
    const __m512d t = _mm512_add_pd(_mm512_add_pd(s[0], s[1]), _mm512_add_pd(s[2], s[3]));
    const __m512d t2 = _mm512_add_pd(_mm512_add_pd(s2[0], s2[1]), _mm512_add_pd(s2[2], s2[3]));
    *sum = (int64_t)_mm512_reduce_add_pd(t);
    *sq = (int64_t)_mm512_reduce_add_pd(t2);
}

/* FP32 (unscaled) and FP16 row statistics, four rows side by side: max |v| as integer bits
   and the squared norm in the order of dist_pack_body.h (element k into double lane k mod 8,
   x * x then +, in k order: two adds per 16 elements, the low 8 first), so each row's bits are
   the general code's. Rows past `rows` repeat the last one; their results are dropped. */
static void pz_norms(const dist_plan *p, const float *v, size_t rows, uint32_t *maxbits,
                     double *norm) {
    const size_t dim = p->dim;
    const bool half = p->prec == IMM_PRECISION_FP16;
    const __m512i absmask = _mm512_set1_epi32(0x7fffffff);
    for (size_t r0 = 0; r0 < rows; r0 += 4) {
        const float *rp[4];
        __m512i mx[4];
        __m512d acc[4];
        for (size_t u = 0; u < 4; u++) {
            rp[u] = v + (r0 + u < rows ? r0 + u : rows - 1) * dim;
            mx[u] = _mm512_setzero_si512();
            acc[u] = _mm512_setzero_pd();
        }
        for (size_t k = 0; k < dim; k += 16) {
            const __mmask16 m = pz_mask16(dim - k);
            for (size_t u = 0; u < 4; u++) {
                __m512 f = _mm512_maskz_loadu_ps(m, rp[u] + k);
                mx[u] = _mm512_max_epu32(mx[u], _mm512_and_si512(_mm512_castps_si512(f), absmask));
                if (half)
                    f = _mm512_cvtph_ps(
                        _mm512_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
                const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(f));
                const __m512d hi = _mm512_cvtps_pd(
                    _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(f), 1)));
                acc[u] = _mm512_add_pd(acc[u], _mm512_mul_pd(lo, lo));
                acc[u] = _mm512_add_pd(acc[u], _mm512_mul_pd(hi, hi));
            }
        }
        for (size_t u = 0; u < 4 && r0 + u < rows; u++) {
            double lanes[8];
            _mm512_storeu_pd(lanes, acc[u]);
            maxbits[r0 + u] = (uint32_t)_mm512_reduce_max_epu32(mx[u]);
            norm[r0 + u] = dist_lanes8(lanes);
        }
    }
}

#define DIST_STATS_NORMS_FAST pz_norms
#define DIST_PACK_FAST pz_pack_panel
#define DIST_STATS_INT8_FAST pz_int8_sums

#endif
