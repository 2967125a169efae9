/* lap_kernels_avx512.c - the row scans with 8 doubles per vector (compiled with -mavx512f/vl). */
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>

#include "lap/lap_kernels.h"

/* Double lanes with int64 indices: two sets of lanes take alternate blocks of 8 columns and
   merge lane by lane (the same lane states as one set: see the float scan below). */
typedef struct {
    __m512d m1, m2;
    __m512i i1, i2;
} lanes2_f64;

static inline void lanes2_f64_init(lanes2_f64 *l) {
    l->m1 = l->m2 = _mm512_set1_pd(INFINITY);
    l->i1 = l->i2 = _mm512_set1_epi64(-1);
}

/* (h, idx) into the lanes where it beats the smallest (lt1) or the runner-up (lt2). */
static inline void lanes2_f64_take(lanes2_f64 *l, __m512d h, __m512i idx, __mmask8 lt1,
                                   __mmask8 lt2) {
    l->m2 = _mm512_mask_mov_pd(_mm512_mask_mov_pd(l->m2, lt2, h), lt1, l->m1);
    l->i2 = _mm512_mask_mov_epi64(_mm512_mask_mov_epi64(l->i2, lt2, idx), lt1, l->i1);
    l->m1 = _mm512_mask_mov_pd(l->m1, lt1, h);
    l->i1 = _mm512_mask_mov_epi64(l->i1, lt1, idx);
}

/* Columns idx increasing in every lane: strict compares keep the lower column on ties. */
static inline void lanes2_f64_push(lanes2_f64 *l, __m512d h, __m512i idx) {
    lanes2_f64_take(l, h, idx, _mm512_cmp_pd_mask(h, l->m1, _CMP_LT_OQ),
                    _mm512_cmp_pd_mask(h, l->m2, _CMP_LT_OQ));
}

static inline __mmask8 lex_lt_f64(__m512d x, __m512i ix, __m512d y, __m512i iy) {
    return _mm512_cmp_pd_mask(x, y, _CMP_LT_OQ) |
           (_mm512_cmp_pd_mask(x, y, _CMP_EQ_OQ) & _mm512_cmp_epi64_mask(ix, iy, _MM_CMPINT_LT));
}

static inline void lanes2_f64_merge(lanes2_f64 *a, const lanes2_f64 *b) {
    const __mmask8 bf = lex_lt_f64(b->m1, b->i1, a->m1, a->i1);
    const __m512d lo = _mm512_mask_mov_pd(b->m1, bf, a->m1);
    const __m512i ilo = _mm512_mask_mov_epi64(b->i1, bf, a->i1);
    const __m512d r = _mm512_mask_mov_pd(a->m2, bf, b->m2);
    const __m512i ir = _mm512_mask_mov_epi64(a->i2, bf, b->i2);
    a->m1 = _mm512_mask_mov_pd(a->m1, bf, b->m1);
    a->i1 = _mm512_mask_mov_epi64(a->i1, bf, b->i1);
    const __mmask8 lt = lex_lt_f64(lo, ilo, r, ir);
    a->m2 = _mm512_mask_mov_pd(r, lt, lo);
    a->i2 = _mm512_mask_mov_epi64(ir, lt, ilo);
}

/* Columns idx in any order (lists): compared by (h, column). */
static inline void lanes2_f64_push_lex(lanes2_f64 *l, __m512d h, __m512i idx) {
    lanes2_f64_take(l, h, idx, lex_lt_f64(h, idx, l->m1, l->i1), lex_lt_f64(h, idx, l->m2, l->i2));
}

/* The two smallest over the lanes (lap_lanes_min2). */
static inline lap_min2 lanes2_f64_result(const lanes2_f64 *l) {
    double a1[8], a2[8];
    int64_t b1[8], b2[8];
    _mm512_storeu_pd(a1, l->m1);
    _mm512_storeu_pd(a2, l->m2);
    _mm512_storeu_si512(b1, l->i1);
    _mm512_storeu_si512(b2, l->i2);
    return lap_lanes_min2(a1, b1, a2, b2, 8);
}

