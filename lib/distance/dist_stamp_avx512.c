/* dist_pack_avx512.c - the packer compiled for AVX-512 (see dist_pack_body.h). */
#define DIST_PACK_PANEL imm_dist_pack_panel_avx512
#include "distance/dist_pack_body.h"
