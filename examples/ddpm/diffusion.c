/* diffusion.c - forward noising and DDIM sampling. */
#include "diffusion.h"

#include <math.h>
#include <stdlib.h>

int schedule_linear(schedule *s, int T, double beta_1, double beta_T) {
    if (T < 1 || T > DIFFUSION_MAX_T || !(beta_1 > 0 && beta_1 < 1) || !(beta_T > 0 && beta_T < 1))
        return -1;
    s->T = T;
    double prod = 1.0;
    for (int t = 0; t < T; t++) {
        double beta = T == 1 ? beta_1 : beta_1 + (beta_T - beta_1) * t / (T - 1);
        prod *= 1.0 - beta;
        s->alpha_bar[t] = prod;
    }
    return 0;
}

void diffuse(const schedule *s, const float *x0, const float *eps, const int *t, size_t batch,
             size_t dim, float *xt) {
    for (size_t r = 0; r < batch; r++) {
        float a = (float)sqrt(s->alpha_bar[t[r]]), b = (float)sqrt(1.0 - s->alpha_bar[t[r]]);
        for (size_t k = r * dim; k < (r + 1) * dim; k++)
            xt[k] = a * x0[k] + b * eps[k];
    }
}

int ddim_sample(mlp *net, const float *params, const schedule *s, int steps, float *x, size_t n) {
    const size_t dim = (size_t)net->cfg.dim;
    float *tvec = malloc(net->max_batch * sizeof(float));
    if (tvec == NULL || steps < 1)
        return free(tvec), -1;
    for (size_t start = 0; start < n; start += net->max_batch) {
        size_t rows = n - start < net->max_batch ? n - start : net->max_batch;
        float *xc = x + start * dim;
        for (int i = steps - 1; i >= 0; i--) {
            int t = (int)lround((double)(i + 1) * s->T / steps) - 1;
            int t_prev = i > 0 ? (int)lround((double)i * s->T / steps) - 1 : -1;
            double ab = s->alpha_bar[t], ab_prev = t_prev >= 0 ? s->alpha_bar[t_prev] : 1.0;
            for (size_t r = 0; r < rows; r++)
                tvec[r] = (float)t;
            const float *eps = mlp_forward(net, params, xc, tvec, rows);
            const float sa = (float)sqrt(ab), sb = (float)sqrt(1.0 - ab);
            const float pa = (float)sqrt(ab_prev), pb = (float)sqrt(1.0 - ab_prev);
            const size_t count = rows * dim;
            for (size_t k = 0; k < count; k++) {
                float x0 = (xc[k] - sb * eps[k]) / sa;
                x0 = x0 < -1.0f ? -1.0f : (x0 > 1.0f ? 1.0f : x0);
                float e = (xc[k] - sa * x0) / sb;
                xc[k] = pa * x0 + pb * e;
            }
        }
    }
    free(tvec);
    return 0;
}
