#!/usr/bin/python3
"""compare_scipy.py - the immiscible package against scipy and POT, timed in one process.

Runs with Debian's /usr/bin/python3 (python3-numpy, python3-scipy; python3-pot and python3-torch
optional). If numpy or scipy is missing it says so and exits 0. It uses the installed package
(`import immiscible`), else the source tree's python/ with --lib or the newest build*/ library.

For every batch size B (default 256, 512, 1024, 2048) it builds an image-noise problem like
bench_lap's: B images (Fashion-MNIST if the file is there, else smooth synthetic images, both in
[-1, 1], padded with -1 to 32x32 and repeated over 3 channels: D = 3072) and B rows of N(0, 1)
noise. Then, median of --reps runs, alternating which side goes first:

  LSA       scipy.optimize.linear_sum_assignment on the float32 cost matrix (scipy copies it to
            float64 -- that is what users run) vs immiscible.linear_sum_assignment on the same
            float32 matrix (solved in place), and POT's ot.emd (uniform weights, on a float64
            copy made outside the timing), when POT is installed. The optimal totals (sum of the
            float32 costs, in float64) must agree to 1e-9 relative, else MISMATCH and exit
            status 1. Unless --no-auction, also the auction (IMM_SOLVER_AUCTION, default
            accuracy; its quality = share of the optimal reduction of the total kept, vs the
            identity pairing) and the auction with exact finish (whose total must agree like the
            exact solver's), called through the package's C declarations, same rounds.
  overhead  at B = 1024: immiscible.linear_sum_assignment vs imm_lap_solve called directly
            through ctypes on the same matrix (the package's cost in %), and the wrapper's cost
            per call on an 8x8 matrix.
  pipeline  the official recipe -- distance matrix (float32 matmul form, as torch.cdist computes
            it on CPU; torch.cdist itself too if torch is installed) + linear_sum_assignment +
            reordering the noise -- vs immiscible.assign_noise (one-shot) and a warm
            immiscible.Assigner, which compute the distances themselves.

Each case prints one line with the speed-up, e.g.
  LSA       B=2048  scipy 2485.1 ms  imm 180.2 ms  ratio 13.8x

Usage: compare_scipy.py [--lib PATH] [--sizes 256,512] [--include-4096] [--reps 3]
                        [--threads N] [--seed S] [--mnist PATH | --synthetic]
                        [--no-pipeline] [--no-auction] [--workloads image,latent,uniform,integer]
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

try:
    import ot
except ImportError:
    ot = None

DIM = 3 * 32 * 32
LATENT_DIM = 4096  # --workloads latent
SIDE = 28
DEFAULT_MNIST = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
REL_TOL = 1e-9
OVERHEAD_B = 1024  # the size at which the Python call overhead is measured


# ---- the library, through the package ------------------------------------------------------

def import_immiscible(lib_path):
    """The immiscible package: installed if importable, else the source tree's python/ with
    --lib, or else the newest build tree's library (IMMISCIBLE_LIBRARY)."""
    if lib_path:
        os.environ["IMMISCIBLE_LIBRARY"] = os.path.abspath(lib_path)
    try:
        import immiscible
        return immiscible
    except ImportError as exc:
        installed_error = exc
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "python"))
    if "IMMISCIBLE_LIBRARY" not in os.environ:
        built = glob.glob(os.path.join(here, "..", "build*", "lib", "libimmiscible.so"))
        if built:
            os.environ["IMMISCIBLE_LIBRARY"] = os.path.abspath(max(built, key=os.path.getmtime))
    try:
        import immiscible
    except ImportError as exc:
        sys.exit(f"compare_scipy.py: cannot import immiscible:\n{installed_error}\n{exc}\n"
                 "Build it (and cmake --install), or pass --lib PATH.")
    return immiscible


def openmp_runtime():
    """GNU OpenMP (the runtime the library is built with), or None."""
    try:
        rt = ctypes.CDLL("libgomp.so.1")
        rt.omp_get_max_threads.restype = ctypes.c_int
        rt.omp_set_num_threads.argtypes = [ctypes.c_int]
        return rt
    except (OSError, AttributeError):
        return None


