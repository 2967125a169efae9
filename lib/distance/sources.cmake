# Distance sources, included by lib/CMakeLists.txt. Owned by the distance kernels: ISA files get
# their own flags here (IMM_CC_HAS_AVX2 / IMM_CC_HAS_AVX512 and IMM_AVX2_FLAGS / IMM_AVX512_FLAGS
# are set by the probes in lib/CMakeLists.txt before this file is included).
#
# Every distance file is compiled with -ffp-contract=off (no FMA the source did not write: the
# variants must agree bit for bit) and -fno-math-errno (lets sqrt vectorise; its inputs are
# clamped at 0).
set(_imm_dist_common
  distance/distance.c
  distance/dist_prepare.c
  distance/dist_stamp_scalar.c
  distance/dist_tiles.c
  distance/dist_dispatch.c
  distance/dist_kernels_scalar.c
  distance/dist_nearest.c
  distance/dist_nearest_scalar.c)
set(IMM_DISTANCE_SOURCES ${_imm_dist_common})
set(_imm_dist_fp -ffp-contract=off -fno-math-errno)
set_source_files_properties(${_imm_dist_common} PROPERTIES COMPILE_OPTIONS "${_imm_dist_fp}")

set(_imm_dist_defs "")
if(IMM_CC_HAS_AVX2)
  list(APPEND IMM_DISTANCE_SOURCES distance/dist_kernels_avx2.c distance/dist_stamp_avx2.c
    distance/dist_nearest_avx2.c)
  set_source_files_properties(distance/dist_kernels_avx2.c distance/dist_stamp_avx2.c
    distance/dist_nearest_avx2.c PROPERTIES
    COMPILE_OPTIONS "${_imm_dist_fp};${IMM_AVX2_FLAGS}")
  if(IMM_CC_HAS_AVX512)
    set(_imm_dist_avx512 ${_imm_dist_fp} ${IMM_AVX512_FLAGS})
    list(APPEND IMM_DISTANCE_SOURCES distance/dist_kernels_avx512.c distance/dist_stamp_avx512.c
      distance/dist_nearest_avx512.c)
    set_source_files_properties(distance/dist_kernels_avx512.c distance/dist_stamp_avx512.c
      distance/dist_nearest_avx512.c PROPERTIES
      COMPILE_OPTIONS "${_imm_dist_avx512}")
    # The extensions get their own files, so a compiler without them still builds the rest.
    check_c_compiler_flag("-mavx512f -mavx512vnni" IMM_CC_HAS_AVX512VNNI)
    check_c_compiler_flag("-mavx512f -mavx512bf16" IMM_CC_HAS_AVX512BF16)
    if(IMM_CC_HAS_AVX512VNNI)
      list(APPEND IMM_DISTANCE_SOURCES distance/dist_kernels_avx512vnni.c)
      set_source_files_properties(distance/dist_kernels_avx512vnni.c PROPERTIES
        COMPILE_OPTIONS "${_imm_dist_avx512};-mavx512vnni")
      list(APPEND _imm_dist_defs IMM_HAVE_AVX512VNNI)
    endif()
    # AMX-INT8 tiles (dist_kernels_amx.c): selected only with IMM_ARCH=amx on a CPU and OS that
    # grant the tile state (core/cpu.c, which needs IMM_HAVE_AMX too: library-wide definition).
    check_c_compiler_flag("-mavx512f -mamx-tile -mamx-int8" IMM_CC_HAS_AMX)
    if(IMM_CC_HAS_AMX)
      list(APPEND IMM_DISTANCE_SOURCES distance/dist_kernels_amx.c)
      set_source_files_properties(distance/dist_kernels_amx.c PROPERTIES
        COMPILE_OPTIONS "${_imm_dist_avx512};-mamx-tile;-mamx-int8")
      list(APPEND IMM_SIMD_DEFINITIONS IMM_HAVE_AMX)
    endif()
    if(IMM_CC_HAS_AVX512BF16)
      list(APPEND IMM_DISTANCE_SOURCES distance/dist_kernels_avx512bf16.c)
      set_source_files_properties(distance/dist_kernels_avx512bf16.c PROPERTIES
        COMPILE_OPTIONS "${_imm_dist_avx512};-mavx512bf16")
      list(APPEND _imm_dist_defs IMM_HAVE_AVX512BF16)
    endif()
  endif()
endif()
# Only the dispatcher needs to know which extension kernels exist.
set_source_files_properties(distance/dist_dispatch.c PROPERTIES
  COMPILE_DEFINITIONS "${_imm_dist_defs}")
