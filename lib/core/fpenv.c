/* fpenv.c - enter and leave the library's floating-point environment (see fpenv.h). */
#include "core/fpenv.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
/* MXCSR: every exception masked, round to nearest, FTZ and DAZ off, no flag raised. Set by hand
   because FE_DFL_ENV is not guaranteed to clear FTZ / DAZ. */
#define IMM_MXCSR_DEFAULT 0x1f80u
#endif

void imi_fpenv_enter(imi_fpenv *saved) {
    fegetenv(&saved->env);
    fesetenv(FE_DFL_ENV);
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(IMM_MXCSR_DEFAULT);
#endif
}

void imi_fpenv_leave(const imi_fpenv *saved) { fesetenv(&saved->env); }
