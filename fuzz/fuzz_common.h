/*
 * fuzz_common.h - shared pieces of the libFuzzer harnesses: a byte reader that turns the
 * fuzzer's input into adversarial floats, doubles and options, the reference computations the
 * checks compare against (brute-force assignment optimum, the rounded rows x~ of imm_distance),
 * and the check macro.
 *
 * Everything here follows include/immiscible.h (the contract), never lib/: the harnesses see
 * only the public API.
 */
#ifndef IMM_FUZZ_COMMON_H
#define IMM_FUZZ_COMMON_H

#include <float.h>
#include <immiscible.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set by a harness to print its decoded input when a check fails. */
static void (*fz_dump_hook)(void);

/* A contract violation: say what and where, then trap so libFuzzer saves the input. */
#define FZ_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "\n*** CONTRACT VIOLATION %s:%d: %s\n    ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            if (fz_dump_hook != NULL)                                                              \
                fz_dump_hook();                                                                    \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

/* Canary byte written over every output before a call: on error it must still be there. */
#define FZ_CANARY 0xA5

static inline int fz_untouched(const void *p, size_t bytes) {
    const unsigned char *c = (const unsigned char *)p;
    for (size_t i = 0; i < bytes; i++)
        if (c[i] != FZ_CANARY)
            return 0;
    return 1;
}

/*-------------------------------------------------------------------------------------------
 * Byte reader: past the end, every read returns zeros (so any input decodes to something).
 *-------------------------------------------------------------------------------------------*/
typedef struct {
    const uint8_t *p;
    size_t n;
    float prev_f;
    double prev_d;
} fz;

static inline void fz_init(fz *f, const uint8_t *data, size_t size) {
    f->p = data;
    f->n = size;
    f->prev_f = 1.0f;
    f->prev_d = 1.0;
}

static inline uint8_t fz_u8(fz *f) {
    if (f->n == 0)
        return 0;
    f->n--;
    return *f->p++;
}

static inline uint16_t fz_u16(fz *f) { return (uint16_t)(fz_u8(f) | (fz_u8(f) << 8)); }

static inline uint32_t fz_u32(fz *f) { return (uint32_t)fz_u16(f) | ((uint32_t)fz_u16(f) << 16); }

static inline uint64_t fz_u64(fz *f) { return (uint64_t)fz_u32(f) | ((uint64_t)fz_u32(f) << 32); }

static inline float fz_bits_f(uint32_t b) {
    float v;
    memcpy(&v, &b, sizeof v);
    return v;
}

