#!/usr/bin/python3
"""train_ddpm.py - a small UNet DDPM on Fashion-MNIST, with immiscible noise.

The one line that changes in the training loop is where the noise comes from:

    noise = torch.randn_like(x)          # --noise vanilla
    noise = imm(x)                       # --noise assign | knn  (imm = ImmiscibleNoise(...))

Images come from Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/, read with
gzip + numpy), padded to 32 x 32 and scaled to [-1, 1]; without it, synthetic smooth images.
Each logged step prints the step time and the time the loop spent getting the noise (for
assign/knn: the assignment, or with --prefetch the wait for the background result), and the
end prints their medians and the overhead share.

With --compare it trains vanilla, assign and knn from each of --seeds N seeds (model init, data
order, diffusion times and noise all derived from the seed; every mode of a seed sees the same
batches and times), scores DDIM samples of the EMA weights at --evals checkpoints by their
Frechet distance to the test set in PCA space (the metric of examples/ddpm), and prints the
report of examples/ddpm's `imm-ddpm --compare --seeds N` (seedstats.py): mean +- sd and 95 %
t-intervals per checkpoint, paired differences to vanilla, one verdict per checkpoint from the
interval, steps to reach vanilla's final FD, time per step. It writes OUT/compare.csv (the
format of imm-ddpm's) and, with matplotlib, OUT/compare-fd.png.

Usage: train_ddpm.py [--noise vanilla|assign|knn] [--k 4] [--device cpu|cuda] [--steps N]
                     [--batch B] [--prefetch] [--lr LR] [--seed S] [--data DIR] [--synthetic]
                     [--log-every N] [--threads N] [--ema D]
                     [--compare] [--seeds N] [--evals N] [--eval-samples N] [--ddim-steps N]
                     [--pca N] [--out DIR]

Exit status 77 (skipped) when PyTorch is not installed.
"""

import argparse
import copy
import gzip
import math
import os
import statistics
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as exc:
    print(f"train_ddpm.py: needs PyTorch and numpy ({exc}); skipping "
          "(Debian: apt-get install python3-torch)", file=sys.stderr)
    sys.exit(77)

from immiscible.torch import ImmiscibleNoise

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seedstats  # noqa: E402  (next to this script)

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"


# ---- data ------------------------------------------------------------------------------------

def read_idx_images(path):
    """uint8 array (n, rows, cols) from an IDX3 .gz file."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n, rows, cols = np.frombuffer(raw[:16], dtype=">u4")
    if magic != 2051:
        raise ValueError(f"{path}: not an IDX3 image file (magic {magic})")
    return np.frombuffer(raw[16:16 + n * rows * cols], dtype=np.uint8).reshape(n, rows, cols)


def synthetic_images(n, seed):
    """Smooth random images in [0, 255], 28 x 28: the fallback without the dataset."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(n, 1, 5, 5, generator=g)
    img = torch.sigmoid(2 * F.interpolate(coarse, size=(28, 28), mode="bicubic",
                                          align_corners=False))
    return (img[:, 0] * 255).numpy().astype(np.uint8)


def load_images(args, split="train"):
    """(n, 1, 32, 32) float32 tensor in [-1, 1] and a description of its source. split "test"
    reads t10k (the metric's reference); the synthetic test images use another seed."""
    name = "train-images-idx3-ubyte.gz" if split == "train" else "t10k-images-idx3-ubyte.gz"
    path = os.path.join(args.data, name)
    if not args.synthetic and os.path.exists(path):
        raw, source = read_idx_images(path), path
    else:
        n, seed = (6000, args.seed) if split == "train" else (2000, args.seed + 1000003)
        raw, source = synthetic_images(n, seed), "synthetic images"
    x = torch.from_numpy(raw.astype(np.float32) / 127.5 - 1.0)[:, None]
    return F.pad(x, (2, 2, 2, 2), value=-1.0), source


# ---- model -------------------------------------------------------------------------------------

