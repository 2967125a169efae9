/* dist_stamp_avx512.c - the ISA-independent bodies (packing, finishing a block) compiled for
 * AVX-512: the same C and the same bits as the scalar stamps, vectorised wider. */
#include "distance/dist_pack_avx512.h"

#define DIST_PACK_PANEL imi_dist_pack_panel_avx512
#define DIST_ROW_STATS imi_dist_row_stats_avx512
#include "distance/dist_pack_body.h"

#define DIST_FINISH_ROWS imi_dist_finish_rows_avx512
#include "distance/dist_finish_body.h"
