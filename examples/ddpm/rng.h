/* rng.h - seeded, counter-addressed random numbers for imm-ddpm (and the project's benchmarks,
 * bench/workload.c, which build this file too: one generator for the whole repository).
 *
 * Every random draw of a run is addressed by (seed, stream, a, b) - e.g. (seed, NOISE, step, row) -
 * so rows can be generated in parallel in any order and the three noise modes of --compare see
 * exactly the same draws. The generator is xoshiro256** seeded through splitmix64. */
#ifndef DDPM_RNG_H
#define DDPM_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct rng {
    uint64_t s[4];
} rng;

/* Streams: one per kind of draw, so that adding a draw of one kind never shifts another. */
enum rng_stream {
    RNG_INIT = 1,      /* network initialisation */
    RNG_SHUFFLE = 2,   /* epoch order of the training images */
    RNG_TIME = 3,      /* diffusion time step of each batch row */
    RNG_NOISE = 4,     /* the Gaussian noise of each batch row (candidate 0 in knn mode) */
    RNG_KNN = 5,       /* the extra candidates 1..k-1 of knn mode */
    RNG_SAMPLE = 6,    /* the starting noise of DDIM sampling */
    RNG_SYNTHETIC = 7, /* the synthetic dataset */
    RNG_SUBSET = 8     /* subsets used by the metric */
};

/* Seeds r for the draw addressed by (seed, stream, a, b). */
void rng_seed(rng *r, uint64_t seed, uint64_t stream, uint64_t a, uint64_t b);

/* Seeds r from one value: its state is the next four splitmix64 outputs from seed. */
void rng_seed_plain(rng *r, uint64_t seed);

/* One splitmix64 step: advances *state and returns a well-mixed 64-bit value. */
uint64_t rng_splitmix64(uint64_t *state);

uint64_t rng_next(rng *r);

/* Uniform in [0, 1). */
double rng_uniform(rng *r);

/* Uniform integer in [0, n), n > 0 (rejection sampling: no modulo bias). */
uint64_t rng_below(rng *r, uint64_t n);

/* One N(0, 1) draw in double (Box-Muller, the cosine half). */
double rng_normal(rng *r);

/* Fills out[0..n) with independent N(0, 1) draws (Box-Muller, in double, rounded to float). */
void rng_gaussian(rng *r, float *out, size_t n);

#endif /* DDPM_RNG_H */
