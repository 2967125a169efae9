/* frechet.h - the sample-quality metric of imm-ddpm.
 *
 * Images are projected on the top k principal components of (a subset of) the training set;
 * each set of projections is summarised by its mean mu and covariance S, and two sets are
 * compared by the Frechet distance between the Gaussians N(mu1, S1) and N(mu2, S2):
 *
 *     FD = |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1^(1/2) S2 S1^(1/2))^(1/2))
 *
 * This is FID with the Inception network replaced by PCA, so it needs no pretrained model and
 * runs in seconds in C. It is in the units of pixel variance ([-1, 1] pixels); lower is better.
 * Like FID it is biased upward for small sample sizes: compare runs at the same sample size. */
#ifndef DDPM_FRECHET_H
#define DDPM_FRECHET_H

#include <stddef.h>

typedef struct pca_basis {
    int dim, k;
    float *mean;       /* dim */
    float *components; /* k x dim, row-major, orthonormal rows, largest variance first */
    double *variance;  /* k: the variance along each component */
} pca_basis;

typedef struct gauss_stats {
    int k;
    double *mu;  /* k */
    double *cov; /* k x k, row-major */
} gauss_stats;

/* Fits the basis to n rows of dim floats (n >= 2, 1 <= k <= dim) with LAPACK's dsyev on the
   covariance (computed with CBLAS). @return 0 or -1 (bad arguments, memory, LAPACK failure). */
int pca_fit(const float *x, size_t n, int dim, int k, pca_basis *basis);
void pca_free(pca_basis *basis);

/* Mean and covariance (divided by n - 1) of the projections of n >= 2 rows. @return 0 or -1. */
int gauss_stats_compute(const pca_basis *basis, const float *x, size_t n, gauss_stats *st);
void gauss_stats_free(gauss_stats *st);

/* The Frechet distance between the two Gaussians. @return 0 or -1 (memory, LAPACK). */
int frechet_distance(const gauss_stats *a, const gauss_stats *b, double *fd);

#endif /* DDPM_FRECHET_H */