static inline __m512d reduced8(const float *c, const double *v, size_t j) {
    return _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(c + j)), _mm512_loadu_pd(v + j));
}

static void two_smallest_avx512(const float *c, const double *v, size_t n, lap_min2 *out) {
    lanes2_f64 A, B;
    lanes2_f64_init(&A);
    lanes2_f64_init(&B);
    __m512i idx = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    const __m512i s8 = _mm512_set1_epi64(8), s16 = _mm512_set1_epi64(16);
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        lanes2_f64_push(&A, reduced8(c, v, j), idx);
        lanes2_f64_push(&B, reduced8(c, v, j + 8), _mm512_add_epi64(idx, s8));
        idx = _mm512_add_epi64(idx, s16);
    }
    if (j + 8 <= n) {
        lanes2_f64_push(&A, reduced8(c, v, j), idx);
        j += 8;
    }
    lanes2_f64_merge(&A, &B);
    lap_min2 m = lanes2_f64_result(&A);
    imi_lap_two_smallest_tail(c, v, j, n, &m);
    *out = m;
}

/* Float lanes with int32 indices. Two sets of lanes take alternate blocks of 16 columns (one
   set's compare-and-select chain is latency-bound), and are merged lane by lane before
   lap_lanes_min2_f32: each lane then holds the two smallest (value, column) of the same columns
   as one set scanning them all in order would, so the result is the same. */
typedef struct {
    __m512 m1, m2;  /* per lane: smallest, runner-up */
    __m512i i1, i2; /* their columns (-1: none yet) */
} lanes2_f32;

static inline void lanes2_f32_init(lanes2_f32 *l) {
    l->m1 = l->m2 = _mm512_set1_ps(INFINITY);
    l->i1 = l->i2 = _mm512_set1_epi32(-1);
}

/* Columns idx (increasing in every lane) with reduced costs h: strict compares keep the lower
   column on ties. */
static inline void lanes2_f32_push(lanes2_f32 *l, __m512 h, __m512i idx) {
    const __mmask16 lt1 = _mm512_cmp_ps_mask(h, l->m1, _CMP_LT_OQ);
    const __mmask16 lt2 = _mm512_cmp_ps_mask(h, l->m2, _CMP_LT_OQ);
    l->m2 = _mm512_mask_mov_ps(_mm512_mask_mov_ps(l->m2, lt2, h), lt1, l->m1);
    l->i2 = _mm512_mask_mov_epi32(_mm512_mask_mov_epi32(l->i2, lt2, idx), lt1, l->i1);
    l->m1 = _mm512_mask_mov_ps(l->m1, lt1, h);
    l->i1 = _mm512_mask_mov_epi32(l->i1, lt1, idx);
}

/* (x, ix) < (y, iy) lexicographically, per lane. */
static inline __mmask16 lex_lt_f32(__m512 x, __m512i ix, __m512 y, __m512i iy) {
    return _mm512_cmp_ps_mask(x, y, _CMP_LT_OQ) |
           (_mm512_cmp_ps_mask(x, y, _CMP_EQ_OQ) & _mm512_cmp_epi32_mask(ix, iy, _MM_CMPINT_LT));
}

/* a = the two smallest of a's and b's columns (disjoint), per lane. */
static inline void lanes2_f32_merge(lanes2_f32 *a, const lanes2_f32 *b) {
    const __mmask16 bf = lex_lt_f32(b->m1, b->i1, a->m1, a->i1);
    const __m512 lo = _mm512_mask_mov_ps(b->m1, bf, a->m1); /* the larger of the two minima */
    const __m512i ilo = _mm512_mask_mov_epi32(b->i1, bf, a->i1);
    const __m512 r = _mm512_mask_mov_ps(a->m2, bf, b->m2); /* the smaller one's runner-up */
    const __m512i ir = _mm512_mask_mov_epi32(a->i2, bf, b->i2);
    a->m1 = _mm512_mask_mov_ps(a->m1, bf, b->m1);
    a->i1 = _mm512_mask_mov_epi32(a->i1, bf, b->i1);
    const __mmask16 lt = lex_lt_f32(lo, ilo, r, ir);
    a->m2 = _mm512_mask_mov_ps(r, lt, lo);
    a->i2 = _mm512_mask_mov_epi32(ir, lt, ilo);
}

