/* dist_nearest_scalar.c - the portable fused row kernel (dist_nearest_body.h) compiled with no
 * ISA flags: the reference the other stamps match bit for bit. */
#define DIST_NEAR_ROWS imi_dist_near_rows_scalar
#include "distance/dist_nearest_body.h"
