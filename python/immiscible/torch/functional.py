"""Tensor versions of the noise-assignment calls, and the minibatch OT coupling of flow matching.

Every function takes tensors of any shape (B, ...) (each row flattened), returns tensors on the
input's device and in the input's dtype, and picks where the distances are computed with
``distance=`` (see :mod:`immiscible.torch`).
"""

import torch

import immiscible

from . import _tensor as T

__all__ = ["assign_noise", "assign_noise_pool", "select_noise_knn", "ot_pair"]


def _api(assigner):
    return immiscible if assigner is None else assigner


def _library_opts(assigner, solver, precision, metric, threads):
    # An Assigner carries its own options; the module-level calls take them per call.
    if assigner is not None:
        return {}
    return {"solver": solver, "precision": precision, "metric": metric,
            "threads": T.resolve_threads(threads)}


def _check_batch(x, other, name, same_batch=True, batch_dims=1):
    T.check_tensor("x", x)
    T.check_tensor(name, other)
    if other.dim() < batch_dims:
        raise ValueError(f"{name} must have shape (B, k, ...), got {tuple(other.shape)}")
    if same_batch and other.shape[0] != x.shape[0]:
        raise ValueError(f"x and {name} have different batch sizes: "
                         f"{x.shape[0]} and {other.shape[0]}")
    row, orow = T.rows(x).shape[-1], T.rows(other, batch_dims).shape[-1]
    if orow != row:
        raise ValueError(f"rows of x and {name} differ in size: {row} and {orow} elements")


def _permuted(src, index, host_out, use_host_out):
    """The rows ``src[index]``: the library's output when it holds them bitwise in src's dtype,
    else an ``index_select`` of src itself (on its device, keeping autograd)."""
    if use_host_out:
        return host_out.view(src.shape[:1] + src.shape[1:])
    return src.index_select(0, T.perm_tensor(index, src.device))


def _draw_like(x, generator):
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)



def _device_assignment(x, rows, solver, precision, metric, threads):
    """The torch path: distances on the device, the B x len(rows) cost to the host, the
    library's solve; returns the chosen row indices as a LongTensor on rows' device."""
    T.check_choice("solver", solver, ("exact", "auction"))
    d = T.device_distance(T.rows(x), T.rows(rows), precision, metric)
    index = T.solve(T.host_cost(d), solver, T.resolve_threads(threads))
    return T.perm_tensor(index, rows.device)

def assign_noise(x, noise=None, *, solver="exact", precision="fp32", metric="l2", threads=None,
                 distance="auto", generator=None, assigner=None):
    """Reorder the noise rows so that the total image-noise distance is minimal.

    Parameters
    ----------
    x : torch.Tensor, shape (B, ...)
        Images (or latents), one per row; any floating dtype, any device.
    noise : torch.Tensor, shape like ``x``, optional
        The batch's noise. ``None`` draws ``torch.randn`` like ``x`` (with ``generator``).
    solver : {"exact", "auction"}
    precision : {"fp32", "fp16", "bf16", "int8"}
        Arithmetic of the distances. The torch path rounds the rows to that dtype and runs the
        matmul in it; it has no ``"int8"``.
    metric : {"l2", "sql2"}
        Euclidean or squared Euclidean distance.
    threads : int, optional
        Threads for the library (``None``: ``torch.get_num_threads()``).
    distance : {"auto", "library", "torch"}
        Where the distances are computed: ``"library"`` on the host by the C library,
        ``"torch"`` on the tensors' device with torch, ``"auto"``: torch off the CPU, the
        library on the CPU. ``"torch"`` on CPU tensors runs the CUDA code path on the CPU.
    generator : torch.Generator, optional
        Used only when ``noise`` is None.
    assigner : immiscible.Assigner, optional
        A reusable context for the library (its own options then apply).

    Returns
    -------
    assigned : torch.Tensor
        ``noise[perm]``: same shape, dtype and device as ``noise``, its rows bitwise.
    perm : torch.LongTensor, shape (B,)
        On ``noise``'s device: ``assigned[i] == noise[perm[i]]``.

    Notes
    -----
    On the torch path the (B, B) float32 distance matrix is the only thing copied to the host
    (one synchronisation on CUDA); the library solves it and the permutation is applied on the
    device with ``index_select``. x and noise do not leave the device.

    Examples
    --------
    >>> import torch, immiscible.torch as imt
    >>> x = torch.rand(8, 3, 4, 4) * 2 - 1
    >>> noise = torch.randn(8, 3, 4, 4)
    >>> assigned, perm = imt.assign_noise(x, noise)
    >>> torch.equal(assigned, noise[perm])
    True
    >>> sorted(perm.tolist()) == list(range(8))
    True
    """
    T.check_tensor("x", x)
    if noise is None:
        noise = _draw_like(x, generator)
    _check_batch(x, noise, "noise")
    path = T.resolve_distance(distance, x, noise)
    if path == "torch":
        perm = _device_assignment(x, noise, solver, precision, metric, threads)
        return noise.index_select(0, perm), perm
    xh = T.host_f32(T.rows(x))
    nh = T.host_f32(T.rows(noise))
    direct = T.is_host_f32(noise)
    out = torch.empty(nh.shape, dtype=torch.float32)
    _, index = _api(assigner).assign_noise(
        xh, nh, out=out.numpy(), **_library_opts(assigner, solver, precision, metric, threads))
    perm = T.perm_tensor(index, noise.device)
    return _permuted(noise, index, out, direct), perm


