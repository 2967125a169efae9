"""linear_sum_assignment: scipy's function on libimmiscible's exact solver.

The library solves float32 costs. Dtypes that float32 holds exactly (bool, 8- and 16-bit
integers, float16, float32) are solved directly, a C-contiguous float32 matrix in place without a
copy. Everything else (float64, wider integers) is converted to float64 and goes through
:func:`certified_solve`: float32 solves of reduced costs, each result certified in float64
against the caller's matrix (see its docstring for the arithmetic).
"""

import ctypes
import warnings

import numpy as np

from . import _lib
from ._lib import InfeasibleError, NonFiniteError, Status, lib

__all__ = ["linear_sum_assignment", "certified_solve"]

# Dtypes whose every value float32 represents exactly: the library sees the caller's numbers.
_FLOAT32_EXACT = {np.dtype(t) for t in (np.bool_, np.int8, np.uint8, np.int16, np.uint16,
                                        np.float16, np.float32)}
EPS64 = float(np.finfo(np.float64).eps)
# Certificate tolerance, in units of eps64 * (max|finite c| + max|u| + max|v|): computing a
# reduced cost c - u - v in float64 rounds twice, each time by at most eps/2 times a magnitude
# below that sum, so a true certificate never reads worse than 2 eps of it; 64 leaves room for
# the rounding of the potentials accumulated over a few rounds, and still proves the total
# optimal to ~1e-14 of max|c| per row: far below any difference float32 could resolve.
CERT_FACTOR = 64.0
MAX_ROUNDS = 6
# Row blocks of about this many entries keep the float64 temporaries in cache.
_BLOCK = 1 << 18

_INVALID = "matrix contains invalid numeric entries"
_INFEASIBLE = "cost matrix is infeasible"


def linear_sum_assignment(cost_matrix, maximize=False, *, threads=None):
    """Solve the linear sum assignment problem, exactly, with libimmiscible.

    A drop-in for :func:`scipy.optimize.linear_sum_assignment`: same arguments, same return
    value, same errors. Each row is assigned to at most one column and each column to at most
    one row, so that the sum of the chosen costs is minimal (maximal with ``maximize=True``);
    ``min(n, m)`` pairs are chosen.

    Parameters
    ----------
    cost_matrix : array_like, shape (n, m) or (P, n, m)
        The costs, any real dtype. ``+inf`` marks a forbidden pair (``-inf`` with
        ``maximize=True``); NaN and ``-inf`` (``+inf`` when maximizing) are invalid. A 3-D array
        is a batch of P independent problems of one shape, solved in one call to the library,
        in parallel over problems.
    maximize : bool, optional
        Maximize the total instead of minimizing it. Default False.
    threads : int, optional
        Library threads (keyword only; not in scipy). None or 0: OpenMP's default for the
        calling thread, which ``import torch`` sets to ``torch.get_num_threads()``.

    Returns
    -------
    row_ind, col_ind : ndarray of int64
        The chosen pairs ``cost_matrix[row_ind, col_ind]``, ``row_ind`` sorted; shape
        ``(min(n, m),)``, or ``(P, min(n, m))`` for a batch.

    Raises
    ------
    ValueError
        For an array that is not 2-D or 3-D, NaN or ``-inf`` entries ("matrix contains invalid
        numeric entries"), or when every complete assignment needs a forbidden pair ("cost
        matrix is infeasible"). The exceptions are :class:`immiscible.ImmiscibleError`
        subclasses carrying the library's status.
    TypeError
        For a dtype that does not convert safely to float64 (complex, object, strings).

    Notes
    -----
    The result is optimal for the caller's matrix. bool, 8- and 16-bit integer, float16 and
    float32 matrices are solved as they are (float32 represents them exactly). A float64 (or
    wider integer) matrix is first solved in float32, then the solution and the solver's dual
    potentials are *certified* in float64 against the caller's matrix: reduced costs
    ``c - u - v >= -tol`` everywhere, ``== 0`` within tol on the chosen pairs, unassigned
    columns at ``max(v)``, with ``tol = 64 eps64 (max|c| + max|u| + max|v|)``. When float32
    rounding hid a near-tie, the certificate fails and the problem is solved again on the
    float32 rounding of its float64 reduced costs (which have the same optimal assignments but
    small magnitudes near the optimum, so float32 keeps the digits that matter), accumulating
    the potentials, until it certifies (usually one or two extra solves). Float64 input
    therefore costs a few extra passes over the matrix and often a second solve; pass float32
    when float32 costs are what you have.

    Examples
    --------
    >>> import numpy as np
    >>> from immiscible import linear_sum_assignment
    >>> cost = np.array([[4, 1, 3], [2, 0, 5], [3, 2, 2]])
    >>> row_ind, col_ind = linear_sum_assignment(cost)
    >>> col_ind
    array([1, 0, 2])
    >>> int(cost[row_ind, col_ind].sum())
    5
    """
    c = _as_real_array(cost_matrix)
    opts = None if threads is None else _lib.options(threads=threads)
    if c.ndim == 2:
        rows, cols = _solve_batch(c[None], bool(maximize), opts)
        return rows[0], cols[0]
    if c.ndim == 3:
        return _solve_batch(c, bool(maximize), opts)
    raise ValueError(f"expected a matrix (2-D array), got a {c.ndim}-D array")


