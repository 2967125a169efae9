/* cpu.c - cpuid + xgetbv feature detection and IMM_ARCH (compiled without any -m flags). */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* syscall() (arch_prctl: the AMX tile permission) */
#endif
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* AMX-TILE and AMX-INT8 (cpuid 7.0 EDX bits 24 and 25), tile state enabled by the OS (XCR0 bits
   17 XTILECFG and 18 XTILEDATA), and the permission to use it granted to this process: on Linux
   the tile data (8 KiB per thread) is not in the default signal frame, so the process must ask
   for it once (arch_prctl ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA = 18); the grant covers every
   thread of the process, present and future. Called once (pthread_once). */
static bool amx_int8_usable(unsigned edx7, unsigned long long xcr0) {
    if (!(edx7 & (1u << 24)) || !(edx7 & (1u << 25)) || (xcr0 & 0x60000ull) != 0x60000ull)
        return false;
#if defined(__linux__) && defined(__x86_64__) && defined(SYS_arch_prctl)
    const long arch_req_xcomp_perm = 0x1023, xfeature_xtiledata = 18;
    return syscall(SYS_arch_prctl, arch_req_xcomp_perm, xfeature_xtiledata) == 0;
#else
    return false; /* no way to ask for the tile state here: the VNNI kernel runs */
#endif
}

static unsigned long long read_xcr0(void) {
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

/* Best variant the CPU and the OS support: the OS must save the wide registers (XCR0).
   *ext gets the IMI_CPU_* extensions present (meaningful only with the variant they need). */
static imi_arch detect(unsigned *ext, bool want_amx) {
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
    const unsigned edx7 = d;
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
    /* Only when asked for (IMM_ARCH=amx): the permission request changes the process. */
    if (best == IMI_ARCH_AVX512 && want_amx && amx_int8_usable(edx7, xcr0))
        *ext |= IMI_CPU_AMXINT8;
    return best;
}
#else
static imi_arch detect(unsigned *ext, bool want_amx) {
    (void)ext;
    (void)want_amx;
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

/* Whether this build has the AMX kernel (lib/distance/sources.cmake defines IMM_HAVE_AMX here). */
#if defined(IMM_HAVE_AMX) && defined(IMM_HAVE_AVX512)
#define BUILT_AMX true
#else
#define BUILT_AMX false
#endif

static void choose(void) {
    unsigned ext = 0;
    const char *env = getenv("IMM_ARCH");
    const bool want_amx = BUILT_AMX && env != NULL && strcmp(env, "amx") == 0;
    imi_arch best = detect(&ext, want_amx);
    if (built() < best)
        best = built();
    imi_arch want = best;
    if (env != NULL) {
        if (strcmp(env, "scalar") == 0)
            want = IMI_ARCH_SCALAR;
        else if (strcmp(env, "avx2") == 0)
            want = IMI_ARCH_AVX2;
        else if (strcmp(env, "avx512") == 0 || strcmp(env, "amx") == 0)
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
    if (imi_cpu_features() & IMI_CPU_AMXINT8)
        return "amx";
    return names[imi_active_arch()];
}
