"""assign_noise, assign_noise_pool, select_noise_knn: the library's results, inputs untouched."""

import ctypes

import numpy as np
import pytest

import immiscible
from immiscible import _lib


def c_assign_noise(x, noise):
    """The C library called directly: (permuted noise, perm)."""
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(len(x), -1)
    work = np.array(noise, dtype=np.float32).reshape(len(x), -1)
    perm = np.empty(len(x), dtype=np.int32)
    st = _lib.lib.imm_assign_noise(x.ctypes.data, work.ctypes.data, x.shape[0], x.shape[1],
                                   None, perm.ctypes.data)
    assert st == 0
    return work, perm


def batch(rng, shape=(32, 3, 8, 8), dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)


def test_assign_noise_matches_c(rng):
    x, noise = batch(rng)
    keep = noise.copy()
    assigned, perm = immiscible.assign_noise(x, noise)
    want, want_perm = c_assign_noise(x, noise)
    assert perm.dtype == np.int64 and perm.shape == (32,)
    np.testing.assert_array_equal(perm, want_perm)
    assert assigned.shape == noise.shape and assigned.dtype == np.float32
    assert np.array_equal(assigned.reshape(32, -1).view(np.uint32), want.view(np.uint32))
    assert np.array_equal(assigned.view(np.uint32), noise[perm].view(np.uint32))
    assert np.array_equal(noise.view(np.uint32), keep.view(np.uint32)), "caller's noise moved"


def test_assign_noise_in_place_and_out(rng):
    x, noise = batch(rng)
    _, perm = immiscible.assign_noise(x, noise)
    original = noise.copy()
    out = np.empty_like(noise)
    got, p2 = immiscible.assign_noise(x, noise, out=out)
    assert got is out and np.array_equal(out, original[perm]) and np.array_equal(p2, perm)
    assert np.array_equal(noise, original)
    got, p3 = immiscible.assign_noise(x, noise, out=noise)
    assert got is noise and np.array_equal(noise, original[perm]) and np.array_equal(p3, perm)


def test_assign_noise_other_dtypes_keep_rows_bitwise(rng):
    x, noise = batch(rng, dtype=np.float64)
    _, perm32 = immiscible.assign_noise(x.astype(np.float32), noise.astype(np.float32))
    keep = noise.copy()
    assigned, perm = immiscible.assign_noise(x, noise)
    assert assigned.dtype == np.float64
    np.testing.assert_array_equal(perm, perm32)
    assert np.array_equal(assigned, keep[perm]) and np.array_equal(noise, keep)
    assigned, _ = immiscible.assign_noise(x, noise, out=noise)  # in place, float64
    assert assigned is noise and np.array_equal(noise, keep[perm])


def test_assign_noise_views_and_array_like(rng):
    x, noise = batch(rng, shape=(16, 40))
    xt = np.asfortranarray(x)
    _, perm = immiscible.assign_noise(x, noise)

    class Wrapped:
        def __init__(self, a):
            self.a = a

        def __array__(self, dtype=None):
            return self.a if dtype is None else self.a.astype(dtype)

    assert np.array_equal(immiscible.assign_noise(xt, Wrapped(noise))[1], perm)
    assert np.array_equal(immiscible.assign_noise(x.tolist(), noise)[1], perm)


def test_assign_noise_options(rng):
    x, noise = batch(rng, shape=(64, 32))
    for kw in [dict(solver="auction"), dict(precision="bf16"), dict(precision="int8"),
               dict(precision="fp16"), dict(metric="sql2"), dict(threads=1)]:
        assigned, perm = immiscible.assign_noise(x, noise, **kw)
        assert sorted(perm.tolist()) == list(range(64))
        assert np.array_equal(assigned, noise[perm])
    with pytest.raises(ValueError, match="solver must be one of"):
        immiscible.assign_noise(x, noise, solver="greedy")
    with pytest.raises(ValueError, match="threads"):
        immiscible.assign_noise(x, noise, threads=-1)


def test_assign_noise_errors(rng):
    x, noise = batch(rng, shape=(8, 10))
    with pytest.raises(ValueError, match="rows"):
        immiscible.assign_noise(x, noise[:7])
    with pytest.raises(ValueError, match="values"):
        immiscible.assign_noise(x, noise[:, :9])
    with pytest.raises(ValueError, match="shape"):
        immiscible.assign_noise(x[0], noise[0])
    with pytest.raises(ValueError, match="overlaps"):
        immiscible.assign_noise(x, noise, out=x)
    bad = noise.copy()
    bad[3, 3] = np.nan
    with pytest.raises(immiscible.NonFiniteError) as err:
        immiscible.assign_noise(x, bad)
    assert err.value.status == immiscible.Status.ERR_NONFINITE
    assert isinstance(err.value, ValueError)
    empty, perm = immiscible.assign_noise(x[:0], noise[:0])
    assert empty.shape == (0, 10) and perm.shape == (0,)


def test_pool(rng):
    x = rng.standard_normal((12, 3, 4), dtype=np.float32)
    pool = rng.standard_normal((30, 3, 4), dtype=np.float32)
    keep = pool.copy()
    out, index = immiscible.assign_noise_pool(x, pool)
    assert out.shape == (12, 3, 4) and index.dtype == np.int64
    assert len(set(index.tolist())) == 12
    assert np.array_equal(out, pool[index]) and np.array_equal(pool, keep)
    # the same rows as the C function
    c_out = np.empty((12, 12), dtype=np.float32)
    c_index = np.empty(12, dtype=np.int32)
    st = _lib.lib.imm_assign_noise_pool(x.ctypes.data, 12, pool.ctypes.data, 30, 12, None,
                                        c_out.ctypes.data, c_index.ctypes.data)
    assert st == 0 and np.array_equal(index, c_index)
    out64, index64 = immiscible.assign_noise_pool(x, pool.astype(np.float64))
    assert out64.dtype == np.float64 and np.array_equal(index64, index)
    mine = np.zeros((12, 3, 4), dtype=np.float32)
    assert immiscible.assign_noise_pool(x, pool, out=mine)[0] is mine
    assert np.array_equal(mine, out)
    with pytest.raises(immiscible.InvalidArgumentError):
        immiscible.assign_noise_pool(x, pool[:5])


def test_knn(rng):
    x = rng.standard_normal((10, 20), dtype=np.float32)
    cand = rng.standard_normal((10, 4, 20), dtype=np.float32)
    keep = cand.copy()
    out, index = immiscible.select_noise_knn(x, cand)
    d = ((x[:, None, :].astype(np.float64) - cand) ** 2).sum(-1)
    np.testing.assert_array_equal(index, d.argmin(1))
    assert np.array_equal(out, cand[np.arange(10), index]) and np.array_equal(cand, keep)
    out64, index64 = immiscible.select_noise_knn(x, cand.astype(np.float64))
    assert out64.dtype == np.float64 and np.array_equal(index64, index)
    with pytest.raises(ValueError, match="groups"):
        immiscible.select_noise_knn(x, cand[:9])
    with pytest.raises(ValueError, match="shape"):
        immiscible.select_noise_knn(x, cand[0])


def test_library_functions():
    assert immiscible.library_version() == immiscible.__version__
    assert immiscible.simd_arch() in ("scalar", "avx2", "avx512")
    assert ctypes.sizeof(_lib.ImmOptions) == 128
