/* lap_kernels_avx2.c - the row scans with 4 doubles per vector (compiled with -mavx2 -mfma). */
#include <immintrin.h>
#include <math.h>

#include "lap/lap_kernels.h"

/* Column indices ride in the vectors as doubles, which hold every int32 exactly; the lane merge
   (lap_kernels.h) takes them as integers. */
static void lane_indices(__m256d idx, int64_t out[4]) {
    double d[4];
    _mm256_storeu_pd(d, idx);
    for (int l = 0; l < 4; l++)
        out[l] = (int64_t)d[l];
}

static __m256d reduced(const float *c, const double *v, size_t j) {
    return _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(c + j)), _mm256_loadu_pd(v + j));
}

static void two_smallest_avx2(const float *c, const double *v, size_t n, lap_min2 *out) {
    __m256d m1 = _mm256_set1_pd(INFINITY), m2 = m1;
    __m256d i1 = _mm256_set1_pd(-1.0), i2 = i1;
    __m256d idx = _mm256_setr_pd(0, 1, 2, 3);
    const __m256d step = _mm256_set1_pd(4.0);
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        __m256d h = reduced(c, v, j);
        __m256d lt1 = _mm256_cmp_pd(h, m1, _CMP_LT_OQ);
        __m256d lt2 = _mm256_cmp_pd(h, m2, _CMP_LT_OQ);
        m2 = _mm256_blendv_pd(_mm256_blendv_pd(m2, h, lt2), m1, lt1);
        i2 = _mm256_blendv_pd(_mm256_blendv_pd(i2, idx, lt2), i1, lt1);
        m1 = _mm256_blendv_pd(m1, h, lt1);
        i1 = _mm256_blendv_pd(i1, idx, lt1);
        idx = _mm256_add_pd(idx, step);
    }
    double a1[4], a2[4];
    int64_t b1[4], b2[4];
    _mm256_storeu_pd(a1, m1);
    _mm256_storeu_pd(a2, m2);
    lane_indices(i1, b1);
    lane_indices(i2, b2);
    lap_min2 m = lap_lanes_min2(a1, b1, a2, b2, 4);
    imi_lap_two_smallest_tail(c, v, j, n, &m);
    *out = m;
}

/* Float lanes with int32 indices (integer blends: every index exact), merged by
   lap_lanes_min2_f32. */
static void two_smallest_f32_avx2(const float *c, const float *vf, size_t n, lap_min2 *out) {
    __m256 m1 = _mm256_set1_ps(INFINITY), m2 = m1;
    __m256i i1 = _mm256_set1_epi32(-1), i2 = i1;
    __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i step = _mm256_set1_epi32(8);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 h = _mm256_sub_ps(_mm256_loadu_ps(c + j), _mm256_loadu_ps(vf + j));
        __m256 lt1 = _mm256_cmp_ps(h, m1, _CMP_LT_OQ);
        __m256 lt2 = _mm256_cmp_ps(h, m2, _CMP_LT_OQ);
        __m256i l1 = _mm256_castps_si256(lt1), l2 = _mm256_castps_si256(lt2);
        m2 = _mm256_blendv_ps(_mm256_blendv_ps(m2, h, lt2), m1, lt1);
        i2 = _mm256_blendv_epi8(_mm256_blendv_epi8(i2, idx, l2), i1, l1);
        m1 = _mm256_blendv_ps(m1, h, lt1);
        i1 = _mm256_blendv_epi8(i1, idx, l1);
        idx = _mm256_add_epi32(idx, step);
    }
    float a1[8], a2[8];
    int32_t b1[8], b2[8];
    _mm256_storeu_ps(a1, m1);
    _mm256_storeu_ps(a2, m2);
    _mm256_storeu_si256((__m256i *)b1, i1);
    _mm256_storeu_si256((__m256i *)b2, i2);
    lap_min2 m = lap_lanes_min2_f32(a1, b1, a2, b2, 8);
    imi_lap_two_smallest_f32_tail(c, vf, j, n, &m);
    *out = m;
}

