/* dist_pack_avx2.c - the packer compiled for AVX2 (see dist_pack_body.h). */
#define DIST_PACK_PANEL imm_dist_pack_panel_avx2
#include "distance/dist_pack_body.h"