def c_lap_solve(imm, cost, opts=None, assign=None):
    """imm_lap_solve called directly (the package's declaration, no wrapper): (assign, total)."""
    b, m = cost.shape
    if assign is None:
        assign = np.empty(b, dtype=np.int32)
    total = ctypes.c_double()
    st = imm._lib.lib.imm_lap_solve(cost.ctypes.data, b, m,
                                    None if opts is None else ctypes.byref(opts),
                                    assign.ctypes.data, ctypes.byref(total))
    imm._lib.check(st, "imm_lap_solve")
    return assign, total.value


def imm_lsa(imm, cost):
    """immiscible.linear_sum_assignment on the float32 matrix (solved in place): (assign, total)."""
    _, col = imm.linear_sum_assignment(cost)
    return col, cost[np.arange(cost.shape[0]), col].astype(np.float64).sum()


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


def auction_options(imm, exact_finish):
    return imm._lib.options(solver="auction", exact_finish=exact_finish)


def pot_lsa(m64):
    """POT's exact OT (network simplex) with uniform weights, as torchcfm calls it: the plan of a
    square problem is a permutation matrix. Returns (assign, None)."""
    b = m64.shape[0]
    w = np.full(b, 1.0 / b)
    plan = ot.emd(w, w, m64, numItermax=10**8)  # the default 1e5 stops short from B = 2048
    return plan.argmax(axis=1), None


def is_injection(assign, cols):
    """Whether assign gives its rows distinct columns in range (a permutation when square)."""
    return bool(np.all((assign >= 0) & (assign < cols))) and len(np.unique(assign)) == len(assign)


def compare_lsa(imm, cost, reps, auction=None, workload="image"):
    """auction: None, or {"auction": opts, "auction+exact": opts} timed in the same rounds.
    cost may be wide (a noise pool): B rows, M * B columns."""
    b, cols = cost.shape
    tag = "" if workload == "image" else f" {workload}"
    if cols != b:
        tag += f" pool:{cols // b}"
    m64 = cost.astype(np.float64) if cols == b else None  # POT's input; not timed
    sides = [("scipy", lambda: linear_sum_assignment(cost)),
             ("imm", lambda: imm_lsa(imm, cost))]
    use_pot = ot is not None and cols == b  # ot.emd balances masses: square problems only
    if use_pot:
        sides.append(("POT ot.emd", lambda: pot_lsa(m64)))
    for name, aopts in (auction or {}).items():
        sides.append((name, lambda aopts=aopts: c_lap_solve(imm, cost, aopts)))
    med, last = interleaved(sides, reps)
    sp_rows, sp_cols = last["scipy"]
    assign, imm_reported = last["imm"]
    scipy_total = cost[sp_rows, sp_cols].astype(np.float64).sum()
    imm_total = cost[np.arange(b), assign].astype(np.float64).sum()
    is_perm = is_injection(assign, cols)
    diff = rel_diff(scipy_total, imm_total)
    ok = is_perm and diff <= REL_TOL and rel_diff(imm_total, imm_reported) <= REL_TOL
    verdict = f"totals agree (rel diff {diff:.1e})" if ok else (
        f"MISMATCH: scipy {scipy_total:.9f} imm {imm_total:.9f} (reported {imm_reported:.9f}, "
        f"permutation: {is_perm})")
    print(f"LSA{tag:<8} B={b:<5d} scipy {med['scipy']:9.1f} ms  imm {'exact':<13} {med['imm']:8.1f} ms  "
          f"ratio {med['scipy'] / med['imm']:6.1f}x  {verdict}", flush=True)
    if use_pot:
        p_assign, _ = last["POT ot.emd"]
        p_total = cost[np.arange(b), p_assign].astype(np.float64).sum()
        p_ok = is_injection(p_assign, cols) and \
            rel_diff(p_total, imm_total) <= REL_TOL
        note = f"totals agree (rel diff {rel_diff(p_total, imm_total):.1e})" if p_ok else (
            f"MISMATCH: POT {p_total:.9f} imm {imm_total:.9f}")
        print(f"LSA{tag:<8} B={b:<5d} POT   {med['POT ot.emd']:9.1f} ms  imm {'exact':<13} "
              f"{med['imm']:8.1f} ms  ratio {med['POT ot.emd'] / med['imm']:6.1f}x  {note}",
              flush=True)
        ok = ok and p_ok
    identity = cost[np.arange(b), np.arange(b)].astype(np.float64).sum()
    for name in (auction or {}):
        a_assign, a_reported = last[name]
        a_total = cost[np.arange(b), a_assign].astype(np.float64).sum()
        a_perm = is_injection(a_assign, cols)
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
        print(f"LSA{tag:<8} B={b:<5d} scipy {med['scipy']:9.1f} ms  imm {name:<13} "
              f"{med[name]:8.1f} ms  ratio {med['scipy'] / med[name]:6.1f}x  {note}",
              flush=True)
        ok = ok and a_ok
    return ok


