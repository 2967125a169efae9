/* test_gradcheck.c - the MLP's backward pass against central finite differences of its loss.
 * Every parameter of a small network is perturbed in turn; a wrong or missing gradient term
 * anywhere (time embedding, residual blocks, output layer) makes the test fail. */
#include "../mlp.h"
#include "../rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static double loss_at(mlp *net, const float *params, const float *x, const float *t,
                      const float *target, size_t batch) {
    const float *y = mlp_forward(net, params, x, t, batch);
    size_t n = batch * (size_t)net->cfg.dim;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)y[i] - target[i];
        sum += d * d;
    }
    return sum / (double)n;
}

static int check(const mlp_config *cfg, size_t batch, uint64_t seed) {
    mlp net;
    if (mlp_create(&net, cfg, batch) != 0) {
        fprintf(stderr, "mlp_create failed\n");
        return 1;
    }
    size_t np = net.lay.count, n = batch * (size_t)cfg->dim;
    float *params = malloc(np * sizeof(float)), *grads = malloc(np * sizeof(float));
    float *x = malloc(n * sizeof(float)), *target = malloc(n * sizeof(float));
    float *t = malloc(batch * sizeof(float));
    int failures = 0;
    if (!params || !grads || !x || !target || !t) {
        fprintf(stderr, "out of memory\n");
        failures = 1;
        goto done;
    }
    mlp_init_params(&net, params, seed);
    rng r;
    rng_seed(&r, seed, 100, 0, 0);
    for (size_t i = 0; i < np; i++) /* biases are 0 after init: give them values too */
        params[i] += 0.05f * (float)(rng_uniform(&r) - 0.5);
    rng_gaussian(&r, x, n);
    rng_gaussian(&r, target, n);
    for (size_t i = 0; i < batch; i++)
        t[i] = (float)rng_below(&r, 1000);

    mlp_forward(&net, params, x, t, batch);
    double loss = mlp_backward(&net, params, target, grads);
    double direct = loss_at(&net, params, x, t, target, batch);
    if (fabs(loss - direct) > 1e-6 * fabs(direct)) {
        fprintf(stderr, "mlp_backward loss %.9g != forward loss %.9g\n", loss, direct);
        failures++;
    }

    double err2 = 0.0, ref2 = 0.0, worst = 0.0;
    size_t worst_at = 0;
    for (size_t i = 0; i < np; i++) {
        float keep = params[i];
        float up = keep + 1e-2f, down = keep - 1e-2f;
        params[i] = up;
        double lp = loss_at(&net, params, x, t, target, batch);
        params[i] = down;
        double lm = loss_at(&net, params, x, t, target, batch);
        params[i] = keep;
        double numeric = (lp - lm) / ((double)up - (double)down);
        double diff = fabs(numeric - grads[i]);
        err2 += diff * diff;
        ref2 += numeric * numeric;
        /* Entry-wise: float rounding of the loss (~1e-7) over the step gives ~1e-5 of noise. */
        double excess = diff - (2e-4 + 2e-2 * fabs(numeric));
        if (excess > worst) {
            worst = excess;
            worst_at = i;
        }
    }
    double rel = sqrt(err2 / (ref2 > 0 ? ref2 : 1));
    printf("dim %d hidden %d blocks %d batch %zu: %zu parameters, loss %.5f, relative gradient "
           "error %.2e\n",
           cfg->dim, cfg->hidden, cfg->blocks, batch, np, loss, rel);
    if (rel > 1e-3) {
        fprintf(stderr, "FAIL: relative error %.3e > 1e-3\n", rel);
        failures++;
    }
    if (worst > 0) {
        fprintf(stderr,
                "FAIL: parameter %zu: analytic %.6g vs numeric off by %.3g over tolerance\n",
                worst_at, grads[worst_at], worst);
        failures++;
    }
    if (ref2 == 0) {
        fprintf(stderr, "FAIL: all numeric gradients are zero\n");
        failures++;
    }
done:
    free(params);
    free(grads);
    free(x);
    free(target);
    free(t);
    mlp_destroy(&net);
    return failures;
}

int main(void) {
    int failures = 0;
    mlp_config with_blocks = {.dim = 12, .temb = 8, .time_hidden = 6, .hidden = 10, .blocks = 2};
    mlp_config no_blocks = {.dim = 7, .temb = 4, .time_hidden = 5, .hidden = 9, .blocks = 0};
    failures += check(&with_blocks, 5, 1);
    failures += check(&no_blocks, 3, 2);
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return EXIT_FAILURE;
    }
    printf("gradient check passed\n");
    return EXIT_SUCCESS;
}
