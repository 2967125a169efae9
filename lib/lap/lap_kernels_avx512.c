/* lap_kernels_avx512.c - the row scans with 8 doubles per vector (compiled with -mavx512f/vl). */
#include <immintrin.h>
#include <math.h>

#include "lap/lap_kernels.h"

static void two_smallest_avx512(const float *c, const double *v, size_t n, lap_min2 *out) {
    __m512d m1 = _mm512_set1_pd(INFINITY), m2 = m1;
    __m512i i1 = _mm512_set1_epi64(-1), i2 = i1;
    __m512i idx = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    const __m512i step = _mm512_set1_epi64(8);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m512d h = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(c + j)), _mm512_loadu_pd(v + j));
        __mmask8 lt1 = _mm512_cmp_pd_mask(h, m1, _CMP_LT_OQ);
        __mmask8 lt2 = _mm512_cmp_pd_mask(h, m2, _CMP_LT_OQ);
        m2 = _mm512_mask_mov_pd(_mm512_mask_mov_pd(m2, lt2, h), lt1, m1);
        i2 = _mm512_mask_mov_epi64(_mm512_mask_mov_epi64(i2, lt2, idx), lt1, i1);
        m1 = _mm512_mask_mov_pd(m1, lt1, h);
        i1 = _mm512_mask_mov_epi64(i1, lt1, idx);
        idx = _mm512_add_epi64(idx, step);
    }
    double a1[8], a2[8];
    int64_t b1[8], b2[8];
    _mm512_storeu_pd(a1, m1);
    _mm512_storeu_pd(a2, m2);
    _mm512_storeu_si512(b1, i1);
    _mm512_storeu_si512(b2, i2);
    lap_min2 m = lap_lanes_min2(a1, b1, a2, b2, 8);
    imi_lap_two_smallest_tail(c, v, j, n, &m);
    *out = m;
}

/* Float lanes with int32 indices, merged by lap_lanes_min2_f32. */
static void two_smallest_f32_avx512(const float *c, const float *vf, size_t n, lap_min2 *out) {
    __m512 m1 = _mm512_set1_ps(INFINITY), m2 = m1;
    __m512i i1 = _mm512_set1_epi32(-1), i2 = i1;
    __m512i idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i step = _mm512_set1_epi32(16);
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 h = _mm512_sub_ps(_mm512_loadu_ps(c + j), _mm512_loadu_ps(vf + j));
        __mmask16 lt1 = _mm512_cmp_ps_mask(h, m1, _CMP_LT_OQ);
        __mmask16 lt2 = _mm512_cmp_ps_mask(h, m2, _CMP_LT_OQ);
        m2 = _mm512_mask_mov_ps(_mm512_mask_mov_ps(m2, lt2, h), lt1, m1);
        i2 = _mm512_mask_mov_epi32(_mm512_mask_mov_epi32(i2, lt2, idx), lt1, i1);
        m1 = _mm512_mask_mov_ps(m1, lt1, h);
        i1 = _mm512_mask_mov_epi32(i1, lt1, idx);
        idx = _mm512_add_epi32(idx, step);
    }
    float a1[16], a2[16];
    int32_t b1[16], b2[16];
    _mm512_storeu_ps(a1, m1);
    _mm512_storeu_ps(a2, m2);
    _mm512_storeu_si512(b1, i1);
    _mm512_storeu_si512(b2, i2);
    lap_min2 m = lap_lanes_min2_f32(a1, b1, a2, b2, 16);
    imi_lap_two_smallest_f32_tail(c, vf, j, n, &m);
    *out = m;
}

