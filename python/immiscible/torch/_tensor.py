"""Tensor plumbing for immiscible.torch: host views, distances on the device, the host solve.

Two paths compute the distance matrix:

- ``"library"``: the C library computes the distances itself from host float32 rows. A CPU
  float32 C-contiguous tensor reaches it without a copy (``Tensor.numpy()`` shares memory);
  anything else is converted to that first.
- ``"torch"``: torch computes the distances where the tensors live (matmul form, below); only
  the distance matrix, as float32, is copied to the host, where the library solves the
  assignment. On CUDA that copy is the one host synchronisation of a call.

``"auto"`` picks ``"torch"`` for tensors off the CPU and ``"library"`` on the CPU.
"""

import ctypes

import numpy as np
import torch

from .. import _lib

DISTANCES = ("auto", "library", "torch")
METRICS = ("l2", "sql2")
# Precision -> the dtype the torch path rounds the rows to and multiplies them in.
TORCH_PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def check_tensor(name, t, floating=True):
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if floating and not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {t.dtype}")
    if t.dim() < 1:
        raise ValueError(f"{name} must have a batch dimension, got a 0-d tensor")


def rows(t, batch_dims=1):
    """``t`` as (batch, dim) (or (batch, k, dim) with ``batch_dims=2``): a view when possible."""
    lead = tuple(t.shape[:batch_dims])
    dim = 1
    for s in t.shape[batch_dims:]:
        dim *= s
    return t.reshape(*lead, dim)


def resolve_threads(threads):
    """Library threads for a call: ``None`` means torch's intra-op thread count, so that the
    library follows ``torch.set_num_threads`` on every thread (a bare OpenMP default would be
    torch's count on the main thread but every CPU on a fresh background thread)."""
    return torch.get_num_threads() if threads is None else threads


def resolve_distance(distance, *tensors):
    """The path to use: ``"library"`` or ``"torch"``; checks that the tensors share a device."""
    check_choice("distance", distance, DISTANCES)
    device = tensors[0].device
    for t in tensors[1:]:
        if t.device != device:
            raise ValueError(f"tensors on different devices: {device} and {t.device}")
    if distance == "auto":
        return "library" if device.type == "cpu" else "torch"
    return distance


def host_f32(t):
    """``t`` as a float32 C-contiguous numpy array on the host.

    A CPU float32 contiguous tensor is returned as a view (``Tensor.numpy()`` shares memory, so
    the library reads it in place); other tensors are copied once (device, dtype, layout).
    """
    t = t.detach()
    if t.device.type != "cpu" or t.dtype != torch.float32 or not t.is_contiguous():
        t = t.to(device="cpu", dtype=torch.float32).contiguous()
    return t.numpy()


def is_host_f32(t):
    """True when the library can write ``t``'s values bitwise: CPU, float32, no autograd."""
    return t.device.type == "cpu" and t.dtype == torch.float32 and not t.requires_grad


def perm_tensor(index, device):
    """A host index array as an int64 tensor on ``device`` (one small host-to-device copy)."""
    index = torch.from_numpy(np.ascontiguousarray(index, dtype=np.int64))
    if device.type == "cpu":
        return index
    # non_blocking: from pageable memory the copy is staged (the array may be freed at once),
    # and torch does not synchronise the stream for it.
    return index.to(device, non_blocking=True)


def _compute_rows(t, dtype):
    """Rows rounded to ``dtype``, in the dtype the matmul runs in.

    torch 1.13 has no float16 matmul on the CPU: there the half-rounded rows are multiplied in
    float32, which is what a CUDA half matmul does too except for the rounding of its output.
    """
    r = t.detach().to(dtype)
    if dtype == torch.float16 and t.device.type == "cpu":
        r = r.float()
    return r


def _finish(d2, metric):
    """Clamp d^2 at 0 (turning -inf, from an overflowed product, into NaN: see below), then the
    metric."""
    # clamp(min=0) would map -inf to 0 and hide an overflow; d2 * 0 keeps it visible (NaN), so
    # the host check of the cost matrix catches it.
    d2 = torch.where(d2 >= 0, d2, d2 * 0)
    return d2.sqrt_() if metric == "l2" else d2


def device_distance(x, y, precision, metric):
    """Distances between the rows of ``x`` (n, D) and ``y`` (m, D), computed with torch on their
    device: ``d^2 = |x|^2 + |y|^2 - 2 x y^T`` with the rows rounded to ``precision``'s dtype, the
    dot products from one matmul in that dtype (float32 accumulation), the norms of the rounded
    rows and the combination in float32 (for fp32 one fused ``addmm``), clamped at 0, the square
    root for ``"l2"``. Returns an (n, m) float32 tensor on the device. No host synchronisation."""
    check_choice("precision", precision, tuple(TORCH_PRECISIONS))
    check_choice("metric", metric, METRICS)
    with torch.no_grad():
        xr = _compute_rows(x, TORCH_PRECISIONS[precision])
        yr = _compute_rows(y, TORCH_PRECISIONS[precision])
        norms = xr.float().square().sum(1)[:, None] + yr.float().square().sum(1)[None, :]
        if xr.dtype == torch.float32:
            d2 = torch.addmm(norms, xr, yr.t(), alpha=-2)
        else:  # a half / bfloat16 matmul returns its dtype: combine in float32
            d2 = norms.sub_(torch.mm(xr, yr.t()).float(), alpha=2)
        return _finish(d2, metric)


def device_distance_knn(x, candidates, precision, metric):
    """Distances between each row x_i (B, D) and its own k candidates (B, k, D): a (B, k)
    float32 tensor on the device, with the arithmetic of :func:`device_distance`."""
    check_choice("precision", precision, tuple(TORCH_PRECISIONS))
    check_choice("metric", metric, METRICS)
    with torch.no_grad():
        xr = _compute_rows(x, TORCH_PRECISIONS[precision])
        cr = _compute_rows(candidates, TORCH_PRECISIONS[precision])
        norms = xr.float().square().sum(1)[:, None] + cr.float().square().sum(2)
        dots = torch.bmm(cr, xr.unsqueeze(2)).squeeze(2).float()
        return _finish(norms.sub_(dots, alpha=2), metric)


def host_cost(d):
    """Copies a device distance matrix to the host as float32 numpy (the one synchronisation)
    and checks it: NaN or Inf means a distance overflowed the precision."""
    cost = np.ascontiguousarray(d.cpu().numpy())
    if not np.isfinite(cost).all():
        raise ValueError("non-finite distance: NaN or Inf in the inputs, or a value outside the "
                         "precision's range (fp16: |x . y| must stay below 65504)")
    return cost


def solve(cost, solver, threads):
    """Column index per row (int32 numpy) of a float32 C-contiguous host cost matrix with
    rows <= cols: ``imm_lap_solve`` on it in place, through the core package's binding (optimal
    for ``solver="exact"``; the GIL is released during the solve)."""
    rows, cols = cost.shape
    opts = _lib.options(solver=solver, threads=threads)
    assign = np.empty(rows, dtype=np.int32)
    status = _lib.lib.imm_lap_solve(cost.ctypes.data, rows, cols, ctypes.byref(opts),
                                    assign.ctypes.data, None)
    _lib.check(status, "imm_lap_solve")
    return assign
