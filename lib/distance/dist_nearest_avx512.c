/* dist_nearest_avx512.c - the AVX-512 fused row kernel (dist_nearest.h), compiled with the
 * AVX-512 flags: bitwise the portable reference of dist_nearest_body.h, for every variant that
 * runs AVX-512 (and so for vdpbf16ps, vpdpbusd and AMX tiles, whose bits the general path shows
 * equal to the FMA / exact-integer ones).
 *
 * FP32 / FP16 / BF16. Pass A walks a row in k order (from memory): max |v|, the rounded row into
 * an L1 scratch row padded with zeros to whole blocks of 256, and the norm (8 double lanes = k
 * mod 8, as the row stats). Pass B takes the blocks side by side: lane b of a vector is block b,
 * so one FMA per step advances 16 blocks' chains by one k each, in k order (BF16: the odd
 * element of each pair first). The lanes come from 16 x 16 in-register transposes of the scratch
 * row; x is transposed once per call into the same lane layout. Two rows go together, so that
 * each pass has two independent chains in flight. The block sums are added in fp32 in block
 * order at the end, as the micro-kernels' outputs are.
 *
 * INT8. Pass 1 max |v| (from memory), pass 2 quantizes (double product, vcvtpd2dq rounds to
 * nearest even as dist_rint, |q| <= 127) and sums q^2 and q q_x with vpmaddwd: exact integers,
 * so any order gives the same sums.
 */
#include <immintrin.h>
#include <string.h>

#include "distance/dist_convert.h"
#include "distance/dist_kernels.h"
#include "distance/dist_nearest.h"

#define KC DIST_KC_FLOAT
#define L DIST_NEAR_LANES
#define INLINE static inline __attribute__((always_inline))
_Static_assert(L == 16 && KC % L == 0, "16 lanes, blocks of whole tiles");

/* The values the kernels see (dist_convert.h), 16 at a time. */
INLINE __m512 round16(imm_precision prec, __m512 v) {
    if (prec == IMM_PRECISION_FP16) /* vcvtps2ph: bitwise dist_round_half (dist_pack_body.h) */
        return _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    if (prec == IMM_PRECISION_BF16) { /* dist_round_bf16 */
        const __m512i b = _mm512_castps_si512(v);
        const __m512i a = _mm512_and_si512(b, _mm512_set1_epi32(0x7fffffff));
        __m512i r = _mm512_add_epi32(b, _mm512_set1_epi32(0x7fff));
        r = _mm512_add_epi32(r, _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1)));
        r = _mm512_and_si512(r, _mm512_set1_epi32((int)0xffff0000u));
        const __mmask16 tiny =
            _mm512_cmplt_epu32_mask(a, _mm512_set1_epi32((int)DIST_BF16_FLUSH_BITS));
        r = _mm512_mask_and_epi32(r, tiny, b, _mm512_set1_epi32((int)0x80000000u));
        const __mmask16 special = _mm512_cmpge_epu32_mask(a, _mm512_set1_epi32(0x7f800000));
        return _mm512_castsi512_ps(_mm512_mask_mov_epi32(r, special, b));
    }
    return v;
}

INLINE __mmask16 tail_mask(size_t n) { return (__mmask16)((1u << n) - 1u); }

/* Prefetching. The rows are read once, from memory, and most of the work is done on them in L1
   afterwards, where the hardware prefetchers (driven by demand misses) stop. So the kernel keeps
   a cursor NEAR_AHEAD bytes ahead of the rows it reads, moved one cache line per 16 values it
   reads (pass A) and the rest of the rows' lines during pass B, so that memory stays busy at
   the rate the rows are consumed; past the last row it runs on into what follows (the next
   image's candidates, for the caller). Prefetches never fault, whatever the address. */
#define NEAR_AHEAD (16 * 1024)

typedef struct {
    const char *at, *end;
} cursor;

INLINE void cursor_step(cursor *c, size_t lines) {
    for (size_t i = 0; i < lines && c->at < c->end; i++, c->at += 64)
        _mm_prefetch(c->at, _MM_HINT_T1);
}

