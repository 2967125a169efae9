"""Noise assignment: assign_noise, assign_noise_pool, select_noise_knn and Assigner.

Inputs are anything numpy converts (numpy arrays, CPU torch tensors, objects with __array__) of
shape (batch, ...), flattened per row. A float32 C-contiguous input reaches the library without a
copy; other dtypes and layouts are converted to a float32 copy for the distances.

The library permutes its noise buffer in place; these functions never modify the caller's noise
(or pool, or candidates) unless ``out is noise``: the rows are copied into ``out`` (allocated
when None) and permuted there. The returned rows are the caller's rows, bitwise, in their dtype:
for float32 the library moves them itself, for other dtypes the permutation is applied to the
caller's array with numpy.
"""

import ctypes
import threading

import numpy as np

from . import _lib
from ._lib import lib

__all__ = ["assign_noise", "assign_noise_pool", "select_noise_knn", "Assigner"]


# ---- argument handling ---------------------------------------------------------------------

def _batch_array(a, name, lead=1):
    """np.asarray(a), checked to have `lead` leading batch dimensions and a row after them."""
    arr = np.asarray(a)
    if arr.ndim < lead + 1:
        shape = "(batch, ...)" if lead == 1 else "(batch, k, ...)"
        raise ValueError(f"{name} must have shape {shape}, got shape {arr.shape}")
    return arr


def _row_size(arr, lead=1):
    return int(np.prod(arr.shape[lead:], dtype=np.int64))


def _f32_rows(arr, lead=1):
    """float32 C-contiguous (rows, dim) view of arr (a copy only when needed)."""
    rows = int(np.prod(arr.shape[:lead], dtype=np.int64))
    return np.ascontiguousarray(arr, dtype=np.float32).reshape(rows, _row_size(arr, lead))


def _is_f32_c(arr):
    return arr.dtype == np.float32 and arr.flags.c_contiguous and arr.flags.writeable


def _out_array(out, shape, name, inputs):
    """The caller's `out` as a writable ndarray of `shape` that overlaps none of `inputs`."""
    arr = np.asarray(out)
    if arr.shape != tuple(shape):
        raise ValueError(f"out must have shape {tuple(shape)} like {name}, got {arr.shape}")
    if not arr.flags.writeable:
        raise ValueError("out is not writable")
    for other in inputs:
        if np.may_share_memory(arr, other):
            raise ValueError("out overlaps an input")
    return arr


def _check_dims(x, other, what, lead):
    if x.shape[0] != other.shape[0] and lead == 2:
        raise ValueError(f"{what} has {other.shape[0]} groups of candidates for "
                         f"{x.shape[0]} images")
    if _row_size(x) != _row_size(other, lead):
        raise ValueError(f"x rows have {_row_size(x)} values, {what} rows "
                         f"{_row_size(other, lead)}")


# ---- the three operations, on a caller that runs the C function ----------------------------

def _assign(run, x, noise, out):
    """run(x32, work, perm32) permutes work (float32 (B, D)) in place; returns the status."""
    xa, na = _batch_array(x, "x"), _batch_array(noise, "noise")
    if xa.shape[0] != na.shape[0]:
        raise ValueError(f"x has {xa.shape[0]} rows, noise {na.shape[0]}")
    _check_dims(xa, na, "noise", 1)
    b = xa.shape[0]
    x32 = _f32_rows(xa)
    in_place = out is noise
    out_arr = na if in_place else None
    if out is not None and not in_place:
        out_arr = _out_array(out, na.shape, "noise", (xa, na))
    if in_place and np.may_share_memory(na, xa):
        raise ValueError("noise overlaps x")
    direct = _is_f32_c(out_arr) if out_arr is not None else na.dtype == np.float32
    if direct:  # the library permutes the result buffer itself
        if out_arr is None:
            out_arr = np.array(na, dtype=np.float32, order="C")
        elif not in_place:
            np.copyto(out_arr, na)
        work = out_arr.reshape(b, _row_size(na))
    else:  # the library permutes a float32 copy; numpy moves the caller's rows
        work = np.array(na, dtype=np.float32, order="C").reshape(b, _row_size(na))
    perm = np.empty(b, dtype=np.int32)
    _lib.check(run(x32, work, perm), "imm_assign_noise")
    perm = perm.astype(np.int64)
    if not direct:
        moved = np.take(na, perm, axis=0)
        if out_arr is None:
            out_arr = moved
        else:
            out_arr[...] = moved
    return (out if out is not None else out_arr), perm


