"""immiscible.torch.distributed over gloo, with 2 and 3 processes on the loopback interface
(one interpreter per rank).

Every process builds the whole global batch from a seed, calls the distributed assign_noise on
its own slice, and runs the single-process immiscible.torch.assign_noise on the concatenation
itself: its rows and perm must be bitwise that result's. Error cases put the fault on one rank
and check that every rank raises the same exception class. A worker never stops at a failed
check (the others would wait in a collective): it records the failure, and the parent reads
every rank's record.
"""

import datetime
import json
import os
import socket
import subprocess
import sys
import traceback

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available():  # pragma: no cover
    pytest.skip("torch.distributed is not available", allow_module_level=True)

import immiscible  # noqa: E402


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bits(t):
    """A tensor's bytes, for bitwise comparison (-0.0 vs 0.0, NaN payloads)."""
    t = t.detach().contiguous()
    return t.view(torch.uint8) if t.numel() else t


def _counts(batch, size, kind, seed):
    if kind == "even":
        return [batch // size + (r < batch % size) for r in range(size)]
    if kind == "zeros":  # rank 0 (the solver) and the other even ranks hold nothing
        holders = [r for r in range(size) if r % 2 == 1]
        c = [0] * size
        for i in range(batch):
            c[holders[i % len(holders)]] += 1
        return c
    if kind == "last":
        return [0] * (size - 1) + [batch]
    g = torch.Generator().manual_seed(seed)
    c = [0] * size
    for r in torch.randint(0, size, (batch,), generator=g).tolist():
        c[r] += 1
    return c


def _problem(batch, shape, seed, x_dtype=torch.float32, n_dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand((batch,) + shape, generator=g) * 2 - 1).to(x_dtype)
    noise = torch.randn((batch,) + shape, generator=g).to(n_dtype)
    return x, noise


class _Checker:
    def __init__(self, rank):
        self.rank, self.failures = rank, []

    def check(self, cond, what):
        if not cond:
            self.failures.append(f"rank {self.rank}: {what}")

    def run(self, what, fn):
        try:
            fn()
        except Exception:  # noqa: BLE001 - recorded, the worker goes on
            self.failures.append(f"rank {self.rank}: {what}: {traceback.format_exc()}")


def _compare(c, what, group_rank, size, counts, x, noise, group=None, **kw):
    """The distributed call on this rank's slice against the single-process call."""
    import immiscible.torch as imt
    from immiscible.torch import distributed as imd
    off = sum(counts[:group_rank])
    n = counts[group_rank]
    ref, ref_perm = imt.assign_noise(x, noise, **kw)
    got, perm = imd.assign_noise(x[off:off + n], noise[off:off + n], group, **kw)
    c.check(got.shape == noise[off:off + n].shape and got.dtype == noise.dtype,
            f"{what}: shape / dtype")
    c.check(torch.equal(_bits(got), _bits(ref[off:off + n])), f"{what}: rows differ")
    c.check(torch.equal(perm, ref_perm[off:off + n]), f"{what}: perm differs")
    c.check(perm.dtype == torch.int64, f"{what}: perm dtype")


def _expect_raise(c, what, exc_type, fn):
    try:
        fn()
    except exc_type:
        return
    except Exception as exc:  # noqa: BLE001
        c.failures.append(f"rank {c.rank}: {what}: raised {type(exc).__name__}: {exc}")
        return
    c.failures.append(f"rank {c.rank}: {what}: no exception")


def _worker(rank, size, port, out_dir):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=size,
                            timeout=datetime.timedelta(seconds=120))
    from immiscible.torch import distributed as imd
    c = _Checker(rank)
    cases = 0

    # Library path: every precision, both solvers, both metrics, uneven splits with empty ranks.
    for i, (precision, solver, kind) in enumerate(
            [(p, s, k) for p in ("fp32", "fp16", "bf16", "int8") for s in ("exact", "auction")
             for k in ("even", "random", "zeros", "last")]):
        batch = (37, 64, 5, 90)[i % 4]
        x, noise = _problem(batch, (3, 4, 5), 100 + i)
        counts = _counts(batch, size, kind, i)
        metric = ("l2", "sql2")[i % 2]
        c.run(f"library {precision} {solver} {kind}", lambda: _compare(
            c, f"library {precision} {solver} {metric} {kind} {counts}", rank, size, counts,
            x, noise, solver=solver, precision=precision, metric=metric))
        cases += 1

    # Other dtypes: rows move bitwise in their own dtype (float64 noise, bfloat16 noise).
    for n_dtype in (torch.float64, torch.bfloat16):
        x, noise = _problem(41, (16,), 7, x_dtype=torch.float16, n_dtype=n_dtype)
        counts = _counts(41, size, "random", 3)
        c.run(f"dtype {n_dtype}", lambda: _compare(c, f"dtype {n_dtype}", rank, size, counts,
                                                   x, noise))
        cases += 1

    # The torch path (distance="torch" runs the CUDA code path on CPU tensors).
    for precision in ("fp32", "fp16", "bf16"):
        x, noise = _problem(50, (2, 3, 3), 55)
        counts = _counts(50, size, "random", 9)
        c.run(f"torch {precision}", lambda: _compare(
            c, f"torch path {precision}", rank, size, counts, x, noise, distance="torch",
            precision=precision))
        cases += 1

    # Huge values: the library's prescale, handled by the gathered route.
    x, noise = _problem(30, (8,), 31)
    x[4, 2] = 3e18
    noise[17, 5] = -2e18
    counts = _counts(30, size, "random", 4)
    for precision in ("fp32", "bf16"):
        c.run(f"prescaled {precision}", lambda: _compare(
            c, f"prescaled {precision}", rank, size, counts, x, noise, precision=precision))
        cases += 1

    # Ties: repeated rows make equal costs; the same matrix gives the same tie-breaks.
    x, noise = _problem(24, (6,), 12)
    x[1::2] = x[::2].clone()
    noise[1::2] = noise[::2].clone()
    counts = _counts(24, size, "even", 0)
    c.run("ties", lambda: _compare(c, "ties", rank, size, counts, x, noise))
    cases += 1

    # An empty global batch.
    def empty():
        got, perm = imd.assign_noise(torch.zeros(0, 4), torch.zeros(0, 4))
        c.check(got.shape == (0, 4) and perm.shape == (0,), "empty batch")
    c.run("empty", empty)

    # A subgroup whose rank 0 is not global rank 0.
    if size >= 3:
        sub = dist.new_group([1, 2])
        if rank in (1, 2):
            x, noise = _problem(20, (5,), 77)
            counts = [8, 12]
            c.run("subgroup", lambda: _compare(c, "subgroup", rank - 1, 2, counts, x, noise,
                                               group=sub))
        cases += 1

    # Errors: the fault on one rank, the same exception class everywhere.
    last = size - 1
    x, noise = _problem(12, (4,), 5)
    counts = _counts(12, size, "even", 0)
    off, n = sum(counts[:rank]), counts[rank]
    xs, ns = x[off:off + n].clone(), noise[off:off + n].clone()
    before = ns.clone()

    def bad(fault):
        xx, nn, kw = xs, ns, {}
        if rank == last:
            if fault == "nan":
                xx = xs.clone()
                xx[0, 0] = float("nan")
            elif fault == "dim":
                xx, nn = xs[:, :3], ns[:, :3]
            elif fault == "precision":
                kw = {"precision": "bf16"}
            elif fault == "type":
                xx = xs.numpy()
            elif fault == "fp16":
                nn = ns.clone()
                nn[0, 1] = 70000.0
                kw = {"precision": "fp16"}
        if fault == "fp16" and rank != last:
            kw = {"precision": "fp16"}
        imd.assign_noise(xx, nn, **kw)

    for fault, exc in (("nan", immiscible.NonFiniteError), ("dim", ValueError),
                       ("precision", ValueError), ("type", TypeError),
                       ("fp16", immiscible.NonFiniteError)):
        _expect_raise(c, f"error {fault}", exc, lambda: bad(fault))
        c.check(torch.equal(ns, before), f"error {fault}: noise modified")
        cases += 1

    dist.barrier()
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump({"failures": c.failures, "cases": cases}, f)
    dist.destroy_process_group()


