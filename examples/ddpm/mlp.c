/* mlp.c - forward and backward passes of the denoising MLP (see mlp.h for the equations). */
#include "mlp.h"

#include "rng.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* out = SiLU(in) = in * sigmoid(in). */
static void silu(const float *in, float *out, size_t n) {
    for (size_t i = 0; i < n; i++)
        out[i] = in[i] * sigmoidf(in[i]);
}

/* g *= SiLU'(pre), SiLU'(x) = s (1 + x (1 - s)) with s = sigmoid(x). */
static void silu_backward(const float *pre, float *g, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float s = sigmoidf(pre[i]);
        g[i] *= s * (1.0f + pre[i] * (1.0f - s));
    }
}

/* Y (rows x out) = X (rows x in) W^T + b, W being out x in. */
static void linear(const float *x, size_t rows, int in, const float *w, const float *b, int out,
                   float *y) {
    for (size_t r = 0; r < rows; r++)
        memcpy(y + r * (size_t)out, b, (size_t)out * sizeof *y);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, out, in, 1.0f, x, in, w, in,
                1.0f, y, out);
}

/* Y += X W^T (no bias). */
static void linear_add(const float *x, size_t rows, int in, const float *w, int out, float *y) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, out, in, 1.0f, x, in, w, in,
                1.0f, y, out);
}

/* Gradients of a linear map given dY (rows x out) and its input X (rows x in):
   dW = dY^T X, db = column sums of dY (when db != NULL), and dX = dY W + beta dX (when dx
   != NULL). */
static void linear_backward(const mlp *net, const float *dy, size_t rows, int out, const float *x,
                            int in, const float *w, float *dw, float *db, float *dx, float beta) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, (int)rows, 1.0f, dy, out, x, in,
                0.0f, dw, in);
    if (db != NULL)
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)rows, out, 1.0f, dy, out, net->ones, 1, 0.0f,
                    db, 1);
    if (dx != NULL)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, in, out, 1.0f, dy, out, w,
                    in, beta, dx, in);
}

static void make_layout(const mlp_config *c, mlp_layout *lay) {
    size_t at = 0, d = (size_t)c->dim, h = (size_t)c->hidden, th = (size_t)c->time_hidden;
#define TAKE(field, n) (lay->field = at, at += (n))
    TAKE(t_w, th * (size_t)c->temb);
    TAKE(t_b, th);
    TAKE(in_w, h * d);
    TAKE(in_b, h);
    TAKE(in_e, h * th);
    for (int l = 0; l < c->blocks; l++) {
        TAKE(w1[l], h * h);
        TAKE(b1[l], h);
        TAKE(we[l], h * th);
        TAKE(w2[l], h * h);
        TAKE(b2[l], h);
    }
    TAKE(out_w, d * h);
    TAKE(out_b, d);
    TAKE(skip_w, th);
    TAKE(skip_b, 1);
#undef TAKE
    lay->count = at;
}

int mlp_create(mlp *net, const mlp_config *cfg, size_t max_batch) {
    memset(net, 0, sizeof *net);
    if (cfg->dim <= 0 || cfg->temb <= 0 || cfg->temb % 2 != 0 || cfg->time_hidden <= 0 ||
        cfg->hidden <= 0 || cfg->blocks < 0 || cfg->blocks > MLP_MAX_BLOCKS || max_batch == 0 ||
        cfg->dim > 65536 || cfg->hidden > 65536 || cfg->temb > 4096 || cfg->time_hidden > 65536 ||
        max_batch > (1u << 20))
        return -1;
    net->cfg = *cfg;
    make_layout(cfg, &net->lay);
    net->max_batch = max_batch;
    size_t b = max_batch, d = (size_t)cfg->dim, h = (size_t)cfg->hidden;
    size_t th = (size_t)cfg->time_hidden, L = (size_t)cfg->blocks;
    size_t total = b + b * (size_t)cfg->temb + 2 * b * th + (L + 1) * b * h + 3 * L * b * h +
                   b * h + b * d + b * d + 3 * b * h + b * th + 2 * b;
    net->ws = malloc(total * sizeof(float));
    if (net->ws == NULL)
        return -1;
    float *p = net->ws;
#define CARVE(ptr, n) (net->ptr = p, p += (n))
    CARVE(ones, b);
    CARVE(s, b * (size_t)cfg->temb);
    CARVE(pre_e, b * th);
    CARVE(e, b * th);
    for (size_t l = 0; l <= L; l++)
        CARVE(h[l], b * h);
    for (size_t l = 0; l < L; l++) {
        CARVE(a[l], b * h);
        CARVE(u[l], b * h);
        CARVE(v[l], b * h);
    }
    CARVE(a_out, b * h);
    CARVE(y, b * d);
    CARVE(gain, b);
    CARVE(dy, b * d);
    CARVE(dh, b * h);
    CARVE(du, b * h);
    CARVE(dv, b * h);
    CARVE(de, b * th);
    CARVE(dgain, b);
#undef CARVE
    for (size_t i = 0; i < b; i++)
        net->ones[i] = 1.0f;
    return 0;
}