def _select(run, x, source, out, lead, what):
    """Pool (lead 1) or KNN (lead 2): run(x32, src32, out32, index32) writes out32 rows."""
    xa, sa = _batch_array(x, "x"), _batch_array(source, what, lead)
    _check_dims(xa, sa, what, lead)
    b = xa.shape[0]
    shape = (b,) + sa.shape[lead:]
    out_arr = None if out is None else _out_array(out, shape, f"x rows of {what}", (xa, sa))
    direct = (sa.dtype == np.float32 and out_arr is None) or (
        out_arr is not None and _is_f32_c(out_arr))
    if out_arr is None and direct:
        out_arr = np.empty(shape, dtype=np.float32)
    work = out_arr if direct else np.empty(shape, dtype=np.float32)
    index = np.empty(b, dtype=np.int32)
    status = run(_f32_rows(xa), _f32_rows(sa, lead), work.reshape(b, _row_size(sa, lead)), index)
    _lib.check(status, "imm_assign_noise_pool" if lead == 1 else "imm_select_noise_knn")
    index = index.astype(np.int64)
    if not direct:
        rows = np.take(sa, index, axis=0) if lead == 1 else sa[np.arange(b), index]
        if out_arr is None:
            out_arr = rows
        else:
            out_arr[...] = rows
    return (out if out is not None else out_arr), index


def _ptr(a):
    return a.ctypes.data


def _oneshot_runs(opts):
    ref = ctypes.byref(opts)

    def assign(x32, work, perm):
        b, d = x32.shape
        return lib.imm_assign_noise(_ptr(x32), _ptr(work), b, d, ref, _ptr(perm))

    def pool(x32, pool32, out32, index):
        b, d = x32.shape
        return lib.imm_assign_noise_pool(_ptr(x32), b, _ptr(pool32), pool32.shape[0], d, ref,
                                         _ptr(out32), _ptr(index))

    def knn(x32, cand32, out32, index):
        b, d = x32.shape
        k = cand32.shape[0] // b if b else 0
        return lib.imm_select_noise_knn(_ptr(x32), b, _ptr(cand32), k, d, ref, _ptr(out32),
                                        _ptr(index))

    return assign, pool, knn


# ---- one-shot functions --------------------------------------------------------------------

def assign_noise(x, noise, *, solver="exact", precision="fp32", metric="l2", threads=None,
                 out=None):
    """Pair every image with the noise row nearest to it (Immiscible Diffusion).

    Computes the image-noise distance matrix, solves the assignment on it and permutes the
    noise rows accordingly: ``assigned[i] = noise[perm[i]]``, with the total distance between
    ``x[i]`` and ``assigned[i]`` minimal. The set of noise rows is unchanged (bitwise), so the
    noise stays Gaussian.

    Parameters
    ----------
    x, noise : array_like, shape (batch, ...)
        Images and noise, flattened per row (the row sizes must agree). float32 C-contiguous
        arrays are used without a copy; anything else is converted to float32 for the
        distances.
    solver : {"exact", "auction"}
        The exact solver (optimal) or the epsilon-scaling auction (approximate, parallel).
    precision : {"fp32", "fp16", "bf16", "int8"}
        Precision of the distance kernels.
    metric : {"l2", "sql2"}
        Euclidean or squared Euclidean distance.
    threads : int, optional
        Library threads; None or 0 = the OpenMP default.
    out : array_like, optional
        Where to write the assigned noise (shape of ``noise``). ``out is noise`` permutes the
        caller's noise in place; otherwise the caller's noise is never modified.

    Returns
    -------
    assigned : ndarray (or ``out``)
        The noise rows in their new order, in noise's dtype (or out's).
    perm : ndarray of int64, shape (batch,)
        ``assigned[i] == noise[perm[i]]``.

    Examples
    --------
    >>> import numpy as np, immiscible
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((8, 3, 4, 4), dtype=np.float32)
    >>> noise = rng.standard_normal((8, 3, 4, 4), dtype=np.float32)
    >>> assigned, perm = immiscible.assign_noise(x, noise)
    >>> bool(np.array_equal(assigned, noise[perm]))
    True
    """
    opts = _lib.options(solver, precision, metric, threads)
    return _assign(_oneshot_runs(opts)[0], x, noise, out)


