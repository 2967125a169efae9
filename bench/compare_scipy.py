#!/usr/bin/python3
"""compare_scipy.py - libimmiscible against scipy, timed in one process, interleaved.

Runs with Debian's /usr/bin/python3 (python3-numpy, python3-scipy); torch is optional. If numpy
or scipy is missing it says so and exits 0.

For every batch size B (default 256, 512, 1024, 2048) it builds an image-noise problem like
bench_lap's: B images (Fashion-MNIST if the file is there, else smooth synthetic images, both in
[-1, 1], padded with -1 to 32x32 and repeated over 3 channels: D = 3072) and B rows of N(0, 1)
noise. Then, median of --reps runs, alternating which side goes first:

  LSA       scipy.optimize.linear_sum_assignment on the float32 cost matrix (scipy copies it to
            float64 -- that is what users run) vs imm_lap_solve on the same float32 matrix. The
            two optimal totals (sum of the float32 costs, in float64) must agree to 1e-9
            relative, else MISMATCH and exit status 1. Unless --no-auction, also the auction
            (IMM_SOLVER_AUCTION, default accuracy; its quality = share of the optimal reduction
            of the total kept, vs the identity pairing) and the auction with exact finish (whose
            total must agree like the exact solver's), in the same interleaved runs.
  pipeline  the official recipe -- distance matrix (float32 matmul form, as torch.cdist computes
            it on CPU; torch.cdist itself too if torch is installed) + linear_sum_assignment +
            reordering the noise -- vs imm_assign_noise on the images and noise, which computes
            the distances itself.

Each case prints one line with the speed-up, e.g.
  LSA       B=2048  scipy 2485.1 ms  imm 180.2 ms  ratio 13.8x

Usage: compare_scipy.py [--lib PATH] [--sizes 256,512] [--include-4096] [--reps 3]
                        [--threads N] [--seed S] [--mnist PATH | --synthetic]
                        [--no-pipeline] [--no-auction]
"""

import argparse
import concurrent.futures
import ctypes
import glob
import gzip
import os
import statistics
import sys
import time

try:
    import numpy as np
    from scipy.optimize import linear_sum_assignment
    import scipy
except ImportError as exc:
    print(f"compare_scipy.py: needs numpy and scipy ({exc}); skipping. "
          "Run it with /usr/bin/python3 (python3-numpy, python3-scipy).")
    sys.exit(0)

try:
    import torch
except ImportError:
    torch = None

DIM = 3 * 32 * 32
SIDE = 28
DEFAULT_MNIST = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
REL_TOL = 1e-9


# ---- the library ---------------------------------------------------------------------------

class ImmOptions(ctypes.Structure):
    """struct imm_options (128 bytes): 4 ints, the auction's accuracy and exact_finish, reserved."""
    _fields_ = [("solver", ctypes.c_int), ("precision", ctypes.c_int),
                ("metric", ctypes.c_int), ("num_threads", ctypes.c_int),
                ("accuracy", ctypes.c_double), ("exact_finish", ctypes.c_int),
                ("reserved_int_", ctypes.c_int), ("reserved_", ctypes.c_uint64 * 12)]


IMM_SOLVER_AUCTION = 1


assert ctypes.sizeof(ImmOptions) == 128, "imm_options must be 128 bytes"

F32P = ctypes.POINTER(ctypes.c_float)
I32P = ctypes.POINTER(ctypes.c_int32)
F64P = ctypes.POINTER(ctypes.c_double)
OPTP = ctypes.POINTER(ImmOptions)


def library_candidates(explicit):
    if explicit:
        return [explicit]
    here = os.path.dirname(os.path.abspath(__file__))
    found = [os.path.join(here, "..", "build", "lib", "libimmiscible.so")]
    # Other build trees next to the source (build-bench, build-release, ...), newest first.
    others = glob.glob(os.path.join(here, "..", "build*", "lib", "libimmiscible.so"))
    found += sorted(others, key=os.path.getmtime, reverse=True)
    found.append("libimmiscible.so.0")  # by soname, through the normal search path
    return found