static void two_smallest_f32_avx512(const float *c, const float *vf, size_t n, lap_min2 *out) {
    lanes2_f32 A, B;
    lanes2_f32_init(&A);
    lanes2_f32_init(&B);
    __m512i idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i s16 = _mm512_set1_epi32(16), s32 = _mm512_set1_epi32(32);
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
        lanes2_f32_push(&A, _mm512_sub_ps(_mm512_loadu_ps(c + j), _mm512_loadu_ps(vf + j)), idx);
        lanes2_f32_push(&B,
                        _mm512_sub_ps(_mm512_loadu_ps(c + j + 16), _mm512_loadu_ps(vf + j + 16)),
                        _mm512_add_epi32(idx, s16));
        idx = _mm512_add_epi32(idx, s32);
    }
    if (j + 16 <= n) {
        lanes2_f32_push(&A, _mm512_sub_ps(_mm512_loadu_ps(c + j), _mm512_loadu_ps(vf + j)), idx);
        j += 16;
    }
    lanes2_f32_merge(&A, &B);
    float a1[16], a2[16];
    int32_t b1[16], b2[16];
    _mm512_storeu_ps(a1, A.m1);
    _mm512_storeu_ps(a2, A.m2);
    _mm512_storeu_si512(b1, A.i1);
    _mm512_storeu_si512(b2, A.i2);
    lap_min2 m = lap_lanes_min2_f32(a1, b1, a2, b2, 16);
    imi_lap_two_smallest_f32_tail(c, vf, j, n, &m);
    *out = m;
}

/* A bid's scan (lap_bid_f32_fn): per lane the smallest value with its column (strict compare:
   the lower column on ties) and the runner-up's value alone, moved by vminps / vmaxps
   (runner-up = min(runner-up, max(smallest, h))): no column blends for it. u1 is read back from
   its column at the end, as two_smallest_f32 holds it (vminps may keep a zero of the other
   sign). On Zen 5, rows in cache, best of 5: 0.45-0.66x the time of two_smallest_f32 at
   256-2048 columns. */
typedef struct {
    __m512 m1, m2;
    __m512i i1;
} bid_lanes;

static inline void bid_push(bid_lanes *l, __m512 h, __m512i idx) {
    const __mmask16 lt = _mm512_cmp_ps_mask(h, l->m1, _CMP_LT_OQ);
    l->m2 = _mm512_min_ps(l->m2, _mm512_max_ps(l->m1, h));
    l->m1 = _mm512_min_ps(l->m1, h);
    l->i1 = _mm512_mask_mov_epi32(l->i1, lt, idx);
}