static inline double fz_bits_d(uint64_t b) {
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

enum {
    FZ_NONFINITE_OK = 1, /* may return NaN / Inf (rarely) */
    FZ_MOSTLY_MODERATE = 2 /* adversarial values less often */
};

/* One float. Moderate values are multiples of 1/256 in [-128, 128); the adversarial ones are
   signed zeros, subnormals, FLT_MIN / FLT_MAX, huge and tiny magnitudes, repeats of the previous
   value (ties), values one ulp apart, precision range edges (half: 65504..65520, bf16 flush
   2^-40) and raw bit patterns. */
static inline float fz_float(fz *f, int flags) {
    const uint8_t sel = fz_u8(f);
    const unsigned adv = (flags & FZ_MOSTLY_MODERATE) ? 24u : 96u;
    float v;
    if (sel >= adv) {
        v = (float)(int16_t)fz_u16(f) / 256.0f;
    } else {
        const uint8_t k = fz_u8(f);
        const float s = (k & 0x80) ? -1.0f : 1.0f;
        const float km = (float)(k & 0x7f);
        switch (sel & 15) {
        case 0: v = 0.0f; break;
        case 1: v = -0.0f; break;
        case 2: v = s * FLT_TRUE_MIN * (1.0f + (float)(k & 3)); break;
        case 3: v = s * FLT_MAX * (k & 0x40 ? 1.0f : 0.5f); break;
        case 4: v = s * FLT_MIN * (1.0f + km / 128.0f); break;
        case 5: v = s * km; break;
        case 6: v = s * km / 16.0f; break;
        case 7: v = s * 1e30f * (1.0f + km); break;
        case 8: v = s * 1e-30f * (1.0f + km); break;
        case 9: {
            uint32_t b = fz_u32(f);
            if (!(flags & FZ_NONFINITE_OK) && (b & 0x7f800000u) == 0x7f800000u)
                b &= ~0x00800000u; /* clear one exponent bit: finite */
            v = fz_bits_f(b);
            break;
        }
        case 10: v = f->prev_f; break;
        case 11: v = s * 1e18f * (1.0f + km); break;
        case 12: {
            static const float edges[8] = {65504.0f, 65519.0f, 65520.0f, 65519.996f,
                                           6.1035156e-05f, 5.9604645e-08f, 2.9802322e-08f, 65536.0f};
            v = s * edges[k & 7];
            break;
        }
        case 13: v = s * ldexpf(1.0f, -40 + (int)(k & 7) - 3); break;
        case 14: v = nextafterf(f->prev_f, (k & 1) ? INFINITY : -INFINITY); break;
        default:
            if ((flags & FZ_NONFINITE_OK) && k < 8)
                v = k < 3 ? INFINITY : k < 6 ? -INFINITY : NAN;
            else
                v = s * 1e15f * (1.0f + km);
            break;
        }
    }
    f->prev_f = v;
    return v;
}

/* One double for potentials: moderate, +-1e300, near DBL_MAX, tiny, the negation of the previous
   one (cancellation), raw bits (never NaN / Inf unless allowed). */
static inline double fz_double(fz *f, int flags) {
    const uint8_t sel = fz_u8(f);
    double v;
    if (sel >= 128) {
        v = (double)(int16_t)fz_u16(f) / 64.0;
    } else {
        const uint8_t k = fz_u8(f);
        const double s = (k & 0x80) ? -1.0 : 1.0, km = (double)(k & 0x7f);
        switch (sel & 15) {
        case 0: v = 0.0; break;
        case 1: v = s * 1e300 * (1.0 + km); break;
        case 2: v = s * DBL_MAX * (k & 0x40 ? 1.0 : 0.5); break;
        case 3: v = -f->prev_d; break;
        case 4: v = f->prev_d; break;
        case 5: v = s * 1e30 * (1.0 + km); break;
        case 6: v = s * 1e38 * (1.0 + km); break;
        case 7: v = s * km * 1e-300; break;
        case 8: v = s * ldexp(1.0, (int)(k & 0x7f) - 20); break;
        case 9: {
            uint64_t b = fz_u64(f);
            if (!(flags & FZ_NONFINITE_OK) && (b & 0x7ff0000000000000ull) == 0x7ff0000000000000ull)
                b &= ~0x0010000000000000ull;
            v = fz_bits_d(b);
            break;
        }
        case 10: v = f->prev_d + s * km; break;
        case 11: v = s * 1e16 * (1.0 + km); break;
        case 12: v = (flags & FZ_NONFINITE_OK) ? (k & 1 ? NAN : s * INFINITY) : s; break;
        default: v = s * km / 8.0; break;
        }
    }
    f->prev_d = v;
    return v;
}

/*-------------------------------------------------------------------------------------------
 * Options: mostly valid, with occasional bad enums, negative or huge thread counts, accuracy
 * anywhere in the double range (0, subnormal, 1e-300, 1e300, DBL_MAX, NaN, Inf, negative, raw
 * bits), odd exact_finish values, non-zero reserved words, and NULL.
 *-------------------------------------------------------------------------------------------*/
typedef struct {
    imm_options o;
    const imm_options *ptr; /* &o or NULL */
    int valid;              /* what the header says: 1 = must be accepted */
} fz_opts;

/* The header's rules for imm_options (include/immiscible.h, struct imm_options). */
static inline int fz_options_valid(const imm_options *o) {
    if (o == NULL)
        return 1;
    if (o->solver != IMM_SOLVER_EXACT && o->solver != IMM_SOLVER_AUCTION)
        return 0;
    if (o->precision < IMM_PRECISION_FP32 || o->precision > IMM_PRECISION_BF16)
        return 0;
    if (o->metric != IMM_METRIC_L2 && o->metric != IMM_METRIC_SQL2)
        return 0;
    if (o->num_threads < 0)
        return 0;
#ifdef IMM_AUCTION_MAX_ACCURACY
    /* "0 = IMM_AUCTION_DEFAULT_ACCURACY; otherwise in (0, IMM_AUCTION_MAX_ACCURACY]" */
    if (!(o->accuracy == 0.0 || (o->accuracy > 0.0 && o->accuracy <= IMM_AUCTION_MAX_ACCURACY)))
        return 0;
#else
    /* "0 = IMM_AUCTION_DEFAULT_ACCURACY; otherwise finite and > 0" */
    if (!(o->accuracy == 0.0 || (isfinite(o->accuracy) && o->accuracy > 0.0)))
        return 0;
#endif
    if (o->reserved_int_ != 0)
        return 0;
    for (size_t i = 0; i < sizeof o->reserved_ / sizeof o->reserved_[0]; i++)
        if (o->reserved_[i] != 0)
            return 0;
    return 1;
}

static inline void fz_options(fz *f, fz_opts *out) {
    imm_options *o = &out->o;
    imm_options_init(o);
    const uint8_t use_null = fz_u8(f);
    const uint8_t s = fz_u8(f), p = fz_u8(f), m = fz_u8(f), t = fz_u8(f), a = fz_u8(f),
                  e = fz_u8(f), r = fz_u8(f);
    o->solver = s < 240 ? (s & 1) : (int32_t)s - 245;
    o->precision = p < 240 ? (p & 3) : (int32_t)p - 244;
    o->metric = m < 240 ? (m & 1) : (int32_t)m - 243;
    if (t < 248)
        o->num_threads = t % 5;
    else if (t < 251)
        o->num_threads = 100000;
    else if (t < 254)
        o->num_threads = -1;
    else if (t == 254)
        o->num_threads = INT32_MIN;
    else
        o->num_threads = 7;
    if (a < 64) {
        o->accuracy = 0.0;
    } else if (a < 128) {
        o->accuracy = pow(10.0, -(double)(a % 13));
    } else {
        switch (a) {
        case 128: o->accuracy = 4.9406564584124654e-324; break;
        case 129: o->accuracy = 1e-300; break;
        case 130: o->accuracy = 1e300; break;
        case 131: o->accuracy = DBL_MAX; break;
        case 132: o->accuracy = NAN; break;
        case 133: o->accuracy = -1e-4; break;
        case 134: o->accuracy = INFINITY; break;
        case 135: o->accuracy = -0.0; break;
        case 136: o->accuracy = fz_bits_d(fz_u64(f)); break;
        case 137: o->accuracy = 1.0; break;
        case 138: o->accuracy = 1e10; break;
        case 139: o->accuracy = 1e200; break;
        case 140: o->accuracy = 2.0; break;
        case 141: o->accuracy = 1e301; break;
        case 142: o->accuracy = -INFINITY; break;
        case 143: o->accuracy = 1e-20; break;
        default: o->accuracy = ldexp(1.0, -(int)(a % 24)); break;
        }
    }
    o->exact_finish = e < 240 ? (e & 1) : (int32_t)e - 247;
    if (r == 255)
        o->reserved_int_ = 1;
    else if (r == 254)
        o->reserved_[fz_u8(f) % 12] = (uint64_t)1 << (fz_u8(f) % 64);
    else if (r == 253)
        o->reserved_[11] = UINT64_MAX;
    out->ptr = use_null == 255 ? NULL : o;
    out->valid = fz_options_valid(out->ptr);
}

/* The options a call actually runs with (NULL = defaults; accuracy 0 = the default). */
static inline void fz_effective(const fz_opts *fo, imm_options *eff) {
    if (fo->ptr == NULL)
        imm_options_init(eff);
    else
        *eff = fo->o;
    if (eff->accuracy == 0.0)
        eff->accuracy = IMM_AUCTION_DEFAULT_ACCURACY;
}

static inline const char *fz_opts_str(const fz_opts *fo) {
    static char buf[256];
    if (fo->ptr == NULL)
        return "opts=NULL";
    const imm_options *o = &fo->o;
    snprintf(buf, sizeof buf,
             "solver=%d precision=%d metric=%d num_threads=%d accuracy=%a exact_finish=%d "
             "reserved_int_=%d",
             o->solver, o->precision, o->metric, o->num_threads, o->accuracy, o->exact_finish,
             o->reserved_int_);
    return buf;
}

static inline int fz_all_finite(const float *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(p[i]))
            return 0;
    return 1;
}