def load_library(explicit):
    tried = []
    for path in library_candidates(explicit):
        if os.sep in path and not os.path.exists(path):
            tried.append(f"{path} (absent)")
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            tried.append(f"{path} ({exc})")
            continue
        try:
            lib.imm_options_init.argtypes = [OPTP]
            lib.imm_options_init.restype = None
            lib.imm_lap_solve.argtypes = [F32P, ctypes.c_size_t, ctypes.c_size_t, OPTP, I32P,
                                          F64P]
            lib.imm_lap_solve.restype = ctypes.c_int
            lib.imm_assign_noise.argtypes = [F32P, F32P, ctypes.c_size_t, ctypes.c_size_t, OPTP,
                                             I32P]
            lib.imm_assign_noise.restype = ctypes.c_int
            lib.imm_strerror.argtypes = [ctypes.c_int]
            lib.imm_strerror.restype = ctypes.c_char_p
            lib.imm_version_string.argtypes = []
            lib.imm_version_string.restype = ctypes.c_char_p
        except AttributeError as exc:
            tried.append(f"{path} (missing symbol: {exc})")
            continue
        return lib, os.path.realpath(path) if os.sep in path else path
    sys.exit("compare_scipy.py: cannot load libimmiscible; tried:\n  " + "\n  ".join(tried)
             + "\nBuild it, or pass --lib PATH.")


def check_status(lib, status, what):
    if status != 0:
        raise RuntimeError(f"{what} failed: {lib.imm_strerror(status).decode()} ({status})")


def f32p(a):
    return a.ctypes.data_as(F32P)


def imm_lap_solve(lib, cost, opts):
    b = cost.shape[0]
    assign = np.empty(b, dtype=np.int32)
    total = ctypes.c_double()
    st = lib.imm_lap_solve(f32p(cost), b, cost.shape[1], opts, assign.ctypes.data_as(I32P),
                           ctypes.byref(total))
    check_status(lib, st, "imm_lap_solve")
    return assign, total.value


def imm_assign_noise(lib, x, noise, opts):
    b, d = x.shape
    perm = np.empty(b, dtype=np.int32)
    st = lib.imm_assign_noise(f32p(x), f32p(noise), b, d, opts, perm.ctypes.data_as(I32P))
    check_status(lib, st, "imm_assign_noise")
    return perm


# ---- data ----------------------------------------------------------------------------------

def load_fashion_mnist(path):
    """uint8 array (n, 28, 28), or None if the file is absent. Exits on a corrupt file."""
    if not os.path.exists(path):
        return None
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        sys.exit(f"compare_scipy.py: {path}: cannot read: {exc} (use --synthetic)")
    if len(raw) < 16:
        sys.exit(f"compare_scipy.py: {path}: truncated IDX header (use --synthetic)")
    magic, count, rows, cols = (int.from_bytes(raw[k:k + 4], "big") for k in range(0, 16, 4))
    if magic != 0x00000803 or rows != SIDE or cols != SIDE or count == 0:
        sys.exit(f"compare_scipy.py: {path}: not a 28x28 IDX image file "
                 f"(magic 0x{magic:08x}, {count} x {rows} x {cols}) (use --synthetic)")
    if len(raw) < 16 + count * SIDE * SIDE:
        sys.exit(f"compare_scipy.py: {path}: truncated data (header says {count} images)")
    return np.frombuffer(raw, dtype=np.uint8, count=count * SIDE * SIDE,
                         offset=16).reshape(count, SIDE, SIDE)


def synthetic_images(rng, b):
    """Smooth 28x28 images in [-1, 1]: dark base, 3 low-frequency waves and 3 bright Gaussian
    blobs; like bench/workload.c, close to Fashion-MNIST's mean x^2 and background share."""
    r, c = np.meshgrid(np.arange(SIDE), np.arange(SIDE), indexing="ij")
    img = np.full((b, SIDE, SIDE), -1.4)
    for _ in range(3):
        fx, fy = rng.integers(0, 4, size=(2, b, 1, 1))
        amp = rng.uniform(0.1, 0.5, size=(b, 1, 1))
        phase = rng.uniform(0, 2 * np.pi, size=(b, 1, 1))
        img += amp * np.sin(2 * np.pi * (fx * c + fy * r) / SIDE + phase)
        bx, by = rng.uniform(4, 24, size=(2, b, 1, 1))
        height = rng.uniform(1.5, 3.0, size=(b, 1, 1))
        sigma = rng.uniform(2, 6, size=(b, 1, 1))
        img += height * np.exp(-((c - bx) ** 2 + (r - by) ** 2) / (2 * sigma ** 2))
    return np.clip(img, -1.0, 1.0)


