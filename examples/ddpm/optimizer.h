/* optimizer.h - Adam, gradient-norm clipping and the EMA of the weights used for sampling. */
#ifndef DDPM_OPTIMIZER_H
#define DDPM_OPTIMIZER_H

#include <stddef.h>

typedef struct adam {
    size_t n;
    float beta1, beta2, eps;
    long step;
    float *m, *v; /* first and second moments, n floats each */
} adam;

/* Zeroed moments for n parameters, betas (0.9, 0.999), eps 1e-8. @return 0 or -1 (memory). */
int adam_create(adam *opt, size_t n);
void adam_destroy(adam *opt);

/* One bias-corrected Adam update of params with grads at learning rate lr. */
void adam_update(adam *opt, float *params, const float *grads, float lr);

/* Scales grads so that their Euclidean norm is at most max_norm; returns the norm before. */
float clip_grad_norm(float *grads, size_t n, float max_norm);

/* ema = decay * ema + (1 - decay) * params. */
void ema_update(float *ema, const float *params, size_t n, float decay);

#endif /* DDPM_OPTIMIZER_H */
