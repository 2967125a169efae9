"""linear_sum_assignment against scipy's: results, dtypes, shapes, errors, float64 near-ties."""

import math
import tracemalloc

import numpy as np
import pytest

import immiscible
from immiscible import linear_sum_assignment
from immiscible._lsa import certified_solve


def total(c, rows, cols):
    """The exact sum of the chosen float64 costs (fsum: no rounding in the comparison)."""
    return math.fsum(np.asarray(c, dtype=np.float64)[rows, cols].tolist())


def check_like_scipy(c, scipy_lsa, maximize=False, rel=0.0):
    rows, cols = linear_sum_assignment(c, maximize=maximize)
    srows, scols = scipy_lsa(c, maximize=maximize)
    assert rows.dtype == np.int64 and cols.dtype == np.int64
    assert rows.shape == srows.shape
    assert np.all(np.diff(rows) > 0), "row_ind sorted, distinct"
    assert len(set(cols.tolist())) == len(cols), "col_ind distinct"
    got, want = total(c, rows, cols), total(c, srows, scols)
    assert abs(got - want) <= rel * max(abs(want), 1.0), (got, want)
    return rows, cols


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (5, 5), (40, 40), (7, 3), (3, 7), (60, 90),
                                   (90, 60), (1, 50), (50, 1)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_random(rng, scipy_lsa, shape, dtype):
    c = rng.random(shape).astype(dtype)
    check_like_scipy(c, scipy_lsa)
    check_like_scipy(c, scipy_lsa, maximize=True)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.int64,
                                   np.uint64, np.float16, np.bool_])
def test_integer_and_small_dtypes(rng, scipy_lsa, dtype):
    hi = 2 if dtype == np.bool_ else 100
    c = rng.integers(0, hi, size=(30, 40)).astype(dtype)
    check_like_scipy(c, scipy_lsa)
    check_like_scipy(c.T, scipy_lsa, maximize=True)


def test_large_integers(scipy_lsa):
    c = np.array([[2**40, 2**40 + 3, 2**40 + 1], [2**40 + 2, 2**40, 2**40 + 5]], dtype=np.int64)
    check_like_scipy(c, scipy_lsa)


@pytest.mark.parametrize("shape", [(20, 20), (10, 25), (25, 10)])
def test_ties(rng, scipy_lsa, shape):
    check_like_scipy(np.zeros(shape), scipy_lsa)
    check_like_scipy(np.ones(shape, dtype=np.float32), scipy_lsa)
    check_like_scipy(rng.integers(0, 3, size=shape).astype(np.float64), scipy_lsa)


def test_lists_and_docstring_example():
    rows, cols = linear_sum_assignment([[4, 1, 3], [2, 0, 5], [3, 2, 2]])
    assert rows.tolist() == [0, 1, 2] and cols.tolist() == [1, 0, 2]


@pytest.mark.parametrize("shape", [(0, 0), (0, 3), (3, 0)])
def test_empty(shape):
    rows, cols = linear_sum_assignment(np.zeros(shape))
    assert rows.shape == cols.shape == (0,)
    assert rows.dtype == cols.dtype == np.int64


@pytest.mark.parametrize("value", [np.zeros(3), np.float64(1.0), np.zeros((1, 1, 1, 1))])
def test_not_a_matrix(value):
    with pytest.raises(ValueError, match=r"expected a matrix \(2-D array\), got a \d-D array"):
        linear_sum_assignment(value)


@pytest.mark.parametrize("value", [np.array([[1j]]), np.array([["a"]]),
                                   np.array([[1]], dtype=object),
                                   np.array([[1]], dtype=np.longdouble)])
def test_unsafe_dtypes(value):
    with pytest.raises(TypeError, match="according to the rule 'safe'"):
        linear_sum_assignment(value)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_and_minus_inf(dtype):
    for bad in (np.nan, -np.inf):
        c = np.ones((3, 4), dtype=dtype)
        c[1, 2] = bad
        with pytest.raises(ValueError, match="^matrix contains invalid numeric entries$") as err:
            linear_sum_assignment(c)
        assert err.value.status == immiscible.Status.ERR_NONFINITE
    c = np.ones((3, 4), dtype=dtype)
    c[0, 0] = np.inf  # forbidden when minimizing, invalid when maximizing (as scipy)
    linear_sum_assignment(c)
    with pytest.raises(ValueError, match="invalid numeric entries"):
        linear_sum_assignment(c, maximize=True)
    c[0, 0] = -np.inf
    rows, cols = linear_sum_assignment(c, maximize=True)
    assert cols[0] != 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_forbidden_pairs(rng, scipy_lsa, dtype):
    for shape in [(12, 12), (8, 14), (14, 8)]:
        c = rng.integers(0, 20, size=shape).astype(np.float64)
        c[rng.random(shape) < 0.4] = np.inf
        try:
            srows, scols = scipy_lsa(c)
        except ValueError:
            with pytest.raises(ValueError, match="^cost matrix is infeasible$"):
                linear_sum_assignment(c.astype(dtype) if dtype != np.int64 else c)
            continue
        rows, cols = linear_sum_assignment(c if dtype == np.int64 else c.astype(dtype))
        assert np.isfinite(c[rows, cols]).all()
        assert total(c, rows, cols) == total(c, srows, scols)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_infeasible(dtype):
    c = np.array([[1, np.inf, np.inf], [2, np.inf, np.inf], [3, 4, 5]], dtype=dtype)
    with pytest.raises(ValueError, match="^cost matrix is infeasible$") as err:
        linear_sum_assignment(c)
    assert isinstance(err.value, immiscible.InfeasibleError)
    assert err.value.status == immiscible.Status.ERR_INFEASIBLE
    with pytest.raises(ValueError, match="infeasible"):
        linear_sum_assignment(np.full((2, 3), np.inf, dtype=dtype))
    with pytest.raises(ValueError, match="infeasible"):
        linear_sum_assignment(np.full((3, 2), np.inf, dtype=dtype))


