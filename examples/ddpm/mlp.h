/* mlp.h - the denoising network of imm-ddpm: an MLP with a sinusoidal time embedding.
 *
 *   s   = [sin(t f_i), cos(t f_i)]                     f_i = 10000^(-i / (temb / 2)), temb dims
 *   e   = SiLU(W_t s + b_t)                             time features, time_hidden dims
 *   h_0 = W_in x + b_in + W_e0 e                        hidden dims
 *   h_{l+1} = h_l + W2_l SiLU(W1_l SiLU(h_l) + b1_l + We_l e) + b2_l    (residual blocks)
 *   g   = w_g . e + b_g                                 a scalar gain per row
 *   y   = W_out SiLU(h_L) + b_out + g x                 predicted noise, dim dims
 *
 * The skip term g x matters: at large t the noise is almost x_t itself, a full-rank map that a
 * residual stream narrower than dim could not represent; g(t) x carries it, and the MLP only
 * has to add the (low-rank) image-dependent correction.
 * All parameters live in one float array (see mlp_layout), so that Adam, EMA and the
 * finite-difference test treat them as one vector. Every matrix product goes through CBLAS. */
#ifndef DDPM_MLP_H
#define DDPM_MLP_H

#include <stddef.h>
#include <stdint.h>

#define MLP_MAX_BLOCKS 8

typedef struct mlp_config {
    int dim;         /* input / output size (784 for 28 x 28) */
    int temb;        /* sinusoidal embedding size (even) */
    int time_hidden; /* size of the time features e */
    int hidden;      /* width of the residual stream */
    int blocks;      /* residual blocks, 0..MLP_MAX_BLOCKS */
} mlp_config;

/* A matrix W of shape out x in is stored row-major; offsets index the parameter array. */
typedef struct mlp_layout {
    size_t t_w, t_b;         /* time_hidden x temb, time_hidden */
    size_t in_w, in_b, in_e; /* hidden x dim, hidden, hidden x time_hidden */
    size_t w1[MLP_MAX_BLOCKS], b1[MLP_MAX_BLOCKS], we[MLP_MAX_BLOCKS]; /* hidden x hidden, ... */
    size_t w2[MLP_MAX_BLOCKS], b2[MLP_MAX_BLOCKS];
    size_t out_w, out_b;   /* dim x hidden, dim */
    size_t skip_w, skip_b; /* time_hidden, 1 */
    size_t count;          /* total number of parameters */
} mlp_layout;

/* The network's shape and its activation workspace for up to max_batch rows. */
typedef struct mlp {
    mlp_config cfg;
    mlp_layout lay;
    size_t max_batch;
    size_t batch;   /* rows of the last mlp_forward() */
    const float *x; /* its input (the caller's, kept for the backward pass) */
    float *ws;      /* one allocation holding everything below */
    float *ones;    /* max_batch ones: column sums as a matrix-vector product */
    float *s, *pre_e, *e;
    float *h[MLP_MAX_BLOCKS + 1], *a[MLP_MAX_BLOCKS], *u[MLP_MAX_BLOCKS], *v[MLP_MAX_BLOCKS];
    float *a_out, *y, *gain;
    float *dy, *dh, *du, *dv, *de, *dgain; /* backward scratch */
} mlp;

/* Validates cfg and allocates the workspace. @return 0, or -1 (bad config or out of memory). */
int mlp_create(mlp *net, const mlp_config *cfg, size_t max_batch);
void mlp_destroy(mlp *net);

/* Gaussian initialisation with std 1/sqrt(fan_in) (the second matrix of each residual block
   scaled by 0.5), biases 0, reproducible from seed. params holds net->lay.count floats. */
void mlp_init_params(const mlp *net, float *params, uint64_t seed);

/* y = net(x, t) for batch <= max_batch rows: x is batch x dim, t holds the time of each row
   (any real >= 0). Returns net->y (batch x dim), valid until the next call; keeps the
   activations for mlp_backward(). */
const float *mlp_forward(mlp *net, const float *params, const float *x, const float *t,
                         size_t batch);

/* For the batch of the last mlp_forward(): the loss mean((y - target)^2) over batch x dim
   entries (returned, in double) and its gradient with respect to every parameter, written
   (not accumulated) to grads (lay.count floats). */
double mlp_backward(mlp *net, const float *params, const float *target, float *grads);

#endif /* DDPM_MLP_H */
