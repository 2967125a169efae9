/* dist_nearest_avx2.c - the fused row kernel (dist_nearest.h) for AVX2 + FMA: bitwise the
 * portable reference of dist_nearest_body.h, which it also stamps for the precisions it does not
 * vectorise by hand.
 *
 * INT8 by hand (the model is dist_nearest_avx512.c): pass 1 max |v| (from memory), pass 2
 * quantizes 16 values at a time (double products, vcvtpd2dq rounds to nearest even as
 * dist_rint, |q| <= 127), packs them to int16 and sums q^2 and q q_x with vpmaddwd: exact
 * integers, so the order of the sums changes nothing. x's q are kept in the same packed order
 * (vpackssdw interleaves 128-bit lanes), so the products pair up. A prefetch cursor runs
 * NEAR_AHEAD bytes ahead of the candidate rows, a line per 16 values read.
 */
#include <immintrin.h>
#include <string.h>

#include "distance/dist_convert.h"
#include "distance/dist_kernels.h"
#include "distance/dist_nearest.h"

/* The portable body for FP32 / FP16 / BF16, under a local name (internal linkage: declared
   static before the body defines it). */
static bool near_rows_portable(imm_precision prec, const float *x, const float *y, size_t k,
                               size_t dim, const float *next_x, void *scratch, dist_near_row *xr,
                               dist_near_row *yr);
#define DIST_NEAR_ROWS near_rows_portable
#include "distance/dist_nearest_body.h"
#undef DIST_NEAR_ROWS

#define INLINE static inline __attribute__((always_inline))
#define NEAR_AHEAD (16 * 1024)

typedef struct {
    const char *at, *end;
} cursor;

INLINE void cursor_step(cursor *c, size_t lines) {
    for (size_t i = 0; i < lines && c->at < c->end; i++, c->at += 64)
        _mm_prefetch(c->at, _MM_HINT_T1);
}

/* The first n < 8 of 8 floats at v, zeros above (no read past v + n). */
INLINE __m256 load_partial(const float *v, size_t n) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_maskload_ps(v, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), lane));
}

INLINE __m256 load8(const float *v, size_t n) {
    return n >= 8 ? _mm256_loadu_ps(v) : load_partial(v, n);
}

static uint32_t max_bits(const float *v, size_t dim) {
    const __m256i absmask = _mm256_set1_epi32(0x7fffffff);
    __m256i m0 = _mm256_setzero_si256(), m1 = m0;
    size_t e = 0;
    for (; e + 16 <= dim; e += 16) {
        m0 = _mm256_max_epu32(
            m0, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(v + e)), absmask));
        m1 = _mm256_max_epu32(
            m1, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(v + e + 8)), absmask));
    }
    for (; e < dim; e += 8)
        m0 = _mm256_max_epu32(
            m0, _mm256_and_si256(_mm256_castps_si256(load8(v + e, dim - e)), absmask));
    uint32_t l[8];
    _mm256_storeu_si256((__m256i *)l, _mm256_max_epu32(m0, m1));
    uint32_t m = 0;
    for (int i = 0; i < 8; i++)
        m = l[i] > m ? l[i] : m;
    return m;
}

/* q = rint(v * inv) for 8 values (dist_quantize; vcvtpd2dq rounds to nearest even). */
INLINE __m256i quantize8(__m256 v, __m256d inv) {
    const __m128i lo =
        _mm256_cvtpd_epi32(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), inv));
    const __m128i hi =
        _mm256_cvtpd_epi32(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), inv));
    return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

/* 16 values from v (n of them, zeros beyond) as int16 q, in vpackssdw's order (the same for
   every row). */
INLINE __m256i quantize16(const float *v, size_t n, __m256d inv) {
    const __m256i a = quantize8(load8(v, n), inv);
    const __m256i b = n > 8 ? quantize8(load8(v + 8, n - 8), inv) : _mm256_setzero_si256();
    return _mm256_packs_epi32(a, b);
}

INLINE int32_t hsum_epi32(__m256i v) {
    int32_t l[8];
    _mm256_storeu_si256((__m256i *)l, v);
    int32_t s = 0; /* |sums| < 127^2 DIST_INT8_MAX_DIM < 2^31: no overflow anywhere */
    for (int i = 0; i < 8; i++)
        s += l[i];
    return s;
}

static bool int8_all(const float *x, const float *y, size_t k, size_t dim, const float *next_x,
                     void *scratch, dist_near_row *xr, dist_near_row *yr) {
    int16_t *qx = scratch; /* 64-byte aligned, room for dim rounded up to 16 */
    xr->maxbits = max_bits(x, dim);
    xr->dot = 0.0;
    if (xr->maxbits >= 0x7f800000u)
        return false;
    const __m256d xinv = _mm256_set1_pd(dist_quantize_inv(xr->maxbits));
    __m256i sq = _mm256_setzero_si256();
    for (size_t e = 0; e < dim; e += 16) {
        const __m256i q = quantize16(x + e, dim - e, xinv);
        _mm256_store_si256((__m256i *)(qx + e), q);
        sq = _mm256_add_epi32(sq, _mm256_madd_epi16(q, q));
    }
    const double s = dist_quantize_scale(xr->maxbits);
    xr->norm = (s * s) * (double)hsum_epi32(sq);
    /* the rows of y, then the next image's; and the next x, spread over the rows */
    cursor ys = {(const char *)y + NEAR_AHEAD, (const char *)(y + k * dim) + NEAR_AHEAD};
    cursor xs = {(const char *)next_x, next_x == NULL ? NULL : (const char *)(next_x + dim)};
    const size_t steps = k * ((dim + 15) / 16);
    const size_t xs_lines = ((dim + 15) / 16 + steps - 1) / steps;
    for (size_t t = 0; t < k; t++) {
        const float *v = y + t * dim;
        dist_near_row *r = yr + t;
        r->maxbits = max_bits(v, dim);
        if (r->maxbits >= 0x7f800000u)
            return false;
        const __m256d inv = _mm256_set1_pd(dist_quantize_inv(r->maxbits));
        __m256i vsq = _mm256_setzero_si256(), dot = _mm256_setzero_si256();
        for (size_t e = 0; e < dim; e += 16) {
            cursor_step(&ys, 1); /* a row's lines per row */
            cursor_step(&xs, xs_lines);
            const __m256i q = quantize16(v + e, dim - e, inv);
            vsq = _mm256_add_epi32(vsq, _mm256_madd_epi16(q, q));
            dot = _mm256_add_epi32(
                dot, _mm256_madd_epi16(q, _mm256_load_si256((const __m256i *)(qx + e))));
        }
        const double sv = dist_quantize_scale(r->maxbits);
        r->norm = (sv * sv) * (double)hsum_epi32(vsq);
        r->dot = (double)hsum_epi32(dot);
    }
    return true;
}

bool imi_dist_near_rows_avx2(imm_precision prec, const float *x, const float *y, size_t k,
                             size_t dim, const float *next_x, void *scratch, dist_near_row *xr,
                             dist_near_row *yr) {
    if (prec == IMM_PRECISION_INT8)
        return int8_all(x, y, k, dim, next_x, scratch, xr, yr);
    return near_rows_portable(prec, x, y, k, dim, next_x, scratch, xr, yr);
}
