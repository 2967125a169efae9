/* dist_convert.h - the scalar definitions of every rounding the distance kernels apply.
 *
 * The packing code and the cancellation fix-up both use these, so every ISA sees the same
 * rounded inputs; the SIMD kernels never round inputs themselves. All of it is plain IEEE
 * arithmetic (no libm calls, no FMA), so the compiler may vectorise it without changing a bit.
 */
#ifndef IMM_DISTANCE_DIST_CONVERT_H
#define IMM_DISTANCE_DIST_CONVERT_H

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t dist_bits(float v) {
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static inline float dist_float(uint32_t b) {
    float v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* v rounded to the nearest IEEE binary16 value (ties to even, subnormals kept), as a float;
   +-Inf when |v| >= 65520. Bitwise what F16C's vcvtps2ph + vcvtph2ps give. */
static inline float dist_round_half(float v) {
    /* Branch-free (selects only), so that loops over it vectorise. */
    const uint32_t b = dist_bits(v), sign = b & 0x80000000u, a = b ^ sign;
    /* |v| >= 2^-14: drop 13 significand bits, ties to even; 65520 and up overflow to Inf. */
    uint32_t normal = (a + 0xfffu + ((a >> 13) & 1u)) & ~0x1fffu;
    normal = normal >= 0x47800000u ? 0x7f800000u : normal;
    /* Half subnormals are multiples of 2^-24: adding 0.5 puts the float ulp exactly there. */
    const uint32_t sub = dist_bits((dist_float(a) + 0.5f) - 0.5f);
    uint32_t r = a >= 0x38800000u ? normal : sub;
    r = a >= 0x7f800000u ? a : r; /* Inf, NaN */
    return dist_float(r | sign);
}

/* Magnitudes below 2^-40 become zero in BF16: then every product of two packed values is a
   normal float (>= 2^-80) and every partial sum a multiple of 2^-94, so no hardware flush of
   subnormals (vdpbf16ps has DAZ/FTZ built in) can change a result. */
#define DIST_BF16_FLUSH_BITS 0x2b800000u /* 2^-40 */

/* v rounded to bfloat16 (ties to even) as a float; |v| < 2^-40 gives a signed zero. */
static inline float dist_round_bf16(float v) {
    const uint32_t b = dist_bits(v), a = b & 0x7fffffffu;
    uint32_t r = (b + 0x7fffu + ((b >> 16) & 1u)) & 0xffff0000u;
    r = a < DIST_BF16_FLUSH_BITS ? (b & 0x80000000u) : r;
    r = a >= 0x7f800000u ? b : r; /* Inf, NaN */
    return dist_float(r);
}

/* Round to nearest, ties to even, for |t| < 2^51 (1.5 * 2^52 moves the ulp to 1). */
static inline double dist_rint(double t) {
    const double magic = 6755399441055744.0;
    return (t + magic) - magic;
}

/* INT8 quantization of one value of a row whose largest magnitude is amax > 0:
   q = rint(v * (127 / amax)), computed in double. |v| <= amax, so |v * inv| <= 127 (1 + 2^-52)
   and |q| <= 127 without a clamp. */
static inline int32_t dist_quantize(float v, double inv) {
    return (int32_t)dist_rint((double)v * inv);
}

/* The INT8 quantization of a row whose largest magnitude has float bits `maxbits`: 127 / amax
   (0 for a zero row), and the scale amax / 127 that q * scale restores. */
static inline double dist_quantize_inv(uint32_t maxbits) {
    const float amax = dist_float(maxbits);
    return amax > 0.0f ? 127.0 / (double)amax : 0.0;
}

static inline double dist_quantize_scale(uint32_t maxbits) {
    return (double)dist_float(maxbits) / 127.0;
}

/* Sums of squares in a fixed order: 8 double lanes (k mod 8), each x*x then +, lanes combined
   as ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)). */
static inline double dist_lanes8(const double l[8]) {
    double t0 = l[0] + l[4], t1 = l[1] + l[5], t2 = l[2] + l[6], t3 = l[3] + l[7];
    return (t0 + t2) + (t1 + t3);
}

/* Whether L2's output takes the float square root of the clamped d^2 rounded to float (header
   note 2): when that float is 0 or normal, so that nothing was lost to the rounding but the
   rounding itself. Otherwise (subnormal, or above FLT_MAX) the double square root is rounded. */
static inline bool dist_root_in_float(double v) {
    return (v == 0.0) | ((v >= 0x1p-126) & (v <= (double)FLT_MAX)); /* no branches: vectorises */
}

/* L2's output from the clamped d^2 v >= 0 (header note 2). The float square root of a float
   (vsqrtps, 16 lanes) costs a fraction of the double one (vsqrtpd, 8 lanes, slower per lane),
   which dominated the finish of INT8 calls with few dimensions (the README has the figures).
   Within one ulp of sqrt(v) (rounding v to float moves its root by at most half an ulp, the
   float root's own rounding by another half), and exactly sqrtf of the SQL2 output. */
static inline float dist_root(double v) {
    return dist_root_in_float(v) ? sqrtf((float)v) : (float)sqrt(v);
}

#endif