def assign_noise_pool(x, pool, *, solver="exact", precision="fp32", metric="l2", threads=None,
                      out=None):
    """Choose, from a larger pool of noise rows, the batch rows nearest to the images.

    ``out[i] = pool[index[i]]`` with distinct ``index`` and minimal total distance. Unlike
    :func:`assign_noise`, choosing from a larger pool biases the noise toward the images.

    Parameters
    ----------
    x : array_like, shape (batch, ...)
    pool : array_like, shape (pool_size, ...), pool_size >= batch
        Read only, never modified.
    solver, precision, metric, threads :
        As in :func:`assign_noise`.
    out : array_like, shape (batch,) + pool.shape[1:], optional

    Returns
    -------
    out : ndarray (or ``out``), the chosen rows in pool's dtype (or out's)
    index : ndarray of int64, shape (batch,)

    Examples
    --------
    >>> import numpy as np, immiscible
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((4, 16), dtype=np.float32)
    >>> pool = rng.standard_normal((10, 16), dtype=np.float32)
    >>> chosen, index = immiscible.assign_noise_pool(x, pool)
    >>> bool(np.array_equal(chosen, pool[index])), len(set(index.tolist()))
    (True, 4)
    """
    opts = _lib.options(solver, precision, metric, threads)
    return _select(_oneshot_runs(opts)[1], x, pool, out, 1, "pool")


def select_noise_knn(x, candidates, *, solver="exact", precision="fp32", metric="l2",
                     threads=None, out=None):
    """For each image, the nearest of its own k candidate noise rows.

    ``out[i] = candidates[i, index[i]]``. Not a permutation: the kept noise is biased toward
    the images, the more so the larger k ("Improved Immiscible Diffusion").

    Parameters
    ----------
    x : array_like, shape (batch, ...)
    candidates : array_like, shape (batch, k, ...)
        Read only, never modified.
    solver, precision, metric, threads :
        As in :func:`assign_noise` (the solver is not used).
    out : array_like, shape (batch,) + candidates.shape[2:], optional

    Returns
    -------
    out : ndarray (or ``out``), the chosen rows in candidates' dtype (or out's)
    index : ndarray of int64, shape (batch,), the candidate chosen for each image

    Examples
    --------
    >>> import numpy as np, immiscible
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((4, 16), dtype=np.float32)
    >>> cand = rng.standard_normal((4, 3, 16), dtype=np.float32)
    >>> chosen, index = immiscible.select_noise_knn(x, cand)
    >>> bool(np.array_equal(chosen, cand[np.arange(4), index]))
    True
    """
    opts = _lib.options(solver, precision, metric, threads)
    return _select(_oneshot_runs(opts)[2], x, candidates, out, 2, "candidates")


# ---- Assigner ------------------------------------------------------------------------------

