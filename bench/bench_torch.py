#!/usr/bin/python3
"""bench_torch.py - immiscible.torch against what PyTorch users run today, in one process.

1. Minibatch OT coupling (flow matching). ``immiscible.torch.ot_pair(x0, x1)`` against
   torchcfm's exact pipeline, rebuilt here from its description: ``M = torch.cdist(x0, x1) ** 2``,
   POT ``ot.emd(a, b, M)`` with uniform a, b, then the plan's row argmax as the permutation.
   x0 = N(0, 1) noise, x1 = images (Fashion-MNIST if the file is there, else smooth synthetic
   images, in [-1, 1], padded to 32 x 32 and repeated over 3 channels: D = 3072). Both sides
   run interleaved (alternating which goes first), median of --reps; the line also checks that
   both couplings have the same total squared distance (to 1e-6 relative).

2. Training-loop overhead of immiscible noise (B = --loop-batch, D = 3072). A fake model step
   (``time.sleep(--step-ms)``: a GPU-bound step, during which the host waits) follows the noise
   of every step; the time the loop spends per step outside that sleep is the overhead. Modes:
   vanilla (``torch.randn_like``), direct (``imm(x)``), submit (``imm.submit`` for the next
   batch, ``future.result()`` in this one), and a DataLoader with ``noise_collate`` in 2 workers
   against the same loader with the default collate plus ``torch.randn_like`` in the loop.

Only medians and ratios from the same run are printed. Needs torch and numpy (exit 0 with a
note otherwise) and POT for part 1 (skipped without it).

Usage: bench_torch.py [--sizes 256,1024] [--reps 5] [--threads N] [--loop-batch 256]
                      [--step-ms 20] [--loop-steps 40] [--no-ot] [--no-loop] [--synthetic]
"""

import argparse
import gzip
import os
import statistics
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as exc:
    print(f"bench_torch.py: needs torch and numpy ({exc}); skipping "
          "(Debian: python3-torch, python3-numpy).")
    sys.exit(0)

try:
    import ot
except ImportError:
    ot = None

import immiscible
import immiscible.torch as imt

MNIST = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


def load_images(n, seed, synthetic):
    """(n, 3072) float32 images in [-1, 1]."""
    if not synthetic and os.path.exists(MNIST):
        with gzip.open(MNIST, "rb") as f:
            raw = f.read()
        count = int.from_bytes(raw[4:8], "big")
        imgs = np.frombuffer(raw[16:], dtype=np.uint8).reshape(count, 28, 28)
        idx = np.random.default_rng(seed).choice(count, size=n, replace=False)
        x = torch.from_numpy(imgs[idx].astype(np.float32) / 127.5 - 1)[:, None]
        source = "Fashion-MNIST"
    else:
        g = torch.Generator().manual_seed(seed)
        coarse = torch.randn(n, 1, 5, 5, generator=g)
        x = torch.tanh(2 * F.interpolate(coarse, size=(28, 28), mode="bicubic",
                                         align_corners=False))
        source = "synthetic"
    x = F.pad(x, (2, 2, 2, 2), value=-1.0).repeat(1, 3, 1, 1)
    return x.reshape(n, -1).contiguous(), source


def torchcfm_exact(x0, x1):
    """torchcfm's exact OT pipeline: cdist^2, POT's network simplex, the plan's row argmax."""
    m = torch.cdist(x0, x1) ** 2
    a, b = ot.unif(x0.shape[0]), ot.unif(x1.shape[0])
    plan = ot.emd(a, b, m.detach().cpu().numpy())
    perm = torch.from_numpy(plan.argmax(1))
    return x0, x1[perm]


def timed(fn, *args):
    """(seconds, fn(*args))."""
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def sq_total(x0, x1):
    return float(((x0.double() - x1.double()) ** 2).sum())


def bench_ot(args):
    if ot is None:
        print("ot_pair: POT is not installed (python3-pot): skipped")
        return True
    print(f"== ot_pair vs torchcfm exact (torch.cdist ** 2 + POT ot.emd {ot.__version__}), "
          f"D = 3072, {torch.get_num_threads()} thread(s) on both sides, median of {args.reps}, "
          f"interleaved ==")
    print("   pipeline: the whole coupling; solver: the assignment alone on the same cost matrix "
          "(ot.emd vs immiscible.linear_sum_assignment)")
    ok = True
    for b in args.sizes:
        x1, source = load_images(b, seed=b, synthetic=args.synthetic)
        x0 = torch.randn(b, x1.shape[1], generator=torch.Generator().manual_seed(b + 1))
        m32 = (torch.cdist(x0, x1) ** 2).numpy()
        unif = ot.unif(b)
        cases = {
            "torchcfm": lambda: torchcfm_exact(x0, x1),
            "ot_pair": lambda: imt.ot_pair(x0, x1, threads=args.threads),
            "ot_pair_torch": lambda: imt.ot_pair(x0, x1, threads=args.threads, distance="torch"),
            "emd": lambda: ot.emd(unif, unif, m32),
            "lsa": lambda: immiscible.linear_sum_assignment(m32),
        }
        for fn in cases.values():  # warm-up (and the library's one-time setup)
            fn()
        times = {name: [] for name in cases}
        totals = {}
        names = list(cases)
        for rep in range(args.reps):
            for name in names[rep % len(names):] + names[:rep % len(names)]:
                dt, out = timed(cases[name])
                times[name].append(dt)
                if name in ("torchcfm", "ot_pair", "ot_pair_torch"):
                    totals[name] = sq_total(*out)
        med = {name: 1e3 * statistics.median(t) for name, t in times.items()}
        ref = totals["torchcfm"]
        bad = [n for n in ("ot_pair", "ot_pair_torch") if abs(totals[n] - ref) > 1e-6 * ref]
        ok &= not bad
        print(f"B={b:5d}  pipeline: torchcfm {med['torchcfm']:7.1f} ms  ot_pair "
              f"{med['ot_pair']:6.1f} ms  ratio {med['torchcfm'] / med['ot_pair']:5.1f}x  "
              f"(torch distances {med['ot_pair_torch']:6.1f} ms, "
              f"{med['torchcfm'] / med['ot_pair_torch']:4.1f}x)")
        print(f"          solver:   ot.emd   {med['emd']:7.1f} ms  imm     {med['lsa']:6.1f} ms  "
              f"ratio {med['emd'] / med['lsa']:5.1f}x  totals "
              f"{'equal' if not bad else 'DIFFER: ' + ', '.join(bad)}  ({source})")
    return ok


