/* dist_stamp_avx2.c - the ISA-independent bodies (packing, finishing a block) compiled for
 * AVX2: the same C and the same bits as the scalar stamps, vectorised wider. */
#define DIST_PACK_PANEL imi_dist_pack_panel_avx2
#define DIST_ROW_STATS imi_dist_row_stats_avx2
#include "distance/dist_pack_body.h"

#define DIST_FINISH_ROWS imi_dist_finish_rows_avx2
#include "distance/dist_finish_body.h"
