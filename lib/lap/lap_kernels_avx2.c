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

/* vblendvps / vblendvpd as written: mask ? b : a per lane, by the mask's sign bit, as the
   intrinsics. GCC 12 folds the intrinsics into vector conditionals on the sign and, where a
   compare's mask feeds two blends, derives the sign again with a vpcmpgtd / vpcmpgtq: two to
   four extra uops per 16 columns in the scans' loops, which are bound by these ports on Zen 3
   (the float scan: 172 -> 162 ns per 1024 columns in L1 without them). */
static inline __m256 blendv_ps(__m256 a, __m256 b, __m256 mask) {
    __m256 r;
    __asm__("vblendvps %3, %2, %1, %0" : "=x"(r) : "x"(a), "x"(b), "x"(mask));
    return r;
}

static inline __m256d blendv_pd(__m256d a, __m256d b, __m256d mask) {
    __m256d r;
    __asm__("vblendvpd %3, %2, %1, %0" : "=x"(r) : "x"(a), "x"(b), "x"(mask));
    return r;
}

/* Double lanes with column indices as doubles: per lane the smallest (m1, i1) and the runner-up
   (m2, i2) so far. */
typedef struct {
    __m256d m1, m2, i1, i2;
} lanes_f64;

static inline void lanes_f64_init(lanes_f64 *l) {
    l->m1 = l->m2 = _mm256_set1_pd(INFINITY);
    l->i1 = l->i2 = _mm256_set1_pd(-1.0);
}

/* (h, idx) into the lanes where it beats the smallest (lt1) or the runner-up (lt2). */
static inline void lanes_f64_take(lanes_f64 *l, __m256d h, __m256d idx, __m256d lt1, __m256d lt2) {
    l->m2 = blendv_pd(blendv_pd(l->m2, h, lt2), l->m1, lt1);
    l->i2 = blendv_pd(blendv_pd(l->i2, idx, lt2), l->i1, lt1);
    l->m1 = blendv_pd(l->m1, h, lt1);
    l->i1 = blendv_pd(l->i1, idx, lt1);
}

/* The two smallest over the lanes (lap_lanes_min2). */
static inline lap_min2 lanes_f64_result(const lanes_f64 *l) {
    double a1[4], a2[4];
    int64_t b1[4], b2[4];
    _mm256_storeu_pd(a1, l->m1);
    _mm256_storeu_pd(a2, l->m2);
    lane_indices(l->i1, b1);
    lane_indices(l->i2, b2);
    return lap_lanes_min2(a1, b1, a2, b2, 4);
}

/* (x, ix) < (y, iy) lexicographically, per lane (columns as doubles). */
static inline __m256d lex_lt_f64(__m256d x, __m256d ix, __m256d y, __m256d iy) {
    return _mm256_or_pd(
        _mm256_cmp_pd(x, y, _CMP_LT_OQ),
        _mm256_and_pd(_mm256_cmp_pd(x, y, _CMP_EQ_OQ), _mm256_cmp_pd(ix, iy, _CMP_LT_OQ)));
}

/* a = the two smallest of a's and b's columns (disjoint), per lane. */
static inline void lanes_f64_merge(lanes_f64 *a, const lanes_f64 *b) {
    const __m256d bf = lex_lt_f64(b->m1, b->i1, a->m1, a->i1);
    const __m256d lo = blendv_pd(b->m1, a->m1, bf), ilo = blendv_pd(b->i1, a->i1, bf);
    const __m256d r = blendv_pd(a->m2, b->m2, bf), ir = blendv_pd(a->i2, b->i2, bf);
    a->m1 = blendv_pd(a->m1, b->m1, bf);
    a->i1 = blendv_pd(a->i1, b->i1, bf);
    const __m256d lt = lex_lt_f64(lo, ilo, r, ir);
    a->m2 = blendv_pd(r, lo, lt);
    a->i2 = blendv_pd(ir, ilo, lt);
}