static inline void fz_print_matrix(const char *name, const float *c, size_t rows, size_t cols) {
    fprintf(stderr, "%s (%zu x %zu) = {\n", name, rows, cols);
    for (size_t i = 0; i < rows; i++) {
        fprintf(stderr, "  ");
        for (size_t j = 0; j < cols; j++)
            fprintf(stderr, "%a, ", (double)c[i * cols + j]);
        fprintf(stderr, "\n");
    }
    fprintf(stderr, "}\n");
}

/*-------------------------------------------------------------------------------------------
 * Brute-force assignment optimum (rows <= cols <= 8: at most 8! = 40320 leaves).
 * Sums in long double: each float converts exactly, and 8 terms lose at most 8 * 2^-64
 * relative to the sum of their magnitudes, far below any tolerance used.
 *-------------------------------------------------------------------------------------------*/
typedef struct {
    const float *cost;
    size_t rows, cols;
    long double best, best_abs;
    int32_t cur[8], arg[8];
    int found;
} fz_bf;

static inline void fz_bf_rec(fz_bf *b, size_t i, unsigned used, long double sum, long double abs) {
    if (i == b->rows) {
        if (!b->found || sum < b->best) {
            b->found = 1;
            b->best = sum;
            b->best_abs = abs;
            memcpy(b->arg, b->cur, sizeof b->cur);
        }
        return;
    }
    for (size_t j = 0; j < b->cols; j++) {
        if (used & (1u << j))
            continue;
        const long double c = (long double)b->cost[i * b->cols + j];
        if (isinf(c) && c > 0)
            continue; /* +Inf: a forbidden pair (imm_lap_solve note 4) */
        b->cur[i] = (int32_t)j;
        fz_bf_rec(b, i + 1, used | (1u << j), sum + c, abs + fabsl(c));
    }
}

