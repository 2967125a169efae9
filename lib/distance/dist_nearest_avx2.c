/* dist_nearest_avx2.c - the fused row kernel (dist_nearest.h) for AVX2 + FMA + F16C: bitwise the
 * portable reference of dist_nearest_body.h (the model is dist_nearest_avx512.c, in 8 lanes).
 *
 * FP32 / FP16 / BF16. Pass A walks a row in k order: max |v|, the rounded row into an L1 scratch
 * row padded with zeros to whole blocks of 256 (and to a multiple of 4 blocks), and the norm (8
 * double lanes = k mod 8, as the row stats). Pass B takes the blocks side by side: lane b of a
 * vector is block b of a group of 8, so one FMA per step advances 8 blocks' chains by one k
 * each, in k order (BF16: the odd element of each pair first). The lanes come from 128-bit loads
 * (4 consecutive k of blocks r and r + 4) and 4 x 4 transposes within the 128-bit lanes; x is
 * transposed once per call into the same layout. Two rows go together (two chains in flight),
 * and the block sums are added in fp32 in block order at the end, as the micro-kernels' are.
 *
 * INT8: pass 1 max |v| (from memory), pass 2 quantizes 16 values at a time (double products,
 * vcvtpd2dq rounds to nearest even as dist_rint, |q| <= 127), packs them to int16 and sums q^2
 * and q q_x with vpmaddwd: exact integers, so the order of the sums changes nothing. x's q are
 * kept in the same packed order (vpackssdw interleaves 128-bit lanes), so the products pair up.
 *
 * Both keep a prefetch cursor NEAR_AHEAD bytes ahead of the candidate rows (the rows are read
 * once from memory; the rest of the work runs in L1, where demand misses no longer drive the
 * hardware prefetchers), and spread the next image's x over the rows.
 */
#include <immintrin.h>
#include <string.h>

#include "distance/dist_convert.h"
#include "distance/dist_kernels.h"
#include "distance/dist_nearest.h"

#define KC DIST_KC_FLOAT
#define LANES 8
#define INLINE static inline __attribute__((always_inline))
#define NEAR_AHEAD (16 * 1024)
_Static_assert(KC % 4 == 0 && DIST_NEAR_LANES % LANES == 0, "the scratch layout fits 8 lanes");

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

/*-----------------------------------------------------------------------------------------------
 *  FP32 / FP16 / BF16
 *---------------------------------------------------------------------------------------------*/

/* The values the kernels see (dist_convert.h), 8 at a time. */
INLINE __m256 round8(imm_precision prec, __m256 v) {
    if (prec == IMM_PRECISION_FP16) /* vcvtps2ph: bitwise dist_round_half */
        return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    if (prec == IMM_PRECISION_BF16) { /* dist_round_bf16; magnitudes fit signed compares */
        const __m256i b = _mm256_castps_si256(v);
        const __m256i a = _mm256_and_si256(b, _mm256_set1_epi32(0x7fffffff));
        __m256i r = _mm256_add_epi32(b, _mm256_set1_epi32(0x7fff));
        r = _mm256_add_epi32(r, _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1)));
        r = _mm256_and_si256(r, _mm256_set1_epi32((int)0xffff0000u));
        const __m256i tiny = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)DIST_BF16_FLUSH_BITS), a);
        r = _mm256_blendv_epi8(r, _mm256_and_si256(b, _mm256_set1_epi32((int)0x80000000u)), tiny);
        const __m256i special = _mm256_cmpgt_epi32(a, _mm256_set1_epi32(0x7f7fffff));
        return _mm256_castsi256_ps(_mm256_blendv_epi8(r, b, special));
    }
    return v;
}

/* acc[0] + the squares of c[0..3], acc[1] + those of c[4..7]: lane j takes k0 + j. The square
   of a float is exact in double, so the FMA rounds where the reference's add does. */
INLINE void add_squares8(__m256d acc[2], __m256 c) {
    const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(c));
    const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(c, 1));
    acc[0] = _mm256_fmadd_pd(lo, lo, acc[0]);
    acc[1] = _mm256_fmadd_pd(hi, hi, acc[1]);
}

