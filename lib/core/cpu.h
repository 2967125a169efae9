/* cpu.h - CPU feature detection and the choice of SIMD variant, made once per process. */
#ifndef IMM_CORE_CPU_H
#define IMM_CORE_CPU_H

typedef enum { IMI_ARCH_SCALAR = 0, IMI_ARCH_AVX2 = 1, IMI_ARCH_AVX512 = 2 } imi_arch;

/* The variant in use: the best one this CPU, OS and build support, or the one forced with the
   environment variable IMM_ARCH=scalar|avx2|avx512 when it is available (else the best one). */
imi_arch imi_active_arch(void);

/* Optional extensions that kernels of the active variant may use (cpuid and xgetbv, with the
   variant). Always 0 below the variant that can use them: IMM_ARCH=avx2 hides the AVX-512 ones. */
enum {
    IMI_CPU_AVX512VNNI = 1u << 0, /* vpdpbusd on zmm */
    IMI_CPU_AVX512BF16 = 1u << 1, /* vdpbf16ps on zmm */
    IMI_CPU_AVXVNNI = 1u << 2     /* VEX-encoded vpdpbusd on ymm */
};
unsigned imi_cpu_features(void);

#endif