void mlp_destroy(mlp *net) {
    free(net->ws);
    net->ws = NULL;
}

static void init_matrix(float *w, int out, int in, float scale, rng *r) {
    size_t n = (size_t)out * (size_t)in;
    rng_gaussian(r, w, n);
    float std = scale / sqrtf((float)in);
    for (size_t i = 0; i < n; i++)
        w[i] *= std;
}

void mlp_init_params(const mlp *net, float *params, uint64_t seed) {
    const mlp_config *c = &net->cfg;
    const mlp_layout *lay = &net->lay;
    rng r;
    rng_seed(&r, seed, RNG_INIT, 0, 0);
    memset(params, 0, lay->count * sizeof *params);
    init_matrix(params + lay->t_w, c->time_hidden, c->temb, 1.0f, &r);
    init_matrix(params + lay->in_w, c->hidden, c->dim, 1.0f, &r);
    init_matrix(params + lay->in_e, c->hidden, c->time_hidden, 1.0f, &r);
    for (int l = 0; l < c->blocks; l++) {
        init_matrix(params + lay->w1[l], c->hidden, c->hidden, 1.0f, &r);
        init_matrix(params + lay->we[l], c->hidden, c->time_hidden, 1.0f, &r);
        init_matrix(params + lay->w2[l], c->hidden, c->hidden, 0.5f, &r);
    }
    init_matrix(params + lay->out_w, c->dim, c->hidden, 1.0f, &r);
}

static void time_embedding(const float *t, size_t batch, int temb, float *s) {
    int half = temb / 2;
    for (size_t r = 0; r < batch; r++)
        for (int i = 0; i < half; i++) {
            double f = exp(-log(10000.0) * i / half);
            s[r * (size_t)temb + (size_t)i] = (float)sin(t[r] * f);
            s[r * (size_t)temb + (size_t)(half + i)] = (float)cos(t[r] * f);
        }
}

const float *mlp_forward(mlp *net, const float *params, const float *x, const float *t,
                         size_t batch) {
    const mlp_config *c = &net->cfg;
    const mlp_layout *lay = &net->lay;
    const float *P = params;
    size_t bh = batch * (size_t)c->hidden;
    net->batch = batch;
    net->x = x;
    time_embedding(t, batch, c->temb, net->s);
    linear(net->s, batch, c->temb, P + lay->t_w, P + lay->t_b, c->time_hidden, net->pre_e);
    silu(net->pre_e, net->e, batch * (size_t)c->time_hidden);
    linear(x, batch, c->dim, P + lay->in_w, P + lay->in_b, c->hidden, net->h[0]);
    linear_add(net->e, batch, c->time_hidden, P + lay->in_e, c->hidden, net->h[0]);
    for (int l = 0; l < c->blocks; l++) {
        silu(net->h[l], net->a[l], bh);
        linear(net->a[l], batch, c->hidden, P + lay->w1[l], P + lay->b1[l], c->hidden, net->u[l]);
        linear_add(net->e, batch, c->time_hidden, P + lay->we[l], c->hidden, net->u[l]);
        silu(net->u[l], net->v[l], bh);
        memcpy(net->h[l + 1], net->h[l], bh * sizeof(float));
        linear_add(net->v[l], batch, c->hidden, P + lay->w2[l], c->hidden, net->h[l + 1]);
        for (size_t r = 0; r < batch; r++) /* + b2 */
            cblas_saxpy(c->hidden, 1.0f, P + lay->b2[l], 1, net->h[l + 1] + r * (size_t)c->hidden,
                        1);
    }
    silu(net->h[c->blocks], net->a_out, bh);
    linear(net->a_out, batch, c->hidden, P + lay->out_w, P + lay->out_b, c->dim, net->y);
    /* gain = e w_g + b_g, then y += gain_r x_r row by row. */
    for (size_t r = 0; r < batch; r++)
        net->gain[r] = P[lay->skip_b];
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)batch, c->time_hidden, 1.0f, net->e,
                c->time_hidden, P + lay->skip_w, 1, 1.0f, net->gain, 1);
    for (size_t r = 0; r < batch; r++)
        cblas_saxpy(c->dim, net->gain[r], x + r * (size_t)c->dim, 1, net->y + r * (size_t)c->dim,
                    1);
    return net->y;
}

