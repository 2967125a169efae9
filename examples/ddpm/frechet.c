/* frechet.c - PCA and the Frechet distance, with CBLAS for the products and LAPACK (the Fortran
 * routines OpenBLAS exports) for the symmetric eigendecompositions. */
#include "frechet.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK's symmetric eigensolver. gfortran passes the lengths of character arguments as hidden
   trailing arguments; declaring them keeps the call ABI-correct. */
extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
                   double *w, double *work, const int *lwork, int *info, size_t jobz_len,
                   size_t uplo_len);

/* Eigendecomposition of the symmetric n x n matrix a (row-major; symmetric, so the column-major
   routine sees the same matrix). On return w holds the eigenvalues in ascending order and row j
   of a the eigenvector of w[j]. @return 0 or -1. */
static int symmetric_eigen(double *a, int n, double *w) {
    int lwork = -1, info = 0;
    double query;
    dsyev_("V", "U", &n, a, &n, w, &query, &lwork, &info, 1, 1);
    if (info != 0)
        return -1;
    lwork = (int)query;
    double *work = malloc((size_t)lwork * sizeof(double));
    if (work == NULL)
        return -1;
    dsyev_("V", "U", &n, a, &n, w, work, &lwork, &info, 1, 1);
    free(work);
    return info == 0 ? 0 : -1;
}

void pca_free(pca_basis *basis) {
    free(basis->mean);
    free(basis->components);
    free(basis->variance);
    memset(basis, 0, sizeof *basis);
}

int pca_fit(const float *x, size_t n, int dim, int k, pca_basis *basis) {
    memset(basis, 0, sizeof *basis);
    if (x == NULL || n < 2 || dim < 1 || k < 1 || k > dim || n > (size_t)1 << 30)
        return -1;
    size_t d = (size_t)dim;
    float *centred = malloc(n * d * sizeof(float));
    float *cov = malloc(d * d * sizeof(float));
    double *a = malloc(d * d * sizeof(double)), *w = malloc(d * sizeof(double));
    double *mean = calloc(d, sizeof(double));
    basis->mean = malloc(d * sizeof(float));
    basis->components = malloc((size_t)k * d * sizeof(float));
    basis->variance = malloc((size_t)k * sizeof(double));
    int status = -1;
    if (!centred || !cov || !a || !w || !mean || !basis->mean || !basis->components ||
        !basis->variance)
        goto done;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            mean[j] += x[i * d + j];
    for (size_t j = 0; j < d; j++) {
        mean[j] /= (double)n;
        basis->mean[j] = (float)mean[j];
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            centred[i * d + j] = (float)(x[i * d + j] - mean[j]);
    /* cov = centred^T centred / (n - 1), upper triangle (all dsyev reads). */
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, dim, (int)n, 1.0f / (float)(n - 1), centred,
                dim, 0.0f, cov, dim);
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) /* mirror into a full symmetric matrix */
            a[i * d + j] = j >= i ? cov[i * d + j] : cov[j * d + i];
    if (symmetric_eigen(a, dim, w) != 0)
        goto done;
    basis->dim = dim;
    basis->k = k;
    for (int c = 0; c < k; c++) { /* eigenvalues ascend: take them from the end */
        size_t row = d - 1 - (size_t)c;
        basis->variance[c] = w[row];
        for (size_t j = 0; j < d; j++)
            basis->components[(size_t)c * d + j] = (float)a[row * d + j];
    }
    status = 0;
done:
    free(centred);
    free(cov);
    free(a);
    free(w);
    free(mean);
    if (status != 0)
        pca_free(basis);
    return status;
}

void gauss_stats_free(gauss_stats *st) {
    free(st->mu);
    free(st->cov);
    memset(st, 0, sizeof *st);
}

