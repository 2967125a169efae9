"""Batched linear_sum_assignment: (P, n, m) in one library call == a loop of single solves."""

import numpy as np
import pytest

from immiscible import linear_sum_assignment


def loop(c, maximize=False):
    pairs = [linear_sum_assignment(c[p], maximize=maximize) for p in range(c.shape[0])]
    k = min(c.shape[1:])
    rows = np.array([r for r, _ in pairs], dtype=np.int64).reshape(len(pairs), k)
    cols = np.array([q for _, q in pairs], dtype=np.int64).reshape(len(pairs), k)
    return rows, cols


@pytest.mark.parametrize("shape", [(6, 20, 20), (5, 9, 15), (5, 15, 9), (1, 12, 12), (3, 1, 7)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("maximize", [False, True])
def test_batch_equals_loop(rng, shape, dtype, maximize):
    c = (rng.random(shape) * 100).astype(dtype)
    rows, cols = linear_sum_assignment(c, maximize=maximize)
    want_rows, want_cols = loop(c, maximize)
    assert rows.dtype == cols.dtype == np.int64
    assert rows.shape == cols.shape == (shape[0], min(shape[1:]))
    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_array_equal(cols, want_cols)


def test_batch_against_scipy(rng, scipy_lsa):
    c = rng.random((8, 30, 40))
    c[2] = 1.0 + rng.integers(0, 40, size=(30, 40)) * 1e-9  # a float64 near-tie problem
    rows, cols = linear_sum_assignment(c)
    for p in range(c.shape[0]):
        sr, sc = scipy_lsa(c[p])
        assert c[p][rows[p], cols[p]].sum() == pytest.approx(c[p][sr, sc].sum(), rel=1e-15)


def test_batch_forbidden_and_infeasible(rng):
    c = rng.random((4, 6, 6))
    c[:, 0, 1:] = np.inf  # row 0 may only take column 0
    rows, cols = linear_sum_assignment(c)
    assert (cols[:, 0] == 0).all()
    c[3, 1, 0] = np.inf
    c[3, 1, 1:] = np.inf  # row 1 of problem 3 has no column at all
    with pytest.raises(ValueError, match="^cost matrix is infeasible$"):
        linear_sum_assignment(c)
    with pytest.raises(ValueError, match="^cost matrix is infeasible$"):
        linear_sum_assignment(c.astype(np.float32))


def test_batch_invalid_entries():
    c = np.ones((3, 4, 4))
    c[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="invalid numeric entries"):
        linear_sum_assignment(c)


@pytest.mark.parametrize("shape", [(0, 3, 3), (4, 0, 3), (4, 3, 0)])
def test_batch_empty(shape):
    rows, cols = linear_sum_assignment(np.zeros(shape))
    assert rows.shape == cols.shape == (shape[0], 0)


def test_batch_views(rng):
    """Non-contiguous batches (a transposed stack) give the same results as copies."""
    c = rng.random((20, 20, 7)).astype(np.float32).transpose(2, 0, 1)
    r1, c1 = linear_sum_assignment(c)
    r2, c2 = linear_sum_assignment(np.ascontiguousarray(c))
    np.testing.assert_array_equal(r1, r2)
    np.testing.assert_array_equal(c1, c2)


def test_float64_refinement_converges(rng, scipy_lsa):
    """float64 problems certify after one refinement: the capped reduced costs (_lsa._cap) keep
    float32's digits where the optimum is decided. Fixed seed: the number of solves is
    deterministic."""
    from immiscible._lsa import certified_solve
    costs = rng.random((24, 120, 120))
    costs[::3] = np.round(costs[::3] * 1e5) / 1e5 + 1e-11 * rng.random((8, 120, 120))  # near-ties
    assign, u, v, rounds = certified_solve(costs)
    assert rounds.max() <= 2, np.bincount(rounds)
    for p in range(costs.shape[0]):
        r, c = scipy_lsa(costs[p])
        best = costs[p][r, c].sum()
        got = costs[p][np.arange(120), assign[p]].sum()
        assert abs(got - best) <= 1e-12 * abs(best)
