/* lap_dispatch.c - the LAP kernel table of the active SIMD variant (built without ISA flags). */
#include "core/cpu.h"
#include "lap/lap_kernels.h"

const lap_kernels *imi_lap_kernels(void) {
    switch (imi_active_arch()) {
#if defined(IMM_HAVE_AVX512)
    case IMI_ARCH_AVX512: return &imi_lap_kernels_avx512;
#endif
#if defined(IMM_HAVE_AVX2)
    case IMI_ARCH_AVX2: return &imi_lap_kernels_avx2;
#endif
    default: return &imi_lap_kernels_scalar;
    }
}