def python_overhead(imm, cost, reps):
    """immiscible.linear_sum_assignment vs imm_lap_solve called directly through ctypes on the
    same float32 matrix: the wrapper's cost, at this size and per call on a tiny matrix."""
    b = cost.shape[0]
    assign = np.empty(b, dtype=np.int32)
    sides = [("python", lambda: imm.linear_sum_assignment(cost)),
             ("C", lambda: c_lap_solve(imm, cost, None, assign))]
    med, _ = interleaved(sides, max(reps, 7))
    tiny = np.random.default_rng(0).random((8, 8), dtype=np.float32)
    tiny_assign = np.empty(8, dtype=np.int32)
    calls = 2000
    tiny_med, _ = interleaved(
        [("python", lambda: [imm.linear_sum_assignment(tiny) for _ in range(calls)]),
         ("C", lambda: [c_lap_solve(imm, tiny, None, tiny_assign) for _ in range(calls)])], 5)
    per_call_us = (tiny_med["python"] - tiny_med["C"]) * 1e3 / calls
    print(f"overhead  B={b:<5d} linear_sum_assignment {med['python']:8.2f} ms  direct ctypes "
          f"imm_lap_solve {med['C']:8.2f} ms  overhead {100 * (med['python'] / med['C'] - 1):+.1f}%"
          f"  (wrapper cost per call, 8x8: {per_call_us:.1f} us)", flush=True)


