/* fpenv.h - the one floating-point environment every computation of the library runs under.
 *
 * Results must not depend on the caller's floating-point state: a rounding mode set with
 * fesetround(), or flush-to-zero / denormals-are-zero (MXCSR FTZ / DAZ, which
 * torch.set_flush_denormal(True) sets) would change sums, conversions and comparisons. Every public
 * entry point, and every thread of every OpenMP team the library starts, computes under the
 * default environment (round to nearest, no FTZ / DAZ, exceptions masked) and restores the
 * environment it found when it is done: OpenMP worker threads keep whatever state they were
 * created with, so setting the calling thread alone would not do.
 *
 * Included by every translation unit of the library (through core/internal.h or the kernel
 * headers), so a -ffast-math build stops here: it would let the compiler reassociate sums and
 * assume that no NaN / Inf exists, and the library's determinism and input checks rely on both.
 */
#ifndef IMM_CORE_FPENV_H
#define IMM_CORE_FPENV_H

#include <fenv.h>

#if defined(__FAST_MATH__) || (defined(__FINITE_MATH_ONLY__) && __FINITE_MATH_ONLY__) ||           \
    defined(__ASSOCIATIVE_MATH__)
#error                                                                                             \
    "libimmiscible must not be built with -ffast-math, -ffinite-math-only or -fassociative-math: its results would depend on the compiler and its NaN / Inf checks would be removed"
#endif

typedef struct {
    fenv_t env;
} imi_fpenv;

/* Saves the calling thread's floating-point environment in *saved and installs the library's. */
void imi_fpenv_enter(imi_fpenv *saved);

/* Restores the environment saved by imi_fpenv_enter() (status flags included). */
void imi_fpenv_leave(const imi_fpenv *saved);

#endif