def assign_noise_pool(x, pool, *, solver="exact", precision="fp32", metric="l2", threads=None,
                      distance="auto", assigner=None):
    """Choose B distinct rows of a larger noise pool, minimising the total distance to x.

    Parameters
    ----------
    x : torch.Tensor, shape (B, ...)
    pool : torch.Tensor, shape (P, ...), P >= B
        Same row size as ``x``.
    solver, precision, metric, threads, distance, assigner
        As in :func:`assign_noise`.

    Returns
    -------
    out : torch.Tensor, shape (B, ...) of ``pool``'s rows
        ``pool[index]``, on pool's device, in its dtype.
    index : torch.LongTensor, shape (B,)
        Distinct pool rows.

    Notes
    -----
    Unlike :func:`assign_noise`, the kept rows are biased toward the images (see the C header,
    ``imm_assign_noise_pool``).

    Examples
    --------
    >>> import torch, immiscible.torch as imt
    >>> x, pool = torch.randn(4, 16), torch.randn(10, 16)
    >>> out, index = imt.assign_noise_pool(x, pool)
    >>> out.shape, len(set(index.tolist()))
    (torch.Size([4, 16]), 4)
    """
    _check_batch(x, pool, "pool", same_batch=False)
    if pool.shape[0] < x.shape[0]:
        raise ValueError(f"pool has {pool.shape[0]} rows, fewer than the batch ({x.shape[0]})")
    path = T.resolve_distance(distance, x, pool)
    out_shape = (x.shape[0],) + tuple(pool.shape[1:])
    if path == "torch":
        index = _device_assignment(x, pool, solver, precision, metric, threads)
        return pool.index_select(0, index), index
    xh = T.host_f32(T.rows(x))
    ph = T.host_f32(T.rows(pool))
    out = torch.empty((x.shape[0], ph.shape[1]), dtype=torch.float32)
    _, index = _api(assigner).assign_noise_pool(
        xh, ph, out=out.numpy(), **_library_opts(assigner, solver, precision, metric, threads))
    if T.is_host_f32(pool):
        return out.view(out_shape), T.perm_tensor(index, pool.device)
    index = T.perm_tensor(index, pool.device)
    return pool.index_select(0, index), index


