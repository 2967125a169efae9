/*
 * bench_kernels.h - which distance micro-kernel runs for a precision, for the benchmarks' reports.
 *
 * The library exports no per-precision kernel name (only imm_simd_arch()), so this mirrors the
 * dispatch rule of lib/distance/dist_dispatch.c from the variant in use and the CPU flags Linux
 * reports in /proc/cpuinfo (the same cpuid bits the library reads):
 *   scalar: f32_scalar_4x4 (FP32 / FP16 / BF16), i8_scalar_4x4 (INT8)
 *   avx2:   f32_avx2_6x16, i16_avx2_6x16 (vpmaddwd)
 *   avx512: f32_avx512_14x32; BF16 bf16_avx512bf16_14x32 with avx512_bf16 (else the fp32 kernel
 *           on pair-swapped values); INT8 i8_avx512vnni_14x32 with avx512_vnni (else i16_avx2)
 *   amx:    as avx512, INT8 i8_amx_32x32 (tdpbusd tiles)
 * Keep in step with dist_dispatch.c and the kernels' .name fields.
 */
#ifndef IMM_BENCH_KERNELS_H
#define IMM_BENCH_KERNELS_H

#include <immiscible.h>

#include <stdio.h>
#include <string.h>

/* 1 if /proc/cpuinfo's first flags line holds the token `flag`. */
static inline int bench_cpu_flag(const char *flag) {
    static char line[16384];
    static int read = 0;
    if (!read) {
        FILE *f = fopen("/proc/cpuinfo", "r");
        line[0] = '\0';
        if (f != NULL) {
            while (fgets(line, (int)sizeof line, f) != NULL)
                if (strncmp(line, "flags", 5) == 0)
                    break;
            fclose(f);
        }
        read = 1;
    }
    const size_t len = strlen(flag);
    for (const char *p = strstr(line, flag); p != NULL; p = strstr(p + 1, flag))
        if ((p == line || p[-1] == ' ' || p[-1] == '\t') &&
            (p[len] == ' ' || p[len] == '\n' || p[len] == '\0'))
            return 1;
    return 0;
}

static inline const char *bench_kernel_name(imm_precision prec) {
    const char *arch = imm_simd_arch();
    const int int8 = prec == IMM_PRECISION_INT8;
    if (strcmp(arch, "avx512") == 0 || strcmp(arch, "amx") == 0) {
        if (int8)
            return strcmp(arch, "amx") == 0        ? "i8_amx_32x32"
                   : bench_cpu_flag("avx512_vnni") ? "i8_avx512vnni_14x32"
                                                   : "i16_avx2_6x16";
        if (prec == IMM_PRECISION_BF16 && bench_cpu_flag("avx512_bf16"))
            return "bf16_avx512bf16_14x32";
        return "f32_avx512_14x32";
    }
    if (strcmp(arch, "avx2") == 0)
        return int8 ? "i16_avx2_6x16" : "f32_avx2_6x16";
    return int8 ? "i8_scalar_4x4" : "f32_scalar_4x4";
}

#endif