class Assigner:
    """A library context reused across training steps.

    It owns an ``imm_ctx``: workspaces grow to the largest batch and row size seen and are
    reused, so that once warm the library allocates nothing per call. Methods take the same
    arguments as the module functions and return the same results, bitwise. Safe to share
    between threads: a lock lets one call at a time use the context. Close it with
    :meth:`close` or a ``with`` block (it is also freed when garbage collected).

    Parameters
    ----------
    solver, precision, metric, threads :
        As in :func:`assign_noise`.
    accuracy : float, optional
        The auction's relative accuracy target (None: the library default, 1e-4).
    exact_finish : bool
        The auction finishes exactly (optimal result).

    Examples
    --------
    >>> import numpy as np, immiscible
    >>> rng = np.random.default_rng(0)
    >>> with immiscible.Assigner(precision="bf16") as assigner:
    ...     for step in range(3):
    ...         x = rng.standard_normal((16, 64), dtype=np.float32)
    ...         noise = rng.standard_normal((16, 64), dtype=np.float32)
    ...         assigned, perm = assigner.assign_noise(x, noise)
    >>> assigned.shape
    (16, 64)
    """

    def __init__(self, solver="exact", precision="fp32", metric="l2", threads=None,
                 accuracy=None, exact_finish=False):
        self._ctx = None
        self._opts = _lib.options(solver, precision, metric, threads, accuracy, exact_finish)
        self._lock = threading.Lock()
        handle = ctypes.c_void_p()
        _lib.check(lib.imm_ctx_create(ctypes.byref(handle), ctypes.byref(self._opts)),
                   "imm_ctx_create")
        self._ctx = handle.value
        self._free = lib.imm_ctx_free  # kept for __del__ at interpreter shutdown

    @property
    def closed(self):
        """True once :meth:`close` has released the context."""
        return self._ctx is None

    def close(self):
        """Release the context and its workspaces (idempotent)."""
        with self._lock:
            ctx, self._ctx = self._ctx, None
        if ctx is not None:
            self._free(ctx)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        ctx, self._ctx = getattr(self, "_ctx", None), None
        if ctx is not None:
            self._free(ctx)

    def _locked(self, fn, *args):
        with self._lock:
            if self._ctx is None:
                raise ValueError("Assigner is closed")
            return fn(self._ctx, *args)

    def workspace_bytes(self, batch, dim):
        """Bytes of workspace the context needs for (batch, dim) with its options."""
        size = ctypes.c_size_t()
        _lib.check(lib.imm_ctx_workspace_size(ctypes.byref(self._opts), batch, dim,
                                              ctypes.byref(size)), "imm_ctx_workspace_size")
        return size.value

    def assign_noise(self, x, noise, *, out=None):
        """:func:`assign_noise` with this context's options and workspace."""
        def run(x32, work, perm):
            b, d = x32.shape
            return self._locked(lib.imm_ctx_assign_noise, _ptr(x32), _ptr(work), b, d,
                                _ptr(perm))
        return _assign(run, x, noise, out)

    def assign_noise_pool(self, x, pool, *, out=None):
        """:func:`assign_noise_pool` with this context's options and workspace."""
        def run(x32, pool32, out32, index):
            b, d = x32.shape
            return self._locked(lib.imm_ctx_assign_noise_pool, _ptr(x32), b, _ptr(pool32),
                                pool32.shape[0], d, _ptr(out32), _ptr(index))
        return _select(run, x, pool, out, 1, "pool")

    def select_noise_knn(self, x, candidates, *, out=None):
        """:func:`select_noise_knn` with this context's options and workspace."""
        def run(x32, cand32, out32, index):
            b, d = x32.shape
            k = cand32.shape[0] // b if b else 0
            return self._locked(lib.imm_ctx_select_noise_knn, _ptr(x32), b, _ptr(cand32), k,
                                d, _ptr(out32), _ptr(index))
        return _select(run, x, candidates, out, 2, "candidates")

    def __repr__(self):
        o = self._opts
        state = "closed" if self.closed else "open"
        return (f"<immiscible.Assigner solver={o.solver} precision={o.precision} "
                f"metric={o.metric} threads={o.num_threads} {state}>")
