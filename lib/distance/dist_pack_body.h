/* dist_pack_body.h - the per-row pre-pass (max |v|, the squared norm of the row as the kernels
 * see it, INT8 sums) and packing one panel of x or y over one block of dimensions (rounding for
 * FP16 / BF16, INT8 quantization). Stamped once per ISA
 * (dist_stamp_scalar.c, dist_stamp_avx2.c, dist_stamp_avx512.c), like the kernels: each file defines
 * DIST_PACK_PANEL to the name of its entry point and includes this body, compiled with its own
 * flags.
 *
 * Only plain IEEE arithmetic in a fixed order (selects, no libm, no FMA: the files are compiled
 * with -ffp-contract=off), so whatever the compiler vectorises, every stamp writes the same bits.
 * Norms use the 8-lane order of dist_convert.h: lane k % 8 of a row adds the squares in k order.
 */
#include <math.h>
#include <string.h>
#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "distance/dist_convert.h"
#include "distance/dist_plan.h"

#if !defined(DIST_PACK_PANEL) || !defined(DIST_ROW_STATS)
#error "define DIST_PACK_PANEL and DIST_ROW_STATS before including dist_pack_body.h"
#endif

/* Dimensions per pass over a panel's rows. One chunk of the panel is assembled in the scratch
   (in L1) and then copied out contiguously: written directly, every strided store would miss. */
#define CHUNK 64
#define P_MAX 64 /* rows per panel, at most */
_Static_assert(CHUNK *P_MAX * 4 <= DIST_PACK_SCRATCH, "DIST_PACK_SCRATCH too small");
_Static_assert(DIST_KC_FLOAT % CHUNK == 0 && DIST_KC_INT8 % CHUNK == 0, "blocks of chunks");
_Static_assert(CHUNK == 64, "DIST_STORE_I8_AMX: one chunk is one 64-byte row of an A tile");

static void add_squares(double l[8], const float *v, size_t n) {
    /* chunks start at multiples of 8, so lane k % 8 of the row is lane k % 8 here */
    size_t k = 0;
    for (; k + 8 <= n; k += 8)
        for (int j = 0; j < 8; j++)
            l[j] += (double)v[k + j] * (double)v[k + j];
    for (; k < n; k++)
        l[k & 7] += (double)v[k] * (double)v[k];
}

/* Rounds v[0..n) to what the kernels see. */
static void convert_chunk(const dist_plan *p, const float *v, size_t n, float *out) {
    const float s = p->prescale;
    switch (p->prec) {
    case IMM_PRECISION_FP16: {
        size_t k = 0;
#if defined(__F16C__)
        /* vcvtps2ph (nearest even) and back: the same bits as dist_round_half for every float
           (checked exhaustively), 8 at a time. */
        for (; k + 8 <= n; k += 8)
            _mm256_storeu_ps(out + k, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(v + k),
                                                                      _MM_FROUND_TO_NEAREST_INT)));
#endif
        for (; k < n; k++)
            out[k] = dist_round_half(v[k]);
        break;
    }
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

/* Stores into the chunk buffer stay scalar: vectorised, GCC makes them scatter instructions,
   several times slower (microcoded on AMD). */
#if defined(__GNUC__) && !defined(__clang__)
#define DIST_SCALAR_STORES __attribute__((noinline, optimize("no-tree-vectorize")))
#else
#define DIST_SCALAR_STORES __attribute__((noinline))
#endif

/* Word w of row r at w * P + r (words: floats, or 32-bit groups of bf16 / int16 / int8). */
DIST_SCALAR_STORES static void store_words(uint32_t *tile, const void *words, size_t count,
                                           size_t P, size_t r) {
    for (size_t w = 0; w < count; w++)
        memcpy(tile + w * P + r, (const unsigned char *)words + 4 * w, 4);
}

