/* dist_nearest_avx2.c - the portable fused row kernel (dist_nearest_body.h) compiled for AVX2 +
 * FMA: the same C and the same bits as the scalar stamp (fmaf() becomes vfmadd). */
#define DIST_NEAR_ROWS imi_dist_near_rows_avx2
#include "distance/dist_nearest_body.h"
