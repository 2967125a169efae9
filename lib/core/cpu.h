/* cpu.h - CPU feature detection and the choice of SIMD variant, made once per process. */
#ifndef IMM_CORE_CPU_H
#define IMM_CORE_CPU_H

typedef enum { IMM_ARCH_SCALAR = 0, IMM_ARCH_AVX2 = 1, IMM_ARCH_AVX512 = 2 } imm_arch;

/* The variant in use: the best one this CPU, OS and build support, or the one forced with the
   environment variable IMM_ARCH=scalar|avx2|avx512 when it is available (else the best one). */
imm_arch imm_active_arch(void);

#endif
