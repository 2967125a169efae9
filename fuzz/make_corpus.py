#!/usr/bin/env python3
"""Writes the committed seed corpus fuzz/corpus/<target>/ (deterministic; rerun after changing
the input layout of a harness). The layouts follow the decoders in fuzz_common.h and each
harness: 8 option bytes, then the harness's shape bytes, then values."""
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def opts(null=0, solver=0, precision=0, metric=0, threads=1, acc=0, finish=0, reserved=0):
    # fz_options: use_null, solver, precision, metric, num_threads, accuracy, exact_finish, reserved
    return bytes([null, solver, precision, metric, threads, acc, finish, reserved])


def moderate(v):
    """A moderate float (multiple of 1/256 in [-128, 128)): selector 255 then int16 * 256."""
    return bytes([255]) + struct.pack("<h", int(round(v * 256)))


def special(sel, k=0):
    """An adversarial float: selector (0..15, see fz_float) and its parameter byte."""
    return bytes([sel, k])


def dmod(v):
    """A moderate double for fz_double: selector 255 then int16 = v * 64."""
    return bytes([255]) + struct.pack("<h", int(round(v * 64)))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def mat(rng, n, lo=-8, hi=8):
    return b"".join(moderate(rng.randint(lo * 16, hi * 16) / 16) for _ in range(n))


def main():
    rng = random.Random(20240901)

    # fuzz_lap: options, shape (rows = b % 9), extra (cols = rows + e % (9 - rows)), nulls, costs
    write("fuzz_lap", "exact_3x3", opts() + bytes([3, 0, 0]) + mat(rng, 9))
    write("fuzz_lap", "auction_4x4", opts(solver=1) + bytes([4, 0, 0]) + mat(rng, 16))
    write("fuzz_lap", "auction_finish_5x5", opts(solver=1, finish=1) + bytes([5, 0, 0]) + mat(rng, 25))
    write("fuzz_lap", "auction_8x8_acc", opts(solver=1, acc=66) + bytes([8, 0, 0]) + mat(rng, 64, 0, 2))
    write("fuzz_lap", "rect_3x6", opts() + bytes([3, 3, 0]) + mat(rng, 18))
    write("fuzz_lap", "rect_7x8_auction", opts(solver=1) + bytes([7, 1, 0]) + mat(rng, 56))
    write("fuzz_lap", "huge_tiny_4x4", opts(solver=1) + bytes([4, 0, 0]) +
          b"".join(special(s, k) for s, k in [(3, 0x40), (5, 1), (2, 0), (7, 3)] * 4))
    write("fuzz_lap", "ties_6x6", opts(solver=1, threads=3) + bytes([6, 0, 0]) + moderate(1.0) + special(10) * 35)
    write("fuzz_lap", "nan_2x2", opts() + bytes([2, 0, 0]) + moderate(1) + special(15, 7) + mat(rng, 2))
    write("fuzz_lap", "bad_accuracy", opts(solver=1, acc=132) + bytes([2, 0, 0]) + mat(rng, 4))
    write("fuzz_lap", "null_outputs", opts(solver=1) + bytes([3, 0, 7]) + mat(rng, 9))
    write("fuzz_lap", "empty", opts() + bytes([0, 5, 0]))

    # fuzz_certify: shape, extra, mode, flags, costs, assignment bytes, potentials
    def cert(rows, extra, mode, flags, costs, tail):
        return bytes([rows, extra, mode, flags]) + costs + tail
    write("fuzz_certify", "raw_3x3", cert(3, 0, 0, 0, mat(rng, 9), bytes([0, 0, 0]) + b"".join(dmod(rng.randint(-64, 64) / 8) for _ in range(6))))
    write("fuzz_certify", "solver_4x4", cert(4, 0, 2, 0, mat(rng, 16), bytes([1, 2, 0, 0])))
    write("fuzz_certify", "solver_shift_1e300_4x4", cert(4, 0, 6, 0, mat(rng, 16), bytes([0, 0, 0, 0]) + bytes([1, 0])))
    write("fuzz_certify", "solver_other_assign_3x5", cert(3, 2, 2 | 8, 0, mat(rng, 15), bytes([2, 1, 0])))
    write("fuzz_certify", "huge_v_3x3", cert(3, 0, 3, 0, mat(rng, 9), bytes([1, 0, 0]) + bytes([1, 0]) + bytes([0, 1, 2])))
    write("fuzz_certify", "zero_reduced_2x4", cert(2, 2, 1, 0, mat(rng, 8), bytes([3, 1]) + b"".join(dmod(x) for x in [0, 1, -2, 3])))
    write("fuzz_certify", "invalid_assign", cert(3, 0, 0, 0x7e, mat(rng, 9), bytes([0, 0, 0])))
    write("fuzz_certify", "nan_cost", cert(2, 0, 0, 0x80, moderate(1) + special(15, 6) + mat(rng, 2), bytes([0, 0])))

    # fuzz_distance: options, n, m, dim, flags, scale, near, values
    def dist(o, n, m, dim, scale=0, near=0, vals=b""):
        return o + bytes([n - 1, m - 1, dim - 1, 0, scale, near]) + vals
    for prec, name in enumerate(["fp32", "fp16", "int8", "bf16"]):
        for metric in (0, 1):
            n, m, dim = rng.randint(1, 4), rng.randint(1, 4), rng.randint(1, 40)
            write("fuzz_distance", f"{name}_{'l2' if metric == 0 else 'sql2'}",
                  dist(opts(precision=prec, metric=metric), n, m, dim, vals=mat(rng, (n + m) * dim, -4, 4)))
    write("fuzz_distance", "near_rows", dist(opts(), 3, 3, 33, near=0x07, vals=mat(rng, 99, -4, 4) + bytes([2, 5, 9])))
    write("fuzz_distance", "scaled_huge", dist(opts(), 2, 2, 8, scale=251, vals=mat(rng, 32, -4, 4)))
    write("fuzz_distance", "scaled_tiny", dist(opts(precision=3), 2, 2, 8, scale=210, vals=mat(rng, 32, -4, 4)))
    write("fuzz_distance", "fp16_edge", dist(opts(precision=1), 1, 2, 2, vals=special(12, 0) + special(12, 2) + mat(rng, 4)))

    # fuzz_assign: options, api (0 assign, 1 pool, 2 knn), batch, dim, flags, extra, values
    def asg(o, api, batch, dim, extra=0, flags=0):
        rows = [batch, batch + extra, batch * (1 + extra % 4)][api]  # noise / pool / candidates
        return o + bytes([api, batch - 1, dim - 1, flags, extra]) + mat(rng, (batch + rows) * dim, -4, 4)
    write("fuzz_assign", "assign_exact", asg(opts(), 0, 4, 8))
    write("fuzz_assign", "assign_auction_sql2", asg(opts(solver=1, metric=1), 0, 6, 5))
    write("fuzz_assign", "assign_int8_noperm", asg(opts(precision=2), 0, 3, 16, flags=3))
    write("fuzz_assign", "pool_bf16", asg(opts(precision=3), 1, 3, 6, extra=2))
    write("fuzz_assign", "pool_square", asg(opts(), 1, 4, 4, extra=0))
    write("fuzz_assign", "knn_k3", asg(opts(), 2, 3, 7, extra=2))
    write("fuzz_assign", "knn_k1", asg(opts(precision=1), 2, 2, 3, extra=0))


if __name__ == "__main__":
    main()