def compare_pipeline(imm, x, noise, reps):
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

    assigner = imm.Assigner()
    assigner.assign_noise(x, noise)  # warm: the context's workspace exists from now on

    sides = [("numpy-cdist+scipy", official),
             ("assign_noise", lambda: imm.assign_noise(x, noise)),
             ("Assigner", lambda: assigner.assign_noise(x, noise))]
    if torch is not None:
        sides.insert(1, ("torch.cdist+scipy", official_torch))
    med, last = interleaved(sides, reps)
    assigner.close()

    ok = True
    for name in ("assign_noise", "Assigner"):
        moved, perm = last[name]
        ok &= np.array_equal(np.sort(perm), np.arange(b)) and np.array_equal(moved, noise[perm])
    ok &= np.array_equal(last["assign_noise"][1], last["Assigner"][1])

    def total_distance(assigned):
        return np.sqrt(((x.astype(np.float64) - assigned) ** 2).sum(1)).sum()

    ref = total_distance(last["numpy-cdist+scipy"])
    got = total_distance(last["assign_noise"][0])
    note = (f"total distance imm/official - 1 = {got / ref - 1:+.1e}" if ok
            else "MISMATCH: the package did not apply one permutation of the noise rows")
    for name in [s for s, _ in sides if s not in ("assign_noise", "Assigner")]:
        for mine in ("assign_noise", "Assigner"):
            print(f"pipeline  B={b:<5d} {name} {med[name]:9.1f} ms  {mine:<12} "
                  f"{med[mine]:8.1f} ms  ratio {med[name] / med[mine]:6.1f}x  {note}",
                  flush=True)
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
    ap.add_argument("--lib", help="path to libimmiscible.so (sets IMMISCIBLE_LIBRARY; default: "
                    "the installed package's library, else the newest build*/ tree's)")
    ap.add_argument("--sizes", type=parse_sizes, default=[256, 512, 1024, 2048],
                    help="comma-separated batch sizes (default 256,512,1024,2048)")
    ap.add_argument("--include-4096", action="store_true",
                    help="also run B=4096 (slow: scipy needs ~18 s per solve)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per side (median; default 3)")
    ap.add_argument("--threads", type=int, default=None,
                    help="library threads (OpenMP's default thread count, set in the running "
                         "runtime, and torch's; default: OpenMP's, which `import torch` sets)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--mnist", default=DEFAULT_MNIST, help="Fashion-MNIST images (IDX, gzip)")
    ap.add_argument("--synthetic", action="store_true", help="use synthetic images")
    ap.add_argument("--no-pipeline", action="store_true",
                    help="skip the imm_assign_noise vs cdist+scipy comparison")
    ap.add_argument("--no-auction", action="store_true",
                    help="skip the auction and auction+exact lines")
    ap.add_argument("--pool", type=int, default=1,
                    help="noise pools: M * B noise rows (columns) per B images, M >= 1 (default 1: "
                         "the square batch; M > 1 skips the pipeline and overhead lines)")
    ap.add_argument("--workloads", default="image",
                    help="comma-separated: image (image-noise, the default), latent (N(0, 1) "
                         "against N(0, 1), D = 4096), uniform (U(0, 1) * B), integer (uniform "
                         "integers in [0, 100): exact ties, as general users bring them); the "
                         "pipeline comparison runs on image only")
    args = ap.parse_args()
    workloads = args.workloads.split(",")
    if not workloads or any(w not in ("image", "latent", "uniform", "integer")
                            for w in workloads):
        ap.error("--workloads: image, latent, uniform, integer")
    if args.reps < 1:
        ap.error("--reps must be >= 1")
    if args.pool < 1:
        ap.error("--pool must be >= 1")
    pool = args.pool
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

    # The library's default thread count is OpenMP's for the calling thread. OMP_NUM_THREADS
    # alone does not set it here: `import torch` has already started OpenMP and set its own
    # count (torch.get_num_threads(): 1 on the 2-vCPU VMs), which then holds for every call.
    gomp = openmp_runtime()
    default_threads = gomp.omp_get_max_threads() if gomp is not None else None
    if args.threads is not None:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # a runtime not started yet
        if gomp is not None:
            gomp.omp_set_num_threads(args.threads)  # the one torch started
        if torch is not None:
            torch.set_num_threads(args.threads)  # the torch baseline: the same count
    imm = import_immiscible(args.lib)
    auction = None
    if not args.no_auction:
        auction = {"auction": auction_options(imm, False),
                   "auction+exact": auction_options(imm, True)}

    mnist = None if args.synthetic else load_fashion_mnist(args.mnist)
    source = f"fashion-mnist ({args.mnist})" if mnist is not None else "synthetic"
    print(f"libimmiscible {imm.library_version()} from {imm.library_path()} ({imm.simd_arch()}),"
          f" package {os.path.dirname(imm.__file__)}")
    print(f"numpy {np.__version__}, scipy {scipy.__version__}, "
          f"torch {torch.__version__ if torch is not None else 'not installed'}, "
          f"POT {ot.__version__ if ot is not None else 'not installed (python3-pot): no lines'}")
    print(f"numpy BLAS: {blas or 'unknown'}")
    if slow_blas:
        print("note: that is the reference (netlib) BLAS, so the baseline's cdist (a matmul) is "
              "far slower\n      than with OpenBLAS/MKL; the LSA lines do not depend on BLAS.")
    now = gomp.omp_get_max_threads() if gomp is not None else None
    threads = (f"{now} (OpenMP's default on this thread; {default_threads} before --threads)"
               if now is not None else
               f"{args.threads if args.threads is not None else 'OpenMP default'} (unverified)")
    print(f"images: {source}, D = {DIM}, seed {args.seed}, median of {args.reps}, "
          f"imm threads: {threads}")

    ok = True
    for b in sizes:
        for w in workloads:
            if w != "image":
                stream = {"latent": 1, "uniform": 2, "integer": 3}[w]
                rng = np.random.default_rng([args.seed, b, stream])
                if w == "uniform":
                    cost = (rng.random((b, pool * b), dtype=np.float32) * np.float32(pool * b))
                elif w == "integer":
                    cost = rng.integers(0, 100, size=(b, pool * b)).astype(np.float32)
                else:
                    cost = cost_matrix(rng.standard_normal((b, LATENT_DIM), dtype=np.float32),
                                       rng.standard_normal((pool * b, LATENT_DIM),
                                                           dtype=np.float32))
                ok &= compare_lsa(imm, cost, args.reps, auction, w)
                continue
            rng = np.random.default_rng([args.seed, b])
            x = make_images(rng, b, mnist)
            noise = rng.standard_normal((pool * b, DIM), dtype=np.float32)
            cost = cost_matrix(x, noise)
            ok &= compare_lsa(imm, cost, args.reps, auction)
            if pool > 1:
                continue
            if b == OVERHEAD_B:
                python_overhead(imm, cost, args.reps)
            del cost
            if not args.no_pipeline:
                ok &= compare_pipeline(imm, x, noise, args.reps)
    if not ok:
        print("MISMATCH: see above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