/* Pass A over NR rows v[r] into out[r] (zeros up to `padded`): max bits and norms. */
INLINE void pass_a(imm_precision prec, int NR, const float *const *v, size_t dim, size_t padded,
                   cursor *ys, float *const *out, uint32_t *maxbits, double *norm) {
    const __m256i absmask = _mm256_set1_epi32(0x7fffffff);
    __m256i mx[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    __m256d acc[2][2] = {{_mm256_setzero_pd(), _mm256_setzero_pd()},
                         {_mm256_setzero_pd(), _mm256_setzero_pd()}};
    for (size_t e = 0; e < dim; e += LANES) { /* zeros beyond dim: max 0, squares +0 */
        if (e % 16 == 0)
            cursor_step(ys, 1);
        for (int r = 0; r < NR; r++) {
            const __m256 a = load8(v[r] + e, dim - e);
            mx[r] = _mm256_max_epu32(mx[r], _mm256_and_si256(_mm256_castps_si256(a), absmask));
            const __m256 c = round8(prec, a);
            _mm256_store_ps(out[r] + e, c);
            add_squares8(acc[r], c);
        }
    }
    for (size_t z = (dim + LANES - 1) / LANES * LANES; z < padded; z += LANES)
        for (int r = 0; r < NR; r++)
            _mm256_store_ps(out[r] + z, _mm256_setzero_ps());
    for (int r = 0; r < NR; r++) {
        uint32_t m[8];
        double l[8];
        _mm256_storeu_si256((__m256i *)m, mx[r]);
        _mm256_storeu_pd(l, acc[r][0]);
        _mm256_storeu_pd(l + 4, acc[r][1]);
        maxbits[r] = 0;
        for (int i = 0; i < 8; i++)
            maxbits[r] = m[i] > maxbits[r] ? m[i] : maxbits[r];
        norm[r] = dist_lanes8(l);
    }
}

/* Lanes 0-3: the 4 floats at p (block r of the group), lanes 4-7: those at p + 4 KC (block
   r + 4), zeros when the group has no block there (n <= 4; the row ends there). */
INLINE __m256 lanes_of(const float *p, size_t n) {
    const __m256 v = _mm256_castps128_ps256(_mm_load_ps(p));
    return n > 4 ? _mm256_insertf128_ps(v, _mm_load_ps(p + 4 * KC), 1)
                 : _mm256_insertf128_ps(v, _mm_setzero_ps(), 1);
}

/* t[e] lane b = dimension kk + e of block g * 8 + b, e < 4 (zeros past the group's n blocks;
   blocks n .. 3 of a short group read the row's zero padding). */
INLINE void load_quad(const float *row, size_t g, size_t n, size_t kk, __m256 t[4]) {
    const float *base = row + g * LANES * KC + kk;
    const __m256 a = lanes_of(base, n), b = lanes_of(base + KC, n);
    const __m256 c = lanes_of(base + 2 * KC, n), d = lanes_of(base + 3 * KC, n);
    const __m256d t0 = _mm256_castps_pd(_mm256_unpacklo_ps(a, b));
    const __m256d t1 = _mm256_castps_pd(_mm256_unpackhi_ps(a, b));
    const __m256d t2 = _mm256_castps_pd(_mm256_unpacklo_ps(c, d));
    const __m256d t3 = _mm256_castps_pd(_mm256_unpackhi_ps(c, d));
    t[0] = _mm256_castpd_ps(_mm256_unpacklo_pd(t0, t2));
    t[1] = _mm256_castpd_ps(_mm256_unpackhi_pd(t0, t2));
    t[2] = _mm256_castpd_ps(_mm256_unpacklo_pd(t1, t3));
    t[3] = _mm256_castpd_ps(_mm256_unpackhi_pd(t1, t3));
}

/* Pass B: x~.y~ for NR padded rows yc[r] against x's transposed copy xt, nb blocks. */
INLINE void pass_b(bool swap, int NR, const float *xt, const float *const *yc, size_t nb,
                   cursor *ys, size_t ys_lines, cursor *xs, size_t xs_lines, double *dot) {
    float tot[2] = {0.0f, 0.0f};
    for (size_t g = 0; g * LANES < nb; g++) {
        const size_t n = nb - g * LANES < LANES ? nb - g * LANES : LANES;
        const float *xg = xt + g * KC * LANES;
        __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
        for (size_t kk = 0; kk < KC; kk += 4) {
            cursor_step(ys, ys_lines);
            cursor_step(xs, xs_lines);
            const float *xk = xg + kk * LANES;
            for (int r = 0; r < NR; r++) {
                __m256 t[4];
                load_quad(yc[r], g, n, kk, t);
                if (swap) {
                    acc[r] = _mm256_fmadd_ps(_mm256_load_ps(xk + LANES), t[1], acc[r]);
                    acc[r] = _mm256_fmadd_ps(_mm256_load_ps(xk), t[0], acc[r]);
                    acc[r] = _mm256_fmadd_ps(_mm256_load_ps(xk + 3 * LANES), t[3], acc[r]);
                    acc[r] = _mm256_fmadd_ps(_mm256_load_ps(xk + 2 * LANES), t[2], acc[r]);
                } else {
                    for (int e = 0; e < 4; e++)
                        acc[r] = _mm256_fmadd_ps(_mm256_load_ps(xk + e * LANES), t[e], acc[r]);
                }
            }
        }
        for (int r = 0; r < NR; r++) {
            float l[LANES];
            _mm256_storeu_ps(l, acc[r]);
            for (size_t b = 0; b < n; b++)
                tot[r] = g == 0 && b == 0 ? l[b] : tot[r] + l[b];
        }
    }
    for (int r = 0; r < NR; r++)
        dot[r] = (double)tot[r];
}

/* NR rows of y (1 or 2) through both passes; false if one holds NaN / Inf. */
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
    const size_t steps = (nb + LANES - 1) / LANES * (KC / 4);
    const size_t ys_lines = ((size_t)(NR - 1) * ((dim + 15) / 16) + steps - 1) / steps;
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
    /* the scratch as imi_dist_near_scratch_bytes lays it out (16-lane groups for x's copy,
       which 8-lane groups fit in), rows padded to whole blocks and a multiple of 4 of them */
    const size_t nb = (dim + KC - 1) / KC, groups = (nb + LANES - 1) / LANES;
    const size_t padded = (nb + 3) / 4 * 4 * KC;
    const size_t xt_floats = (nb + DIST_NEAR_LANES - 1) / DIST_NEAR_LANES * DIST_NEAR_LANES * KC;
    float *xt = scratch, *row0 = xt + xt_floats, *row1 = row0 + padded;
    cursor ys = {(const char *)y + NEAR_AHEAD, (const char *)(y + k * dim) + NEAR_AHEAD};
    cursor xs = {(const char *)next_x, next_x == NULL ? NULL : (const char *)(next_x + dim)};
    const size_t pair_steps = (k + 1) / 2 * groups * (KC / 4);
    const size_t xs_lines = ((dim + 15) / 16 + pair_steps - 1) / pair_steps;
    {
        const float *v[1] = {x};
        float *const out[1] = {row0};
        cursor none = {NULL, NULL};
        pass_a(prec, 1, v, dim, padded, &none, out, &xr->maxbits, &xr->norm);
        xr->dot = 0.0;
        if (xr->maxbits >= 0x7f800000u)
            return false;
        for (size_t g = 0; g < groups; g++) {
            const size_t n = nb - g * LANES < LANES ? nb - g * LANES : LANES;
            for (size_t kk = 0; kk < KC; kk += 4) {
                __m256 t[4];
                load_quad(row0, g, n, kk, t);
                for (int e = 0; e < 4; e++)
                    _mm256_store_ps(xt + g * KC * LANES + (kk + (size_t)e) * LANES, t[e]);
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
    return fp_all(prec, x, y, k, dim, next_x, scratch, xr, yr);
}
