"""Global-batch noise assignment over ``torch.distributed``: :func:`assign_noise`.

Every rank of a process group holds a slice of the global batch. :func:`assign_noise` assigns
the noise over the whole batch -- the concatenation, in rank order, of every rank's rows -- and
gives every rank its own rows of the result: bitwise the rows :func:`immiscible.torch.assign_noise`
returns on the concatenated batch (same options, same distance path), for any number of ranks.
It is the Python twin of the C library's MPI layer (``include/immiscible_mpi.h``) and moves data
the same way, with torch.distributed collectives only (gloo for CPU tensors, NCCL for CUDA):

1. ``all_gather`` of a small record per rank (rows, row size, options, whether its data is
   finite and its largest ``|v|``): every rank checks the same records, so an error on one rank
   (a bad argument, a mismatched row size or option, NaN/Inf) raises the same exception on all,
   before any other data moves;
2. ``all_gather`` of the images; each rank computes the distance COLUMNS of its own noise rows
   (a (B, n_r) block: each entry depends only on its two rows, so the blocks are exactly the
   columns of the single-process matrix);
3. ``gather`` of the blocks to the group's rank 0, which solves the (B, B) problem with the
   library; with ``distance="torch"`` on CUDA, the blocks are computed and gathered on the
   devices and only the (B, B) float32 matrix is copied to the host, on rank 0;
4. ``scatter`` of each rank's part of the permutation and the list of its noise rows to send;
5. ``all_to_all_single`` of the noise rows, moved as raw bytes in their own dtype: each rank
   receives exactly the rows its images were given.

Bytes per call (rank r holds n_r of the B rows, each of D values): rank r receives the other
ranks' images (``(B - n_r) D`` values, as float32 on the library path, in x's dtype on the torch
path), rank 0 receives ``B (B - n_0)`` float32 distances (padded to the largest n_r), and each
rank receives at most its own n_r noise rows. Rank 0 holds the gathered blocks and the (B, B)
float32 matrix (about ``8 B^2`` bytes at the peak).

As in the C layer, the library path takes a gathered route when its power-of-two prescale could
apply (fp32 / bf16 values with ``max|v| sqrt(D)`` above about 2^59): rank 0 then gathers the
noise too and runs :func:`immiscible.assign_noise` on the whole batch.

Examples
--------
On every rank of an initialised process group (here a single-process gloo group)::

    >>> import os, torch, torch.distributed as dist
    >>> from immiscible.torch import distributed as imd
    >>> os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    '127.0.0.1'
    >>> os.environ.setdefault("MASTER_PORT", str(29517))  # doctest: +ELLIPSIS
    '...'
    >>> dist.init_process_group("gloo", rank=0, world_size=1)
    >>> x, noise = torch.rand(6, 3, 4, 4) * 2 - 1, torch.randn(6, 3, 4, 4)
    >>> assigned, perm = imd.assign_noise(x, noise)
    >>> torch.equal(assigned, noise[perm])
    True
    >>> dist.destroy_process_group()
"""

import ctypes
import math

import numpy as np
import torch
import torch.distributed as dist

import immiscible

from .. import _lib
from . import _tensor as T

__all__ = ["assign_noise"]

_SOLVERS = ("exact", "auction")
_PRECISIONS = ("fp32", "fp16", "int8", "bf16")  # the library's enum order
_PATHS = ("library", "torch")
# Record fields (int64), one record per rank.
_STATUS, _ROWS, _DIM, _SOLVER, _PRECISION, _METRIC, _PATH, _FINITE, _MAXBITS = range(9)
_RECORD = 9
# Status codes of a record: 0, an imm_status (< 0), or one of these local exception kinds.
_VALUE_ERROR, _TYPE_ERROR = 1, 2


class _Group:
    """The process group, its backend, the device its collectives use, and rank 0's global
    rank (torch 1.13's gather / scatter take global ranks)."""

    def __init__(self, group):
        if not dist.is_available() or not dist.is_initialized():
            raise RuntimeError("torch.distributed is not initialised: call "
                               "torch.distributed.init_process_group first")
        self.group = group
        self.rank = dist.get_rank(group)
        self.size = dist.get_world_size(group)
        self.backend = dist.get_backend(group)
        if self.backend == "nccl":
            self.device = torch.device("cuda", torch.cuda.current_device())
        else:
            self.device = torch.device("cpu")
        if group is None or group is dist.group.WORLD:
            self.root = 0
        else:
            self.root = dist.distributed_c10d._get_global_rank(group, 0)

    def all_gather(self, t):
        parts = [torch.empty_like(t) for _ in range(self.size)]
        dist.all_gather(parts, t, group=self.group)
        return parts


