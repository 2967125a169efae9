/* minimal.c - pair each image of a batch with the nearest Gaussian noise, as in Immiscible
 * Diffusion. Build: cc minimal.c $(pkg-config --cflags --libs immiscible) -lm */
#include <immiscible.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { BATCH = 64, DIM = 28 * 28 }; /* 64 grey 28 x 28 images, one per row */

static double gaussian(void) { /* N(0, 1) by Box-Muller */
    double u1 = (rand() + 1.0) / (RAND_MAX + 2.0), u2 = rand() / (RAND_MAX + 1.0);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static double mean_distance(const float *x, const float *noise) { /* mean of |x_i - noise_i| */
    double sum = 0.0;
    for (int i = 0; i < BATCH; i++) {
        double d2 = 0.0;
        for (int k = 0; k < DIM; k++) {
            double d = (double)x[i * DIM + k] - noise[i * DIM + k];
            d2 += d * d;
        }
        sum += sqrt(d2);
    }
    return sum / BATCH;
}

int main(void) {
    static float x[BATCH * DIM], noise[BATCH * DIM];
    srand(42); /* fixed seed: the same output on every run */
    for (int i = 0; i < BATCH; i++) {
        double fr = 0.05 + 0.3 * rand() / RAND_MAX, fc = 0.05 + 0.3 * rand() / RAND_MAX;
        for (int k = 0; k < DIM; k++) /* smooth "images" in [-1, 1], like scaled pixels */
            x[i * DIM + k] = (float)(sin(fr * (k / 28)) * cos(fc * (k % 28)));
    }
    for (int k = 0; k < BATCH * DIM; k++)
        noise[k] = (float)gaussian();

    /* One call, as in a script: it allocates its workspace and frees it again. */
    printf("mean image-noise distance before: %.4f\n", mean_distance(x, noise));
    int status = imm_assign_noise(x, noise, BATCH, DIM, NULL, NULL); /* reorders the noise rows */
    if (status != IMM_OK) {
        fprintf(stderr, "imm_assign_noise failed: %s\n", imm_strerror(status));
        return EXIT_FAILURE;
    }
    printf("mean image-noise distance after:  %.4f\n", mean_distance(x, noise));

    /* What a trainer does: one context for the whole run, reused every step (after the first
       step it allocates nothing), and a fresh noise draw per step. */
    imm_options opts;
    imm_options_init(&opts);
    opts.precision = IMM_PRECISION_BF16; /* faster distances; the assignment barely changes */
    imm_ctx *ctx;
    if ((status = imm_ctx_create(&ctx, &opts)) != IMM_OK) {
        fprintf(stderr, "imm_ctx_create failed: %s\n", imm_strerror(status));
        return EXIT_FAILURE;
    }
    for (int step = 0; step < 3; step++) {
        for (int k = 0; k < BATCH * DIM; k++)
            noise[k] = (float)gaussian();
        int32_t perm[BATCH]; /* noise row perm[i] went to image i */
        status = imm_ctx_assign_noise(ctx, x, noise, BATCH, DIM, perm);
        if (status != IMM_OK)
            break;
        printf("step %d: mean distance %.4f (image 0 got noise row %d)\n", step,
               mean_distance(x, noise), (int)perm[0]);
    }
    imm_ctx_free(ctx);
    if (status != IMM_OK) {
        fprintf(stderr, "imm_ctx_assign_noise failed: %s\n", imm_strerror(status));
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}
