/* cpu.h - CPU feature detection and the choice of SIMD variant, made once per process. */
#ifndef IMM_CORE_CPU_H
#define IMM_CORE_CPU_H

typedef enum { IMI_ARCH_SCALAR = 0, IMI_ARCH_AVX2 = 1, IMI_ARCH_AVX512 = 2 } imi_arch;

/* The variant in use: the best one this CPU, OS and build support, or the one forced with the
   environment variable IMM_ARCH=scalar|avx2|avx512|amx when it is available (else the best one).
   IMM_ARCH=amx is the avx512 variant (this returns IMI_ARCH_AVX512) plus AMX-INT8 tiles for the
   INT8 dot products: see IMI_CPU_AMXINT8. */
imi_arch imi_active_arch(void);

/* Optional extensions that kernels of the active variant may use (cpuid and xgetbv, with the
   variant). Always 0 below the variant that can use them: IMM_ARCH=avx2 hides the AVX-512 ones. */
enum {
    IMI_CPU_AVX512VNNI = 1u << 0, /* vpdpbusd on zmm */
    IMI_CPU_AVX512BF16 = 1u << 1, /* vdpbf16ps on zmm */
    IMI_CPU_AVXVNNI = 1u << 2,    /* VEX-encoded vpdpbusd on ymm */
    /* AMX-TILE + AMX-INT8 (tdpbusd), the OS saving the tile state (XCR0 bits 17-18) and this
       process granted it (Linux arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA), requested
       once, inside the detection's pthread_once, for the whole process). Set only when the
       process asked for it with IMM_ARCH=amx (opt-in: the default stays avx512, see
       imm_simd_arch()). A thread must load a tile configuration (LDTILECFG) before using
       tiles: the AMX kernel does it per task (dist_kernels_amx.c). */
    IMI_CPU_AMXINT8 = 1u << 3
};
unsigned imi_cpu_features(void);

#endif
