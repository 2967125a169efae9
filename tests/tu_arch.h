/*
 * tu_arch.h - the start of every test program: which SIMD variant runs, which CPU extensions are
 * present, and an honest skip when IMM_ARCH asks for a variant this CPU or build lacks.
 *
 * The library falls back to the best available variant when IMM_ARCH names one it cannot run
 * (see imm_simd_arch()), so a test forced to avx512 on a CPU without AVX-512 would silently test
 * another variant and pass. tu_arch_start() turns that into exit status TU_SKIP_CODE (77), which
 * CTest reports as skipped (SKIP_RETURN_CODE 77, tests/CMakeLists.txt).
 *
 * Include after <immiscible.h>; valid C11 and C++11 (test_header.cpp uses it too), warning-free
 * under -pedantic-errors -Wconversion -Wstrict-prototypes.
 */
#ifndef IMM_TU_ARCH_H
#define IMM_TU_ARCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TU_SKIP_CODE 77

/* 1 if the whitespace-separated list `flags` holds the token `name`. */
static inline int tu_has_token(const char *flags, const char *name) {
    size_t len = strlen(name);
    for (const char *p = strstr(flags, name); p != NULL; p = strstr(p + 1, name)) {
        int starts = p == flags || p[-1] == ' ' || p[-1] == '\t';
        int ends = p[len] == '\0' || p[len] == ' ' || p[len] == '\n' || p[len] == '\t';
        if (starts && ends)
            return 1;
    }
    return 0;
}

/* Prints the CPU extensions that matter to the kernels, as /proc/cpuinfo (Linux) reports them:
 * the library has no public API for its sub-features (VNNI, BF16), only imm_simd_arch(). */
static inline void tu_print_cpu_extensions(void) {
    static const char *const wanted[] = {"avx2",        "fma",         "f16c",     "avx512f",
                                         "avx512bw",    "avx512vl",    "avx_vnni", "avx512_vnni",
                                         "avx512_bf16", "avx512_fp16", "amx_int8", "amx_bf16"};
    static char line[16384];
    int found = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f != NULL) {
        while (fgets(line, (int)sizeof line, f) != NULL)
            if (strncmp(line, "flags", 5) == 0) {
                found = 1;
                break;
            }
        fclose(f);
    }
    if (!found) {
        printf("CPU extensions: unknown (no flags line in /proc/cpuinfo)\n");
        return;
    }
    for (int present = 1; present >= 0; present--) {
        int any = 0;
        printf(present ? "CPU extensions (/proc/cpuinfo): present:" : "; absent:");
        for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++)
            if (tu_has_token(line, wanted[i]) == present) {
                printf(" %s", wanted[i]);
                any = 1;
            }
        if (!any)
            printf(" (none)");
    }
    printf("\n");
}

/* Call first in main() (after serving any child-process mode whose stdout is parsed). Prints the
 * variant in use and the CPU's extensions; when IMM_ARCH is set and the library runs another
 * variant, prints "SKIPPED: ..." and exits with TU_SKIP_CODE. */
static inline void tu_arch_start(const char *program) {
    const char *arch = imm_simd_arch();
    const char *want = getenv("IMM_ARCH");
    printf("%s: SIMD variant in use: %s (IMM_ARCH=%s)\n", program, arch,
           want != NULL ? want : "unset");
    tu_print_cpu_extensions();
    if (want != NULL && want[0] != '\0' && strcmp(want, arch) != 0) {
        printf("SKIPPED: variant %s not available on this CPU/build (running %s)\n", want, arch);
        fflush(stdout);
        exit(TU_SKIP_CODE);
    }
    fflush(stdout);
}

#endif /* IMM_TU_ARCH_H */