def make_images(rng, b, mnist):
    if mnist is not None:
        idx = rng.choice(len(mnist), size=b, replace=b > len(mnist))
        img = mnist[idx].astype(np.float64) / 127.5 - 1.0
    else:
        img = synthetic_images(rng, b)
    img = np.pad(img, ((0, 0), (2, 2), (2, 2)), constant_values=-1.0)  # 32x32, background -1
    return np.ascontiguousarray(np.repeat(img[:, None], 3, axis=1).reshape(b, DIM),
                                dtype=np.float32)


def cost_matrix(x, noise):
    """Euclidean image-noise distances computed in float64, rounded to float32.

    Not timed. Row blocks go to a thread pool (numpy releases the GIL in matmul) because a
    reference BLAS is single-threaded and would otherwise dominate the run time."""
    x64, n64 = x.astype(np.float64), noise.astype(np.float64)
    sn = (n64 * n64).sum(1)
    out = np.empty((x.shape[0], noise.shape[0]), dtype=np.float32)

    def block(lo, hi):
        xb = x64[lo:hi]
        d2 = (xb * xb).sum(1)[:, None] + sn[None, :] - 2.0 * (xb @ n64.T)
        out[lo:hi] = np.sqrt(np.maximum(d2, 0.0))

    workers = max(1, min(os.cpu_count() or 1, 8))
    step = -(-x.shape[0] // workers)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for f in [pool.submit(block, lo, min(lo + step, x.shape[0]))
                  for lo in range(0, x.shape[0], step)]:
            f.result()
    return out


def cdist_f32(x, noise):
    """float32 distances in the matmul form torch.cdist uses on CPU for large inputs."""
    d2 = (x * x).sum(1)[:, None] + (noise * noise).sum(1)[None, :] - 2.0 * (x @ noise.T)
    return np.sqrt(np.maximum(d2, 0.0))


def numpy_blas():
    """The BLAS shared object numpy has loaded (Linux only), or None if it cannot tell."""
    np.ones((64, 64)) @ np.ones((64, 64))  # make sure it is loaded
    try:
        with open("/proc/self/maps") as maps:
            libs = {line.split()[-1] for line in maps if "blas" in line.lower() or "mkl" in line}
    except OSError:
        return None
    libs = sorted(p for p in libs if p.startswith("/") and os.path.basename(p).startswith("lib"))
    return ", ".join(os.path.realpath(p) for p in libs) if libs else None


def is_reference_blas(blas):
    return blas is not None and "openblas" not in blas and "mkl" not in blas \
        and "blis" not in blas and "atlas" not in blas


# ---- timing --------------------------------------------------------------------------------

def timed(fn):
    t = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t) * 1e3, out


def interleaved(sides, reps):
    """Runs each side reps times, alternating which goes first; returns medians and last results."""
    times = {name: [] for name, _ in sides}
    last = {}
    for rep in range(reps):
        for name, fn in (sides if rep % 2 == 0 else sides[::-1]):
            ms, last[name] = timed(fn)
            times[name].append(ms)
    return {name: statistics.median(t) for name, t in times.items()}, last


def rel_diff(a, b):
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def auction_options(lib, threads, exact_finish):
    opts = ImmOptions()
    lib.imm_options_init(ctypes.byref(opts))
    opts.solver = IMM_SOLVER_AUCTION
    opts.exact_finish = 1 if exact_finish else 0
    if threads is not None:
        opts.num_threads = threads
    return ctypes.pointer(opts)