/* n dimensions of one row (v) into row r of the chunk buffer: float and bf16 stores. */
static void pack_chunk_float(const dist_plan *p, const float *v, size_t n, size_t P, size_t r,
                             uint32_t *tile) {
    if (p->prec == IMM_PRECISION_FP32 && p->prescale == 1.0f && !p->swap_pairs) {
        store_words(tile, v, n, P, r); /* the values as they are: no staging copy */
        return;
    }
    union {
        float f[CHUNK + 1];
        uint32_t w[CHUNK + 1];
    } stage;
    convert_chunk(p, v, n, stage.f);
    stage.f[n] = 0.0f; /* an odd last chunk: the pad of its last pair */
    if (p->k->store == DIST_STORE_BF16) {
        uint32_t words[CHUNK / 2 + 1];
        for (size_t w = 0; w < (n + 1) / 2; w++)
            words[w] = (stage.w[2 * w] >> 16) | (stage.w[2 * w + 1] & 0xffff0000u);
        store_words(tile, words, (n + 1) / 2, P, r);
    } else if (p->swap_pairs) { /* odd element of each pair first, as vdpbf16ps */
        uint32_t swapped[CHUNK + 1];
        for (size_t k = 0; k < (n + 1) / 2 * 2; k++)
            swapped[k] = stage.w[k ^ 1];
        store_words(tile, swapped, (n + 1) / 2 * 2, P, r);
    } else {
        store_words(tile, stage.w, n, P, r);
    }
}

/* INT8: q = rint(v * 127 / max|v|); x keeps q, y stores q + 128 (the unsigned operand of
   vpdpbusd), as bytes (groups of 1 or 4) or int16 pairs (vpmaddwd). DIST_STORE_I8_AMX the other
   way round: x stores q + 128 as a row of bytes (the unsigned A tile of tdpbusd), y keeps q in
   groups of 4 (the B tile). */
static void pack_chunk_int8(const dist_plan *p, bool is_y, const float *v, size_t n, size_t P,
                            size_t r, double inv, uint32_t *tile, int64_t sums[2]) {
    const bool amx = p->k->store == DIST_STORE_I8_AMX;
    const int32_t off = is_y != amx ? 128 : 0;
    int32_t q[CHUNK], csum = 0, csq = 0; /* 64 * 127^2 < 2^31 */
    for (size_t k = 0; k < n; k++)
        q[k] = dist_quantize(v[k], inv);
    for (size_t k = 0; k < n; k++) {
        csum += q[k];
        csq += q[k] * q[k];
    }
    sums[0] += csum;
    sums[1] += csq;
    union {
        uint8_t b[CHUNK + 4];
        int16_t h[CHUNK + 2];
        uint32_t w[CHUNK];
    } out;
    if (p->k->store == DIST_STORE_I16) {
        for (size_t k = 0; k < n; k++)
            out.h[k] = (int16_t)(q[k] + off);
        out.h[n] = 0; /* the pad of an odd last chunk */
        store_words(tile, out.w, (n + 1) / 2, P, r);
    } else if (amx && !is_y) { /* kgroup 64 = CHUNK: the chunk of row r is bytes r * 64 .. */
        uint8_t *t = (uint8_t *)tile + r * CHUNK;
        for (size_t k = 0; k < n; k++)
            t[k] = (uint8_t)(q[k] + off); /* the rest of the chunk was zeroed (n < 64) */
    } else if (p->k->kgroup == 4 || amx) { /* little-endian: bytes k .. k + 3 are word k / 4 */
        for (size_t k = 0; k < n; k++)
            out.b[k] = (uint8_t)(q[k] + off);
        out.b[n] = out.b[n + 1] = out.b[n + 2] = 0; /* pads of the last group */
        store_words(tile, out.w, (n + 3) / 4, P, r);
    } else { /* one byte per dimension: bytes straight into the chunk buffer */
        uint8_t *t = (uint8_t *)tile;
        for (size_t k = 0; k < n; k++)
            t[k * P + r] = (uint8_t)(q[k] + off);
    }
}

/* Largest |v| of a row as float bits; NaN/Inf give >= 0x7f800000. An integer max vectorises. */
static uint32_t max_abs_bits(const float *v, size_t n) {
    uint32_t m = 0;
    for (size_t k = 0; k < n; k++) {
        uint32_t b = dist_bits(v[k]) & 0x7fffffffu;
        m = b > m ? b : m;
    }
    return m;
}