static void bid_f32_avx512(const float *c, const float *vf, size_t n, lap_min2 *out) {
    lap_min2 m = {INFINITY, INFINITY, -1, -1};
    if (n == 0) {
        *out = m;
        return;
    }
    bid_lanes A = {_mm512_set1_ps(INFINITY), _mm512_set1_ps(INFINITY), _mm512_set1_epi32(-1)};
    bid_lanes B = A;
    __m512i idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i s16 = _mm512_set1_epi32(16), s32 = _mm512_set1_epi32(32);
    const __m512 inf = _mm512_set1_ps(INFINITY);
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
        bid_push(&A, _mm512_sub_ps(_mm512_loadu_ps(c + j), _mm512_loadu_ps(vf + j)), idx);
        bid_push(&B, _mm512_sub_ps(_mm512_loadu_ps(c + j + 16), _mm512_loadu_ps(vf + j + 16)),
                 _mm512_add_epi32(idx, s16));
        idx = _mm512_add_epi32(idx, s32);
    }
    for (; j < n; j += 16) { /* the last columns into A, +Inf past the row (never taken) */
        const __mmask16 k = n - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j)) - 1u);
        bid_push(
            &A,
            _mm512_sub_ps(_mm512_mask_loadu_ps(inf, k, c + j), _mm512_maskz_loadu_ps(k, vf + j)),
            idx);
        idx = _mm512_add_epi32(idx, s16);
    }
    /* lane by lane: the smaller (value, column) of A's and B's minima; the runner-up is the
       smallest of both runners-up and the larger minimum */
    const __mmask16 bf = lex_lt_f32(B.m1, B.i1, A.m1, A.i1);
    const __m512 m2 = _mm512_min_ps(_mm512_min_ps(A.m2, B.m2), _mm512_max_ps(A.m1, B.m1));
    const __m512 m1 = _mm512_mask_mov_ps(A.m1, bf, B.m1);
    const __m512i i1 = _mm512_mask_mov_epi32(A.i1, bf, B.i1);
    /* over the lanes: the smallest value, its lowest column, and the smallest of the rest */
    const float u1 = _mm512_reduce_min_ps(m1);
    const __mmask16 at = _mm512_cmp_ps_mask(m1, _mm512_set1_ps(u1), _CMP_EQ_OQ) &
                         _mm512_cmpge_epi32_mask(i1, _mm512_setzero_si512());
    if (at == 0) { /* no value below +Inf: as two_smallest_f32 */
        *out = m;
        return;
    }
    const int32_t j1 = _mm512_mask_reduce_min_epi32(at, i1);
    const __mmask16 one = _mm512_mask_cmpeq_epi32_mask(at, i1, _mm512_set1_epi32(j1));
    const float u2 = _mm512_reduce_min_ps(_mm512_min_ps(m2, _mm512_mask_mov_ps(m1, one, inf)));
    m.u1 = (double)(c[j1] - vf[j1]);
    m.j1 = j1;
    if (n >= 2 && u2 < INFINITY) { /* as two_smallest_f32: no runner-up among +Inf */
        m.u2 = (double)u2;
        m.j2 = j1 == 0 ? 1 : 0;
    }
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
        const __m512d t = _mm512_add_pd(_mm512_sub_pd(reduced8(c, v, j), vr), s);
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

/* Columns j .. j + 7 into the filter's output: those of `le` (h given). */
static inline size_t filter_store(__m512d t, __mmask8 le, __m256i idx, double *h, int32_t *col,
                                  size_t cnt) {
    /* compressed in registers and stored whole (cnt <= cap here, and the buffers hold cap + 8):
       a compressing store to memory is microcoded on some CPUs */
    _mm512_storeu_pd(h + cnt, _mm512_maskz_compress_pd(le, t));
    _mm256_storeu_si256((__m256i *)(col + cnt), _mm256_maskz_compress_epi32(le, idx));
    return cnt + (size_t)__builtin_popcount(le);
}

/* The columns base + off + l of the set lanes l of m appended to cand (room for 16 more):
   compressed in a register and stored whole. */
static inline size_t filter_append16(__mmask16 m, __m512i base, int off, int32_t *cand, size_t nc) {
    const __m512i cols = _mm512_add_epi32(base, _mm512_set1_epi32(off));
    _mm512_storeu_si512(cand + nc, _mm512_maskz_compress_epi32(m, cols));
    return nc + (size_t)__builtin_popcount(m);
}

