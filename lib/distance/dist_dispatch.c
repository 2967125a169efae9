/* dist_dispatch.c - which micro-kernel serves a precision on this CPU (built without ISA flags).
 *
 * The variant and its extensions are detected once (core/cpu.c); this is a pure function of
 * them, so every call of a process uses the same kernels. Where an extension is missing the
 * next kernel computes the same bits the slower way: BF16 without vdpbf16ps runs the fp32
 * kernel on pair-swapped bf16 values; INT8 without vpdpbusd runs the AVX2 vpmaddwd kernel.
 * INT8 with AMX tiles (IMM_ARCH=amx only) runs tdpbusd: the same exact int32 sums.
 */
#include <stdbool.h>

#include "core/cpu.h"
#include "distance/dist_kernels.h"

const dist_kernel *imi_dist_kernel(imm_precision precision) {
    const unsigned ext = imi_cpu_features();
    const bool int8 = precision == IMM_PRECISION_INT8;
    (void)ext;
    switch (imi_active_arch()) {
#if defined(IMM_HAVE_AVX512)
    case IMI_ARCH_AVX512:
#if defined(IMM_HAVE_AMX)
        /* set only with IMM_ARCH=amx, the CPU's AMX-INT8 and the OS's permission (core/cpu.c) */
        if (int8 && (ext & IMI_CPU_AMXINT8))
            return &imi_dist_i8_amx;
#endif
#if defined(IMM_HAVE_AVX512VNNI)
        if (int8 && (ext & IMI_CPU_AVX512VNNI))
            return &imi_dist_i8_avx512vnni;
#endif
#if defined(IMM_HAVE_AVX512BF16)
        if (precision == IMM_PRECISION_BF16 && (ext & IMI_CPU_AVX512BF16))
            return &imi_dist_bf16_avx512bf16;
#endif
        return int8 ? &imi_dist_i16_avx2 : &imi_dist_f32_avx512;
#endif
#if defined(IMM_HAVE_AVX2)
    case IMI_ARCH_AVX2: return int8 ? &imi_dist_i16_avx2 : &imi_dist_f32_avx2;
#endif
    default: return int8 ? &imi_dist_i8_scalar : &imi_dist_f32_scalar;
    }
}