/* Columns idx increasing in every lane: strict compares keep the lower column on ties. */
static inline void lanes_f64_push(lanes_f64 *l, __m256d h, __m256d idx) {
    lanes_f64_take(l, h, idx, _mm256_cmp_pd(h, l->m1, _CMP_LT_OQ),
                   _mm256_cmp_pd(h, l->m2, _CMP_LT_OQ));
}

/* Two sets of lanes on alternate blocks of 4 columns (one set's chain is latency-bound), merged
   lane by lane: the same lane states as one set. */
static void two_smallest_avx2(const float *c, const double *v, size_t n, lap_min2 *out) {
    lanes_f64 A, B;
    lanes_f64_init(&A);
    lanes_f64_init(&B);
    __m256d idx = _mm256_setr_pd(0, 1, 2, 3);
    const __m256d s4 = _mm256_set1_pd(4.0), s8 = _mm256_set1_pd(8.0);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        lanes_f64_push(&A, reduced(c, v, j), idx);
        lanes_f64_push(&B, reduced(c, v, j + 4), _mm256_add_pd(idx, s4));
        idx = _mm256_add_pd(idx, s8);
    }
    if (j + 4 <= n) {
        lanes_f64_push(&A, reduced(c, v, j), idx);
        j += 4;
    }
    lanes_f64_merge(&A, &B);
    lap_min2 m = lanes_f64_result(&A);
    imi_lap_two_smallest_tail(c, v, j, n, &m);
    *out = m;
}

/* Float lanes with int32 indices. Two sets of lanes take alternate blocks of 8 columns (one
   set's compare-and-blend chain is latency-bound) and merge lane by lane before
   lap_lanes_min2_f32: each lane then holds the two smallest (value, column) of the same columns
   as one set scanning them in order would, so the result is the same. */
typedef struct {
    __m256 m1, m2; /* per lane: smallest, runner-up */
    __m256 i1, i2; /* their columns, int32 bits in float lanes (blends move them unchanged) */
} lanes2_f32;

static inline void lanes2_f32_init(lanes2_f32 *l) {
    l->m1 = l->m2 = _mm256_set1_ps(INFINITY);
    l->i1 = l->i2 = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
}

/* Columns idx (increasing in every lane) with reduced costs h: strict compares keep the lower
   column on ties. The values move by min / max (one uop each; a blend is two on many Intel
   cores) and only the columns by blends; a zero of the other sign may then stand in a lane for
   an equal one, so the caller reads the two values back from their columns. */
static inline void lanes2_f32_push(lanes2_f32 *l, __m256 h, __m256 idx) {
    const __m256 lt1 = _mm256_cmp_ps(h, l->m1, _CMP_LT_OQ);
    const __m256 lt2 = _mm256_cmp_ps(h, l->m2, _CMP_LT_OQ);
    l->m2 = _mm256_min_ps(_mm256_max_ps(l->m1, h), l->m2);
    l->i2 = blendv_ps(blendv_ps(l->i2, idx, lt2), l->i1, lt1);
    l->m1 = _mm256_min_ps(h, l->m1);
    l->i1 = blendv_ps(l->i1, idx, lt1);
}

/* (x, ix) < (y, iy) lexicographically, per lane (a mask in float lanes). */
static inline __m256 lex_lt_f32(__m256 x, __m256 ix, __m256 y, __m256 iy) {
    const __m256 jlt =
        _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_castps_si256(iy), _mm256_castps_si256(ix)));
    return _mm256_or_ps(_mm256_cmp_ps(x, y, _CMP_LT_OQ),
                        _mm256_and_ps(_mm256_cmp_ps(x, y, _CMP_EQ_OQ), jlt));
}

/* a = the two smallest of a's and b's columns (disjoint), per lane. */
static inline void lanes2_f32_merge(lanes2_f32 *a, const lanes2_f32 *b) {
    const __m256 bf = lex_lt_f32(b->m1, b->i1, a->m1, a->i1);
    const __m256 lo = blendv_ps(b->m1, a->m1, bf); /* the larger of the two minima */
    const __m256 ilo = blendv_ps(b->i1, a->i1, bf);
    const __m256 r = blendv_ps(a->m2, b->m2, bf); /* the smaller one's runner-up */
    const __m256 ir = blendv_ps(a->i2, b->i2, bf);
    a->m1 = blendv_ps(a->m1, b->m1, bf);
    a->i1 = blendv_ps(a->i1, b->i1, bf);
    const __m256 lt = lex_lt_f32(lo, ilo, r, ir);
    a->m2 = blendv_ps(r, lo, lt);
    a->i2 = blendv_ps(ir, ilo, lt);
}