static size_t filter_avx512(const float *c, const lap_pots *p, size_t n, double cut, double *h,
                            int32_t *col, size_t cap) {
    const double *v = p->v;
    const __m512d vcut = _mm512_set1_pd(cut);
    __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    size_t cnt = 0, j = 0;
    if (p->vf != NULL && p->cmag + fabs(cut) <= LAP_FLOAT_RANGE) {
        /* 64 columns screened in float per branch; the columns of a group that passes are
           compressed into a candidate list without branches and decided in double at the end
           (as the AVX2 filter: a branch per 16 columns and per candidate half is taken at
           random) */
        const __m512 fcut = _mm512_set1_ps(lap_float_at_least(cut + LAP_POTS_WIDEN(p->cmag, cut)));
        const __m512i iota =
            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        int32_t cand[LAP_FILTER_CANDS + 64];
        size_t nc = 0;
        for (; j + 64 <= n; j += 64) {
#define FILTER_SCREEN(g)                                                                           \
    _mm512_cmp_ps_mask(                                                                            \
        _mm512_sub_ps(_mm512_loadu_ps(c + j + 16 * (g)), _mm512_loadu_ps(p->vf + j + 16 * (g))),   \
        fcut, _CMP_LE_OQ)
            const __mmask16 m0 = FILTER_SCREEN(0), m1 = FILTER_SCREEN(1), m2 = FILTER_SCREEN(2),
                            m3 = FILTER_SCREEN(3);
#undef FILTER_SCREEN
            if (_kortestz_mask16_u8(_kor_mask16(m0, m1), _kor_mask16(m2, m3)))
                continue;
            const __m512i base = _mm512_add_epi32(iota, _mm512_set1_epi32((int)j));
            nc = filter_append16(m0, base, 0, cand, nc);
            nc = filter_append16(m1, base, 16, cand, nc);
            nc = filter_append16(m2, base, 32, cand, nc);
            nc = filter_append16(m3, base, 48, cand, nc);
            if (nc >= LAP_FILTER_CANDS) {
                cnt = imi_lap_filter_decide(c, v, cut, cand, nc, h, col, cnt, cap);
                if (cnt > cap)
                    return cap + 1;
                nc = 0;
            }
        }
        cnt = imi_lap_filter_decide(c, v, cut, cand, nc, h, col, cnt, cap);
        if (cnt > cap)
            return cap + 1;
    }
    for (; j + 8 <= n; j += 8) {
        const __m512d t = reduced8(c, v, j);
        const __mmask8 le = _mm512_cmp_pd_mask(t, vcut, _CMP_LE_OQ);
        if (le) {
            cnt =
                filter_store(t, le, _mm256_add_epi32(idx, _mm256_set1_epi32((int)j)), h, col, cnt);
            if (cnt > cap)
                return cap + 1;
        }
    }
    return imi_lap_filter_tail(c, v, j, n, cut, h, col, cnt, cap);
}

static void block_min_avx512(const float *c, const double *v, size_t n, size_t nb, double *mins) {
    for (size_t b = 0; b < nb; b++) {
        size_t j = lap_block_start(b, n, nb), to = lap_block_start(b + 1, n, nb);
        __m512d m = _mm512_set1_pd(INFINITY);
        for (; j + 8 <= to; j += 8)
            m = _mm512_min_pd(m, reduced8(c, v, j));
        double r = _mm512_reduce_min_pd(m);
        for (; j < to; j++) {
            double h = (double)c[j] - v[j];
            r = h < r ? h : r;
        }
        mins[b] = r;
    }
}

/* The cut from 64 classes of columns (lane l of every 8th vector of 8 columns: one pass, no
   horizontal work per block), the keep-th smallest class minimum found by counting ranks. */
#define CUT_CLASSES 64