def compare_lsa(lib, opts, cost, reps, auction=None):
    """auction: None, or {"auction": opts, "auction+exact": opts} timed in the same rounds."""
    b = cost.shape[0]
    sides = [("scipy", lambda: linear_sum_assignment(cost)),
             ("imm", lambda: imm_lap_solve(lib, cost, opts))]
    for name, aopts in (auction or {}).items():
        sides.append((name, lambda aopts=aopts: imm_lap_solve(lib, cost, aopts)))
    med, last = interleaved(sides, reps)
    rows, cols = last["scipy"]
    assign, imm_reported = last["imm"]
    scipy_total = cost[rows, cols].astype(np.float64).sum()
    imm_total = cost[np.arange(b), assign].astype(np.float64).sum()
    is_perm = np.array_equal(np.sort(assign), np.arange(b))
    diff = rel_diff(scipy_total, imm_total)
    ok = is_perm and diff <= REL_TOL and rel_diff(imm_total, imm_reported) <= REL_TOL
    verdict = f"totals agree (rel diff {diff:.1e})" if ok else (
        f"MISMATCH: scipy {scipy_total:.9f} imm {imm_total:.9f} (reported {imm_reported:.9f}, "
        f"permutation: {is_perm})")
    print(f"LSA       B={b:<5d} scipy {med['scipy']:9.1f} ms  imm {'exact':<13} {med['imm']:8.1f} ms  "
          f"ratio {med['scipy'] / med['imm']:6.1f}x  {verdict}", flush=True)
    identity = cost[np.arange(b), np.arange(b)].astype(np.float64).sum()
    for name in (auction or {}):
        a_assign, a_reported = last[name]
        a_total = cost[np.arange(b), a_assign].astype(np.float64).sum()
        a_perm = np.array_equal(np.sort(a_assign), np.arange(b))
        if name == "auction+exact":
            a_diff = rel_diff(scipy_total, a_total)
            a_ok = a_perm and a_diff <= REL_TOL
            note = f"totals agree (rel diff {a_diff:.1e})" if a_ok else (
                f"MISMATCH: scipy {scipy_total:.9f} auction+exact {a_total:.9f}")
        else:
            a_ok = a_perm and a_total >= scipy_total * (1 - REL_TOL)
            gain = identity - scipy_total
            quality = (identity - a_total) / gain if gain > 0 else float("nan")
            note = f"quality {100 * quality:.4f}%" if a_ok else (
                f"MISMATCH: auction total {a_total:.9f} below the optimum {scipy_total:.9f} "
                f"or not a permutation ({a_perm})")
        a_ok = a_ok and rel_diff(a_total, a_reported) <= REL_TOL
        print(f"LSA       B={b:<5d} scipy {med['scipy']:9.1f} ms  imm {name:<13} "
              f"{med[name]:8.1f} ms  ratio {med['scipy'] / med[name]:6.1f}x  {note}",
              flush=True)
        ok = ok and a_ok
    return ok


def compare_pipeline(lib, opts, x, noise, reps):
    b = x.shape[0]

    parts = {"cdist": [], "lsa": []}

    def official():
        ms, dist = timed(lambda: cdist_f32(x, noise))
        parts["cdist"].append(ms)
        ms, (_, col) = timed(lambda: linear_sum_assignment(dist))
        parts["lsa"].append(ms)
        return noise[col]

    def official_torch():
        xt, nt = torch.from_numpy(x), torch.from_numpy(noise)
        _, col = linear_sum_assignment(torch.cdist(xt, nt).numpy())
        return nt[torch.from_numpy(col)].numpy()

    copies = []

    def imm():
        work = copies.pop()
        return work, imm_assign_noise(lib, x, work, opts)

    sides = [("numpy-cdist+scipy", official), ("imm_assign_noise", imm)]
    if torch is not None:
        sides.insert(1, ("torch.cdist+scipy", official_torch))
    copies.extend(noise.copy() for _ in range(reps))  # the copy is not timed
    med, last = interleaved(sides, reps)

    moved, perm = last["imm_assign_noise"]
    ok = np.array_equal(np.sort(perm), np.arange(b)) and np.array_equal(moved, noise[perm])

    def total_distance(assigned):
        return np.sqrt(((x.astype(np.float64) - assigned) ** 2).sum(1)).sum()

    ref = total_distance(last["numpy-cdist+scipy"])
    got = total_distance(moved)
    note = (f"total distance imm/official - 1 = {got / ref - 1:+.1e}" if ok
            else "MISMATCH: imm_assign_noise did not apply a permutation of the noise rows")
    for name in [s for s, _ in sides if s != "imm_assign_noise"]:
        print(f"pipeline  B={b:<5d} {name} {med[name]:9.1f} ms  imm_assign_noise "
              f"{med['imm_assign_noise']:8.1f} ms  ratio "
              f"{med[name] / med['imm_assign_noise']:6.1f}x  {note}", flush=True)
    print(f"          B={b:<5d} numpy-cdist+scipy = cdist {statistics.median(parts['cdist']):.1f}"
          f" ms + linear_sum_assignment {statistics.median(parts['lsa']):.1f} ms (medians)",
          flush=True)
    return ok