def _local_checks(x, noise, solver, precision, metric, distance):
    """This rank's arguments: (status, message, path, rows of x, rows of noise) where status is 0
    or a local error kind; nothing here communicates."""
    try:
        T.check_tensor("x", x)
        T.check_tensor("noise", noise)
        if noise.shape[0] != x.shape[0]:
            raise ValueError(f"x and noise have different batch sizes: "
                             f"{x.shape[0]} and {noise.shape[0]}")
        xr, nr = T.rows(x), T.rows(noise)
        if xr.shape[1] != nr.shape[1]:
            raise ValueError(f"rows of x and noise differ in size: {xr.shape[1]} and "
                             f"{nr.shape[1]} elements")
        T.check_choice("solver", solver, _SOLVERS)
        T.check_choice("precision", precision, _PRECISIONS)
        T.check_choice("metric", metric, T.METRICS)
        path = T.resolve_distance(distance, x, noise)
        if path == "torch" and precision not in T.TORCH_PRECISIONS:
            raise ValueError(f"precision {precision!r} needs distance='library'")
        return 0, "", path, xr, nr
    except TypeError as exc:
        return _TYPE_ERROR, str(exc), None, None, None
    except ValueError as exc:
        return _VALUE_ERROR, str(exc), None, None, None


def _max_bits(*tensors):
    """Whether all values are finite, and the float32 bits of the largest |v| (as float32)."""
    finite, top = True, 0.0
    for t in tensors:
        if t.numel() == 0:
            continue
        a = t.detach().abs().amax().float().item()
        finite = finite and math.isfinite(a)
        top = max(top, a) if math.isfinite(a) else top
    return finite, int(np.array(top, dtype=np.float32).view(np.int32))


def _agree(g, status, message, n, row, solver, precision, metric, path, xr, nr):
    """Step 1: the records of every rank; raises on every rank alike. Returns the counts."""
    finite, bits = (True, 0)
    if status == 0:
        finite, bits = _max_bits(xr, nr)
    rec = torch.tensor([status, n, row, _SOLVERS.index(solver) if solver in _SOLVERS else -1,
                        _PRECISIONS.index(precision) if precision in _PRECISIONS else -1,
                        T.METRICS.index(metric) if metric in T.METRICS else -1,
                        _PATHS.index(path) if path in _PATHS else -1, int(finite), bits],
                       dtype=torch.int64, device=g.device)
    recs = torch.stack(g.all_gather(rec)).cpu().numpy()
    bad = [r for r in range(g.size) if recs[r, _STATUS] != 0]
    if bad:
        code = int(recs[bad[0], _STATUS])
        where = f"on rank(s) {bad} of {g.size}"
        text = f"{message} ({where})" if status != 0 else f"invalid arguments {where}"
        if code == _TYPE_ERROR:
            raise TypeError(text)
        if code == _VALUE_ERROR:
            raise ValueError(text)
        raise _lib.error_for(code, "assign_noise", text)
    for field, what in ((_DIM, "row size"), (_SOLVER, "solver"), (_PRECISION, "precision"),
                        (_METRIC, "metric"), (_PATH, "distance path")):
        if (recs[:, field] != recs[0, field]).any():
            raise ValueError(f"the {what} differs between ranks: {recs[:, field].tolist()}")
    if not recs[:, _FINITE].all():
        bad = [r for r in range(g.size) if not recs[r, _FINITE]]
        raise _lib.error_for(_lib.Status.ERR_NONFINITE, "assign_noise",
                             f"NaN or infinity in x or noise on rank(s) {bad}")
    top = float(np.array(recs[:, _MAXBITS].max(), dtype=np.int64).astype(np.int32)
                .view(np.float32))
    if precision == "fp16" and path == "library" and top >= 65520.0:
        raise _lib.error_for(_lib.Status.ERR_NONFINITE, "assign_noise",
                             "a value of x or noise rounds to infinity in fp16 (|v| >= 65520)")
    return [int(c) for c in recs[:, _ROWS]], top


def _padded(t, rows):
    """t (n, ...) with zero rows appended up to `rows` (all_gather / gather need equal shapes)."""
    if t.shape[0] == rows:
        return t.contiguous()
    pad = torch.zeros((rows - t.shape[0],) + tuple(t.shape[1:]), dtype=t.dtype, device=t.device)
    return torch.cat([t, pad])


def _library_block(x_all, noise_rows, opts):
    """imm_distance(x_all, noise rows): the (B, n) float32 block, and the status."""
    nh = T.host_f32(noise_rows)
    out = np.empty((x_all.shape[0], nh.shape[0]), dtype=np.float32)
    status = _lib.lib.imm_distance(x_all.ctypes.data, x_all.shape[0], nh.ctypes.data,
                                   nh.shape[0], x_all.shape[1], ctypes.byref(opts),
                                   out.ctypes.data)
    return out, status


