/* dist_stamp_scalar.c - the ISA-independent bodies (packing, finishing a block) compiled with no
 * ISA flags: the reference stamps, which the AVX2 and AVX-512 stamps match bit for bit. */
#define DIST_PACK_PANEL imi_dist_pack_panel_scalar
#define DIST_ROW_STATS imi_dist_row_stats_scalar
#include "distance/dist_pack_body.h"

#define DIST_FINISH_ROWS imi_dist_finish_rows_scalar
#include "distance/dist_finish_body.h"