def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, tdim):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(tdim, cout)
        self.norm2 = nn.GroupNorm(8, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(temb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class UNet(nn.Module):
    """32 x 32 -> 16 -> 8 and back, one ResBlock per level, skip connections."""

    def __init__(self, ch=32, tdim=128):
        super().__init__()
        self.tdim = tdim
        self.tmlp = nn.Sequential(nn.Linear(tdim, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        self.inp = nn.Conv2d(1, ch, 3, padding=1)
        self.down1 = ResBlock(ch, ch, tdim)
        self.down2 = ResBlock(ch, 2 * ch, tdim)
        self.mid = ResBlock(2 * ch, 2 * ch, tdim)
        self.up2 = ResBlock(4 * ch, ch, tdim)
        self.up1 = ResBlock(2 * ch, ch, tdim)
        self.out = nn.Sequential(nn.GroupNorm(8, ch), nn.SiLU(), nn.Conv2d(ch, 1, 3, padding=1))

    def forward(self, x, t):
        temb = self.tmlp(timestep_embedding(t, self.tdim))
        h0 = self.down1(self.inp(x), temb)                 # 32 x 32
        h1 = self.down2(F.avg_pool2d(h0, 2), temb)         # 16 x 16
        h = self.mid(F.avg_pool2d(h1, 2), temb)            # 8 x 8
        h = self.up2(torch.cat([F.interpolate(h, scale_factor=2.0), h1], 1), temb)
        h = self.up1(torch.cat([F.interpolate(h, scale_factor=2.0), h0], 1), temb)
        return self.out(h)


# ---- the metric: Frechet distance in PCA space (as examples/ddpm/frechet.c) -------------------

class FrechetPCA:
    """FD = |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2) between Gaussians fitted to
    the projections of two image sets on the top-k principal components of (up to 10000)
    training images: FID with PCA in place of Inception. Images are scored on their central
    28 x 28 pixels in [-1, 1] (the padding is constant), in float64 numpy. Lower is better; like
    FID it is biased upward at small sample sizes, so `floor` is the FD of as many real training
    images as the evaluation draws samples."""

    def __init__(self, train, test, k, n_samples, seed):
        fit = self.flat(train[:10000])
        self.mean = fit.mean(0)
        cov = np.cov(fit - self.mean, rowvar=False)
        evals, evecs = np.linalg.eigh(cov)
        self.basis = evecs[:, ::-1][:, :k]               # largest variance first
        self.ref = self.stats(test)
        rng = np.random.default_rng(seed)
        subset = train[torch.from_numpy(rng.integers(0, train.shape[0], n_samples))]
        self.floor = self.distance(subset)

    @staticmethod
    def flat(images):
        return images[:, 0, 2:30, 2:30].reshape(images.shape[0], -1).double().cpu().numpy()

    def stats(self, images):
        z = (self.flat(images) - self.mean) @ self.basis
        return z.mean(0), np.cov(z, rowvar=False)

    def distance(self, images):
        mu, cov = self.stats(images)
        mu_r, cov_r = self.ref
        w, v = np.linalg.eigh(cov)
        root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T      # cov^1/2
        inner = np.linalg.eigvalsh(root @ cov_r @ root)
        return float(((mu - mu_r) ** 2).sum() + np.trace(cov) + np.trace(cov_r)
                     - 2 * np.sqrt(np.clip(inner, 0, None)).sum())


@torch.no_grad()
def ddim_sample(model, n, steps, alpha_bar, gen, device, chunk=500):
    """n deterministic DDIM samples (trailing time steps, x0 clipped to [-1, 1]) from noise drawn
    with gen (on the CPU, so that every device gets the same starting noise)."""
    n_t = alpha_bar.shape[0]
    out = []
    for start in range(0, n, chunk):
        rows = min(chunk, n - start)
        x = torch.randn((rows, 1, 32, 32), generator=gen).to(device)
        for i in range(steps - 1, -1, -1):
            t = round((i + 1) * n_t / steps) - 1
            t_prev = round(i * n_t / steps) - 1 if i > 0 else -1
            ab = alpha_bar[t]
            ab_prev = alpha_bar[t_prev] if t_prev >= 0 else torch.ones((), device=device)
            eps = model(x, torch.full((rows,), t, device=device, dtype=torch.long))
            x0 = ((x - (1 - ab).sqrt() * eps) / ab.sqrt()).clamp(-1, 1)
            e = (x - ab.sqrt() * x0) / (1 - ab).sqrt()
            x = ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * e
        out.append(x.cpu())
    return torch.cat(out)


# ---- training ----------------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--noise", choices=["vanilla", "assign", "knn"], default="assign")
    p.add_argument("--k", type=int, default=4, help="candidates per image for --noise knn")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--prefetch", action="store_true",
                   help="assign the next batch's noise on a background thread (submit())")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--ema", type=float, default=0.999, help="EMA decay of the sampled weights")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=DEFAULT_DATA, help="directory of the Fashion-MNIST .gz files")
    p.add_argument("--synthetic", action="store_true", help="use synthetic images")
    p.add_argument("--log-every", type=int, default=0, help="default: steps / 10")
    p.add_argument("--threads", type=int, default=None, help="library threads (default: OpenMP's)")
    g = p.add_argument_group("comparison and evaluation")
    g.add_argument("--compare", action="store_true",
                   help="train vanilla, assign and knn from the same seeds and print the report")
    g.add_argument("--seeds", type=int, default=None,
                   help="seeds seed .. seed+N-1 per mode (default 3 with --compare, else 1)")
    g.add_argument("--evals", type=int, default=None,
                   help="FD checkpoints, evenly spaced (default 4 with --compare or --seeds, "
                        "else 0)")
    g.add_argument("--eval-samples", type=int, default=1000, help="DDIM samples per checkpoint")
    g.add_argument("--ddim-steps", type=int, default=25)
    g.add_argument("--pca", type=int, default=32, help="principal components of the metric")
    g.add_argument("--out", default="ddpm-torch-out", help="compare.csv and compare-fd.png go here")
    args = p.parse_args(argv)
    if args.seeds is None:
        args.seeds = 3 if args.compare else 1
    if args.evals is None:
        args.evals = 4 if args.compare or args.seeds > 1 else 0
    for name, lo in (("steps", 1), ("batch", 1), ("seeds", 1), ("evals", 0), ("eval_samples", 2),
                     ("ddim_steps", 1), ("pca", 1), ("k", 1)):
        if getattr(args, name) < lo:
            p.error(f"--{name.replace('_', '-')} must be at least {lo}")
    if args.evals > args.steps:
        p.error("--evals must not exceed --steps")
    if args.pca > 784:
        p.error("--pca must not exceed 784")
    return args


def train_one(args, mode, seed, data, metric, device):
    """One run: returns dict(fd=[...], final_loss, ms_step, assign_ms) and the checkpoint steps.
    Streams: 8*seed + 0 model init, +1 data order, +2 diffusion times, +3 noise, +4 samples."""
    torch.manual_seed(8 * seed)
    model = UNet().to(device)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    n_t = 1000
    betas = torch.linspace(1e-4, 0.02, n_t, device=device)
    alpha_bar = torch.cumprod(1 - betas, 0)
    gen_data = torch.Generator(device=device).manual_seed(8 * seed + 1)
    gen_time = torch.Generator(device=device).manual_seed(8 * seed + 2)
    gen = torch.Generator(device=device).manual_seed(8 * seed + 3)
    imm = None
    if mode != "vanilla":
        imm = ImmiscibleNoise(mode, k=args.k, threads=args.threads, generator=gen)

    def next_batch():
        idx = torch.randint(0, data.shape[0], (args.batch,), device=device, generator=gen_data)
        return data[idx]

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    eval_steps = [args.steps * (i + 1) // args.evals for i in range(args.evals)]
    fds = []
    tag = f"[{mode:7s} seed {seed}]" if args.compare or args.seeds > 1 else ""
    log_every = args.log_every or max(1, args.steps // 10)
    prefetch = args.prefetch and imm is not None
    x_next = next_batch()
    pending = imm.submit(x_next) if prefetch else None
    step_ms, noise_ms, losses = [], [], []
    for step in range(1, args.steps + 1):
        sync()
        t0 = time.perf_counter()
        x = x_next
        if imm is None:
            noise = torch.randn(x.shape, generator=gen, device=device)
        elif prefetch:
            noise = pending.result()
            x_next = next_batch()
            pending = imm.submit(x_next) if step < args.steps else None
        else:
            noise = imm(x)
        t1 = time.perf_counter()
        if not prefetch:
            x_next = next_batch()
        t = torch.randint(0, n_t, (x.shape[0],), device=device, generator=gen_time)
        ab = alpha_bar[t][:, None, None, None]
        xt = ab.sqrt() * x + (1 - ab).sqrt() * noise
        loss = F.mse_loss(model(xt, t), noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        decay = min(args.ema, (1 + step) / (10 + step))   # warm-started, as in examples/ddpm
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - decay)
        sync()
        t2 = time.perf_counter()
        step_ms.append(1e3 * (t2 - t0))
        noise_ms.append(1e3 * (t1 - t0))
        losses.append(loss.item())
        if step % log_every == 0 or step == args.steps:
            print(f"{tag}step {step:5d}  loss {losses[-1]:.4f}  step {step_ms[-1]:7.1f} ms  "
                  f"noise {noise_ms[-1]:6.2f} ms ({100 * noise_ms[-1] / step_ms[-1]:4.1f} %)",
                  flush=True)
        if step in eval_steps:
            t_eval = time.perf_counter()
            gen_eval = torch.Generator().manual_seed(8 * seed + 4)   # same start for every mode
            samples = ddim_sample(ema, args.eval_samples, args.ddim_steps, alpha_bar, gen_eval,
                                  device)
            fds.append(metric.distance(samples))
            print(f"{tag}step {step:5d}  FD {fds[-1]:.4f}  ({args.eval_samples} DDIM-"
                  f"{args.ddim_steps} samples, {time.perf_counter() - t_eval:.1f} s)", flush=True)
    if imm is not None:
        imm.close()
    tail = losses[len(losses) - (len(losses) + 9) // 10:]
    med_step, med_noise = statistics.median(step_ms), statistics.median(noise_ms)
    print(f"{tag}median over {args.steps} steps: step {med_step:.1f} ms, getting the noise "
          f"{med_noise:.2f} ms ({100 * med_noise / med_step:.1f} % of the step)", flush=True)
    return dict(fd=fds, final_loss=sum(tail) / len(tail), ms_step=med_step,
                assign_ms=med_noise), eval_steps


def main(argv=None):
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("train_ddpm.py: --device cuda but CUDA is not available", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    data, source = load_images(args)
    modes = ["vanilla", "assign", "knn"] if args.compare else [args.noise]
    seeds = [args.seed + i for i in range(args.seeds)]
    metric = None
    if args.evals > 0:
        test, _ = load_images(args, "test")
        metric = FrechetPCA(data, test, args.pca, args.eval_samples, args.seed)
        print(f"metric: FD in the top-{args.pca} PCA space against {test.shape[0]} test images; "
              f"floor ({args.eval_samples} real training images) {metric.floor:.4f}")
    data = data.to(device)
    print(f"data: {data.shape[0]} images from {source}; device {device}; noise "
          f"{', '.join(modes)}{f' (k={args.k})' if 'knn' in modes else ''}"
          f"{'; prefetch' if args.prefetch else ''}; seeds {seeds[0]}..{seeds[-1]}", flush=True)

    study = None
    for seed in seeds:                 # seed by seed: an interrupted study keeps whole seeds
        for mode in modes:
            result, eval_steps = train_one(args, mode, seed, data, metric, device)
            if study is None:
                study = seedstats.Study(modes, seeds, eval_steps, args.k)
            if args.evals > 0:
                study.add(mode, seed, **result)
    if args.evals == 0:
        return 0
    study.report()
    print(f"\nFD: Frechet distance to the test set in the top-{args.pca} PCA space of the training "
          f"set, {args.eval_samples} DDIM-{args.ddim_steps} samples from the EMA weights (lower "
          f"is better).\nFloor ({args.eval_samples} real training images instead of samples): "
          f"{metric.floor:.4f}.\nms/step and assignment ms: medians over the steps; \"assignment"
          "\" is the time the loop spent getting the noise (drawing it, and assigning it).")
    if len(modes) > 1 or len(seeds) > 1:
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "compare.csv")
        study.write_csv(path)
        print(f"Per seed x mode x checkpoint: {path}")
        png = os.path.join(args.out, "compare-fd.png")
        if study.plot(png, f"{source}; UNet, batch {args.batch}, lr {args.lr}; {device}"):
            print(f"Plot: {png}")
        else:
            print("No plot: matplotlib is not installed (Debian: python3-matplotlib)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