/* The 4 x 4 transposes inside the 128-bit lanes of a, b, c, d (8 shuffles). */
INLINE void transpose4_lanes(__m512 a, __m512 b, __m512 c, __m512 d, __m512 *out) {
    const __m512d t0 = _mm512_castps_pd(_mm512_unpacklo_ps(a, b));
    const __m512d t1 = _mm512_castps_pd(_mm512_unpackhi_ps(a, b));
    const __m512d t2 = _mm512_castps_pd(_mm512_unpacklo_ps(c, d));
    const __m512d t3 = _mm512_castps_pd(_mm512_unpackhi_ps(c, d));
    out[0] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    out[1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    out[2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    out[3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
}

/* 128-bit lane l = the 4 floats at p + 4 l KC (the same columns of blocks r, r + 4, r + 8,
   r + 12 of a group) for l < quads, zeros above. The inserts take their operand from memory and
   run on either vector port, where the shuffles of a register transpose all need port 5. */
INLINE __m512 lanes_of(const float *p, size_t quads) {
    __m512 v = _mm512_zextps128_ps512(_mm_load_ps(p));
    if (quads > 1)
        v = _mm512_insertf32x4(v, _mm_load_ps(p + 4 * KC), 1);
    if (quads > 2)
        v = _mm512_insertf32x4(v, _mm_load_ps(p + 8 * KC), 2);
    if (quads > 3)
        v = _mm512_insertf32x4(v, _mm_load_ps(p + 12 * KC), 3);
    return v;
}

/* The 16 x 16 tile of a padded row, transposed: t[j] lane b = block g * L + b, dimension kk + j
   (zeros for blocks past the group's n; the row holds zeros up to a multiple of 4 blocks).
   Vector 4q + r of the loads holds blocks r, r + 4, .. columns 4q .. 4q + 3, so the 4 x 4
   transposes within lanes leave t[4q + e] = column 4q + e of blocks 0 .. 15 in order. */
INLINE void load_tile(const float *row, size_t g, size_t n, size_t kk, __m512 t[16]) {
    const float *base = row + g * L * KC + kk;
    const size_t quads = (n + 3) / 4;
#pragma GCC unroll 4
    for (size_t q = 0; q < 4; q++)
        transpose4_lanes(lanes_of(base + 4 * q, quads), lanes_of(base + KC + 4 * q, quads),
                         lanes_of(base + 2 * KC + 4 * q, quads),
                         lanes_of(base + 3 * KC + 4 * q, quads), t + 4 * q);
}

/* acc + v^2 for 16 floats into 8 double lanes: lane j takes k0 + j, then k0 + 8 + j. The square
   of a float is exact in double (48 significant bits, exponents within range), so the FMA
   rounds exactly where the reference's multiply-then-add does: once, in the addition. */
INLINE void add_squares16(__m512d *acc, __m512 c) {
    const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(c));
    const __m512d hi =
        _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(c), 1)));
    *acc = _mm512_fmadd_pd(lo, lo, *acc);
    *acc = _mm512_fmadd_pd(hi, hi, *acc);
}

INLINE double lanes8(__m512d acc) {
    double l[8];
    _mm512_storeu_pd(l, acc);
    return dist_lanes8(l);
}