int gauss_stats_compute(const pca_basis *basis, const float *x, size_t n, gauss_stats *st) {
    memset(st, 0, sizeof *st);
    if (basis == NULL || x == NULL || n < 2 || n > (size_t)1 << 30)
        return -1;
    const int k = basis->k, dim = basis->dim;
    float *z = malloc(n * (size_t)k * sizeof(float));
    float *shift = malloc((size_t)k * sizeof(float));
    double *zc = malloc(n * (size_t)k * sizeof(double));
    st->mu = calloc((size_t)k, sizeof(double));
    st->cov = malloc((size_t)k * (size_t)k * sizeof(double));
    int status = -1;
    if (!z || !shift || !zc || !st->mu || !st->cov)
        goto done;
    st->k = k;
    /* z = (x - mean) C^T = x C^T - C mean. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, k, dim, 1.0f, x, dim,
                basis->components, dim, 0.0f, z, k);
    cblas_sgemv(CblasRowMajor, CblasNoTrans, k, dim, 1.0f, basis->components, dim, basis->mean, 1,
                0.0f, shift, 1);
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < k; c++)
            st->mu[c] += (double)z[i * (size_t)k + (size_t)c] - shift[c];
    for (int c = 0; c < k; c++)
        st->mu[c] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < k; c++)
            zc[i * (size_t)k + (size_t)c] =
                (double)z[i * (size_t)k + (size_t)c] - shift[c] - st->mu[c];
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, k, (int)n, 1.0 / (double)(n - 1), zc, k,
                zc, k, 0.0, st->cov, k);
    status = 0;
done:
    free(z);
    free(shift);
    free(zc);
    if (status != 0)
        gauss_stats_free(st);
    return status;
}

/* out = Q diag(sqrt(max(w, 0))) Q^T for the eigenvectors Q (rows of q) and eigenvalues w. */
static void spectral_sqrt(const double *q, const double *w, int k, double *scaled, double *out) {
    for (int j = 0; j < k; j++) {
        double f = w[j] > 0 ? sqrt(w[j]) : 0.0;
        for (int c = 0; c < k; c++)
            scaled[(size_t)j * (size_t)k + (size_t)c] = f * q[(size_t)j * (size_t)k + (size_t)c];
    }
    /* rows of q are eigenvectors, so Q = q^T and Q diag(f) Q^T = q^T (diag(f) q). */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, k, k, 1.0, q, k, scaled, k, 0.0, out,
                k);
}

int frechet_distance(const gauss_stats *a, const gauss_stats *b, double *fd) {
    if (a->k != b->k || a->k < 1)
        return -1;
    const int k = a->k;
    const size_t kk = (size_t)k * (size_t)k;
    double *q = malloc(kk * sizeof(double)), *w = malloc((size_t)k * sizeof(double));
    double *root = malloc(kk * sizeof(double)), *tmp = malloc(kk * sizeof(double));
    double *m = malloc(kk * sizeof(double));
    int status = -1;
    if (!q || !w || !root || !tmp || !m)
        goto done;
    /* root = S1^(1/2) (S1 is positive semi-definite; tiny negative eigenvalues are rounding). */
    memcpy(q, a->cov, kk * sizeof(double));
    if (symmetric_eigen(q, k, w) != 0)
        goto done;
    spectral_sqrt(q, w, k, tmp, root);
    /* m = S1^(1/2) S2 S1^(1/2), symmetrised against rounding; tr(m^(1/2)) = sum sqrt(eig). */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, k, k, k, 1.0, root, k, b->cov, k, 0.0,
                tmp, k);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, k, k, k, 1.0, tmp, k, root, k, 0.0, m,
                k);
    for (int i = 0; i < k; i++)
        for (int j = i + 1; j < k; j++) {
            double s =
                0.5 * (m[(size_t)i * (size_t)k + (size_t)j] + m[(size_t)j * (size_t)k + (size_t)i]);
            m[(size_t)i * (size_t)k + (size_t)j] = m[(size_t)j * (size_t)k + (size_t)i] = s;
        }
    if (symmetric_eigen(m, k, w) != 0)
        goto done;
    double trace_root = 0.0, trace_a = 0.0, trace_b = 0.0, mean_term = 0.0;
    for (int i = 0; i < k; i++) {
        trace_root += w[i] > 0 ? sqrt(w[i]) : 0.0;
        trace_a += a->cov[(size_t)i * (size_t)k + (size_t)i];
        trace_b += b->cov[(size_t)i * (size_t)k + (size_t)i];
        double d = a->mu[i] - b->mu[i];
        mean_term += d * d;
    }
    *fd = mean_term + trace_a + trace_b - 2.0 * trace_root;
    status = 0;
done:
    free(q);
    free(w);
    free(root);
    free(tmp);
    free(m);
    return status;
}
