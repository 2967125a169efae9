/* workload.c - seeded images, noise and cost matrices for the benchmarks (see workload.h). */
#define _POSIX_C_SOURCE 200809L

#include "workload.h"

#include "rng.h" /* examples/ddpm/rng.h */

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifdef IMM_BENCH_HAVE_ZLIB
#include <zlib.h>
#endif

#define WL_PI 3.14159265358979323846

/* ---- random numbers: examples/ddpm/rng.c, the project's one generator ----------------------- */

uint64_t wl_seed_for(uint64_t base, uint64_t purpose, uint64_t size) {
    uint64_t sm = base ^ (purpose * 0xD1B54A32D192ED03ull) ^ (size * 0x8CB92BA72F3D8DD7ull);
    return rng_splitmix64(&sm);
}

/* ---- image sources --------------------------------------------------------------------------- */

static void set_msg(char *buf, size_t len, const char *fmt, ...) {
    if (!buf || len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

void wl_source_synthetic(wl_source *src, const char *why) {
    memset(src, 0, sizeof *src);
    src->kind = WL_SOURCE_SYNTHETIC;
    set_msg(src->note, sizeof src->note, "%s", why ? why : "synthetic images requested");
}

void wl_source_close(wl_source *src) {
    if (!src)
        return;
    free(src->pixels);
    memset(src, 0, sizeof *src);
}

const char *wl_source_name(const wl_source *src) {
    return src->kind == WL_SOURCE_FASHION_MNIST ? "fashion-mnist" : "synthetic";
}

#ifdef IMM_BENCH_HAVE_ZLIB
static uint32_t be32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Reads exactly len bytes (gzread takes an unsigned length, so go in chunks). */
static int gz_read_all(gzFile f, unsigned char *buf, size_t len) {
    while (len > 0) {
        unsigned chunk = len > (1u << 30) ? (1u << 30) : (unsigned)len;
        int got = gzread(f, buf, chunk);
        if (got <= 0)
            return -1;
        buf += got;
        len -= (size_t)got;
    }
    return 0;
}

static int load_idx(wl_source *src, const char *path, char *err, size_t errlen) {
    /* A sanity cap: the real training file has 60000 images; a huge count means corruption. */
    const uint32_t max_images = 10u * 1000u * 1000u;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        set_msg(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    unsigned char hdr[16];
    int rc = -1;
    if (gz_read_all(f, hdr, sizeof hdr) != 0) {
        set_msg(err, errlen, "%s: truncated or unreadable IDX header", path);
        goto done;
    }
    uint32_t magic = be32(hdr), count = be32(hdr + 4), rows = be32(hdr + 8), cols = be32(hdr + 12);
    if (magic != 0x00000803u) {
        set_msg(err, errlen, "%s: bad IDX magic 0x%08x (want 0x00000803: unsigned bytes, 3-D)",
                path, (unsigned)magic);
        goto done;
    }
    if (rows != WL_SIDE || cols != WL_SIDE) {
        set_msg(err, errlen, "%s: images are %ux%u, want %dx%d", path, (unsigned)rows,
                (unsigned)cols, WL_SIDE, WL_SIDE);
        goto done;
    }
    if (count == 0 || count > max_images) {
        set_msg(err, errlen, "%s: implausible image count %u", path, (unsigned)count);
        goto done;
    }
    size_t bytes = (size_t)count * WL_SIDE * WL_SIDE;
    src->pixels = malloc(bytes);
    if (!src->pixels) {
        set_msg(err, errlen, "%s: cannot allocate %zu bytes", path, bytes);
        goto done;
    }
    if (gz_read_all(f, src->pixels, bytes) != 0) {
        set_msg(err, errlen, "%s: truncated or corrupt data (header says %u images)", path,
                (unsigned)count);
        free(src->pixels);
        src->pixels = NULL;
        goto done;
    }
    src->kind = WL_SOURCE_FASHION_MNIST;
    src->count = count;
    set_msg(src->note, sizeof src->note, "%s (%u images)", path, (unsigned)count);
    rc = 0;
done:
    gzclose(f);
    return rc;
}
#endif /* IMM_BENCH_HAVE_ZLIB */

int wl_source_open(wl_source *src, const char *path, char *err, size_t errlen) {
    set_msg(err, errlen, "%s", "");
    if (!path) {
        wl_source_synthetic(src, "no image file given");
        return 0;
    }
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) {
        char why[sizeof src->note];
        set_msg(why, sizeof why, "%s not found", path);
        wl_source_synthetic(src, why);
        return 0;
    }
#ifdef IMM_BENCH_HAVE_ZLIB
    memset(src, 0, sizeof *src);
    return load_idx(src, path, err, errlen);
#else
    wl_source_synthetic(src, "built without zlib");
    return 0;
#endif
}

/* ---- images ---------------------------------------------------------------------------------- */

/* A smooth 28x28 image in [-1, 1]: dark background, a few low-frequency waves and bright blobs.
 * Tuned so that mean x^2 (0.76) and the background share (55%) are close to Fashion-MNIST's
 * (0.755, 62%), which sets the mean image-noise distance. */
static void synthetic_image(rng *gen, float *img) {
    double fx[3], fy[3], amp[3], phase[3], bx[3], by[3], bh[3], bs[3];
    for (int k = 0; k < 3; k++) {
        fx[k] = (double)rng_below(gen, 4);
        fy[k] = (double)rng_below(gen, 4);
        amp[k] = 0.1 + 0.4 * rng_uniform(gen);
        phase[k] = 2.0 * WL_PI * rng_uniform(gen);
        bx[k] = 4.0 + 20.0 * rng_uniform(gen);
        by[k] = 4.0 + 20.0 * rng_uniform(gen);
        bh[k] = 1.5 + 1.5 * rng_uniform(gen);
        bs[k] = 2.0 + 4.0 * rng_uniform(gen);
    }
    for (int r = 0; r < WL_SIDE; r++) {
        for (int c = 0; c < WL_SIDE; c++) {
            double v = -1.4; /* below -1: much of the image clips to background */
            for (int k = 0; k < 3; k++) {
                v += amp[k] * sin(2.0 * WL_PI * (fx[k] * c + fy[k] * r) / WL_SIDE + phase[k]);
                double dx = c - bx[k], dy = r - by[k];
                v += bh[k] * exp(-(dx * dx + dy * dy) / (2.0 * bs[k] * bs[k]));
            }
            img[r * WL_SIDE + c] = (float)(v < -1.0 ? -1.0 : v > 1.0 ? 1.0 : v);
        }
    }
}

/* 28x28 in [-1, 1] -> row of dim floats: pad to 32x32 with -1, 3 channels, then k mod 3072. */
static void expand_image(const float *img, size_t dim, float *row) {
    const int off = (WL_PADDED - WL_SIDE) / 2;
    float base[WL_IMAGE_DIM];
    for (int r = 0; r < WL_PADDED; r++) {
        for (int c = 0; c < WL_PADDED; c++) {
            int ir = r - off, ic = c - off;
            int inside = ir >= 0 && ir < WL_SIDE && ic >= 0 && ic < WL_SIDE;
            base[r * WL_PADDED + c] = inside ? img[ir * WL_SIDE + ic] : -1.0f;
        }
    }
    for (int ch = 1; ch < WL_CHANNELS; ch++)
        memcpy(base + ch * WL_PADDED * WL_PADDED, base, sizeof(float) * WL_PADDED * WL_PADDED);
    for (size_t k = 0; k < dim; k++)
        row[k] = base[k % WL_IMAGE_DIM];
}

void wl_sample_images(const wl_source *src, uint64_t seed, size_t batch, size_t dim, float *out) {
    rng gen;
    rng_seed_plain(&gen, seed);
    float img[WL_SIDE * WL_SIDE];
    if (src->kind == WL_SOURCE_SYNTHETIC || src->count == 0) {
        for (size_t i = 0; i < batch; i++) {
            synthetic_image(&gen, img);
            expand_image(img, dim, out + i * dim);
        }
        return;
    }
    /* Partial Fisher-Yates draws distinct images; it needs the index array only when it applies.
     * If that allocation fails, sampling with replacement still gives a usable batch. */
    uint32_t *idx = batch <= src->count ? malloc(src->count * sizeof *idx) : NULL;
    if (idx)
        for (size_t i = 0; i < src->count; i++)
            idx[i] = (uint32_t)i;
    for (size_t i = 0; i < batch; i++) {
        size_t pick;
        if (idx) {
            size_t j = i + (size_t)rng_below(&gen, src->count - i);
            uint32_t t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
            pick = idx[i];
        } else {
            pick = (size_t)rng_below(&gen, src->count);
        }
        const uint8_t *px = src->pixels + pick * WL_SIDE * WL_SIDE;
        for (int k = 0; k < WL_SIDE * WL_SIDE; k++)
            img[k] = (float)(px[k] / 127.5 - 1.0);
        expand_image(img, dim, out + i * dim);
    }
    free(idx);
}

/* ---- noise and matrices ---------------------------------------------------------------------- */

void wl_gaussian(uint64_t seed, size_t n, float *out) {
    rng gen;
    rng_seed_plain(&gen, seed);
    rng_gaussian(&gen, out, n);
}

void wl_uniform_matrix(uint64_t seed, size_t rows, size_t cols, float scale, float *out) {
    rng gen;
    rng_seed_plain(&gen, seed);
    for (size_t i = 0; i < rows * cols; i++)
        out[i] = (float)(rng_uniform(&gen) * scale);
}

/*
 * Distances use ||x||^2 + ||y||^2 - 2 x.y in double. The dot products are the expensive part
 * (B^2 * D), so they run in 2x4 register blocks over cache tiles. Each accumulator keeps LANES
 * independent partial sums that are combined in a fixed order, so the compiler can vectorize
 * without reassociating and the result is the same bit for bit at every vector width (the
 * x86-64 clones below differ only in speed). Product and sum are separate statements so that no
 * compiler contracts them into an FMA in one clone and not another.
 */
#define LANES 8
#define KC 512 /* k-chunk: a 64-row tile of both operands stays in L2 */
#define TILE 64

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && __GNUC__ >= 11 &&           \
    !defined(IMM_BENCH_NO_CLONES)
#define WL_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define WL_CLONES
#endif

WL_CLONES
static void dot_block_2x4(const float *x0, const float *x1, const float *y0, const float *y1,
                          const float *y2, const float *y3, size_t len, double acc[2][4]) {
    double a[2][4][LANES] = {{{0}}};
    size_t k = 0;
    for (; k + LANES <= len; k += LANES) {
        for (int l = 0; l < LANES; l++) {
            double xa = x0[k + l], xb = x1[k + l];
            const double yv[4] = {y0[k + l], y1[k + l], y2[k + l], y3[k + l]};
            for (int c = 0; c < 4; c++) {
                double pa = xa * yv[c];
                double pb = xb * yv[c];
                a[0][c][l] += pa;
                a[1][c][l] += pb;
            }
        }
    }
    for (; k < len; k++) { /* tail: lane 0, still a fixed order */
        const double yv[4] = {y0[k], y1[k], y2[k], y3[k]};
        for (int c = 0; c < 4; c++) {
            double pa = (double)x0[k] * yv[c];
            double pb = (double)x1[k] * yv[c];
            a[0][c][0] += pa;
            a[1][c][0] += pb;
        }
    }
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 4; c++) {
            double s = 0.0;
            for (int l = 0; l < LANES; l++)
                s += a[r][c][l];
            acc[r][c] += s;
        }
}

static double sum_squares(const float *v, size_t dim) {
    double s = 0.0;
    for (size_t k = 0; k < dim; k++)
        s += (double)v[k] * v[k];
    return s;
}

/* Dot products of x rows [i0, i1) with y rows [j0, j1), into dots (TILE x TILE, row-major). */
static void dot_tile(const float *x, const float *y, size_t dim, size_t i0, size_t i1, size_t j0,
                     size_t j1, double *dots) {
    memset(dots, 0, sizeof(double) * TILE * TILE);
    for (size_t k0 = 0; k0 < dim; k0 += KC) {
        size_t len = dim - k0 < KC ? dim - k0 : KC;
        for (size_t i = i0; i < i1; i += 2) {
            /* Odd edges reuse the last row/column; the duplicate result is simply not stored. */
            size_t ib = i + 1 < i1 ? i + 1 : i;
            for (size_t j = j0; j < j1; j += 4) {
                size_t jb[4];
                for (int c = 0; c < 4; c++)
                    jb[c] = j + (size_t)c < j1 ? j + (size_t)c : j1 - 1;
                double acc[2][4] = {{0}};
                dot_block_2x4(x + i * dim + k0, x + ib * dim + k0, y + jb[0] * dim + k0,
                              y + jb[1] * dim + k0, y + jb[2] * dim + k0, y + jb[3] * dim + k0, len,
                              acc);
                for (int r = 0; r < 2 && i + (size_t)r < i1; r++)
                    for (int c = 0; c < 4 && j + (size_t)c < j1; c++)
                        dots[(i + (size_t)r - i0) * TILE + (j + (size_t)c - j0)] += acc[r][c];
            }
        }
    }
}

void wl_distance_matrix(const float *x, size_t n, const float *y, size_t m, size_t dim,
                        float *out) {
    double *sx = malloc((n + m + 1) * sizeof *sx);
    if (!sx) { /* fall back to the direct formula, slowly, rather than fail */
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < m; j++) {
                double s = 0.0;
                for (size_t k = 0; k < dim; k++) {
                    double d = (double)x[i * dim + k] - y[j * dim + k];
                    s += d * d;
                }
                out[i * m + j] = (float)sqrt(s);
            }
        return;
    }
    double *sy = sx + n;
    for (size_t i = 0; i < n; i++)
        sx[i] = sum_squares(x + i * dim, dim);
    for (size_t j = 0; j < m; j++)
        sy[j] = sum_squares(y + j * dim, dim);

    long n_tiles = (long)((n + TILE - 1) / TILE);
#pragma omp parallel
    {
        double dots[TILE * TILE];
#pragma omp for schedule(dynamic, 1)
        for (long t = 0; t < n_tiles; t++) {
            size_t i0 = (size_t)t * TILE, i1 = i0 + TILE < n ? i0 + TILE : n;
            for (size_t j0 = 0; j0 < m; j0 += TILE) {
                size_t j1 = j0 + TILE < m ? j0 + TILE : m;
                dot_tile(x, y, dim, i0, i1, j0, j1, dots);
                for (size_t i = i0; i < i1; i++)
                    for (size_t j = j0; j < j1; j++) {
                        double d2 = sx[i] + sy[j] - 2.0 * dots[(i - i0) * TILE + (j - j0)];
                        out[i * m + j] = (float)sqrt(d2 > 0.0 ? d2 : 0.0);
                    }
            }
        }
    }
    free(sx);
}