/* Optimal total over the assignments that avoid +Inf (forbidden) pairs; *abs_out = sum of
   |cost| along an optimal assignment; *feasible (may be NULL) = 0 when every assignment needs
   a forbidden pair (then the result is meaningless). */
static inline long double fz_lap_optimum_f(const float *cost, size_t rows, size_t cols,
                                           long double *abs_out, int *feasible) {
    fz_bf b;
    memset(&b, 0, sizeof b);
    b.cost = cost;
    b.rows = rows;
    b.cols = cols;
    fz_bf_rec(&b, 0, 0, 0.0L, 0.0L);
    if (abs_out != NULL)
        *abs_out = b.best_abs;
    if (feasible != NULL)
        *feasible = b.found;
    return b.best;
}

static inline long double fz_lap_optimum(const float *cost, size_t rows, size_t cols,
                                         long double *abs_out) {
    return fz_lap_optimum_f(cost, rows, cols, abs_out, NULL);
}

/* 1 when assign is rows distinct columns in [0, cols). */
static inline int fz_is_injective(const int32_t *assign, size_t rows, size_t cols) {
    unsigned used = 0;
    for (size_t i = 0; i < rows; i++) {
        if (assign[i] < 0 || (size_t)assign[i] >= cols || (used & (1u << assign[i])))
            return 0;
        used |= 1u << assign[i];
    }
    return 1;
}