def _as_real_array(cost_matrix):
    c = np.asarray(cost_matrix)
    if not np.can_cast(c.dtype, np.float64, casting="safe"):
        raise TypeError(f"Cannot cast array data from {c.dtype!r} to dtype('float64') "
                        "according to the rule 'safe'")
    return c


def _solve_batch(c, maximize, opts=None):
    """(P, n, m) of any real dtype -> (row_ind, col_ind), each (P, min(n, m)) int64."""
    transposed = c.shape[1] > c.shape[2]
    if transposed:
        c = c.transpose(0, 2, 1)
    count, n, m = c.shape
    if count == 0 or n == 0:
        empty = np.empty((count, 0), dtype=np.int64)
        return empty, empty.copy()
    if c.dtype in _FLOAT32_EXACT:
        assign = _solve_float32(c, maximize, opts)
    else:
        c64 = np.asarray(c, dtype=np.float64)
        if maximize:
            c64 = np.negative(c64)
        assign = certified_solve(c64, opts=opts)[0]
    assign = assign.astype(np.int64)
    if not transposed:
        return np.broadcast_to(np.arange(n, dtype=np.int64), (count, n)).copy(), assign
    order = np.argsort(assign, axis=1, kind="stable")
    return np.take_along_axis(assign, order, axis=1), order


def _check(status, what):
    if status == Status.ERR_NONFINITE:
        raise NonFiniteError(_INVALID, Status.ERR_NONFINITE)
    if status == Status.ERR_INFEASIBLE:
        raise InfeasibleError(_INFEASIBLE, Status.ERR_INFEASIBLE)
    _lib.check(status, what)


def _solve_float32(c, maximize, opts=None):
    """Costs float32 represents exactly: solve them as they are (no copy when possible)."""
    if c.dtype == np.float32 and c.flags.c_contiguous and not maximize:
        a = c
    else:
        a = np.empty(c.shape, dtype=np.float32)
        a[...] = c
        if maximize:  # after the conversion: unsigned integers would wrap
            np.negative(a, out=a)
    assign, _, _ = _solve32(a, duals=False, opts=opts)
    return assign


def _solve32(a, duals=True, opts=None):
    """Solve the float32 problems a (k, n, m), C-contiguous, in one library call (opts: an
    ImmOptions, or None for the defaults).

    Returns (assign int32 (k, n), u (k, n), v (k, m)); u, v are None without duals."""
    k, n, m = a.shape
    assign = np.empty((k, n), dtype=np.int32)
    u = np.empty((k, n)) if duals else None
    v = np.empty((k, m)) if duals else None
    up = u.ctypes.data if duals else None
    vp = v.ctypes.data if duals else None
    if k == 1:  # one problem: the solver's own threads (the batch gives each problem one)
        po = None if opts is None else ctypes.byref(opts)
        st = lib.imm_lap_solve_dual(a.ctypes.data, n, m, po, assign.ctypes.data, up, vp, None)
        _check(st, "imm_lap_solve_dual")
    else:
        po = None if opts is None else ctypes.byref(opts)
        st = lib.imm_lap_solve_batch(a.ctypes.data, k, n, m, po, assign.ctypes.data, up, vp,
                                     None)
        _check(st, "imm_lap_solve_batch")
    return assign, u, v


# ---- float64: certificate and refinement ---------------------------------------------------