double mlp_backward(mlp *net, const float *params, const float *target, float *grads) {
    const mlp_config *c = &net->cfg;
    const mlp_layout *lay = &net->lay;
    const float *P = params;
    float *G = grads;
    size_t batch = net->batch, n = batch * (size_t)c->dim, bh = batch * (size_t)c->hidden;
    int H = c->hidden, TH = c->time_hidden;

    /* Loss and dL/dy, summed per row then over rows in order: independent of thread count. */
    double loss = 0.0;
    float scale = (float)(2.0 / (double)n);
    for (size_t r = 0; r < batch; r++) {
        double row = 0.0;
        for (size_t k = r * (size_t)c->dim; k < (r + 1) * (size_t)c->dim; k++) {
            float diff = net->y[k] - target[k];
            row += (double)diff * diff;
            net->dy[k] = scale * diff;
        }
        loss += row;
    }
    loss /= (double)n;

    /* Skip term y += gain x: dgain_r = dy_r . x_r, then w_g, b_g and e. */
    memset(net->de, 0, batch * (size_t)TH * sizeof(float));
    for (size_t r = 0; r < batch; r++)
        net->dgain[r] =
            cblas_sdot(c->dim, net->dy + r * (size_t)c->dim, 1, net->x + r * (size_t)c->dim, 1);
    cblas_sgemv(CblasRowMajor, CblasTrans, (int)batch, TH, 1.0f, net->e, TH, net->dgain, 1, 0.0f,
                G + lay->skip_w, 1);
    G[lay->skip_b] = cblas_sdot((int)batch, net->dgain, 1, net->ones, 1);
    cblas_sger(CblasRowMajor, (int)batch, TH, 1.0f, net->dgain, 1, P + lay->skip_w, 1, net->de, TH);

    /* Output layer; dh = dL/dh_L. */
    linear_backward(net, net->dy, batch, c->dim, net->a_out, H, P + lay->out_w, G + lay->out_w,
                    G + lay->out_b, net->dh, 0.0f);
    silu_backward(net->h[c->blocks], net->dh, bh);

    for (int l = c->blocks - 1; l >= 0; l--) {
        /* h_{l+1} = h_l + W2 v + b2: dh passes through unchanged and feeds W2. */
        linear_backward(net, net->dh, batch, H, net->v[l], H, P + lay->w2[l], G + lay->w2[l],
                        G + lay->b2[l], net->dv, 0.0f);
        memcpy(net->du, net->dv, bh * sizeof(float));
        silu_backward(net->u[l], net->du, bh);
        /* u = W1 a + b1 + We e. */
        linear_backward(net, net->du, batch, H, net->e, TH, P + lay->we[l], G + lay->we[l], NULL,
                        net->de, 1.0f);
        /* da reuses dv (no longer needed), then dh += da * SiLU'(h_l). */
        linear_backward(net, net->du, batch, H, net->a[l], H, P + lay->w1[l], G + lay->w1[l],
                        G + lay->b1[l], net->dv, 0.0f);
        silu_backward(net->h[l], net->dv, bh);
        cblas_saxpy((int)bh, 1.0f, net->dv, 1, net->dh, 1);
    }

    /* h_0 = W_in x + b_in + W_e0 e; x needs no gradient. */
    linear_backward(net, net->dh, batch, H, net->x, c->dim, P + lay->in_w, G + lay->in_w,
                    G + lay->in_b, NULL, 0.0f);
    linear_backward(net, net->dh, batch, H, net->e, TH, P + lay->in_e, G + lay->in_e, NULL, net->de,
                    1.0f);
    /* e = SiLU(W_t s + b_t). */
    silu_backward(net->pre_e, net->de, batch * (size_t)TH);
    linear_backward(net, net->de, batch, TH, net->s, c->temb, P + lay->t_w, G + lay->t_w,
                    G + lay->t_b, NULL, 0.0f);
    return loss;
}