static void two_smallest_f32_avx2(const float *c, const float *vf, size_t n, lap_min2 *out) {
    lanes2_f32 A, B;
    lanes2_f32_init(&A);
    lanes2_f32_init(&B);
    __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i s8 = _mm256_set1_epi32(8), s16 = _mm256_set1_epi32(16);
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        lanes2_f32_push(&A, _mm256_sub_ps(_mm256_loadu_ps(c + j), _mm256_loadu_ps(vf + j)),
                        _mm256_castsi256_ps(idx));
        lanes2_f32_push(&B, _mm256_sub_ps(_mm256_loadu_ps(c + j + 8), _mm256_loadu_ps(vf + j + 8)),
                        _mm256_castsi256_ps(_mm256_add_epi32(idx, s8)));
        idx = _mm256_add_epi32(idx, s16);
    }
    if (j + 8 <= n) {
        lanes2_f32_push(&A, _mm256_sub_ps(_mm256_loadu_ps(c + j), _mm256_loadu_ps(vf + j)),
                        _mm256_castsi256_ps(idx));
        j += 8;
    }
    lanes2_f32_merge(&A, &B);
    float a1[8], a2[8];
    int32_t b1[8], b2[8];
    _mm256_storeu_ps(a1, A.m1);
    _mm256_storeu_ps(a2, A.m2);
    _mm256_storeu_si256((__m256i *)b1, _mm256_castps_si256(A.i1));
    _mm256_storeu_si256((__m256i *)b2, _mm256_castps_si256(A.i2));
    lap_min2 m = lap_lanes_min2_f32(a1, b1, a2, b2, 8);
    imi_lap_two_smallest_f32_tail(c, vf, j, n, &m);
    if (m.j1 >= 0) /* the values exactly as the scalar scan has them (signs of zeros) */
        m.u1 = (double)(c[m.j1] - vf[m.j1]);
    if (m.j2 >= 0)
        m.u2 = (double)(c[m.j2] - vf[m.j2]);
    *out = m;
}

/* A bid's scan (lap_bid_f32_fn), as on AVX-512: per lane the minimum with its column (compare
   and blend) and the runner-up's value alone (min(runner-up, max(minimum, h))): 5 operations per
   8 columns instead of 8 (rows in cache on Zen 5: 0.70-0.73x the time of two_smallest_f32 at
   256-2048 columns). The lanes merge in registers (no branch per lane); u1 is read back from
   its column. */
typedef struct {
    __m256 m1, m2, i1; /* minimum, runner-up's value, the minimum's column (int32 bits) */
} bid_lanes;

static inline void bid_push(bid_lanes *l, __m256 h, __m256 idx) {
    const __m256 lt = _mm256_cmp_ps(h, l->m1, _CMP_LT_OQ);
    l->m2 = _mm256_min_ps(_mm256_max_ps(l->m1, h), l->m2);
    l->m1 = _mm256_min_ps(h, l->m1);
    l->i1 = blendv_ps(l->i1, idx, lt);
}

/* Every lane of the result holds the smallest of v's lanes (floats, then int32). */
static inline __m256 hmin_ps(__m256 v) {
    v = _mm256_min_ps(v, _mm256_permute2f128_ps(v, v, 1));
    v = _mm256_min_ps(v, _mm256_permute_ps(v, 0x4e));
    return _mm256_min_ps(v, _mm256_permute_ps(v, 0xb1));
}

static inline __m256i hmin_epi32(__m256i v) {
    v = _mm256_min_epi32(v, _mm256_permute2x128_si256(v, v, 1));
    v = _mm256_min_epi32(v, _mm256_shuffle_epi32(v, 0x4e));
    return _mm256_min_epi32(v, _mm256_shuffle_epi32(v, 0xb1));
}