def _spawn(size, port, out_dir):
    """One fresh interpreter per rank running _worker (plain subprocesses: multiprocessing's
    spawn would re-import the runner script as the children's __main__)."""
    here = os.path.dirname(os.path.abspath(__file__))
    code = (f"import sys; sys.path.insert(0, {here!r}); import test_distributed as t; "
            f"t._worker(int(sys.argv[1]), {size}, {port}, {out_dir!r})")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(r)], cwd=out_dir)
             for r in range(size)]
    try:
        codes = [p.wait(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert codes == [0] * size, f"worker exit codes {codes}"


@pytest.mark.parametrize("size", [2, 3])
def test_gloo_bitwise_and_errors(size, tmp_path):
    _spawn(size, _free_port(), str(tmp_path))
    failures = []
    for rank in range(size):
        with open(tmp_path / f"rank{rank}.json") as f:
            record = json.load(f)
        failures += record["failures"]
        assert record["cases"] > 40
    assert not failures, "\n".join(failures)


def test_not_initialised():
    from immiscible.torch import distributed as imd
    if dist.is_initialized():  # pragma: no cover
        pytest.skip("a process group is already initialised")
    with pytest.raises(RuntimeError, match="not initialised"):
        imd.assign_noise(torch.zeros(2, 3), torch.zeros(2, 3))


def test_docstring(monkeypatch):
    """The module's example (a one-process gloo group), on a free port."""
    import doctest

    from immiscible.torch import distributed as imd
    if dist.is_initialized():  # pragma: no cover
        pytest.skip("a process group is already initialised")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(_free_port()))
    result = doctest.testmod(imd, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
