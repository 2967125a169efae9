"""Assigner: the context path gives the one-shot results, from one thread or several."""

import threading

import numpy as np
import pytest

import immiscible


def problems(seed, count=12, b=48, d=96):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((b, d), dtype=np.float32),
             rng.standard_normal((b, d), dtype=np.float32)) for _ in range(count)]


@pytest.mark.parametrize("kw", [{}, {"precision": "bf16"}, {"solver": "auction"},
                                {"solver": "auction", "exact_finish": True, "accuracy": 1e-3}])
def test_assigner_equals_oneshot(kw):
    fn_kw = {k: v for k, v in kw.items() if k in ("solver", "precision")}
    with immiscible.Assigner(**kw) as assigner:
        for x, noise in problems(1, count=3):
            got, perm = assigner.assign_noise(x, noise)
            if "accuracy" not in kw:
                want, want_perm = immiscible.assign_noise(x, noise, **fn_kw)
                assert np.array_equal(perm, want_perm) and np.array_equal(got, want)
            assert np.array_equal(got, noise[perm])
            pool = np.concatenate([noise, noise[:8] + 1])
            out, index = assigner.assign_noise_pool(x, pool)
            want_out, want_index = immiscible.assign_noise_pool(x, pool, **fn_kw)
            if "accuracy" not in kw:
                assert np.array_equal(index, want_index)
            cand = np.stack([noise, -noise], axis=1)
            out, index = assigner.select_noise_knn(x, cand)
            assert np.array_equal(index, immiscible.select_noise_knn(x, cand, **fn_kw)[1])


def test_assigner_four_threads():
    data = problems(2, count=16)
    with immiscible.Assigner() as single:
        want = [single.assign_noise(x, n)[1] for x, n in data]
    shared = immiscible.Assigner()
    results, errors = {}, []

    def worker(t):
        try:
            for rep in range(3):
                for i in range(t, len(data), 4):
                    results[(rep, i)] = shared.assign_noise(*data[i])[1]
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    shared.close()
    assert not errors
    assert len(results) == 3 * len(data)
    for (rep, i), perm in results.items():
        np.testing.assert_array_equal(perm, want[i])


def test_assigner_lifecycle():
    a = immiscible.Assigner(threads=1)
    assert not a.closed and "open" in repr(a)
    assert a.workspace_bytes(256, 3072) >= 256 * 256 * 4
    assert a.workspace_bytes(0, 0) >= 0
    a.close()
    a.close()
    assert a.closed
    x = np.zeros((2, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="closed"):
        a.assign_noise(x, x.copy())
    del a  # __del__ after close: nothing to free
    b = immiscible.Assigner()
    del b  # __del__ frees the context
    with pytest.raises(ValueError, match="precision"):
        immiscible.Assigner(precision="fp8")
    with pytest.raises(immiscible.InvalidArgumentError):
        immiscible.Assigner(solver="auction", accuracy=2.0)