def _row_blocks(n, m):
    step = max(1, _BLOCK // max(m, 1))
    return [(r, min(r + step, n)) for r in range(0, n, step)]


def _finite_max(c):
    """max |finite entry| of one problem (n, m); raise for NaN or -inf."""
    mx = 0.0
    for r0, r1 in _row_blocks(*c.shape):
        b = c[r0:r1]
        hi, lo = b.max(), b.min()
        if np.isnan(hi) or lo == -np.inf:
            raise NonFiniteError(_INVALID, Status.ERR_NONFINITE)
        if hi == np.inf:
            fin = b[np.isfinite(b)]
            hi = fin.max() if fin.size else 0.0
            lo = fin.min() if fin.size else 0.0
        mx = max(mx, float(hi), -float(lo))
    return mx


def _scale(mx):
    """A power of two s with mx * s in [0.5, 1) (1 for mx == 0): exact in float64, and keeps
    float32 from overflowing."""
    return 1.0 if mx == 0.0 else float(np.ldexp(1.0, -np.frexp(mx)[1]))


def _cap(tmp, assign):
    """Lowers the reduced costs tmp (n, n) that no optimal assignment can use to one value, in
    place: with a the current assignment, R(a) the sum of its reduced costs and -neg the most
    negative entry, an assignment through an entry above cap = R(a) + (n - 1) neg has reduced
    total above R(a), so it is not optimal, in tmp or with those entries lowered to any value
    >= cap (a itself keeps its entries: each is <= cap). The float32 rounding of the rest is
    then relative to cap, not to the whole range of tmp: one refinement gains ~7 digits."""
    n = tmp.shape[0]
    chosen = tmp[np.arange(n), assign]
    neg = max(0.0, -float(tmp.min()))
    cap = float(chosen.sum()) + (n - 1) * neg
    if not np.isfinite(cap):
        return
    cap = 2.0 * cap + np.finfo(np.float64).tiny
    np.minimum(tmp, cap, out=tmp, where=np.isfinite(tmp))


def _reduced_f32(c, u, v, cols=None, assign=None):
    """float32 rounding of s (c - u - v) for one problem, optionally on the columns `cols`;
    returns (array, s). With `assign` (square problems), the entries no optimal assignment uses
    are capped first (:func:`_cap`)."""
    if cols is not None:
        c, v = c[:, cols], v[cols]
    n, m = c.shape
    tmp = np.empty((n, m))
    for r0, r1 in _row_blocks(n, m):
        t = tmp[r0:r1]
        np.subtract(c[r0:r1], v, out=t)
        t -= u[r0:r1, None]
    if assign is not None and n == m:
        _cap(tmp, assign)
    mx = 0.0
    for r0, r1 in _row_blocks(n, m):
        t = tmp[r0:r1]
        hi, lo = float(t.max()), float(t.min())
        if hi == np.inf:  # forbidden pairs: the largest finite entry
            fin = t[np.isfinite(t)]
            hi, lo = (float(fin.max()), float(fin.min())) if fin.size else (0.0, 0.0)
        mx = max(mx, hi, -lo)
    s = _scale(mx)
    out = np.empty((n, m), dtype=np.float32)
    np.multiply(tmp, s, out=out, casting="unsafe")
    return out, s


def _violation(c, a, u, v, cmax):
    """(violation, tol) of the certificate of assignment a with potentials u, v on c (n, m),
    whose largest finite |entry| is cmax."""
    n, m = c.shape
    dual = 0.0
    for r0, r1 in _row_blocks(n, m):
        t = np.subtract(c[r0:r1], v)
        rowmin = t.min(axis=1) - u[r0:r1]
        dual = max(dual, -float(rowmin.min()))
    chosen = c[np.arange(n), a]
    if not np.isfinite(chosen).all():
        return np.inf, 0.0
    slack = float(np.abs(chosen - u - v[a]).max())
    col = 0.0
    if n < m:
        free = np.ones(m, dtype=bool)
        free[a] = False
        col = float(v.max() - v[free].min())
    mag = cmax + float(np.abs(u).max()) + float(np.abs(v).max())
    return max(dual, slack, col), CERT_FACTOR * EPS64 * mag


def _candidate_columns(c):
    """Columns that some optimal assignment of the rectangular c (n < m) stays within: each
    row's n cheapest (a row using a dearer column could move to one of its n cheapest, one of
    which the other n - 1 rows leave free)."""
    n, m = c.shape
    if n * n >= m:
        return None
    part = np.argpartition(c, n - 1, axis=1)[:, :n]
    cols = np.unique(part)
    return None if cols.size == m else cols


def _refine_rectangular(c, a, u, v, opts=None):
    """One refinement of a rectangular problem (n < m), as the square problem padded with
    zero-cost rows: column potentials change which assignment is optimal in the rectangular
    form, not in the padded one. The padded rows' reduced costs are max(v) - v."""
    n, m = c.shape
    cols = _candidate_columns(c)
    idx = np.arange(m) if cols is None else cols
    k = idx.size
    real, s = _reduced_f32(c, u, v, cols)
    vk = v[idx]
    pad = (vk.max() - vk) * s
    square = np.empty((k, k), dtype=np.float32)
    square[:n] = real
    square[n:] = pad.astype(np.float32)
    sa, su, sv = _solve32(square[None], opts=opts)
    u = u + su[0, :n] / s
    vk = vk + sv[0] / s
    v = np.full(m, vk.max()) if cols is not None else np.empty(m)
    v[idx] = vk
    return idx[sa[0, :n]], u, v


def certified_solve(c64, *, threads=None, opts=None):
    """Solve the float64 problems c64 (P, n, m), n <= m, optimally for float64.

    Returns (assign int32 (P, n), u (P, n), v (P, m), rounds int (P,)): the assignment, the
    float64 potentials that certify it, and how many float32 solves each problem took.

    Round 0 solves the float32 rounding of s_p c_p (s_p a power of two that keeps float32 from
    overflowing) with its dual potentials. Each problem's assignment is then certified in
    float64 (see :func:`linear_sum_assignment`); a failing problem is solved again on the
    float32 rounding of s (c - u - v), its reduced costs under the potentials so far, and the
    new potentials are added to them. Square problems go back to the library together (one
    batch call); rectangular ones are refined one by one as the square problem padded with
    zero-cost rows, restricted to each row's n cheapest columns. threads: as for
    :func:`linear_sum_assignment` (opts: the ImmOptions it makes, for internal callers).
    """
    if opts is None and threads is not None:
        opts = _lib.options(threads=threads)
    count, n, m = c64.shape
    mags = [_finite_max(c64[p]) for p in range(count)]
    scales = np.array([_scale(mx) for mx in mags])
    a32 = np.empty((count, n, m), dtype=np.float32)
    for p in range(count):
        np.multiply(c64[p], scales[p], out=a32[p], casting="unsafe")
    assign, u, v = _solve32(a32, opts=opts)
    del a32
    u /= scales[:, None]
    v /= scales[:, None]
    rounds = np.ones(count, dtype=np.int64)
    todo = _uncertified(c64, mags, assign, u, v, range(count))
    while todo:
        if rounds[todo[0]] >= MAX_ROUNDS:
            _fallback(c64, assign, todo)
            break
        if n < m:
            for p in todo:
                assign[p], u[p], v[p] = _refine_rectangular(c64[p], assign[p], u[p], v[p],
                                                            opts)
        else:
            reduced = np.empty((len(todo), n, m), dtype=np.float32)
            s = np.empty(len(todo))
            for i, p in enumerate(todo):
                reduced[i], s[i] = _reduced_f32(c64[p], u[p], v[p], assign=assign[p])
            ra, ru, rv = _solve32(reduced, opts=opts)
            assign[todo] = ra
            u[todo] += ru / s[:, None]
            v[todo] += rv / s[:, None]
        rounds[todo] += 1
        todo = _uncertified(c64, mags, assign, u, v, todo)
    return assign, u, v, rounds


def _uncertified(c64, mags, assign, u, v, problems):
    bad = []
    for p in problems:
        violation, tol = _violation(c64[p], assign[p], u[p], v[p], mags[p])
        if not violation <= tol:
            bad.append(p)
    return bad


def _fallback(c64, assign, problems):
    """Never seen in testing: problems that did not certify in MAX_ROUNDS float32 solves go to
    scipy's float64 solver when scipy is installed."""
    try:
        from scipy.optimize import linear_sum_assignment as scipy_lsa
    except ImportError:
        raise RuntimeError(f"immiscible: {len(problems)} float64 problem(s) did not certify in "
                           f"{MAX_ROUNDS} float32 solves, and scipy is not installed for the "
                           "fallback; pass float32 costs") from None
    warnings.warn(f"immiscible: {len(problems)} float64 problem(s) did not certify in "
                  f"{MAX_ROUNDS} float32 solves; solved with scipy instead", RuntimeWarning,
                  stacklevel=4)
    for p in problems:
        assign[p] = scipy_lsa(c64[p])[1]