def select_noise_knn(x, candidates, *, precision="fp32", metric="l2", threads=None,
                     distance="auto", assigner=None):
    """For each image, keep the nearest of its own k candidate noise rows.

    Parameters
    ----------
    x : torch.Tensor, shape (B, ...)
    candidates : torch.Tensor, shape (B, k, ...)
        Candidate t of image i is ``candidates[i, t]``; rows the size of x's.
    precision, metric, threads, distance, assigner
        As in :func:`assign_noise`.

    Returns
    -------
    out : torch.Tensor, shape (B, ...)
        ``candidates[i, index[i]]``, on the candidates' device, in their dtype.
    index : torch.LongTensor, shape (B,)
        The chosen candidate per image; ties go to the lowest t.

    Notes
    -----
    On the torch path nothing goes to the host (argmin and gather on the device), so there is
    no synchronisation, and no NaN/Inf check either (it would need one).

    Examples
    --------
    >>> import torch, immiscible.torch as imt
    >>> x = torch.zeros(2, 3)
    >>> cand = torch.tensor([[[3., 0, 0], [1, 0, 0]], [[0, 0, 1], [0, 2, 0]]])
    >>> out, index = imt.select_noise_knn(x, cand)
    >>> index.tolist()
    [1, 0]
    """
    _check_batch(x, candidates, "candidates", batch_dims=2)
    path = T.resolve_distance(distance, x, candidates)
    b, k = candidates.shape[0], candidates.shape[1]
    if path == "torch":
        d = T.device_distance_knn(T.rows(x), T.rows(candidates, 2), precision, metric)
        index = d.argmin(1)  # the first minimum: ties go to the lowest t, as in the library
        chosen = torch.arange(b, device=candidates.device) * k + index
        flat = candidates.reshape((b * k,) + tuple(candidates.shape[2:]))
        return flat.index_select(0, chosen), index
    xh = T.host_f32(T.rows(x))
    ch = T.host_f32(T.rows(candidates, 2))
    out = torch.empty((b, ch.shape[2]), dtype=torch.float32)
    _, index = _api(assigner).select_noise_knn(
        xh, ch, out=out.numpy(), **_library_opts(assigner, "exact", precision, metric, threads))
    out_shape = (b,) + tuple(candidates.shape[2:])
    index_t = T.perm_tensor(index, candidates.device)
    if T.is_host_f32(candidates):
        return out.view(out_shape), index_t
    chosen = torch.arange(b, device=candidates.device) * k + index_t
    flat = candidates.reshape((b * k,) + tuple(candidates.shape[2:]))
    return flat.index_select(0, chosen), index_t


def ot_pair(x0, x1, *, threads=None, distance="auto", precision="fp32", solver="exact"):
    """Exact minibatch optimal-transport coupling of flow matching: ``(x0, x1[perm])``.

    With squared Euclidean costs and uniform weights on two batches of equal size, an optimal
    transport plan is a permutation matrix (scaled by 1/B): ``perm`` minimises
    ``sum_i |x0_i - x1_perm[i]|^2``. This is the plan torchcfm's
    ``OTPlanSampler(method="exact")`` obtains from POT's ``ot.emd``; the library solves it as a
    linear assignment problem. Unlike torchcfm's ``sample_plan``, which draws B pairs from the
    plan with replacement, every pair of the plan is returned once, in x0's order.

    Parameters
    ----------
    x0 : torch.Tensor, shape (B, ...)
        Source samples (in flow matching, usually the noise).
    x1 : torch.Tensor, shape (B, ...)
        Target samples (the data), same row size.
    threads, distance, precision, solver
        As in :func:`assign_noise` (the metric is squared Euclidean).

    Returns
    -------
    x0 : torch.Tensor
        The argument itself.
    x1_paired : torch.Tensor
        ``x1[perm]``: x1's rows (bitwise, on its device, in its dtype, differentiable through
        ``index_select``) in the order of the coupling. For the permutation itself, call
        ``assign_noise(x0, x1, metric="sql2")``.

    Examples
    --------
    >>> import torch, immiscible.torch as imt
    >>> x0 = torch.tensor([[0.], [10.]])
    >>> x1 = torch.tensor([[9.], [1.]])
    >>> imt.ot_pair(x0, x1)[1].flatten().tolist()
    [1.0, 9.0]
    """
    _check_batch(x0, x1, "x1")
    path = T.resolve_distance(distance, x0, x1)
    if path == "torch":
        T.check_choice("solver", solver, ("exact", "auction"))
        d = T.device_distance(T.rows(x0), T.rows(x1), precision, "sql2")
        index = T.solve(T.host_cost(d), solver, T.resolve_threads(threads))
        perm = T.perm_tensor(index, x1.device)
        return x0, x1.index_select(0, perm)
    x1_paired, _ = assign_noise(x0, x1, solver=solver, precision=precision, metric="sql2",
                                threads=threads, distance="library")
    return x0, x1_paired
