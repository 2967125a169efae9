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

/* What this thread reads next, fetched into L2 while the current rows are worked on in L1 (the
   hardware prefetchers follow demand misses only, and there are none then): up to two ranges
   of bytes, `per` cache lines per step. Prefetches never fault, so a range may run past the end
   of the caller's arrays. */
typedef struct {
    const char *at, *end, *at2, *end2;
    size_t per;
} ahead;

static ahead ahead_make(const void *p, size_t bytes, const void *p2, size_t bytes2, size_t steps) {
    ahead a = {p, (const char *)p + bytes, p2, p2 == NULL ? NULL : (const char *)p2 + bytes2, 0};
    const size_t lines = (bytes + (p2 == NULL ? 0 : bytes2)) / 64 + 2;
    a.per = (lines + steps - 1) / steps;
    return a;
}

INLINE void ahead_step(ahead *a) {
    for (size_t i = 0; i < a->per; i++) {
        if (a->at < a->end) {
            _mm_prefetch(a->at, _MM_HINT_T1);
            a->at += 64;
        } else if (a->at2 < a->end2) {
            _mm_prefetch(a->at2, _MM_HINT_T1);
            a->at2 += 64;
        }
    }
}

/* t[j] lane b = t[b] lane j (the usual unpack / shuffle network, 64 shuffles). */
INLINE void transpose16(__m512 t[16]) {
    __m512 u[16];
    for (int i = 0; i < 16; i += 2) {
        u[i] = _mm512_unpacklo_ps(t[i], t[i + 1]);
        u[i + 1] = _mm512_unpackhi_ps(t[i], t[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        const __m512d a = _mm512_castps_pd(u[i]), b = _mm512_castps_pd(u[i + 1]);
        const __m512d c = _mm512_castps_pd(u[i + 2]), d = _mm512_castps_pd(u[i + 3]);
        t[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        t[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        t[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        t[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int i = 0; i < 16; i += 8)
        for (int j = 0; j < 4; j++) {
            u[i + j] = _mm512_shuffle_f32x4(t[i + j], t[i + j + 4], 0x88);
            u[i + j + 4] = _mm512_shuffle_f32x4(t[i + j], t[i + j + 4], 0xdd);
        }
    for (int j = 0; j < 8; j++) {
        t[j] = _mm512_shuffle_f32x4(u[j], u[j + 8], 0x88);
        t[j + 8] = _mm512_shuffle_f32x4(u[j], u[j + 8], 0xdd);
    }
}

/* The 16 x 16 tile of a padded row: blocks g * L .. + n (zeros beyond), dimensions kk .. + 16. */
INLINE void load_tile(const float *row, size_t g, size_t n, size_t kk, __m512 t[16]) {
    const float *base = row + g * L * KC + kk;
#pragma GCC unroll 16
    for (size_t b = 0; b < L; b++)
        t[b] = b < n ? _mm512_load_ps(base + b * KC) : _mm512_setzero_ps();
    transpose16(t);
}

INLINE void add_squares16(__m512d *acc, __m512 c) {
    const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(c));
    const __m512d hi =
        _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(c), 1)));
    *acc = _mm512_add_pd(*acc, _mm512_mul_pd(lo, lo)); /* lane j: k0 + j, then k0 + 8 + j */
    *acc = _mm512_add_pd(*acc, _mm512_mul_pd(hi, hi));
}

INLINE double lanes8(__m512d acc) {
    double l[8];
    _mm512_storeu_pd(l, acc);
    return dist_lanes8(l);
}

/* Pass A over NR rows v[r] into out[r] (padded to `padded` with zeros): max bits and norms. */
INLINE void pass_a(imm_precision prec, int NR, const float *const *v, size_t dim, size_t padded,
                   float *const *out, uint32_t *maxbits, double *norm) {
    const __m512i absmask = _mm512_set1_epi32(0x7fffffff);
    __m512i mx[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
    __m512d acc[2] = {_mm512_setzero_pd(), _mm512_setzero_pd()};
    size_t e = 0;
    for (; e + L <= dim; e += L)
        for (int r = 0; r < NR; r++) {
            const __m512 a = _mm512_loadu_ps(v[r] + e);
            mx[r] = _mm512_max_epu32(mx[r], _mm512_and_si512(_mm512_castps_si512(a), absmask));
            const __m512 c = round16(prec, a);
            _mm512_store_ps(out[r] + e, c);
            add_squares16(&acc[r], c);
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
                   ahead *pf, double *dot) {
    float tot[2] = {0.0f, 0.0f};
    for (size_t g = 0; g * L < nb; g++) {
        const size_t n = nb - g * L < L ? nb - g * L : L;
        const float *xg = xt + g * KC * L;
        __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
        for (size_t kk = 0; kk < KC; kk += L) {
            ahead_step(pf);
            for (int r = 0; r < NR; r++) {
                __m512 t[16];
                load_tile(yc[r], g, n, kk, t);
                const float *xk = xg + kk * L;
                if (swap) {
#pragma GCC unroll 8
                    for (int j = 0; j < 16; j += 2) {
                        acc[r] = _mm512_fmadd_ps(_mm512_load_ps(xk + (j + 1) * L), t[j + 1], acc[r]);
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

/* NR rows of y (1 or 2) through both passes, fetching the next `more` bytes after them (and
   next_x's row when they are the last); false if one holds NaN / Inf. */
INLINE bool fp_rows(imm_precision prec, int NR, const float *xt, const float *y, size_t dim,
                    size_t nb, float *row0, float *row1, size_t more, const float *next_x,
                    dist_near_row *yr) {
    const float *v[2] = {y, y + dim};
    float *const out[2] = {row0, row1};
    const float *const in[2] = {row0, row1};
    uint32_t maxbits[2];
    double norm[2], dot[2];
    pass_a(prec, NR, v, dim, nb * KC, out, maxbits, norm);
    for (int r = 0; r < NR; r++)
        if (maxbits[r] >= 0x7f800000u)
            return false;
    ahead pf = ahead_make(y + (size_t)NR * dim, more, next_x, dim * sizeof(float),
                          (nb + L - 1) / L * (KC / L));
    pass_b(prec == IMM_PRECISION_BF16, NR, xt, in, nb, &pf, dot);
    for (int r = 0; r < NR; r++) {
        yr[r].maxbits = maxbits[r];
        yr[r].norm = norm[r];
        yr[r].dot = dot[r];
    }
    return true;
}

static bool fp_all(imm_precision prec, const float *x, const float *y, size_t k, size_t dim,
                   const float *next_x, void *scratch, dist_near_row *xr, dist_near_row *yr) {
    const size_t nb = (dim + KC - 1) / KC, groups = (nb + L - 1) / L;
    float *xt = scratch, *row0 = xt + groups * KC * L, *row1 = row0 + nb * KC;
    {
        const float *v[1] = {x};
        float *const out[1] = {row0};
        pass_a(prec, 1, v, dim, nb * KC, out, &xr->maxbits, &xr->norm);
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
    /* Rows in pairs; each pair fetches the next one (past the last: the next image's rows). */
    const size_t pair = 2 * dim * sizeof(float);
    size_t t = 0;
#define NEAR_ROWS(P)                                                                               \
    for (; t + 2 <= k; t += 2)                                                                     \
        if (!fp_rows(P, 2, xt, y + t * dim, dim, nb, row0, row1, pair,                             \
                     t + 2 >= k ? next_x : NULL, yr + t))                                          \
            return false;                                                                          \
    return t == k || fp_rows(P, 1, xt, y + t * dim, dim, nb, row0, row1, pair, next_x, yr + t);
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

static double inv_of(uint32_t maxbits) {
    const float amax = dist_float(maxbits);
    return amax > 0.0f ? 127.0 / (double)amax : 0.0;
}

static double scale_of(uint32_t maxbits) { return (double)dist_float(maxbits) / 127.0; }

static bool int8_all(const float *x, const float *y, size_t k, size_t dim, const float *next_x,
                     void *scratch, dist_near_row *xr, dist_near_row *yr) {
    int16_t *qx = scratch;
    xr->maxbits = max_bits(x, dim);
    xr->dot = 0.0;
    if (xr->maxbits >= 0x7f800000u)
        return false;
    const __m512d xinv = _mm512_set1_pd(inv_of(xr->maxbits));
    __m512i sq = _mm512_setzero_si512();
    for (size_t e = 0; e < dim; e += 32) {
        const __m512i q = quantize32(x + e, dim - e, xinv);
        _mm512_store_si512(qx + e, q);
        sq = _mm512_add_epi32(sq, _mm512_madd_epi16(q, q));
    }
    const double xs = scale_of(xr->maxbits);
    xr->norm = (xs * xs) * (double)_mm512_reduce_add_epi32(sq); /* < 127^2 66311 < 2^31 */
    for (size_t t = 0; t < k; t++) {
        const float *v = y + t * dim;
        dist_near_row *r = yr + t;
        r->maxbits = max_bits(v, dim);
        if (r->maxbits >= 0x7f800000u)
            return false;
        const __m512d inv = _mm512_set1_pd(inv_of(r->maxbits));
        __m512i vsq = _mm512_setzero_si512(), dot = _mm512_setzero_si512();
        /* the next row (past the last: the next image's first one, and its x) */
        ahead pf = ahead_make(v + dim, dim * sizeof(float), t + 1 == k ? next_x : NULL,
                              dim * sizeof(float), (dim + 31) / 32);
        for (size_t e = 0; e < dim; e += 32) {
            ahead_step(&pf);
            const __m512i q = quantize32(v + e, dim - e, inv);
            vsq = _mm512_add_epi32(vsq, _mm512_madd_epi16(q, q));
            dot = _mm512_add_epi32(dot, _mm512_madd_epi16(q, _mm512_load_si512(qx + e)));
        }
        const double s = scale_of(r->maxbits);
        r->norm = (s * s) * (double)_mm512_reduce_add_epi32(vsq);
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