static void bid_f32_avx2(const float *c, const float *vf, size_t n, lap_min2 *out) {
    const __m256 inf = _mm256_set1_ps(INFINITY), none = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    bid_lanes A = {inf, inf, none}, B = A;
    __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i s8 = _mm256_set1_epi32(8), s16 = _mm256_set1_epi32(16);
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        bid_push(&A, _mm256_sub_ps(_mm256_loadu_ps(c + j), _mm256_loadu_ps(vf + j)),
                 _mm256_castsi256_ps(idx));
        bid_push(&B, _mm256_sub_ps(_mm256_loadu_ps(c + j + 8), _mm256_loadu_ps(vf + j + 8)),
                 _mm256_castsi256_ps(_mm256_add_epi32(idx, s8)));
        idx = _mm256_add_epi32(idx, s16);
    }
    if (j + 8 <= n) {
        bid_push(&A, _mm256_sub_ps(_mm256_loadu_ps(c + j), _mm256_loadu_ps(vf + j)),
                 _mm256_castsi256_ps(idx));
        j += 8;
    }
    /* lane by lane: the smaller (value, column) of A's and B's minima; the runner-up the
       smallest of both runners-up and the larger minimum */
    const __m256 bf = lex_lt_f32(B.m1, B.i1, A.m1, A.i1);
    const __m256 m2 = _mm256_min_ps(_mm256_min_ps(A.m2, B.m2), _mm256_max_ps(A.m1, B.m1));
    const __m256 m1 = blendv_ps(A.m1, B.m1, bf);
    const __m256i i1 = _mm256_castps_si256(blendv_ps(A.i1, B.i1, bf));
    /* over the lanes: the smallest value, its lowest column, the smallest of the rest */
    const __m256 u1v = hmin_ps(m1);
    const __m256i at = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), i1),
                                           _mm256_castps_si256(_mm256_cmp_ps(m1, u1v, _CMP_EQ_OQ)));
    const __m256i j1v = hmin_epi32(_mm256_blendv_epi8(_mm256_set1_epi32(INT32_MAX), i1, at));
    const __m256 one = _mm256_castsi256_ps(_mm256_and_si256(at, _mm256_cmpeq_epi32(i1, j1v)));
    float u1 = _mm256_cvtss_f32(u1v);
    float u2 = _mm256_cvtss_f32(hmin_ps(_mm256_min_ps(m2, blendv_ps(m1, inf, one))));
    int32_t j1 = _mm256_cvtsi256_si32(j1v);
    if (j1 == INT32_MAX)
        j1 = -1;
    for (; j < n; j++) { /* columns above every lane's: strict, as the lanes */
        const float x = c[j] - vf[j];
        if (j1 < 0 || x < u1) {
            u2 = u1 < u2 ? u1 : u2;
            u1 = x;
            j1 = (int32_t)j;
        } else {
            u2 = x < u2 ? x : u2;
        }
    }
    lap_min2 m = {INFINITY, INFINITY, -1, -1};
    if (j1 >= 0) {
        m.u1 = (double)(c[j1] - vf[j1]);
        m.j1 = j1;
    }
    if (n >= 2 && u2 < INFINITY) { /* as two_smallest_f32: no runner-up among +Inf */
        m.u2 = (double)u2;
        m.j2 = j1 == 0 ? 1 : 0;
    }
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
        dj = blendv_pd(dj, t, lt);
        _mm256_storeu_pd(d + j, dj);
        __m128i lt32 =
            _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_castpd_si256(lt), narrow));
        /* a plain load, blend and store: vpmaskmovd's store form is microcoded on AMD */
        __m128i pj = _mm_loadu_si128((const __m128i *)(pred + j));
        _mm_storeu_si128((__m128i *)(pred + j), _mm_blendv_epi8(pj, vrow, lt32));
        __m256d key = _mm256_add_pd(dj, s);
        __m256d lb = _mm256_cmp_pd(key, best, _CMP_LT_OQ);
        best = blendv_pd(best, key, lb);
        bidx = blendv_pd(bidx, idx, lb);
        idx = _mm256_add_pd(idx, step);
    }
    double a[4];
    int64_t b[4];
    _mm256_storeu_pd(a, best);
    lane_indices(bidx, b);
    int L = lap_lanes_argmin(a, b, 4);
    *bestj = imi_lap_relax_tail(c, v, sc, r, row, j, n, d, pred, a[L], (int32_t)b[L]);
}

