/* cpu.c - cpuid + xgetbv feature detection and IMM_ARCH (compiled without any -m flags). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long read_xcr0(void) {
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

/* Best variant the CPU and the OS support: the OS must save the wide registers (XCR0).
   *ext gets the IMI_CPU_* extensions present (meaningful only with the variant they need). */
static imi_arch detect(unsigned *ext) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return IMI_ARCH_SCALAR;
    const bool osxsave = c & (1u << 27), avx = c & (1u << 28), fma = c & (1u << 12),
               f16c = c & (1u << 29);
    if (!osxsave || !avx)
        return IMI_ARCH_SCALAR;
    unsigned long long xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6) /* SSE and AVX state */
        return IMI_ARCH_SCALAR;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return IMI_ARCH_SCALAR;
    const bool avx2 = b & (1u << 5), avx512f = b & (1u << 16), avx512bw = b & (1u << 30),
               avx512vl = b & (1u << 31);
    if (c & (1u << 11))
        *ext |= IMI_CPU_AVX512VNNI;
    if (a >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) {
        if (a & (1u << 5))
            *ext |= IMI_CPU_AVX512BF16;
        if (a & (1u << 4))
            *ext |= IMI_CPU_AVXVNNI;
    }
    imi_arch best = IMI_ARCH_SCALAR;
    if (avx2 && fma && f16c)
        best = IMI_ARCH_AVX2;
    if (best == IMI_ARCH_AVX2 && avx512f && avx512bw && avx512vl && (xcr0 & 0xe6) == 0xe6)
        best = IMI_ARCH_AVX512; /* opmask, ZMM_Hi256 and Hi16_ZMM state */
    return best;
}
#else
static imi_arch detect(unsigned *ext) {
    (void)ext;
    return IMI_ARCH_SCALAR;
}
#endif

/* What this build compiled (an ISA file is only built when the compiler accepts its flags). */
static imi_arch built(void) {
#if defined(IMM_HAVE_AVX512) && defined(IMM_HAVE_AVX2)
    return IMI_ARCH_AVX512;
#elif defined(IMM_HAVE_AVX2)
    return IMI_ARCH_AVX2;
#else
    return IMI_ARCH_SCALAR;
#endif
}

static imi_arch g_arch;
static unsigned g_features;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void choose(void) {
    unsigned ext = 0;
    imi_arch best = detect(&ext);
    if (built() < best)
        best = built();
    imi_arch want = best;
    const char *env = getenv("IMM_ARCH");
    if (env != NULL) {
        if (strcmp(env, "scalar") == 0)
            want = IMI_ARCH_SCALAR;
        else if (strcmp(env, "avx2") == 0)
            want = IMI_ARCH_AVX2;
        else if (strcmp(env, "avx512") == 0)
            want = IMI_ARCH_AVX512;
    }
    g_arch = want <= best ? want : best;
    if (g_arch == IMI_ARCH_AVX512)
        g_features = ext;
    else if (g_arch == IMI_ARCH_AVX2)
        g_features = ext & IMI_CPU_AVXVNNI;
}

imi_arch imi_active_arch(void) {
    pthread_once(&g_once, choose);
    return g_arch;
}

unsigned imi_cpu_features(void) {
    pthread_once(&g_once, choose);
    return g_features;
}

const char *imm_simd_arch(void) {
    static const char *const names[] = {"scalar", "avx2", "avx512"};
    return names[imi_active_arch()];
}