def test_float64_near_tie(scipy_lsa):
    c = np.array([[1.0, 1 + 1e-10], [1 + 1e-10, 1 + 3e-10]])
    # In float32 every entry is 1.0: the tie goes to the diagonal, 1e-10 worse than optimal.
    assert np.all(c.astype(np.float32) == 1.0)
    rows, cols = linear_sum_assignment(c)
    assert cols.tolist() == [1, 0]
    rows, cols = check_like_scipy(c, scipy_lsa)
    check_like_scipy(c, scipy_lsa, maximize=True)


def near_tie_matrix(rng, n, m, spread=1e-9):
    """Costs 1 + (tiny integers) * spread: float32 rounds them all to 1 (or its neighbours),
    so only float64 sees the optimum."""
    return 1.0 + rng.integers(0, 50, size=(n, m)) * spread


def certificate_bound(c, maximize=False):
    """What the float64 path promises (linear_sum_assignment's notes): its total is within
    3 n tol of the optimum, tol = 64 eps64 (max|c| + max|u| + max|v|), the potentials those of
    the certificate it returns."""
    c = np.asarray(c, dtype=np.float64)
    c = -c if maximize else c
    t = c if c.shape[0] <= c.shape[1] else c.T
    _, u, v, _ = certified_solve(t[None])
    tol = 64 * np.finfo(np.float64).eps * (np.abs(t).max() + np.abs(u).max() + np.abs(v).max())
    return 3 * t.shape[0] * tol


@pytest.mark.parametrize("shape", [(30, 30), (20, 45), (45, 20), (3, 200)])
def test_float64_near_ties_random(rng, scipy_lsa, shape):
    """Float32 sees none of these costs apart, float64 does. Near-ties also exist at float64's
    own resolution: 1 + k 1e-9 rounds each k differently, so two assignments with the same sum
    of k can differ by a few ulps of the total (3.6e-15 seen at (20, 45), maximize). The float64
    certificate does not tell those apart, and scipy's float64 solver promises no more: the
    totals agree to the certificate's bound, a few 1e-12 here, far below the 1e-9 steps float32
    cannot see."""
    for _ in range(3):
        c = near_tie_matrix(rng, *shape)
        for m, maximize in ((c, False), (c, True), (c * 1e12 - 3e12, False)):
            bound = certificate_bound(m, maximize)
            assert bound < 0.05 * 1e-9 * np.abs(m).max()  # far below the steps float32 hides
            check_like_scipy(m, scipy_lsa, maximize=maximize,
                             rel=bound / max(abs(float(m.sum())), 1.0))


def test_float64_mixed_scales(rng, scipy_lsa):
    c = rng.random((40, 40)) * 10.0 ** rng.integers(-8, 8, size=(40, 40))
    check_like_scipy(c, scipy_lsa)
    c = rng.random((25, 25)) * 1e300  # beyond float32's range: scaled before rounding
    check_like_scipy(c, scipy_lsa, rel=1e-15)
    c = rng.random((25, 25)) * 1e-300
    check_like_scipy(c, scipy_lsa, rel=1e-15)


def test_certificate_refines_near_ties(rng):
    c = near_tie_matrix(rng, 40, 40)[None]
    assign, u, v, rounds = certified_solve(c)
    assert rounds[0] >= 2, "float32 alone cannot see these ties"
    reduced = c[0] - u[0][:, None] - v[0][None, :]
    assert reduced.min() >= -1e-13
    assert np.abs(reduced[np.arange(40), assign[0]]).max() <= 1e-13
    exact = (rng.random((1, 30, 30)) * 64).round() / 64  # float32 holds these exactly
    assert certified_solve(exact)[3][0] == 1


def test_float32_solved_in_place():
    """A C-contiguous float32 matrix reaches the library without a copy: the whole call
    allocates far less than the 16 MB matrix (numpy reports its buffers to tracemalloc)."""
    c = np.random.default_rng(1).random((2000, 2000), dtype=np.float32)
    linear_sum_assignment(c[:10, :10])  # warm up
    tracemalloc.start()
    try:
        linear_sum_assignment(c)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, peak


def test_inputs_not_modified(rng):
    for dtype in (np.float32, np.float64):
        c = rng.random((20, 30)).astype(dtype)
        keep = c.copy()
        linear_sum_assignment(c, maximize=True)
        linear_sum_assignment(c.T)
        assert np.array_equal(c, keep)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threads_keyword(rng, dtype):
    """threads= (not in scipy) changes nothing but the thread count: 2048 x 2048 reaches the
    passes that run on a team (2^22 cells); a batch is parallel over problems."""
    c = rng.random((2048, 2048)).astype(dtype)
    want = linear_sum_assignment(c)
    for threads in (1, 2, 0):
        rows, cols = linear_sum_assignment(c, threads=threads)
        assert np.array_equal(rows, want[0]) and np.array_equal(cols, want[1]), threads
    batch = rng.random((3, 40, 50)).astype(dtype)
    want = linear_sum_assignment(batch)
    got = linear_sum_assignment(batch, threads=1)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert np.array_equal(certified_solve(batch.astype(np.float64), threads=1)[0],
                          certified_solve(batch.astype(np.float64))[0])


@pytest.mark.parametrize("threads", [-1, "two"])
def test_threads_keyword_invalid(threads):
    with pytest.raises((ValueError, TypeError)):
        linear_sum_assignment(np.ones((3, 3)), threads=threads)
