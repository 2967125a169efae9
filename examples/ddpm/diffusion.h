/* diffusion.h - the DDPM forward process (linear beta schedule) and DDIM sampling. */
#ifndef DDPM_DIFFUSION_H
#define DDPM_DIFFUSION_H

#include "mlp.h"

#include <stddef.h>

#define DIFFUSION_MAX_T 4096

/* beta_t linear from beta_1 to beta_T, alpha_bar_t = prod_{s <= t} (1 - beta_s), t = 0..T-1. */
typedef struct schedule {
    int T;
    double alpha_bar[DIFFUSION_MAX_T];
} schedule;

/* @return 0, or -1 if T is out of 1..DIFFUSION_MAX_T or the betas are not in (0, 1). */
int schedule_linear(schedule *s, int T, double beta_1, double beta_T);

/* x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, row r at time t[r]. */
void diffuse(const schedule *s, const float *x0, const float *eps, const int *t, size_t batch,
             size_t dim, float *xt);

/*! ddim_sample() :
 *  Deterministic DDIM (eta = 0) in `steps` steps, at the "trailing" times
 *  tau_i = round((i + 1) T / steps) - 1, so the first step starts from pure noise at T - 1.
 *  x (n x dim) holds the starting noise on entry and the samples on return. The predicted x_0
 *  is clipped to [-1, 1] at each step (and the noise estimate made consistent with it).
 *  Rows are processed in chunks of net->max_batch; `net` is used as workspace.
 *  @return 0, or -1 (steps < 1, out of memory). */
int ddim_sample(mlp *net, const float *params, const schedule *s, int steps, float *x, size_t n);

#endif /* DDPM_DIFFUSION_H */
