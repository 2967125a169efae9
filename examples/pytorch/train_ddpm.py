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

Usage: train_ddpm.py [--noise vanilla|assign|knn] [--k 4] [--device cpu|cuda] [--steps N]
                     [--batch B] [--prefetch] [--lr LR] [--seed S] [--data DIR] [--synthetic]
                     [--log-every N] [--threads N]

Exit status 77 (skipped) when PyTorch is not installed.
"""

import argparse
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


def load_images(args):
    """(n, 1, 32, 32) float32 tensor in [-1, 1] and a description of its source."""
    path = os.path.join(args.data, "train-images-idx3-ubyte.gz")
    if not args.synthetic and os.path.exists(path):
        raw, source = read_idx_images(path), path
    else:
        raw, source = synthetic_images(6000, args.seed), "synthetic images"
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
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=DEFAULT_DATA, help="directory of the Fashion-MNIST .gz files")
    p.add_argument("--synthetic", action="store_true", help="use synthetic images")
    p.add_argument("--log-every", type=int, default=0, help="default: steps / 10")
    p.add_argument("--threads", type=int, default=None, help="library threads (default: OpenMP's)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("train_ddpm.py: --device cuda but CUDA is not available", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    data, source = load_images(args)
    data = data.to(device)
    print(f"data: {data.shape[0]} images from {source}; device {device}; noise {args.noise}"
          f"{f' (k={args.k})' if args.noise == 'knn' else ''}"
          f"{'; prefetch' if args.prefetch and args.noise != 'vanilla' else ''}")

    model = UNet().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    n_t = 1000
    betas = torch.linspace(1e-4, 0.02, n_t, device=device)
    alpha_bar = torch.cumprod(1 - betas, 0)
    gen = torch.Generator(device=device).manual_seed(args.seed + 1)
    imm = None
    if args.noise != "vanilla":
        imm = ImmiscibleNoise(args.noise, k=args.k, threads=args.threads, generator=gen)

    def next_batch():
        idx = torch.randint(0, data.shape[0], (args.batch,), device=device, generator=gen)
        return data[idx]

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    log_every = args.log_every or max(1, args.steps // 10)
    prefetch = args.prefetch and imm is not None
    x_next = next_batch()
    pending = imm.submit(x_next) if prefetch else None
    step_ms, noise_ms = [], []
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
        t = torch.randint(0, n_t, (x.shape[0],), device=device, generator=gen)
        ab = alpha_bar[t][:, None, None, None]
        xt = ab.sqrt() * x + (1 - ab).sqrt() * noise
        loss = F.mse_loss(model(xt, t), noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sync()
        t2 = time.perf_counter()
        step_ms.append(1e3 * (t2 - t0))
        noise_ms.append(1e3 * (t1 - t0))
        if step % log_every == 0 or step == args.steps:
            print(f"step {step:5d}  loss {loss.item():.4f}  step {step_ms[-1]:7.1f} ms  "
                  f"noise {noise_ms[-1]:6.2f} ms ({100 * noise_ms[-1] / step_ms[-1]:4.1f} %)")
    if imm is not None:
        imm.close()
    med_step, med_noise = statistics.median(step_ms), statistics.median(noise_ms)
    print(f"median over {args.steps} steps: step {med_step:.1f} ms, getting the noise "
          f"{med_noise:.2f} ms ({100 * med_noise / med_step:.1f} % of the step)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
