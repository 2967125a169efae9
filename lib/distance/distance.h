/* distance.h - distance matrices, for use inside the library. */
#ifndef IMM_DISTANCE_DISTANCE_H
#define IMM_DISTANCE_DISTANCE_H

#include <immiscible.h>
#include <stddef.h>

/* out[i*m + j] = metric(x_i, y_j), fp32. Arguments must be validated already (n, m, dim > 0).
   Returns IMM_ERR_NONFINITE without writing out when an input is NaN/Inf or a distance could
   overflow float; IMM_OK otherwise. */
int imm_distance_f32(const float *x, size_t n, const float *y, size_t m, size_t dim,
                     imm_metric metric, int threads, float *out);

#endif
