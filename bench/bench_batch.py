#!/usr/bin/python3
"""bench_batch.py - batched linear_sum_assignment against a Python loop of scipy calls.

P problems of n x n uniform [0, 1) costs (default 256 of 300 x 300), one process, interleaved,
median of --reps runs:

  scipy loop     [scipy.optimize.linear_sum_assignment(c[p]) for p in range(P)] on float64
  imm float32    immiscible.linear_sum_assignment(c32) on the (P, n, n) float32 batch: one call
                 to imm_lap_solve_batch
  imm float64    the same on the float64 batch: float32 solves plus the float64 certificate and
                 refinement (optimal for the float64 costs)

Each problem's total must equal scipy's (float64: to 1e-12 relative; float32: the float32
problem's own optimum, checked against scipy on the float32 values), else MISMATCH and exit 1.

Usage: bench_batch.py [--lib PATH] [--count 256] [--size 300] [--reps 5] [--seed 1]
"""

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def import_immiscible(lib):
    """The installed package if importable, else the source tree's python/ (with --lib or a
    build tree's library)."""
    if lib:
        os.environ["IMMISCIBLE_LIBRARY"] = os.path.abspath(lib)
    try:
        import immiscible
    except ImportError:
        sys.path.insert(0, os.path.join(HERE, "..", "python"))
        if "IMMISCIBLE_LIBRARY" not in os.environ:
            built = os.path.join(HERE, "..", "build", "lib", "libimmiscible.so")
            if os.path.exists(built):
                os.environ["IMMISCIBLE_LIBRARY"] = os.path.abspath(built)
        import immiscible
    return immiscible


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", help="path to libimmiscible.so (sets IMMISCIBLE_LIBRARY)")
    ap.add_argument("--count", type=int, default=256)
    ap.add_argument("--size", type=int, default=300)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    try:
        import numpy as np
        from scipy.optimize import linear_sum_assignment as scipy_lsa
    except ImportError as exc:
        print(f"bench_batch.py: needs numpy and scipy ({exc}); skipping.")
        return 0
    imm = import_immiscible(args.lib)
    c64 = np.random.default_rng(args.seed).random((args.count, args.size, args.size))
    c32 = c64.astype(np.float32)
    print(f"libimmiscible {imm.library_version()} from {imm.library_path()} ({imm.simd_arch()})")
    print(f"{args.count} problems of {args.size} x {args.size} uniform costs, median of "
          f"{args.reps}, interleaved")

    def scipy_loop():
        return [scipy_lsa(c64[p])[1] for p in range(args.count)]

    sides = [("scipy loop", scipy_loop),
             ("imm float32", lambda: imm.linear_sum_assignment(c32)[1]),
             ("imm float64", lambda: imm.linear_sum_assignment(c64)[1])]
    times = {name: [] for name, _ in sides}
    last = {}
    for rep in range(args.reps):
        for name, fn in (sides if rep % 2 == 0 else sides[::-1]):
            t = time.perf_counter()
            last[name] = fn()
            times[name].append(time.perf_counter() - t)
    med = {name: statistics.median(t) * 1e3 for name, t in times.items()}

    rows = np.arange(args.size)
    ok = True
    want64 = np.array([c64[p][rows, last["scipy loop"][p]].sum() for p in range(args.count)])
    got64 = np.array([c64[p][rows, last["imm float64"][p]].sum() for p in range(args.count)])
    want32 = np.array([c32[p][scipy_lsa(c32[p])].astype(np.float64).sum()
                       for p in range(args.count)])
    got32 = np.array([c32[p][rows, last["imm float32"][p]].astype(np.float64).sum()
                      for p in range(args.count)])
    for name, got, want in (("imm float64", got64, want64), ("imm float32", got32, want32)):
        diff = np.abs(got - want).max() / np.abs(want).max()
        verdict = f"totals agree (max rel diff {diff:.1e})"
        if diff > 1e-12:
            verdict = f"MISMATCH: max rel diff {diff:.1e}"
            ok = False
        print(f"{name:<12} {med[name]:9.1f} ms  scipy loop {med['scipy loop']:9.1f} ms  "
              f"ratio {med['scipy loop'] / med[name]:6.1f}x  {verdict}")
    if not ok:
        print("MISMATCH: see above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