def _plan(assign, counts, status):
    """Rank 0: per rank r, (n_r + 1, 3) int64 records: [status, 0, 0], then for its image i
    [global noise row received, i-th local row to send, destination rank], the rows to send in
    the global order of the images that receive them. Padded to the largest n_r."""
    size, nmax = len(counts), max(counts)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    recs = np.zeros((size, nmax + 1, 3), dtype=np.int64)
    recs[:, 0, 0] = status
    if status != 0:
        return recs
    image_rank = np.repeat(np.arange(size), counts)
    noise_rank = np.searchsorted(offsets[1:], assign, side="right")
    by_sender = np.argsort(noise_rank, kind="stable")  # images g grouped by sender, g ascending
    for r in range(size):
        lo, hi = offsets[r], offsets[r + 1]
        recs[r, 1:hi - lo + 1, 0] = assign[lo:hi]
        gs = by_sender[lo:hi]  # the images that receive rank r's noise rows, in order
        recs[r, 1:hi - lo + 1, 1] = assign[gs] - lo
        recs[r, 1:hi - lo + 1, 2] = image_rank[gs]
    return recs


def _bytes_view(t):
    """A contiguous (n, bytes) uint8 view of rows, whatever their dtype: rows move bitwise."""
    t = t.detach().contiguous()
    width = t.shape[1] * t.element_size()
    if t.numel() == 0:  # no rows (or empty rows): nothing to view, the shape still counts
        return torch.empty((t.shape[0], width), dtype=torch.uint8, device=t.device)
    return t.view(torch.uint8).reshape(t.shape[0], width)


