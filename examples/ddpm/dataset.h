/* dataset.h - the training and held-out images: Fashion-MNIST, or a synthetic stand-in. */
#ifndef DDPM_DATASET_H
#define DDPM_DATASET_H

#include <stddef.h>
#include <stdint.h>

/* Where Debian's dataset-fashion-mnist package installs the files. */
#define DATASET_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

typedef struct dataset {
    float *train, *test; /* rows x cols floats per image, values in [-1, 1] */
    size_t n_train, n_test;
    int rows, cols;
    char source[256]; /* for the report: the directory, or "synthetic" */
} dataset;

/* Reads train-images-idx3-ubyte.gz (first max_train images, 0 = all) and t10k-images-idx3-ubyte.gz
   (first max_test) from dir. @return 0, or -1 with a message in err. */
int dataset_load_fashion(const char *dir, size_t max_train, size_t max_test, dataset *ds, char *err,
                         size_t errlen);

/* 28 x 28 images of simple garment-like silhouettes (shirts, trousers, bags, shoes) with random
   size, position, shade and blur, reproducible from seed: a stand-in when Fashion-MNIST is not
   installed. @return 0 or -1 (memory). */
int dataset_synthetic(uint64_t seed, size_t n_train, size_t n_test, dataset *ds);

void dataset_free(dataset *ds);

#endif /* DDPM_DATASET_H */