static double cut_avx512(const float *c, const lap_pots *p, size_t n, size_t keep) {
    const double *v = p->v;
    if (keep > CUT_CLASSES / 2 + 1 || n < 4 * CUT_CLASSES) /* keep <= 33: the lists too */
        return imi_lap_cut_blocks(c, v, n, keep, block_min_avx512);
    double mins[CUT_CLASSES];
    size_t j = 0;
    const bool screen = p->vf != NULL && p->cmag <= LAP_FLOAT_RANGE;
    if (screen) { /* classes of 16 float lanes, four of them */
        __m512 m[4];
        for (int g = 0; g < 4; g++)
            m[g] = _mm512_set1_ps(INFINITY);
        for (; j + 64 <= n; j += 64)
            for (int g = 0; g < 4; g++)
                m[g] = _mm512_min_ps(m[g], _mm512_sub_ps(_mm512_loadu_ps(c + j + 16 * g),
                                                         _mm512_loadu_ps(p->vf + j + 16 * g)));
        float f[CUT_CLASSES];
        for (int g = 0; g < 4; g++)
            _mm512_storeu_ps(f + 16 * g, m[g]);
        for (; j < n; j++) { /* the last columns join the classes of their position mod 64 */
            const float hf = c[j] - p->vf[j];
            f[j % CUT_CLASSES] = hf < f[j % CUT_CLASSES] ? hf : f[j % CUT_CLASSES];
        }
        for (int k = 0; k < CUT_CLASSES; k++)
            mins[k] = f[k];
    } else {
        __m512d m[8];
        for (int g = 0; g < 8; g++)
            m[g] = _mm512_set1_pd(INFINITY);
        for (; j + 64 <= n; j += 64)
            for (int g = 0; g < 8; g++)
                m[g] = _mm512_min_pd(m[g], reduced8(c, v, j + 8 * (size_t)g));
        for (int g = 0; g < 8; g++)
            _mm512_storeu_pd(mins + 8 * g, m[g]);
        for (; j < n; j++) {
            const double h = (double)c[j] - v[j];
            mins[j % CUT_CLASSES] = h < mins[j % CUT_CLASSES] ? h : mins[j % CUT_CLASSES];
        }
    }
    /* the value with fewer than keep minima below it and at least keep at or below it */
    const size_t t = keep - 1;
    for (int i = 0; i < CUT_CLASSES; i++) {
        const __m512d x = _mm512_set1_pd(mins[i]);
        size_t lt = 0, le = 0;
        for (int g = 0; g < 8; g++) {
            const __m512d a = _mm512_loadu_pd(mins + 8 * g);
            lt += (size_t)__builtin_popcount(_mm512_cmp_pd_mask(a, x, _CMP_LT_OQ));
            le += (size_t)__builtin_popcount(_mm512_cmp_pd_mask(a, x, _CMP_LE_OQ));
        }
        if (lt <= t && t < le) /* keep columns have (float) h at most mins[i]: widened, a cut */
            return screen ? mins[i] + LAP_POTS_WIDEN(p->cmag, mins[i]) : mins[i];
    }
    return INFINITY; /* NaN minima (not reached: costs are finite) */
}

/* Up to SELECT_RANKED entries: each entry's rank by (h, column) among them, counted in vectors, is
   its place in the sorted output. */
#define SELECT_RANKED 64

static void select_avx512(const double *h, const int32_t *col, size_t cnt, size_t keep,
                          lap_entry *out) {
    if (cnt > SELECT_RANKED) {
        imi_lap_select_heap(h, col, cnt, keep, out);
        return;
    }
    const size_t nv = (cnt + 7) / 8;
    __m512d H[SELECT_RANKED / 8];
    __m256i J[SELECT_RANKED / 8];
    __mmask8 valid[SELECT_RANKED / 8];
    for (size_t g = 0; g < nv; g++) {
        const size_t left = cnt - 8 * g;
        valid[g] = left >= 8 ? (__mmask8)0xff : (__mmask8)((1u << left) - 1u);
        H[g] = _mm512_maskz_loadu_pd(valid[g], h + 8 * g);
        J[g] = _mm256_maskz_loadu_epi32(valid[g], col + 8 * g);
    }
    for (size_t i = 0; i < cnt; i++) {
        const __m512d x = _mm512_set1_pd(h[i]);
        const __m256i jx = _mm256_set1_epi32(col[i]);
        size_t rank = 0;
        for (size_t g = 0; g < nv; g++) {
            const __mmask8 below = _mm512_mask_cmp_pd_mask(valid[g], H[g], x, _CMP_LT_OQ) |
                                   (_mm512_mask_cmp_pd_mask(valid[g], H[g], x, _CMP_EQ_OQ) &
                                    _mm256_cmp_epi32_mask(J[g], jx, _MM_CMPINT_LT));
            rank += (size_t)__builtin_popcount(below);
        }
        if (rank < keep)
            out[rank] = (lap_entry){h[i], col[i]};
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

/* Lists hold columns in any order: the lanes keep their two smallest by (h, column), then
   merge as usual. */
static void list_min2_avx512(const float *lc, const int32_t *lj, const double *v, size_t len,
                             lap_min2 *out) {
    lanes2_f64 l;
    lanes2_f64_init(&l);
    for (size_t t = 0; t < len; t += 8) {
        const __mmask8 live = len - t >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (len - t)) - 1u);
        const __m256i j = _mm256_maskz_loadu_epi32(live, lj + t);
        const __m512d vj = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), live, j, v, 8);
        const __m512d cj = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(live, lc + t));
        /* dead lanes: (+Inf, -1), which never enters */
        const __m512d h = _mm512_mask_sub_pd(_mm512_set1_pd(INFINITY), live, cj, vj);
        const __m512i jj =
            _mm512_mask_mov_epi64(_mm512_set1_epi64(-1), live, _mm512_cvtepi32_epi64(j));
        lanes2_f64_push_lex(&l, h, jj);
    }
    *out = lanes2_f64_result(&l);
}

