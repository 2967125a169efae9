/*
 * workload.h - reproducible data for the libimmiscible benchmarks.
 *
 * Everything here is seeded: the same seed gives the same images, noise and matrices on every
 * run and every machine (the RNG is xoshiro256** seeded through splitmix64; normals come from
 * Box-Muller in double).
 *
 * Images. The base image is 28x28, scaled to [-1, 1]; it comes either from Fashion-MNIST (an IDX
 * file, usually gzipped) or from a built-in synthetic generator (smooth sums of low-frequency
 * sinusoids and blobs, clipped to [-1, 1]) when the file is absent or zlib was not found at
 * configure time. It is padded to 32x32 with -1 (the background value after scaling) and
 * repeated over 3 channels, channel-major, giving the 3072-float vector a 3x32x32 training image
 * has. For any other dim D, element k of the row is element (k mod 3072) of that vector: shorter
 * rows truncate it, longer rows tile it.
 *
 * Matrices have images as rows and noise as columns, like the library's.
 */
#ifndef IMM_BENCH_WORKLOAD_H
#define IMM_BENCH_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#define WL_SIDE 28    /* the base image is WL_SIDE x WL_SIDE */
#define WL_PADDED 32  /* padded to WL_PADDED x WL_PADDED */
#define WL_CHANNELS 3 /* and repeated over WL_CHANNELS channels */
#define WL_IMAGE_DIM (WL_CHANNELS * WL_PADDED * WL_PADDED) /* 3072 */

/* Derives an independent seed for a (purpose, size) pair from a base seed, so that each case of
 * a benchmark gets its own reproducible stream regardless of which other cases run. */
uint64_t wl_seed_for(uint64_t base, uint64_t purpose, uint64_t size);

/* ---- image sources ------------------------------------------------------------------------- */

typedef enum wl_source_kind { WL_SOURCE_SYNTHETIC = 0, WL_SOURCE_FASHION_MNIST = 1 } wl_source_kind;

typedef struct wl_source {
    wl_source_kind kind;
    size_t count;    /* images held (Fashion-MNIST) or 0 (synthetic: generated on demand) */
    uint8_t *pixels; /* count * 28 * 28 bytes, NULL for synthetic */
    char note[256];  /* why this source was chosen, for the report */
} wl_source;

/* wl_source_open() :
 *  Loads the IDX image file at `path` (gzip or plain). If `path` is NULL, the file does not exist,
 *  or the build has no zlib, falls back to the synthetic source and says why in src->note.
 *  @return 0 on success (either source), -1 if the file exists but is not a valid 28x28 IDX
 *          image file or cannot be read / allocated; then `err` holds a message and *src is
 *          left empty (safe to pass to wl_source_close). */
int wl_source_open(wl_source *src, const char *path, char *err, size_t errlen);

/* Forces the synthetic source. */
void wl_source_synthetic(wl_source *src, const char *why);

void wl_source_close(wl_source *src);

/* "fashion-mnist" or "synthetic". */
const char *wl_source_name(const wl_source *src);

/* wl_sample_images() :
 *  Writes `batch` image rows of `dim` floats to `out` (batch * dim floats). Fashion-MNIST images
 *  are drawn without replacement while batch <= count (with replacement beyond); synthetic images
 *  are generated from the seed. See the top of this file for the layout. */
void wl_sample_images(const wl_source *src, uint64_t seed, size_t batch, size_t dim, float *out);

/* ---- noise and matrices -------------------------------------------------------------------- */

/* n floats drawn from N(0, 1). */
void wl_gaussian(uint64_t seed, size_t n, float *out);

/* wl_distance_matrix() :
 *  out[i * m + j] = ||x_i - y_j|| (Euclidean), computed in double and rounded once to float.
 *  Uses OpenMP over rows. x is n x dim, y is m x dim, out is n x m. */
void wl_distance_matrix(const float *x, size_t n, const float *y, size_t m, size_t dim, float *out);

/* rows x cols floats uniform in [0, scale). */
void wl_uniform_matrix(uint64_t seed, size_t rows, size_t cols, float scale, float *out);

#endif /* IMM_BENCH_WORKLOAD_H */