static inline long double fz_total(const float *cost, size_t cols, const int32_t *assign, size_t rows,
                            long double *abs_out) {
    long double s = 0.0L, a = 0.0L;
    for (size_t i = 0; i < rows; i++) {
        const long double c = (long double)cost[i * cols + (size_t)assign[i]];
        s += c;
        a += fabsl(c);
    }
    if (abs_out != NULL)
        *abs_out = a;
    return s;
}

/*-------------------------------------------------------------------------------------------
 * The rows x~ imm_distance works on (header, imm_distance note 4), computed here from the
 * header's definitions alone. Returns 0 when a value leaves the precision's range (Inf).
 *-------------------------------------------------------------------------------------------*/

/* IEEE binary16, ties to even, subnormals kept; Inf when |v| >= 65520. In double, exactly:
   scaling by powers of two is exact and nearbyint() rounds ties to even. */
static inline double fz_round_half(float v) {
    const double a = fabs((double)v);
    double q;
    if (a >= 65520.0)
        return copysign(INFINITY, (double)v);
    if (a < 0x1p-14) {
        q = nearbyint(a * 0x1p24) * 0x1p-24;
    } else {
        int e;
        frexp(a, &e); /* a = m 2^e, m in [0.5, 1): the half ulp is 2^(e - 11) */
        q = ldexp(nearbyint(ldexp(a, 11 - e)), e - 11);
    }
    return copysign(q, (double)v);
}

/* bfloat16 (8 significant bits), ties to even; |v| < 2^-40 flushed to (signed) zero. Above
   the largest bfloat16 (2^128 (1 - 2^-8)) plus half an ulp the value rounds to Inf. */
static inline double fz_round_bf16(float v) {
    const double a = fabs((double)v);
    if (a < 0x1p-40)
        return copysign(0.0, (double)v);
    int e;
    frexp(a, &e);
    double q = ldexp(nearbyint(ldexp(a, 8 - e)), e - 8);
    if (q >= 0x1p128)
        q = INFINITY;
    return copysign(q, (double)v);
}

/* x~ of one row (dim values) in long double. Returns 0 when some x~ is not finite. */
static inline int fz_round_row(int precision, const float *x, size_t dim, long double *xt) {
    if (precision == IMM_PRECISION_INT8) {
        double amax = 0.0;
        for (size_t k = 0; k < dim; k++)
            amax = fmax(amax, fabs((double)x[k]));
        for (size_t k = 0; k < dim; k++) {
            if (amax == 0.0) {
                xt[k] = 0.0L;
                continue;
            }
            /* q_k = rint(x_k * (127 / a)) in double, ties to even; x~_k = q_k a / 127 */
            const double q = nearbyint((double)x[k] * (127.0 / amax));
            xt[k] = (long double)q * (long double)amax / 127.0L;
        }
        return 1;
    }
    for (size_t k = 0; k < dim; k++) {
        double r;
        if (precision == IMM_PRECISION_FP16)
            r = fz_round_half(x[k]);
        else if (precision == IMM_PRECISION_BF16)
            r = fz_round_bf16(x[k]);
        else
            r = (double)x[k];
        if (!isfinite(r))
            return 0;
        xt[k] = (long double)r;
    }
    return 1;
}

static inline long double fz_sqnorm(const long double *a, size_t dim) {
    long double s = 0.0L;
    for (size_t k = 0; k < dim; k++)
        s += a[k] * a[k];
    return s;
}

static inline long double fz_sqdist(const long double *a, const long double *b, size_t dim) {
    long double s = 0.0L;
    for (size_t k = 0; k < dim; k++) {
        const long double d = a[k] - b[k];
        s += d * d;
    }
    return s;
}

#endif