/* For each 4-bit mask, the 32-bit lanes that move the mask's 64-bit lanes to the front (a
   compress: AVX2 has none). Entries past the mask's count are don't-cares. */
static const int32_t k_compress_pd[16][8] = {
    {0, 1, 0, 1, 0, 1, 0, 1}, {0, 1, 0, 1, 0, 1, 0, 1}, {2, 3, 0, 1, 0, 1, 0, 1},
    {0, 1, 2, 3, 0, 1, 0, 1}, {4, 5, 0, 1, 0, 1, 0, 1}, {0, 1, 4, 5, 0, 1, 0, 1},
    {2, 3, 4, 5, 0, 1, 0, 1}, {0, 1, 2, 3, 4, 5, 0, 1}, {6, 7, 0, 1, 0, 1, 0, 1},
    {0, 1, 6, 7, 0, 1, 0, 1}, {2, 3, 6, 7, 0, 1, 0, 1}, {0, 1, 2, 3, 6, 7, 0, 1},
    {4, 5, 6, 7, 0, 1, 0, 1}, {0, 1, 4, 5, 6, 7, 0, 1}, {2, 3, 4, 5, 6, 7, 0, 1},
    {0, 1, 2, 3, 4, 5, 6, 7}};

/* Columns j .. j + 3 into the filter's output: those of the 4-bit mask `le` (h given), stored
   whole (cnt <= cap here, and the buffers hold cap + 8). */
static inline size_t filter_store(__m256d t, int le, size_t j, double *h, int32_t *col,
                                  size_t cnt) {
    const __m256i perm = _mm256_loadu_si256((const __m256i *)k_compress_pd[le]);
    _mm256_storeu_pd(h + cnt,
                     _mm256_castps_pd(_mm256_permutevar8x32_ps(_mm256_castpd_ps(t), perm)));
    /* the columns: lane k of the mask holds column j + k; pairs (2k, 2k + 1) / 2 = k */
    const __m256i cols = _mm256_add_epi32(_mm256_set1_epi32((int)j), _mm256_srli_epi32(perm, 1));
    _mm_storeu_si128((__m128i *)(col + cnt), _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(
                                                 cols, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6))));
    return cnt + (size_t)__builtin_popcount((unsigned)le);
}

/* Columns j .. j + 3 decided in double: those at or below the cut join the output. */
static inline size_t filter_decide4(const float *c, const double *v, size_t j, __m256d vcut,
                                    double *h, int32_t *col, size_t cnt) {
    const __m256d t = reduced(c, v, j);
    const int le = _mm256_movemask_pd(_mm256_cmp_pd(t, vcut, _CMP_LE_OQ));
    return le ? filter_store(t, le, j, h, col, cnt) : cnt;
}

/* The set lanes of a 4-bit mask, in order (the rest of each row is padding). */
static const int32_t k_lanes4[16][4] = {{0, 0, 0, 0}, {0, 0, 0, 0}, {1, 0, 0, 0}, {0, 1, 0, 0},
                                        {2, 0, 0, 0}, {0, 2, 0, 0}, {1, 2, 0, 0}, {0, 1, 2, 0},
                                        {3, 0, 0, 0}, {0, 3, 0, 0}, {1, 3, 0, 0}, {0, 1, 3, 0},
                                        {2, 3, 0, 0}, {0, 2, 3, 0}, {1, 2, 3, 0}, {0, 1, 2, 3}};

/* The columns of bits 4q .. 4q + 3 of a screen mask (column base + bit) appended to cand (room
   for 4 more). */
