#!/usr/bin/python3
"""matrix_facts.py - the measurements of docs/solver.md: what image-noise cost matrices look like.

Fashion-MNIST images (Debian's dataset-fashion-mnist; smooth synthetic images when it is absent)
padded to 3x32x32 in [-1, 1], against N(0, 1) noise, Euclidean costs, B = 1024 and 2048, fixed
seed. Prints the mean cost, the identity and optimal pairings' mean costs, the spread of the
column means and of the residual, and the rank of each row's optimal column in that row, on raw
costs and after subtracting each column's mean. Needs numpy and the installed package.
"""
import gzip
import os

import numpy as np

import immiscible

MNIST = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


def images(count, rng):
    """count rows of 3 x 32 x 32 values in [-1, 1]."""
    if os.path.exists(MNIST):
        raw = gzip.open(MNIST).read()
        all_imgs = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 28, 28)
        sel = all_imgs[rng.choice(len(all_imgs), count, replace=False)]
        sel = sel.astype(np.float32) / 127.5 - 1.0
    else:  # synthetic: smooth random patterns
        grid = np.linspace(0.0, 2.0 * np.pi, 28)
        freq = rng.uniform(0.5, 3.0, (count, 2, 1, 1))
        sel = np.sin(freq[:, 0] * grid[None, :, None]) * np.cos(freq[:, 1] * grid[None, None, :])
        sel = sel.astype(np.float32)
    x = np.full((count, 32, 32), -1.0, np.float32)
    x[:, 2:30, 2:30] = sel
    return np.repeat(x[:, None], 3, axis=1).reshape(count, -1)


def optimal_ranks(costs, rows, cols):
    """Rank of each row's optimal column among that row's costs (0 = its cheapest)."""
    chosen = costs[rows, cols]
    return (costs < chosen[:, None]).sum(axis=1)


def main():
    rng = np.random.default_rng(7)
    for batch in (1024, 2048):
        x = images(batch, rng)
        noise = rng.standard_normal((batch, x.shape[1])).astype(np.float32)
        d2 = (x * x).sum(1)[:, None] + (noise * noise).sum(1)[None, :] - 2.0 * x @ noise.T
        costs = np.sqrt(np.maximum(d2, 0.0)).astype(np.float32)
        rows, cols = immiscible.linear_sum_assignment(costs)
        identity, optimum = np.trace(costs) / batch, costs[rows, cols].mean()
        centred = costs - costs.mean(axis=0)[None, :]
        raw, cen = optimal_ranks(costs, rows, cols), optimal_ranks(centred, rows, cols)
        print(f"B = {batch}: mean cost {costs.mean():.2f}; identity {identity:.2f} -> optimum "
              f"{optimum:.2f} ({100.0 * (identity - optimum) / identity:.2f} % lower)")
        print(f"  column means sd {costs.mean(axis=0).std():.2f}, residual sd "
              f"{centred.std(axis=1).mean():.2f}")
        for name, r in (("raw costs", raw), ("after column means", cen)):
            print(f"  rank of the optimum, {name}: median {np.median(r):.0f}, 99th percentile "
                  f"{np.percentile(r, 99):.0f}, max {r.max()}")


if __name__ == "__main__":
    main()