static void row_stats(const dist_plan *p, const float *v, bool max_known, uint32_t *maxbits,
                      double *norm, double *scale, double *sumq) {
    const size_t dim = p->dim;
    if (!max_known)
        *maxbits = max_abs_bits(v, dim);
    if (*maxbits >= 0x7f800000u) /* NaN/Inf: the call fails */
        return;
    if (p->prec == IMM_PRECISION_INT8) {
        const double inv = dist_quantize_inv(*maxbits), s = dist_quantize_scale(*maxbits);
        *scale = s;
        if (norm == NULL)
            return; /* the sums come from the packer, which quantizes the row anyway */
        int64_t sq = 0, sum = 0;
#if defined(DIST_STATS_INT8_FAST)
        DIST_STATS_INT8_FAST(v, dim, inv, &sum, &sq);
#else
        for (size_t k0 = 0; k0 < dim; k0 += CHUNK) {
            const size_t n = dim - k0 < CHUNK ? dim - k0 : CHUNK;
            int32_t q[CHUNK], csq = 0, csum = 0; /* 64 * 127^2 < 2^31 */
            for (size_t k = 0; k < n; k++)
                q[k] = dist_quantize(v[k0 + k], inv);
            for (size_t k = 0; k < n; k++) {
                csq += q[k] * q[k];
                csum += q[k];
            }
            sq += csq;
            sum += csum;
        }
#endif
        *sumq = (double)sum; /* exact: |sum| <= 127 dim < 2^53 */
        *norm = (s * s) * (double)sq;
        return;
    }
    double lanes[8] = {0};
    float stage[CHUNK];
    for (size_t k0 = 0; k0 < dim; k0 += CHUNK) {
        const size_t n = dim - k0 < CHUNK ? dim - k0 : CHUNK;
        convert_chunk(p, v + k0, n, stage);
        add_squares(lanes, stage, n);
    }
    *norm = dist_lanes8(lanes);
}

void DIST_ROW_STATS(const dist_plan *p, const float *v, size_t rows, bool max_known,
                    uint32_t *maxbits, double *norm, double *scale, double *sumq) {
#if defined(DIST_STATS_NORMS_FAST)
    /* FP32 before any scaling, FP16: the max and the norm need no other statistic */
    if (!max_known && ((p->prec == IMM_PRECISION_FP32 && p->prescale == 1.0f) ||
                       p->prec == IMM_PRECISION_FP16)) {
        DIST_STATS_NORMS_FAST(p, v, rows, maxbits, norm);
        return;
    }
#endif
    for (size_t r = 0; r < rows; r++) /* norm and sumq NULL: max and scale only (INT8) */
        row_stats(p, v + r * p->dim, max_known, maxbits + r, norm != NULL ? norm + r : NULL,
                  scale + r, sumq != NULL ? sumq + r : NULL);
}

void DIST_PACK_PANEL(const dist_plan *p, bool is_y, size_t r0, const float *src, size_t k0,
                     size_t kb, void *dst, void *scratch) {
    const size_t P = is_y ? p->k->nr : p->k->mr, rows = is_y ? p->m : p->n, dim = p->dim;
    const size_t count = rows - r0 < P ? rows - r0 : P;
    const uint32_t *maxbits = is_y ? p->ymax : p->xmax;
    const bool int8 = p->prec == IMM_PRECISION_INT8;
#if defined(DIST_PACK_FAST)
    if (DIST_PACK_FAST(p, is_y, r0, src, k0, kb, dst))
        return;
#endif
    uint32_t *tile = scratch;
    int64_t sums[DIST_PANEL_MAX][2] = {{0}}; /* per row: sum q, sum q^2 (INT8) */
    for (size_t c0 = 0; c0 < kb; c0 += CHUNK) {
        const size_t n = kb - c0 < CHUNK ? kb - c0 : CHUNK;
        const size_t bytes = (n + p->group - 1) / p->group * p->group * P * p->elem;
        if (count < P || n % p->group != 0)
            memset(tile, 0, bytes); /* padding rows / dimensions */
        for (size_t r = 0; r < count; r++) {
            const size_t row = r0 + r;
            const float *v = src + row * dim + k0 + c0;
            if (int8)
                pack_chunk_int8(p, is_y, v, n, P, r, dist_quantize_inv(maxbits[row]), tile,
                                sums[r]);
            else
                pack_chunk_float(p, v, n, P, r, tile);
        }
        memcpy((unsigned char *)dst + c0 * P * p->elem, tile, bytes);
    }
    if (int8 && (is_y ? p->yprepacked : p->xprepacked)) /* the pre-pass's whole rows */
        for (size_t r = 0; r < count; r++)
            dist_int8_sums(p, is_y, r0 + r, sums[r][0], sums[r][1]);
}