def _from_bytes(b, dtype):
    """The inverse of :func:`_bytes_view`: (n, bytes) uint8 rows as (n, D) rows of dtype."""
    if b.numel() == 0:
        size = torch.empty((), dtype=dtype).element_size()
        return torch.empty((b.shape[0], b.shape[1] // size), dtype=dtype, device=b.device)
    return b.contiguous().view(dtype)


def assign_noise(x, noise, group=None, *, solver="exact", precision="fp32", metric="l2",
                 threads=None, distance="auto"):
    """Assign noise over the global batch of a process group; each rank gets its own rows.

    Collective: every rank of ``group`` must call it, with its own slice of the batch (any
    number of rows, 0 included) and the same options.

    Parameters
    ----------
    x : torch.Tensor, shape (n, ...)
        This rank's images (any floating dtype, any device the backend serves: CPU tensors with
        gloo, CUDA tensors with NCCL).
    noise : torch.Tensor, shape like ``x``
        This rank's noise rows.
    group : ProcessGroup, optional
        Default: the world group. Its rank 0 solves.
    solver, precision, metric, threads, distance
        As in :func:`immiscible.torch.assign_noise`; all but ``threads`` must agree across
        ranks. ``distance="auto"`` is ``"library"`` for CPU tensors, ``"torch"`` otherwise.

    Returns
    -------
    assigned : torch.Tensor
        This rank's rows of the globally assigned noise: same shape, dtype and device as
        ``noise``, rows bitwise from the global noise (detached: they may come from another
        rank).
    perm : torch.LongTensor, shape (n,)
        On noise's device: the GLOBAL index of the noise row each local image received
        (global index = the owning rank's offset + its local row; offsets in rank order).

    Raises
    ------
    The same exception class on every rank: ValueError / TypeError for bad or mismatched
    arguments, :class:`immiscible.NonFiniteError` for NaN / Inf on any rank or a distance
    overflow, ValueError for a non-finite distance on the torch path (as the single-process
    call), and the library's errors for the solve.

    Notes
    -----
    Bitwise equality with the single-process call on the concatenated batch holds on the
    library path. On the torch path it holds when torch's matmul gives a column the same bits
    whatever the other columns (the CPU build here does, tested); cuBLAS may choose another
    kernel for a narrower block, so on CUDA a near-tie may resolve differently, to an
    assignment just as good to float32 rounding.
    """
    g = _Group(group)
    status, message, path, xr, nr = _local_checks(x, noise, solver, precision, metric, distance)
    n = xr.shape[0] if status == 0 else 0
    row = xr.shape[1] if status == 0 else 0
    counts, top = _agree(g, status, message, n, row, solver, precision, metric, path, xr, nr)
    batch, nmax = sum(counts), max(counts)
    perm_device = noise.device
    if batch == 0:
        return noise.detach().clone(), torch.empty(0, dtype=torch.int64, device=perm_device)
    threads = T.resolve_threads(threads)
    opts = _lib.options(solver=solver, precision=precision, metric=metric, threads=threads)
    root = g.rank == 0
    # The library's prescale (fp32 / bf16, max|v| sqrt(D) > 2^60) depends on the whole batch.
    gathered = (path == "library" and precision in ("fp32", "bf16")
                and top * math.sqrt(row) > 2.0 ** 59)

    # Step 2: the images, then this rank's distance columns.
    if path == "library":
        xs = torch.from_numpy(T.host_f32(xr))
    else:
        xs = xr.detach()
    # As raw bytes: every dtype travels, bitwise, whatever the backend supports.
    parts = g.all_gather(_padded(_bytes_view(xs).to(g.device), nmax))
    x_all = _from_bytes(torch.cat([p[:c] for p, c in zip(parts, counts)]), xs.dtype)
    del parts
    cost = None
    if gathered:  # rank 0 runs imm_assign_noise on the whole batch
        ns = torch.from_numpy(T.host_f32(nr)).to(g.device)
        blocks = [torch.empty_like(_padded(ns, nmax)) for _ in range(g.size)] if root else None
        dist.gather(_padded(ns, nmax), blocks, dst=g.root, group=g.group)
    else:
        if path == "library":
            block, st = _library_block(T.host_f32(x_all.cpu()), nr, opts)
            agreed = torch.tensor([st], dtype=torch.int32, device=g.device)
            dist.all_reduce(agreed, op=dist.ReduceOp.MIN, group=g.group)
            if int(agreed.item()) != 0:
                raise _lib.error_for(int(agreed.item()), "imm_distance")
            block = torch.from_numpy(block).to(g.device)
        else:
            block = T.device_distance(x_all, nr.detach().to(x_all.device), precision, metric)
            block = block.to(g.device)
        padded = _padded(block.t(), nmax).t().contiguous()  # (B, nmax)
        blocks = [torch.empty_like(padded) for _ in range(g.size)] if root else None
        dist.gather(padded, blocks, dst=g.root, group=g.group)

    # Step 3: rank 0 solves and plans the exchange.
    plan_status, error_text = 0, ""
    if root:
        assign = None
        if gathered:
            noise_all = torch.cat([b[:c] for b, c in zip(blocks, counts)]).cpu().numpy()
            try:
                _, assign = immiscible.assign_noise(
                    T.host_f32(x_all.cpu()), noise_all, out=noise_all, solver=solver,
                    precision=precision, metric=metric, threads=threads)
            except _lib.ImmiscibleError as exc:
                plan_status, error_text = int(exc.status), str(exc)
        else:
            cost = np.ascontiguousarray(
                torch.cat([b[:, :c] for b, c in zip(blocks, counts)], dim=1).cpu().numpy())
            del blocks
            if path == "torch" and not np.isfinite(cost).all():
                plan_status = _VALUE_ERROR
            else:
                try:
                    assign = T.solve(cost, solver, threads)
                except _lib.ImmiscibleError as exc:
                    plan_status, error_text = int(exc.status), str(exc)
            del cost
        recs = _plan(np.asarray(assign, dtype=np.int64) if assign is not None else None,
                     counts, plan_status)
        scatter = [torch.from_numpy(recs[r]).to(g.device) for r in range(g.size)]
    else:
        scatter = None
    mine = torch.empty((nmax + 1, 3), dtype=torch.int64, device=g.device)
    dist.scatter(mine, scatter, src=g.root, group=g.group)
    mine = mine.cpu().numpy()
    code = int(mine[0, 0])
    if code == _VALUE_ERROR:  # the torch path's check, as in the single-process call
        raise ValueError("non-finite distance: NaN or Inf in the inputs, or a value outside the "
                         "precision's range (fp16: |x . y| must stay below 65504)")
    if code != 0:
        raise _lib.error_for(code, "assign_noise", error_text or None)

    # Step 4: every noise row to the rank of the image that received it, as raw bytes.
    recs = mine[1:n + 1]
    offsets = np.concatenate([[0], np.cumsum(counts)])
    send_counts = np.bincount(recs[:, 2], minlength=g.size).tolist()
    source = np.searchsorted(offsets[1:], recs[:, 0], side="right")
    recv_counts = np.bincount(source, minlength=g.size).tolist()
    rows = _bytes_view(nr)
    send = rows.index_select(0, torch.from_numpy(recs[:, 1]).to(rows.device)).to(g.device)
    recv = torch.empty((n, rows.shape[1]), dtype=torch.uint8, device=g.device)
    dist.all_to_all_single(recv, send, recv_counts, send_counts, group=g.group)
    # Rows from each source arrive in the order of the images receiving them.
    order = np.argsort(source, kind="stable")
    where = np.empty(n, dtype=np.int64)
    where[order] = np.arange(n)
    out = recv.index_select(0, torch.from_numpy(where).to(g.device)).to(noise.device)
    assigned = _from_bytes(out, noise.dtype).reshape(noise.shape)
    return assigned, T.perm_tensor(recs[:, 0], perm_device)
