/* optimizer.c - element-wise updates. They are memory-bound and take well under a millisecond,
   so they stay single-threaded: an OpenMP region here costs more than it saves on a busy
   machine (every barrier waits for the slowest, possibly descheduled, thread). */
#include "optimizer.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>

int adam_create(adam *opt, size_t n) {
    opt->n = n;
    opt->beta1 = 0.9f;
    opt->beta2 = 0.999f;
    opt->eps = 1e-8f;
    opt->step = 0;
    opt->m = calloc(n, sizeof(float));
    opt->v = calloc(n, sizeof(float));
    if (opt->m == NULL || opt->v == NULL) {
        adam_destroy(opt);
        return -1;
    }
    return 0;
}

void adam_destroy(adam *opt) {
    free(opt->m);
    free(opt->v);
    opt->m = opt->v = NULL;
}

void adam_update(adam *opt, float *params, const float *grads, float lr) {
    opt->step++;
    const float b1 = opt->beta1, b2 = opt->beta2, eps = opt->eps;
    const float c1 = (float)(1.0 - pow(b1, (double)opt->step));
    const float c2 = (float)(1.0 - pow(b2, (double)opt->step));
    const float step = lr / c1, root_c2 = sqrtf(c2);
    float *m = opt->m, *v = opt->v;
    const size_t n = opt->n;
    for (size_t i = 0; i < n; i++) {
        float g = grads[i];
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        params[i] -= step * m[i] / (sqrtf(v[i]) / root_c2 + eps);
    }
}

float clip_grad_norm(float *grads, size_t n, float max_norm) {
    float norm = cblas_snrm2((int)n, grads, 1);
    if (norm > max_norm && norm > 0.0f)
        cblas_sscal((int)n, max_norm / norm, grads, 1);
    return norm;
}

void ema_update(float *ema, const float *params, size_t n, float decay) {
    for (size_t i = 0; i < n; i++)
        ema[i] = decay * ema[i] + (1.0f - decay) * params[i];
}
