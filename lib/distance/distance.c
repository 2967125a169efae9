/* distance.c - fp32 distance matrices (portable C; the SIMD kernels replace the inner loop).
 *
 * Each entry is computed directly as the sum of squared differences: 16 interleaved float partial
 * sums over the dimension (a shape compilers vectorise), combined in double, plus the tail in
 * double. All terms are >= 0, so there is no cancellation: relative error <= about D/16 * 2^-24.
 * The order of operations is fixed, so results do not depend on threads or CPU features.
 */
#include <float.h>
#include <math.h>

#include "core/internal.h"
#include "distance/distance.h"

#define LANES 16
#define COL_BLOCK 32 /* noise rows kept hot in L2 while every image row streams past them */

static double sq_norm(const float *a, size_t dim) {
    double s = 0.0;
    for (size_t k = 0; k < dim; k++)
        s += (double)a[k] * (double)a[k];
    return s;
}

/* Largest row norm, or -1 when a row holds NaN/Inf (its squared norm is then not finite). */
static double max_norm(const float *a, size_t rows, size_t dim) {
    double worst = 0.0;
    for (size_t i = 0; i < rows; i++) {
        double s = sq_norm(a + i * dim, dim);
        if (!isfinite(s))
            return -1.0;
        worst = fmax(worst, s);
    }
    return sqrt(worst);
}

static float sq_dist(const float *a, const float *b, size_t dim) {
    float acc[LANES] = {0};
    size_t k = 0;
    for (; k + LANES <= dim; k += LANES)
        for (size_t l = 0; l < LANES; l++) {
            float t = a[k + l] - b[k + l];
            acc[l] += t * t;
        }
    double s = 0.0;
    for (size_t l = 0; l < LANES; l++)
        s += (double)acc[l];
    for (; k < dim; k++) {
        double t = (double)a[k] - (double)b[k];
        s += t * t;
    }
    return (float)s;
}

int imm_distance_f32(const float *x, size_t n, const float *y, size_t m, size_t dim,
                     imm_metric metric, int threads, float *out) {
    double nx = max_norm(x, n, dim), ny = max_norm(y, m, dim);
    RETURN_ERROR_IF(nx < 0.0 || ny < 0.0, IMM_ERR_NONFINITE);
    /* ||x - y||^2 <= (||x|| + ||y||)^2 bounds every partial sum too; keep a factor 2 of margin
       for rounding so that no distance can become +Inf. */
    RETURN_ERROR_IF((nx + ny) * (nx + ny) > 0.5 * (double)FLT_MAX, IMM_ERR_NONFINITE);
    const bool root = metric == IMM_METRIC_L2;
    const size_t nblocks = (m + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for num_threads(threads) schedule(static) if (n * m * dim > 100000)
    for (size_t b = 0; b < nblocks; b++) {
        size_t j0 = b * COL_BLOCK, j1 = j0 + COL_BLOCK < m ? j0 + COL_BLOCK : m;
        for (size_t i = 0; i < n; i++) {
            const float *xi = x + i * dim;
            float *oi = out + i * m;
            for (size_t j = j0; j < j1; j++) {
                float s = sq_dist(xi, y + j * dim, dim);
                oi[j] = root ? sqrtf(s) : s;
            }
        }
    }
    return IMM_OK;
}

int imm_distance(const float *x, size_t n, const float *y, size_t m, size_t dim,
                 const imm_options *opts, float *out) {
    imm_options o;
    size_t nx, ny, nm;
    FORWARD_IF_ERROR(imm_options_resolve(opts, &o));
    RETURN_ERROR_IF(!imm_mul_size(n, dim, &nx) || !imm_mul_size(m, dim, &ny) ||
                        !imm_mul_size(n, m, &nm) || !imm_mul_size(nm, sizeof(float), &nm) ||
                        !imm_mul_size(nx, sizeof(float), &nx) ||
                        !imm_mul_size(ny, sizeof(float), &ny),
                    IMM_ERR_TOO_LARGE);
    if (n == 0 || m == 0)
        return IMM_OK;
    RETURN_ERROR_IF(x == NULL || y == NULL || out == NULL || dim == 0, IMM_ERR_INVALID_ARG);
    RETURN_ERROR_IF(o.precision != IMM_PRECISION_FP32, IMM_ERR_UNSUPPORTED);
    return imm_distance_f32(x, n, y, m, dim, o.metric, imm_threads(&o), out);
}
