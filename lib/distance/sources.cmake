# Distance sources, included by lib/CMakeLists.txt. Owned by the distance kernels: ISA files get
# their own flags here (IMM_CC_HAS_AVX2 / IMM_CC_HAS_AVX512 are set by the probes in
# lib/CMakeLists.txt before this file is included).
set(IMM_DISTANCE_SOURCES distance/distance.c)
