/* dataset.c - Fashion-MNIST through idx_gz.c, and the synthetic fallback. */
#include "dataset.h"

#include "idx_gz.h"
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dataset_free(dataset *ds) {
    free(ds->train);
    free(ds->test);
    memset(ds, 0, sizeof *ds);
}

int dataset_load_fashion(const char *dir, size_t max_train, size_t max_test, dataset *ds, char *err,
                         size_t errlen) {
    memset(ds, 0, sizeof *ds);
    char path[4096];
    int tr_rows, tr_cols, te_rows, te_cols;
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    if (idx_read_images(path, max_train, &ds->train, &ds->n_train, &tr_rows, &tr_cols, err,
                        errlen) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", dir);
    if (idx_read_images(path, max_test, &ds->test, &ds->n_test, &te_rows, &te_cols, err, errlen) !=
        0) {
        dataset_free(ds);
        return -1;
    }
    if (tr_rows != te_rows || tr_cols != te_cols) {
        snprintf(err, errlen, "%s: training images are %d x %d but test images %d x %d", dir,
                 tr_rows, tr_cols, te_rows, te_cols);
        dataset_free(ds);
        return -1;
    }
    ds->rows = tr_rows;
    ds->cols = tr_cols;
    snprintf(ds->source, sizeof ds->source, "Fashion-MNIST (%s)", dir);
    return 0;
}

/* Signed "inside" measure of a shape at (y, x): > 0 inside, soft edges come from the blur. */
static double shape_value(int kind, double y, double x, const double *p) {
    double cy = p[0], cx = p[1], h = p[2], w = p[3];
    double dy = (y - cy) / h, dx = (x - cx) / w;
    switch (kind) {
    case 0: /* shirt: a body and two sleeves */
        if (fabs(dx) < 0.6 && fabs(dy) < 1.0)
            return 1;
        return (dy > -1.0 && dy < -0.2 && fabs(dx) < 1.0 + 0.4 * (dy + 1.0) && fabs(dx) > 0.6);
    case 1: /* trousers: two legs joined at the waist */
        if (fabs(dy) > 1.0 || fabs(dx) > 0.8)
            return 0;
        return dy < -0.6 || fabs(dx) > 0.12 + 0.1 * (dy + 1.0);
    case 2: /* bag: a rounded box with a handle */
        if (dy > -0.3 && dy < 1.0 && fabs(dx) < 1.0)
            return 1;
        return fabs(hypot(dx / 0.5, (dy + 0.3) / 0.6) - 1.0) < 0.25 && dy < -0.3;
    default: /* shoe: a sole and a heel-to-toe wedge */
        if (fabs(dx) > 1.0 || dy > 0.6 || dy < -1.0)
            return 0;
        return dy > 0.2 || dy > -1.0 + 1.2 * (dx + 1.0) / 2.0;
    }
}

int dataset_synthetic(uint64_t seed, size_t n_train, size_t n_test, dataset *ds) {
    memset(ds, 0, sizeof *ds);
    const int side = 28;
    const size_t dim = (size_t)side * side;
    ds->train = malloc(n_train * dim * sizeof(float));
    ds->test = malloc(n_test * dim * sizeof(float));
    if (ds->train == NULL || ds->test == NULL) {
        dataset_free(ds);
        return -1;
    }
    ds->n_train = n_train;
    ds->n_test = n_test;
    ds->rows = ds->cols = side;
    snprintf(ds->source, sizeof ds->source, "synthetic garments (seed %llu)",
             (unsigned long long)seed);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n_train + n_test; i++) {
        float *img = i < n_train ? ds->train + i * dim : ds->test + (i - n_train) * dim;
        rng r;
        rng_seed(&r, seed, RNG_SYNTHETIC, i, 0);
        int kind = (int)rng_below(&r, 4);
        double p[4] = {13.5 + 2.0 * (rng_uniform(&r) - 0.5), 13.5 + 2.0 * (rng_uniform(&r) - 0.5),
                       8.0 + 3.0 * rng_uniform(&r), 7.0 + 4.0 * rng_uniform(&r)};
        double shade = 0.3 + 0.7 * rng_uniform(&r), stripe = 0.3 * rng_uniform(&r);
        /* Supersample 3 x 3 per pixel: anti-aliased edges, like scanned garments. */
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++) {
                double cover = 0.0;
                for (int sy = 0; sy < 3; sy++)
                    for (int sx = 0; sx < 3; sx++)
                        cover +=
                            shape_value(kind, y + (sy + 0.5) / 3.0, x + (sx + 0.5) / 3.0, p) > 0;
                double texture = 1.0 - stripe * (double)((y / 2) % 2);
                img[y * side + x] = (float)(-1.0 + 2.0 * shade * texture * cover / 9.0);
            }
    }
    return 0;
}