def loop_overhead(name, get_noise, batches, step_s):
    """Median time per step the loop spends outside the fake model step, in ms."""
    times = []
    for x in batches:
        t0 = time.perf_counter()
        noise = get_noise(x)
        t1 = time.perf_counter()
        time.sleep(step_s)  # the model step: the host waits for the GPU
        del noise
        times.append(t1 - t0)
    return 1e3 * statistics.median(times[3:])  # the first steps warm up


def bench_loop(args):
    b, steps, step_s = args.loop_batch, args.loop_steps, args.step_ms / 1e3
    images, source = load_images(max(b * 4, 1024), seed=7, synthetic=args.synthetic)
    g = torch.Generator().manual_seed(0)
    batches = [images[torch.randint(0, images.shape[0], (b,), generator=g)]
               for _ in range(steps)]
    print(f"== training-loop overhead per step, B = {b}, D = 3072, fake model step "
          f"{args.step_ms:g} ms (sleep), median of {steps - 3} steps ({source}) ==")
    imm = imt.ImmiscibleNoise(threads=args.threads)
    res = {"vanilla": loop_overhead("vanilla", torch.randn_like, batches, step_s),
           "direct": loop_overhead("direct", imm, batches, step_s)}

    state = {"next": 0, "future": imm.submit(batches[0])}

    def prefetched(x):
        noise = state["future"].result()
        state["next"] += 1
        if state["next"] < len(batches):
            state["future"] = imm.submit(batches[state["next"]])
        return noise

    res["submit"] = loop_overhead("submit", prefetched, batches, step_s)
    imm.close()
    res.update(bench_collate(images, b, steps, step_s, args.threads))
    t_direct = res["direct"] - res["vanilla"]
    print(f"vanilla   randn_like             {res['vanilla']:7.2f} ms per step")
    print(f"direct    imm(x)                 {res['direct']:7.2f} ms per step "
          f"(assignment {t_direct:.2f} ms over vanilla)")
    print(f"submit    future.result()        {res['submit']:7.2f} ms per step "
          f"(direct / submit {res['direct'] / res['submit']:.1f}x)")
    if "loader" in res:
        print(f"loader    default collate + randn {res['loader']:6.2f} ms per step")
        print(f"collate   noise_collate, 2 workers {res['collate']:5.2f} ms per step "
              f"(direct / collate {res['direct'] / res['collate']:.1f}x)")
    return True


def bench_collate(images, b, steps, step_s, threads):
    from torch.utils.data import DataLoader, TensorDataset
    data = TensorDataset(images)
    n = b * steps
    sampler = torch.utils.data.RandomSampler(data, replacement=True, num_samples=n,
                                             generator=torch.Generator().manual_seed(1))
    res = {}
    for name in ("loader", "collate"):
        kwargs = {}
        if name == "collate":
            kwargs["collate_fn"] = imt.noise_collate(threads=threads or 1)
        loader = DataLoader(data, batch_size=b, sampler=sampler, num_workers=2,
                            prefetch_factor=2, **kwargs)
        it = iter(loader)
        times = []
        for _ in range(steps):
            t0 = time.perf_counter()
            batch = next(it)
            if name == "loader":
                batch.append(torch.randn_like(batch[0]))
            t1 = time.perf_counter()
            time.sleep(step_s)
            times.append(t1 - t0)
        del it, loader
        res[name] = 1e3 * statistics.median(times[3:])
    return res


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="256,1024")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--loop-batch", type=int, default=256)
    p.add_argument("--loop-steps", type=int, default=40)
    p.add_argument("--step-ms", type=float, default=20.0)
    p.add_argument("--no-ot", action="store_true")
    p.add_argument("--no-loop", action="store_true")
    p.add_argument("--synthetic", action="store_true")
    args = p.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.threads:
        torch.set_num_threads(args.threads)  # the same thread count on both sides
    print(f"immiscible {immiscible.__version__} ({immiscible.library_path()}, "
          f"{immiscible.simd_arch()}), torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}")
    ok = True
    if not args.no_ot:
        ok &= bench_ot(args)
    if not args.no_loop:
        ok &= bench_loop(args)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