static void relax_avx512(const float *c, const double *v, const double *sc, double r, int32_t row,
                         size_t n, double *d, int32_t *pred, int32_t *bestj) {
    __m512d best = _mm512_set1_pd(INFINITY);
    __m512i bidx = _mm512_set1_epi64(-1);
    __m512i idx = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    const __m512i step = _mm512_set1_epi64(8);
    const __m512d vr = _mm512_set1_pd(r);
    const __m256i vrow = _mm256_set1_epi32(row);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m512d s = _mm512_loadu_pd(sc + j);
        __m512d t = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(c + j)), _mm512_loadu_pd(v + j));
        t = _mm512_add_pd(_mm512_sub_pd(t, vr), s);
        __m512d dj = _mm512_loadu_pd(d + j);
        __mmask8 lt = _mm512_cmp_pd_mask(t, dj, _CMP_LT_OQ);
        dj = _mm512_mask_mov_pd(dj, lt, t);
        _mm512_mask_storeu_pd(d + j, lt, dj);
        _mm256_mask_storeu_epi32(pred + j, lt, vrow);
        __m512d key = _mm512_add_pd(dj, s);
        __mmask8 lb = _mm512_cmp_pd_mask(key, best, _CMP_LT_OQ);
        best = _mm512_mask_mov_pd(best, lb, key);
        bidx = _mm512_mask_mov_epi64(bidx, lb, idx);
        idx = _mm512_add_epi64(idx, step);
    }
    double a[8];
    int64_t b[8];
    _mm512_storeu_pd(a, best);
    _mm512_storeu_si512(b, bidx);
    int L = lap_lanes_argmin(a, b, 8);
    *bestj = imi_lap_relax_tail(c, v, sc, r, row, j, n, d, pred, a[L], (int32_t)b[L]);
}

static size_t filter_avx512(const float *c, const double *v, size_t n, double cut, double *h,
                            int32_t *col, size_t cap) {
    const __m512d vcut = _mm512_set1_pd(cut);
    __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i step = _mm256_set1_epi32(8);
    size_t cnt = 0, j = 0;
    for (; j + 8 <= n; j += 8) {
        __m512d t = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(c + j)), _mm512_loadu_pd(v + j));
        __mmask8 le = _mm512_cmp_pd_mask(t, vcut, _CMP_LE_OQ);
        if (le) {
            _mm512_mask_compressstoreu_pd(h + cnt, le, t);
            _mm256_mask_compressstoreu_epi32(col + cnt, le, idx);
            cnt += (size_t)__builtin_popcount(le);
            if (cnt > cap)
                return cap + 1;
        }
        idx = _mm256_add_epi32(idx, step);
    }
    return imi_lap_filter_tail(c, v, j, n, cut, h, col, cnt, cap);
}

static void block_min_avx512(const float *c, const double *v, size_t n, size_t nb, double *mins) {
    for (size_t b = 0; b < nb; b++) {
        size_t j = lap_block_start(b, n, nb), to = lap_block_start(b + 1, n, nb);
        __m512d m = _mm512_set1_pd(INFINITY);
        for (; j + 8 <= to; j += 8)
            m = _mm512_min_pd(
                m, _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(c + j)), _mm512_loadu_pd(v + j)));
        double r = _mm512_reduce_min_pd(m);
        for (; j < to; j++) {
            double h = (double)c[j] - v[j];
            r = h < r ? h : r;
        }
        mins[b] = r;
    }
}

static void col_add_avx512(const float *c, double *v, size_t n, float *lo, float *hi) {
    __m512 l = _mm512_set1_ps(*lo), h = _mm512_set1_ps(*hi);
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 x = _mm512_loadu_ps(c + j);
        l = _mm512_min_ps(l, x);
        h = _mm512_max_ps(h, x);
        _mm512_storeu_pd(
            v + j, _mm512_add_pd(_mm512_loadu_pd(v + j), _mm512_cvtps_pd(_mm256_loadu_ps(c + j))));
        _mm512_storeu_pd(v + j + 8, _mm512_add_pd(_mm512_loadu_pd(v + j + 8),
                                                  _mm512_cvtps_pd(_mm256_loadu_ps(c + j + 8))));
    }
    *lo = fminf(*lo, _mm512_reduce_min_ps(l));
    *hi = fmaxf(*hi, _mm512_reduce_max_ps(h));
    imi_lap_col_add_tail(c, v, j, n, lo, hi);
}

const lap_kernels imi_lap_kernels_avx512 = {two_smallest_avx512, relax_avx512, filter_avx512,
                                            block_min_avx512, col_add_avx512, two_smallest_f32_avx512};