def parse_sizes(text):
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad size list {text!r}")
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"bad size list {text!r}")
    return sizes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", help="path to libimmiscible.so (default: the build tree, then "
                    "libimmiscible.so.0 through the loader's search path)")
    ap.add_argument("--sizes", type=parse_sizes, default=[256, 512, 1024, 2048],
                    help="comma-separated batch sizes (default 256,512,1024,2048)")
    ap.add_argument("--include-4096", action="store_true",
                    help="also run B=4096 (slow: scipy needs ~18 s per solve)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per side (median; default 3)")
    ap.add_argument("--threads", type=int, default=None,
                    help="imm_options.num_threads (default: opts NULL)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--mnist", default=DEFAULT_MNIST, help="Fashion-MNIST images (IDX, gzip)")
    ap.add_argument("--synthetic", action="store_true", help="use synthetic images")
    ap.add_argument("--no-pipeline", action="store_true",
                    help="skip the imm_assign_noise vs cdist+scipy comparison")
    ap.add_argument("--no-auction", action="store_true",
                    help="skip the auction and auction+exact lines")
    args = ap.parse_args()
    if args.reps < 1:
        ap.error("--reps must be >= 1")
    sizes = list(args.sizes)
    if args.include_4096 and 4096 not in sizes:
        sizes.append(4096)
    blas = numpy_blas()
    slow_blas = is_reference_blas(blas)
    if 4096 in sizes:
        solves = args.reps * (1 if args.no_pipeline else 2)
        # Reference BLAS: ~25 s for the float64 cost matrix (2 threads), ~30 s per float32 cdist at 4096.
        blas_s = (25 + (0 if args.no_pipeline else 30 * args.reps)) if slow_blas else 5
        print(f"warning: B=4096 takes a while: scipy needs ~18 s per solve on these machines, "
              f"{solves} solves here, plus ~{blas_s} s of numpy matrix products "
              f"(~{(solves * 20 + blas_s) // 60 + 1} min)", file=sys.stderr)

    lib, lib_path = load_library(args.lib)
    opts = None
    if args.threads is not None:
        opts = ImmOptions()
        lib.imm_options_init(ctypes.byref(opts))
        opts.num_threads = args.threads
        opts = ctypes.pointer(opts)

    auction = None
    if not args.no_auction:
        auction = {"auction": auction_options(lib, args.threads, False),
                   "auction+exact": auction_options(lib, args.threads, True)}

    mnist = None if args.synthetic else load_fashion_mnist(args.mnist)
    source = f"fashion-mnist ({args.mnist})" if mnist is not None else "synthetic"
    print(f"libimmiscible {lib.imm_version_string().decode()} from {lib_path}")
    print(f"numpy {np.__version__}, scipy {scipy.__version__}, "
          f"torch {torch.__version__ if torch is not None else 'not installed'}")
    print(f"numpy BLAS: {blas or 'unknown'}")
    if slow_blas:
        print("note: that is the reference (netlib) BLAS, so the baseline's cdist (a matmul) is "
              "far slower\n      than with OpenBLAS/MKL; the LSA lines do not depend on BLAS.")
    print(f"images: {source}, D = {DIM}, seed {args.seed}, median of {args.reps}, "
          f"imm threads: {args.threads if args.threads is not None else 'default (opts NULL)'}")

    ok = True
    for b in sizes:
        rng = np.random.default_rng([args.seed, b])
        x = make_images(rng, b, mnist)
        noise = rng.standard_normal((b, DIM), dtype=np.float32)
        cost = cost_matrix(x, noise)
        ok &= compare_lsa(lib, opts, cost, args.reps, auction)
        del cost
        if not args.no_pipeline:
            ok &= compare_pipeline(lib, opts, x, noise, args.reps)
    if not ok:
        print("MISMATCH: see above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