/* A bid's list scan (lap_list_bid_min2_fn): the minimum by (h, column) with its column, the
   runner-up's value alone by vminpd / vmaxpd, lanes merged in registers (list_min2 merges the
   lanes in a scalar loop with branches). On Zen 5: 0.92-0.97x list_min2's time on 24-entry
   lists in cache (best of 5), 0.90-0.96x whole solves on uniform costs at B = 1024-4096, where
   the lists' v comes from memory and the merge's branches are random. */
static void list_bid_min2_avx512(const float *lc, const int32_t *lj, const double *v, size_t len,
                                 lap_min2 *out) {
    const __m512d inf = _mm512_set1_pd(INFINITY);
    __m512d m1 = inf, m2 = inf;
    __m512i i1 = _mm512_set1_epi64(-1);
    for (size_t t = 0; t < len; t += 8) {
        const __mmask8 live = len - t >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (len - t)) - 1u);
        const __m256i j = _mm256_maskz_loadu_epi32(live, lj + t);
        const __m512d vj = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), live, j, v, 8);
        const __m512d cj = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(live, lc + t));
        /* dead lanes: (+Inf, -1), which never enters */
        const __m512d h = _mm512_mask_sub_pd(inf, live, cj, vj);
        const __m512i jj =
            _mm512_mask_mov_epi64(_mm512_set1_epi64(-1), live, _mm512_cvtepi32_epi64(j));
        const __mmask8 lt = lex_lt_f64(h, jj, m1, i1) & live;
        m2 = _mm512_min_pd(m2, _mm512_max_pd(m1, h));
        m1 = _mm512_mask_mov_pd(m1, lt, h);
        i1 = _mm512_mask_mov_epi64(i1, lt, jj);
    }
    lap_min2 m = {INFINITY, INFINITY, -1, -1};
    const double u1 = _mm512_reduce_min_pd(m1);
    const __mmask8 at = _mm512_cmp_pd_mask(m1, _mm512_set1_pd(u1), _CMP_EQ_OQ) &
                        _mm512_cmpge_epi64_mask(i1, _mm512_setzero_si512());
    if (at != 0) {
        const int64_t j1 = _mm512_mask_reduce_min_epi64(at, i1);
        const __mmask8 one = _mm512_mask_cmpeq_epi64_mask(at, i1, _mm512_set1_epi64(j1));
        /* m1 holds the entries' own values (moved by masks): u1 as list_min2 has it */
        m.u1 = _mm512_mask_reduce_min_pd(one, m1);
        m.j1 = (int32_t)j1;
        m.u2 = _mm512_reduce_min_pd(_mm512_min_pd(m2, _mm512_mask_mov_pd(m1, one, inf)));
        m.j2 = m.u2 < INFINITY ? (j1 == lj[0] ? lj[1] : lj[0]) : -1; /* as list_min2 */
    }
    *out = m;
}

const lap_kernels imi_lap_kernels_avx512 = {.two_smallest = two_smallest_avx512,
                                            .relax = relax_avx512,
                                            .filter = filter_avx512,
                                            .cut = cut_avx512,
                                            .col_add = col_add_avx512,
                                            .two_smallest_f32 = two_smallest_f32_avx512,
                                            .bid_f32 = bid_f32_avx512,
                                            .select = select_avx512,
                                            .list_min2 = list_min2_avx512,
                                            .list_bid_min2 = list_bid_min2_avx512};