static inline size_t filter_append4(uint32_t m, int q, __m128i base, int32_t *cand, size_t nc) {
    const uint32_t b = (m >> (4 * q)) & 15;
    const __m128i lanes = _mm_loadu_si128((const __m128i *)k_lanes4[b]);
    _mm_storeu_si128((__m128i *)(cand + nc),
                     _mm_add_epi32(lanes, _mm_add_epi32(base, _mm_set1_epi32(4 * q))));
    return nc + (size_t)__builtin_popcount(b);
}

static size_t filter_avx2(const float *c, const lap_pots *p, size_t n, double cut, double *h,
                          int32_t *col, size_t cap) {
    const double *v = p->v;
    const float *vf = p->vf;
    const __m256d vcut = _mm256_set1_pd(cut);
    size_t cnt = 0, j = 0;
    if (vf != NULL && p->cmag + fabs(cut) <= LAP_FLOAT_RANGE) {
        /* 32 columns screened in float per branch (a mask to a register and a branch per 8
           columns ran 3.6x slower on Zen 3: 258 against 72 ns per 1024). The candidates of a
           group that passes go to a list without branches, decided in double at the end (a
           branch per 4 columns of the group cost about 60 TSC cycles per candidate on Zen 3:
           its outcome is random) */
        const __m256 fcut = _mm256_set1_ps(lap_float_at_least(cut + LAP_POTS_WIDEN(p->cmag, cut)));
        int32_t cand[LAP_FILTER_CANDS + 32];
        size_t nc = 0;
        for (; j + 32 <= n; j += 32) {
            /* four named masks: as an array they lived on the stack (206 against ~100 ns per
               1024 columns without candidates) */
#define FILTER_SCREEN(g)                                                                           \
    _mm256_cmp_ps(                                                                                 \
        _mm256_sub_ps(_mm256_loadu_ps(c + j + 8 * (g)), _mm256_loadu_ps(vf + j + 8 * (g))), fcut,  \
        _CMP_LE_OQ)
            const __m256 le0 = FILTER_SCREEN(0), le1 = FILTER_SCREEN(1), le2 = FILTER_SCREEN(2),
                         le3 = FILTER_SCREEN(3);
#undef FILTER_SCREEN
            const __m256 any = _mm256_or_ps(_mm256_or_ps(le0, le1), _mm256_or_ps(le2, le3));
            if (_mm256_testz_ps(any, any))
                continue;
            const uint32_t m =
                (uint32_t)_mm256_movemask_ps(le0) | (uint32_t)_mm256_movemask_ps(le1) << 8 |
                (uint32_t)_mm256_movemask_ps(le2) << 16 | (uint32_t)_mm256_movemask_ps(le3) << 24;
            const __m128i base = _mm_set1_epi32((int)j);
            nc = filter_append4(m, 0, base, cand, nc); /* unrolled: a loop shifted by %cl */
            nc = filter_append4(m, 1, base, cand, nc);
            nc = filter_append4(m, 2, base, cand, nc);
            nc = filter_append4(m, 3, base, cand, nc);
            nc = filter_append4(m, 4, base, cand, nc);
            nc = filter_append4(m, 5, base, cand, nc);
            nc = filter_append4(m, 6, base, cand, nc);
            nc = filter_append4(m, 7, base, cand, nc);
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
    for (; j + 4 <= n; j += 4) {
        cnt = filter_decide4(c, v, j, vcut, h, col, cnt);
        if (cnt > cap)
            return cap + 1;
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

/* The cut from 64 classes of columns (lane l of every 8th vector of 8 float columns: one pass,
   no horizontal work per block), screened in float, the keep-th smallest class minimum found by
   counting, for all 64 at once, the minima at or below each; the block way (double) without a
   float copy of v. */
#define CUT_CLASSES 64

/* The cut's counting step for 32 of the 64 class minima (m, four vectors in registers): each
   one's count of minima in f at or below it, branch-free; best becomes the smallest of them
   counted more than `below` times. Half the classes at a time: all 64 counters with their
   minima need more than the 16 ymm registers, and GCC kept them in memory (with the named
   accumulators above: 0.94-1.07 -> 0.29-0.35 us per 1024-column row in cache). */
static inline __m256 cut_count32(const float *f, const float *m, __m256i below, __m256 best) {
    const __m256 m0 = _mm256_loadu_ps(m), m1 = _mm256_loadu_ps(m + 8), m2 = _mm256_loadu_ps(m + 16),
                 m3 = _mm256_loadu_ps(m + 24);
    __m256i l0 = _mm256_setzero_si256(), l1 = l0, l2 = l0, l3 = l0;
    for (int i = 0; i < CUT_CLASSES; i++) { /* a true compare is -1 */
        const __m256 x = _mm256_broadcast_ss(f + i);
        l0 = _mm256_sub_epi32(l0, _mm256_castps_si256(_mm256_cmp_ps(x, m0, _CMP_LE_OQ)));
        l1 = _mm256_sub_epi32(l1, _mm256_castps_si256(_mm256_cmp_ps(x, m1, _CMP_LE_OQ)));
        l2 = _mm256_sub_epi32(l2, _mm256_castps_si256(_mm256_cmp_ps(x, m2, _CMP_LE_OQ)));
        l3 = _mm256_sub_epi32(l3, _mm256_castps_si256(_mm256_cmp_ps(x, m3, _CMP_LE_OQ)));
    }
#define CUT_TAKE(mg, lg)                                                                           \
    best = _mm256_min_ps(best,                                                                     \
                         blendv_ps(best, mg, _mm256_castsi256_ps(_mm256_cmpgt_epi32(lg, below))))
    CUT_TAKE(m0, l0);
    CUT_TAKE(m1, l1);
    CUT_TAKE(m2, l2);
    CUT_TAKE(m3, l3);
#undef CUT_TAKE
    return best;
}

static double cut_avx2(const float *c, const lap_pots *p, size_t n, size_t keep) {
    if (keep > CUT_CLASSES / 2 + 1 || n < 4 * CUT_CLASSES || p->vf == NULL ||
        p->cmag > LAP_FLOAT_RANGE) /* keep <= 33: the lists too */
        return imi_lap_cut_blocks(c, p->v, n, keep, block_min_avx2);
    /* eight named accumulators: an array of them (m[8]) lived on the stack, and the loop ran
       a load-min-store chain per class (1.3-1.6x the time of a 4096-column row in cache) */
    const float *vf = p->vf;
    __m256 m0 = _mm256_set1_ps(INFINITY), m1 = m0, m2 = m0, m3 = m0, m4 = m0, m5 = m0, m6 = m0,
           m7 = m0;
#define CUT_CLASS(acc, g)                                                                          \
    acc = _mm256_min_ps(                                                                           \
        acc, _mm256_sub_ps(_mm256_loadu_ps(c + j + 8 * (g)), _mm256_loadu_ps(vf + j + 8 * (g))))
    size_t j = 0;
    for (; j + 64 <= n; j += 64) {
        CUT_CLASS(m0, 0);
        CUT_CLASS(m1, 1);
        CUT_CLASS(m2, 2);
        CUT_CLASS(m3, 3);
        CUT_CLASS(m4, 4);
        CUT_CLASS(m5, 5);
        CUT_CLASS(m6, 6);
        CUT_CLASS(m7, 7);
    }
#undef CUT_CLASS
    float f[CUT_CLASSES];
    _mm256_storeu_ps(f + 0, m0);
    _mm256_storeu_ps(f + 8, m1);
    _mm256_storeu_ps(f + 16, m2);
    _mm256_storeu_ps(f + 24, m3);
    _mm256_storeu_ps(f + 32, m4);
    _mm256_storeu_ps(f + 40, m5);
    _mm256_storeu_ps(f + 48, m6);
    _mm256_storeu_ps(f + 56, m7);
    for (; j < n; j++) { /* the last columns join the classes of their position mod 64 */
        const float hf = c[j] - vf[j];
        f[j % CUT_CLASSES] = hf < f[j % CUT_CLASSES] ? hf : f[j % CUT_CLASSES];
    }
    const __m256i below = _mm256_set1_epi32((int)keep - 1);
    __m256 best = _mm256_set1_ps(INFINITY);
    best = cut_count32(f, f, below, best);
    best = cut_count32(f, f + 32, below, best);
    float b[8];
    _mm256_storeu_ps(b, best);
    float x = b[0];
    for (int l = 1; l < 8; l++)
        x = b[l] < x ? b[l] : x;
    /* keep columns have (float) h at most x: widened, a cut (+Inf only for NaN minima, which
       finite costs never give) */
    const double x64 = x;
    return x64 + LAP_POTS_WIDEN(p->cmag, x64);
}

/* Up to SELECT_RANKED entries: each entry's rank by (h, column) among them, counted in vectors,
   is its place in the sorted output. Columns ride as doubles (exact); the padding is +Inf,
   which no entry's h reaches (they are finite), so it never counts. */
#define SELECT_RANKED 64

static void select_avx2(const double *h, const int32_t *col, size_t cnt, size_t keep,
                        lap_entry *out) {
    if (cnt > SELECT_RANKED) {
        imi_lap_select_heap(h, col, cnt, keep, out);
        return;
    }
    const size_t nv = (cnt + 3) / 4;
    double H[SELECT_RANKED], J[SELECT_RANKED];
    for (size_t t = 0; t < 4 * nv; t++) {
        H[t] = t < cnt ? h[t] : INFINITY;
        J[t] = t < cnt ? (double)col[t] : 0.0;
    }
    for (size_t i = 0; i < cnt; i++) {
        const __m256d x = _mm256_set1_pd(h[i]), jx = _mm256_set1_pd((double)col[i]);
        size_t rank = 0;
        for (size_t g = 0; g < nv; g++) {
            const __m256d hg = _mm256_loadu_pd(H + 4 * g);
            const __m256d below = _mm256_or_pd(
                _mm256_cmp_pd(hg, x, _CMP_LT_OQ),
                _mm256_and_pd(_mm256_cmp_pd(hg, x, _CMP_EQ_OQ),
                              _mm256_cmp_pd(_mm256_loadu_pd(J + 4 * g), jx, _CMP_LT_OQ)));
            rank += (size_t)__builtin_popcount((unsigned)_mm256_movemask_pd(below));
        }
        if (rank < keep)
            out[rank] = (lap_entry){h[i], col[i]};
    }
}

/* Lists hold columns in any order: the lanes keep their two smallest by (h, column) (columns as
   doubles, exact), then merge as usual; the last len % 4 entries go through the scalar push. */
static void list_min2_avx2(const float *lc, const int32_t *lj, const double *v, size_t len,
                           lap_min2 *out) {
    lanes_f64 l;
    lanes_f64_init(&l);
    size_t t = 0;
    for (; t + 4 <= len; t += 4) {
        /* four loads, not vgatherdpd: 51 against 63 ns per 25-entry list on Zen 3 */
        const __m256d vj = _mm256_set_m128d(_mm_loadh_pd(_mm_load_sd(v + lj[t + 2]), v + lj[t + 3]),
                                            _mm_loadh_pd(_mm_load_sd(v + lj[t]), v + lj[t + 1]));
        const __m256d h = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(lc + t)), vj);
        const __m256d jd = _mm256_cvtepi32_pd(_mm_loadu_si128((const __m128i *)(lj + t)));
        lanes_f64_take(&l, h, jd, lex_lt_f64(h, jd, l.m1, l.i1), lex_lt_f64(h, jd, l.m2, l.i2));
    }
    lap_min2 m = lanes_f64_result(&l);
    for (; t < len; t++)
        lap_min2_push(&m, (double)lc[t] - v[lj[t]], lj[t]);
    *out = m;
}

const lap_kernels imi_lap_kernels_avx2 = {.two_smallest = two_smallest_avx2,
                                          .relax = relax_avx2,
                                          .filter = filter_avx2,
                                          .cut = cut_avx2,
                                          .col_add = col_add_avx2,
                                          .two_smallest_f32 = two_smallest_f32_avx2,
                                          .bid_f32 = bid_f32_avx2,
                                          .select = select_avx2,
                                          .list_min2 = list_min2_avx2,
                                          .list_bid_min2 = list_min2_avx2};
