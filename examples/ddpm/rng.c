/* rng.c - xoshiro256** (Blackman and Vigna) seeded through splitmix64. */
#include "rng.h"

#include <math.h>

uint64_t rng_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void rng_seed(rng *r, uint64_t seed, uint64_t stream, uint64_t a, uint64_t b) {
    /* Mix the four words in turn so that nearby addresses give unrelated states. */
    uint64_t state = seed;
    uint64_t h = rng_splitmix64(&state);
    state = h ^ stream;
    h = rng_splitmix64(&state);
    state = h ^ a;
    h = rng_splitmix64(&state);
    rng_seed_plain(r, h ^ b);
}

void rng_seed_plain(rng *r, uint64_t seed) {
    uint64_t state = seed;
    for (int i = 0; i < 4; i++) /* never all zero: splitmix64 is a bijection of a counter */
        r->s[i] = rng_splitmix64(&state);
}

uint64_t rng_next(rng *r) {
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rng_uniform(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t rng_below(rng *r, uint64_t n) {
    /* Rejection keeps it unbiased: drop the top partial block of 2^64 mod n values. */
    const uint64_t limit = UINT64_MAX - (UINT64_MAX % n + 1) % n;
    uint64_t x;
    do {
        x = rng_next(r);
    } while (x > limit);
    return x % n;
}

double rng_normal(rng *r) {
    const double u1 = 1.0 - rng_uniform(r); /* (0, 1]: log is finite */
    const double u2 = rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void rng_gaussian(rng *r, float *out, size_t n) {
    const double two_pi = 6.283185307179586;
    for (size_t i = 0; i < n; i += 2) {
        double u1 = 1.0 - rng_uniform(r); /* (0, 1]: log is finite */
        double u2 = rng_uniform(r);
        double radius = sqrt(-2.0 * log(u1));
        out[i] = (float)(radius * cos(two_pi * u2));
        if (i + 1 < n)
            out[i + 1] = (float)(radius * sin(two_pi * u2));
    }
}