static void relax_avx2(const float *c, const double *v, const double *sc, double r, int32_t row,
                       size_t n, double *d, int32_t *pred, int32_t *bestj) {
    __m256d best = _mm256_set1_pd(INFINITY), bidx = _mm256_set1_pd(-1.0);
    __m256d idx = _mm256_setr_pd(0, 1, 2, 3);
    const __m256d step = _mm256_set1_pd(4.0), vr = _mm256_set1_pd(r);
    const __m128i vrow = _mm_set1_epi32(row);
    /* Picks the low 32 bits of each 64-bit compare mask: a 4 x int32 mask for the pred store. */
    const __m256i narrow = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        __m256d s = _mm256_loadu_pd(sc + j);
        __m256d t = _mm256_add_pd(_mm256_sub_pd(reduced(c, v, j), vr), s);
        __m256d dj = _mm256_loadu_pd(d + j);
        __m256d lt = _mm256_cmp_pd(t, dj, _CMP_LT_OQ);
        dj = _mm256_blendv_pd(dj, t, lt);
        _mm256_storeu_pd(d + j, dj);
        __m128i lt32 =
            _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_castpd_si256(lt), narrow));
        _mm_maskstore_epi32(pred + j, lt32, vrow);
        __m256d key = _mm256_add_pd(dj, s);
        __m256d lb = _mm256_cmp_pd(key, best, _CMP_LT_OQ);
        best = _mm256_blendv_pd(best, key, lb);
        bidx = _mm256_blendv_pd(bidx, idx, lb);
        idx = _mm256_add_pd(idx, step);
    }
    double a[4];
    int64_t b[4];
    _mm256_storeu_pd(a, best);
    lane_indices(bidx, b);
    int L = lap_lanes_argmin(a, b, 4);
    *bestj = imi_lap_relax_tail(c, v, sc, r, row, j, n, d, pred, a[L], (int32_t)b[L]);
}

static size_t filter_avx2(const float *c, const lap_pots *p, size_t n, double cut, double *h,
                          int32_t *col, size_t cap) {
    const double *v = p->v;
    const __m256d vcut = _mm256_set1_pd(cut);
    size_t cnt = 0, j = 0;
    for (; j + 4 <= n; j += 4) {
        __m256d t = reduced(c, v, j);
        int le = _mm256_movemask_pd(_mm256_cmp_pd(t, vcut, _CMP_LE_OQ));
        if (le) { /* rare: store the few that pass one by one */
            double lane[4];
            _mm256_storeu_pd(lane, t);
            for (int l = 0; l < 4; l++)
                if (le & (1 << l)) {
                    if (cnt == cap)
                        return cap + 1;
                    h[cnt] = lane[l];
                    col[cnt++] = (int32_t)(j + (size_t)l);
                }
        }
    }
    return imi_lap_filter_tail(c, v, j, n, cut, h, col, cnt, cap);
}

static void block_min_avx2(const float *c, const double *v, size_t n, size_t nb, double *mins) {
    for (size_t b = 0; b < nb; b++) {
        size_t j = lap_block_start(b, n, nb), to = lap_block_start(b + 1, n, nb);
        __m256d m = _mm256_set1_pd(INFINITY);
        for (; j + 4 <= to; j += 4)
            m = _mm256_min_pd(m, reduced(c, v, j));
        double lane[4];
        _mm256_storeu_pd(lane, m);
        double r = fmin(fmin(lane[0], lane[1]), fmin(lane[2], lane[3]));
        for (; j < to; j++) {
            double h = (double)c[j] - v[j];
            r = h < r ? h : r;
        }
        mins[b] = r;
    }
}

static void col_add_avx2(const float *c, double *v, size_t n, float *lo, float *hi) {
    __m256 l = _mm256_set1_ps(*lo), h = _mm256_set1_ps(*hi);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 x = _mm256_loadu_ps(c + j);
        l = _mm256_min_ps(l, x);
        h = _mm256_max_ps(h, x);
        _mm256_storeu_pd(v + j, _mm256_add_pd(_mm256_loadu_pd(v + j),
                                              _mm256_cvtps_pd(_mm256_castps256_ps128(x))));
        _mm256_storeu_pd(v + j + 4, _mm256_add_pd(_mm256_loadu_pd(v + j + 4),
                                                  _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1))));
    }
    float a[8], b[8];
    _mm256_storeu_ps(a, l);
    _mm256_storeu_ps(b, h);
    for (int t = 0; t < 8; t++) {
        *lo = a[t] < *lo ? a[t] : *lo;
        *hi = b[t] > *hi ? b[t] : *hi;
    }
    imi_lap_col_add_tail(c, v, j, n, lo, hi);
}

static double cut_avx2(const float *c, const lap_pots *p, size_t n, size_t keep) {
    return imi_lap_cut_blocks(c, p->v, n, keep, block_min_avx2);
}

const lap_kernels imi_lap_kernels_avx2 = {two_smallest_avx2,    relax_avx2,   filter_avx2,
                                          cut_avx2,             col_add_avx2, two_smallest_f32_avx2,
                                          imi_lap_select_heap,  imi_lap_list_min2_scalar};