/* Pass A over NR rows v[r] into out[r] (padded to `padded` with zeros): max bits and norms. */
INLINE void pass_a(imm_precision prec, int NR, const float *const *v, size_t dim, size_t padded,
                   cursor *ys, float *const *out, uint32_t *maxbits, double *norm) {
    const __m512i absmask = _mm512_set1_epi32(0x7fffffff);
    __m512i mx[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
    __m512d acc[2] = {_mm512_setzero_pd(), _mm512_setzero_pd()};
    size_t e = 0;
    for (; e + L <= dim; e += L) {
        cursor_step(ys, 1);
        for (int r = 0; r < NR; r++) {
            const __m512 a = _mm512_loadu_ps(v[r] + e);
            mx[r] = _mm512_max_epu32(mx[r], _mm512_and_si512(_mm512_castps_si512(a), absmask));
            const __m512 c = round16(prec, a);
            _mm512_store_ps(out[r] + e, c);
            add_squares16(&acc[r], c);
        }
    }
    if (e < dim) /* zeros beyond dim: max 0, squares +0 (no lane is -0) */
        for (int r = 0; r < NR; r++) {
            const __m512 a = _mm512_maskz_loadu_ps(tail_mask(dim - e), v[r] + e);
            mx[r] = _mm512_max_epu32(mx[r], _mm512_and_si512(_mm512_castps_si512(a), absmask));
            const __m512 c = round16(prec, a);
            _mm512_store_ps(out[r] + e, c);
            add_squares16(&acc[r], c);
        }
    for (size_t z = (dim + L - 1) / L * L; z < padded; z += L)
        for (int r = 0; r < NR; r++)
            _mm512_store_ps(out[r] + z, _mm512_setzero_ps());
    for (int r = 0; r < NR; r++) {
        maxbits[r] = (uint32_t)_mm512_reduce_max_epu32(mx[r]);
        norm[r] = lanes8(acc[r]);
    }
}

/* Pass B: x~.y~ for NR padded rows yc[r] against x's transposed copy xt, nb blocks. */
INLINE void pass_b(bool swap, int NR, const float *xt, const float *const *yc, size_t nb,
                   cursor *ys, size_t ys_lines, cursor *xs, size_t xs_lines, double *dot) {
    float tot[2] = {0.0f, 0.0f};
    for (size_t g = 0; g * L < nb; g++) {
        const size_t n = nb - g * L < L ? nb - g * L : L;
        const float *xg = xt + g * KC * L;
        __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
        for (size_t kk = 0; kk < KC; kk += L) {
            cursor_step(ys, ys_lines);
            cursor_step(xs, xs_lines);
            for (int r = 0; r < NR; r++) {
                __m512 t[16];
                load_tile(yc[r], g, n, kk, t);
                const float *xk = xg + kk * L;
                if (swap) {
#pragma GCC unroll 8
                    for (int j = 0; j < 16; j += 2) {
                        acc[r] =
                            _mm512_fmadd_ps(_mm512_load_ps(xk + (j + 1) * L), t[j + 1], acc[r]);
                        acc[r] = _mm512_fmadd_ps(_mm512_load_ps(xk + j * L), t[j], acc[r]);
                    }
                } else {
#pragma GCC unroll 16
                    for (int j = 0; j < 16; j++)
                        acc[r] = _mm512_fmadd_ps(_mm512_load_ps(xk + j * L), t[j], acc[r]);
                }
            }
        }
        for (int r = 0; r < NR; r++) {
            float l[L];
            _mm512_storeu_ps(l, acc[r]);
            for (size_t b = 0; b < n; b++)
                tot[r] = g == 0 && b == 0 ? l[b] : tot[r] + l[b];
        }
    }
    for (int r = 0; r < NR; r++)
        dot[r] = (double)tot[r];
}

/* NR rows of y (1 or 2) through both passes, moving the prefetch cursors: ys by the rows' lines,
   xs by xs_lines per step of pass B; false if one holds NaN / Inf. */
INLINE bool fp_rows(imm_precision prec, int NR, const float *xt, const float *y, size_t dim,
                    size_t nb, size_t padded, float *row0, float *row1, cursor *ys, cursor *xs,
                    size_t xs_lines, dist_near_row *yr) {
    const float *v[2] = {y, y + dim};
    float *const out[2] = {row0, row1};
    const float *const in[2] = {row0, row1};
    uint32_t maxbits[2];
    double norm[2], dot[2];
    /* pass A moves ys by a line per 16 values: one row's lines; pass B by the other rows' */
    pass_a(prec, NR, v, dim, padded, ys, out, maxbits, norm);
    for (int r = 0; r < NR; r++)
        if (maxbits[r] >= 0x7f800000u)
            return false;
    const size_t steps = (nb + L - 1) / L * (KC / L);
    const size_t ys_lines = ((size_t)(NR - 1) * ((dim + L - 1) / L) + steps - 1) / steps;
    pass_b(prec == IMM_PRECISION_BF16, NR, xt, in, nb, ys, ys_lines, xs, xs_lines, dot);
    for (int r = 0; r < NR; r++) {
        yr[r].maxbits = maxbits[r];
        yr[r].norm = norm[r];
        yr[r].dot = dot[r];
    }
    return true;
}

static bool fp_all(imm_precision prec, const float *x, const float *y, size_t k, size_t dim,
                   const float *next_x, void *scratch, dist_near_row *xr, dist_near_row *yr) {
    /* rows padded with zeros to whole blocks, and to a multiple of 4 blocks (load_tile) */
    const size_t nb = (dim + KC - 1) / KC, groups = (nb + L - 1) / L;
    const size_t padded = (nb + 3) / 4 * 4 * KC;
    float *xt = scratch, *row0 = xt + groups * KC * L, *row1 = row0 + padded;
    /* ys: the rows of y, then the next image's; xs: the next image's x, over the pairs */
    cursor ys = {(const char *)y + NEAR_AHEAD, (const char *)(y + k * dim) + NEAR_AHEAD};
    cursor xs = {(const char *)next_x, next_x == NULL ? NULL : (const char *)(next_x + dim)};
    const size_t xs_lines = ((dim + L - 1) / L + (k + 1) / 2 * groups * (KC / L) - 1) /
                            ((k + 1) / 2 * groups * (KC / L));
    {
        const float *v[1] = {x};
        float *const out[1] = {row0};
        cursor none = {NULL, NULL};
        pass_a(prec, 1, v, dim, padded, &none, out, &xr->maxbits, &xr->norm);
        xr->dot = 0.0;
        if (xr->maxbits >= 0x7f800000u)
            return false;
        for (size_t g = 0; g < groups; g++) {
            const size_t n = nb - g * L < L ? nb - g * L : L;
            for (size_t kk = 0; kk < KC; kk += L) {
                __m512 t[16];
                load_tile(row0, g, n, kk, t);
                for (int j = 0; j < 16; j++)
                    _mm512_store_ps(xt + g * KC * L + (kk + (size_t)j) * L, t[j]);
            }
        }
    }
    size_t t = 0; /* rows in pairs: two independent chains in each pass */
#define NEAR_ROWS(P)                                                                               \
    for (; t + 2 <= k; t += 2)                                                                     \
        if (!fp_rows(P, 2, xt, y + t * dim, dim, nb, padded, row0, row1, &ys, &xs, xs_lines,       \
                     yr + t))                                                                      \
            return false;                                                                          \
    return t == k || fp_rows(P, 1, xt, y + t * dim, dim, nb, padded, row0, row1, &ys, &xs,         \
                             xs_lines, yr + t);
    switch (prec) {
    case IMM_PRECISION_BF16: NEAR_ROWS(IMM_PRECISION_BF16)
    case IMM_PRECISION_FP16: NEAR_ROWS(IMM_PRECISION_FP16)
    default: NEAR_ROWS(IMM_PRECISION_FP32)
    }
#undef NEAR_ROWS
}

/*-----------------------------------------------------------------------------------------------
 *  INT8
 *---------------------------------------------------------------------------------------------*/

static uint32_t max_bits(const float *v, size_t dim) {
    const __m512i absmask = _mm512_set1_epi32(0x7fffffff);
    __m512i m = _mm512_setzero_si512();
    size_t e = 0;
    for (; e + L <= dim; e += L)
        m = _mm512_max_epu32(m, _mm512_and_si512(_mm512_loadu_si512(v + e), absmask));
    if (e < dim)
        m = _mm512_max_epu32(
            m, _mm512_and_si512(_mm512_maskz_loadu_epi32(tail_mask(dim - e), v + e), absmask));
    return (uint32_t)_mm512_reduce_max_epu32(m);
}

/* q = rint(v * inv) for 16 values (dist_quantize; vcvtpd2dq rounds to nearest even). */
INLINE __m512i quantize16(__m512 v, __m512d inv) {
    const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    const __m512d hi =
        _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    const __m256i qlo = _mm512_cvtpd_epi32(_mm512_mul_pd(lo, inv));
    const __m256i qhi = _mm512_cvtpd_epi32(_mm512_mul_pd(hi, inv));
    return _mm512_inserti64x4(_mm512_castsi256_si512(qlo), qhi, 1);
}

/* 32 values from v (n of them, zeros beyond) as int16 q, in vpackssdw's order (the same for
   every row, so that the products pair up). */
INLINE __m512i quantize32(const float *v, size_t n, __m512d inv) {
    __m512 a, b;
    if (n >= 32) {
        a = _mm512_loadu_ps(v);
        b = _mm512_loadu_ps(v + 16);
    } else {
        a = _mm512_maskz_loadu_ps(tail_mask(n < 16 ? n : 16), v);
        b = n > 16 ? _mm512_maskz_loadu_ps(tail_mask(n - 16), v + 16) : _mm512_setzero_ps();
    }
    return _mm512_packs_epi32(quantize16(a, inv), quantize16(b, inv));
}


static bool int8_all(const float *x, const float *y, size_t k, size_t dim, const float *next_x,
                     void *scratch, dist_near_row *xr, dist_near_row *yr) {
    int16_t *qx = scratch;
    xr->maxbits = max_bits(x, dim);
    xr->dot = 0.0;
    if (xr->maxbits >= 0x7f800000u)
        return false;
    const __m512d xinv = _mm512_set1_pd(dist_quantize_inv(xr->maxbits));
    __m512i sq = _mm512_setzero_si512();
    for (size_t e = 0; e < dim; e += 32) {
        const __m512i q = quantize32(x + e, dim - e, xinv);
        _mm512_store_si512(qx + e, q);
        sq = _mm512_add_epi32(sq, _mm512_madd_epi16(q, q));
    }
    const double s = dist_quantize_scale(xr->maxbits);
    xr->norm = (s * s) * (double)_mm512_reduce_add_epi32(sq); /* < 127^2 66311 < 2^31 */
    /* prefetch cursors as in fp_all: the rows of y then the next image's, and the next x */
    cursor ys = {(const char *)y + NEAR_AHEAD, (const char *)(y + k * dim) + NEAR_AHEAD};
    cursor xs = {(const char *)next_x, next_x == NULL ? NULL : (const char *)(next_x + dim)};
    const size_t xs_lines = ((dim + 15) / 16 + k * ((dim + 31) / 32) - 1) / (k * ((dim + 31) / 32));
    for (size_t t = 0; t < k; t++) {
        const float *v = y + t * dim;
        dist_near_row *r = yr + t;
        r->maxbits = max_bits(v, dim);
        if (r->maxbits >= 0x7f800000u)
            return false;
        const __m512d inv = _mm512_set1_pd(dist_quantize_inv(r->maxbits));
        __m512i vsq = _mm512_setzero_si512(), dot = _mm512_setzero_si512();
        for (size_t e = 0; e < dim; e += 32) {
            cursor_step(&ys, 2); /* a row's lines per row */
            cursor_step(&xs, xs_lines);
            const __m512i q = quantize32(v + e, dim - e, inv);
            vsq = _mm512_add_epi32(vsq, _mm512_madd_epi16(q, q));
            dot = _mm512_add_epi32(dot, _mm512_madd_epi16(q, _mm512_load_si512(qx + e)));
        }
        const double sv = dist_quantize_scale(r->maxbits);
        r->norm = (sv * sv) * (double)_mm512_reduce_add_epi32(vsq);
        r->dot = (double)_mm512_reduce_add_epi32(dot);
    }
    return true;
}

bool imi_dist_near_rows_avx512(imm_precision prec, const float *x, const float *y, size_t k,
                               size_t dim, const float *next_x, void *scratch, dist_near_row *xr,
                               dist_near_row *yr) {
    if (prec == IMM_PRECISION_INT8)
        return int8_all(x, y, k, dim, next_x, scratch, xr, yr);
    return fp_all(prec, x, y, k, dim, next_x, scratch, xr, yr);
}
