"""immiscible.torch: tensors vs numpy, the torch distance path vs the library's, ImmiscibleNoise,
submit(), noise_collate in a DataLoader, ot_pair vs POT and scipy.

Skipped as a whole, with the reason, when PyTorch is not installed. The CUDA test runs only
where a GPU is present; the CUDA code path itself runs on the CPU through distance="torch".
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (python3-torch)")

import immiscible  # noqa: E402
import immiscible.torch as imt  # noqa: E402
from immiscible.torch import _tensor  # noqa: E402

D = 3 * 32 * 32


def images_and_noise(batch, seed, dim=D):
    """Smooth-ish images in [-1, 1] (3 x 32 x 32: random 4 x 4 fields, bilinearly upsampled,
    squashed) and N(0, 1) noise, as float32 tensors."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(batch, 3, 4, 4, generator=g) * 1.5
    x = torch.tanh(torch.nn.functional.interpolate(coarse, size=(32, 32), mode="bilinear",
                                                   align_corners=False))
    x = x.reshape(batch, -1)[:, :dim].contiguous()
    noise = torch.randn(batch, dim, generator=g)
    return x, noise


def total_distance(x, y, perm, squared=False):
    """sum_i |x_i - y_perm[i]| (or squared), in float64."""
    d2 = ((x.double() - y.double()[perm]) ** 2).sum(1)
    return float(d2.sum() if squared else d2.sqrt().sum())


def np_rows(t):
    return t.reshape(t.shape[0], -1).numpy()


# ---- tensors vs numpy ------------------------------------------------------------------------

def test_import_is_lazy_in_core():
    # The core package must not need torch: it does not import immiscible.torch itself.
    import subprocess
    import sys
    code = ("import sys; sys.modules['torch'] = None; import immiscible; "
            "assert 'immiscible.torch' not in sys.modules\n"
            "try:\n import immiscible.torch\nexcept ImportError as e:\n print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "needs PyTorch" in out.stdout


def test_host_view_shares_memory():
    t = torch.randn(4, 3, 5)
    view = _tensor.host_f32(_tensor.rows(t))
    assert view.ctypes.data == t.data_ptr()  # no copy on the way to the library
    other = _tensor.host_f32(_tensor.rows(t.double()))
    assert other.dtype == np.float32 and other.ctypes.data != t.data_ptr()


@pytest.mark.parametrize("precision", ["fp32", "fp16", "bf16", "int8"])
def test_assign_noise_tensors_equal_numpy(precision):
    x, noise = images_and_noise(48, seed=1, dim=300)
    x, noise = x.reshape(48, 3, 10, 10), noise.reshape(48, 3, 10, 10)
    before = noise.clone()
    out, perm = imt.assign_noise(x, noise, precision=precision)
    ref, ref_perm = immiscible.assign_noise(np_rows(x), np_rows(noise), precision=precision)
    assert torch.equal(noise, before)  # the input is not modified
    assert out.shape == noise.shape and out.dtype == noise.dtype
    assert perm.dtype == torch.int64 and perm.shape == (48,)
    np.testing.assert_array_equal(perm.numpy(), ref_perm)
    assert np.array_equal(np_rows(out), ref)  # bitwise
    assert torch.equal(out, noise[perm])


def test_assign_noise_other_dtypes_and_layouts():
    x, noise = images_and_noise(32, seed=2, dim=256)
    _, ref_perm = immiscible.assign_noise(x.numpy(), noise.numpy())
    # float64 noise, a transposed (non-contiguous) x: converted for the library; the result
    # is noise's own rows (float64, bitwise), not a float32 round trip.
    xt = x.t().contiguous().t()
    assert not xt.is_contiguous()
    out, perm = imt.assign_noise(xt, noise.double())
    np.testing.assert_array_equal(perm.numpy(), ref_perm)
    assert out.dtype == torch.float64 and torch.equal(out, noise.double()[perm])
    # autograd passes through the permutation
    n = noise.clone().requires_grad_()
    out, perm = imt.assign_noise(x, n)
    out.sum().backward()
    assert torch.equal(n.grad, torch.ones_like(n))


def test_assign_noise_pool_and_knn_equal_numpy():
    x, _ = images_and_noise(24, seed=3, dim=200)
    pool = torch.randn(40, 200, generator=torch.Generator().manual_seed(4))
    out, index = imt.assign_noise_pool(x, pool)
    ref, ref_index = immiscible.assign_noise_pool(x.numpy(), pool.numpy())
    np.testing.assert_array_equal(index.numpy(), ref_index)
    assert np.array_equal(out.numpy(), ref)
    cand = torch.randn(24, 5, 200, generator=torch.Generator().manual_seed(5))
    out, index = imt.select_noise_knn(x, cand)
    ref, ref_index = immiscible.select_noise_knn(x.numpy(), cand.numpy())
    np.testing.assert_array_equal(index.numpy(), ref_index)
    assert np.array_equal(out.numpy(), ref)


def test_assigner_path_equals_one_shot():
    x, noise = images_and_noise(64, seed=6, dim=512)
    with immiscible.Assigner() as assigner:
        out, perm = imt.assign_noise(x, noise, assigner=assigner)
    ref, ref_perm = imt.assign_noise(x, noise)
    assert torch.equal(perm, ref_perm) and torch.equal(out, ref)


def test_argument_errors():
    x, noise = images_and_noise(8, seed=7, dim=12)
    with pytest.raises(ValueError, match="batch sizes"):
        imt.assign_noise(x, noise[:7])
    with pytest.raises(ValueError, match="differ in size"):
        imt.assign_noise(x, noise[:, :11])
    with pytest.raises(ValueError, match="distance"):
        imt.assign_noise(x, noise, distance="gpu")
    with pytest.raises(ValueError, match="precision"):
        imt.assign_noise(x, noise, distance="torch", precision="int8")
    with pytest.raises(ValueError, match="non-finite"):
        imt.assign_noise(x, noise.masked_fill(noise > 2, float("nan")), distance="torch")
    with pytest.raises(ValueError):
        imt.assign_noise(x, noise.masked_fill(noise > 2, float("nan")))
    with pytest.raises(ValueError, match="fewer"):
        imt.assign_noise_pool(x, noise[:4])
    with pytest.raises(TypeError):
        imt.assign_noise(x.numpy(), noise)


# ---- the torch distance path (the CUDA code path, on the CPU) ---------------------------------

@pytest.mark.parametrize("batch", [64, 256])
def test_torch_distance_path_matches_library(batch):
    x, noise = images_and_noise(batch, seed=10 + batch)
    lib_out, lib_perm = imt.assign_noise(x, noise, distance="library")
    dev_out, dev_perm = imt.assign_noise(x, noise, distance="torch")
    assert torch.equal(dev_out, noise[dev_perm])
    # The two paths round the float32 distances differently (matmul vs the library's blocked
    # kernels): they must agree on the permutation unless two assignments are within that
    # rounding of each other. Seen here: identical permutations; the fallback keeps the test
    # honest if a BLAS build ever lands on the other side of a near-tie.
    if not torch.equal(lib_perm, dev_perm):
        a = total_distance(x, noise, lib_perm)
        b = total_distance(x, noise, dev_perm)
        assert abs(a - b) <= 1e-6 * a, (a, b)
        assert (lib_perm != dev_perm).sum() <= 4


@pytest.mark.parametrize("distance", ["library", "torch"])
def test_auction_solver(distance):
    x, noise = images_and_noise(128, seed=16)
    _, exact = imt.assign_noise(x, noise, distance=distance)
    out, perm = imt.assign_noise(x, noise, solver="auction", distance=distance)
    assert sorted(perm.tolist()) == list(range(128)) and torch.equal(out, noise[perm])
    best = total_distance(x, noise, exact)
    assert best * (1 - 1e-9) <= total_distance(x, noise, perm) <= best * (1 + 1e-4)


def test_torch_distances_close_to_library():
    x, noise = images_and_noise(32, seed=11)
    for metric in ("l2", "sql2"):
        d_dev = _tensor.device_distance(x, noise, "fp32", metric).numpy()
        ref = torch.cdist(x.double(), noise.double())
        ref = (ref ** 2 if metric == "sql2" else ref).numpy()
        np.testing.assert_allclose(d_dev, ref, rtol=2e-6)


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_torch_path_low_precision(precision):
    x, noise = images_and_noise(64, seed=12)
    _, perm32 = imt.assign_noise(x, noise, distance="torch")
    _, perm = imt.assign_noise(x, noise, distance="torch", precision=precision)
    _, lib_perm = imt.assign_noise(x, noise, precision=precision)
    assert sorted(perm.tolist()) == list(range(64))
    best = total_distance(x, noise, perm32)
    # the rounded rows move each distance by ~2^-11 (fp16) / 2^-8 (bf16) relative
    tol = 2e-4 if precision == "fp16" else 2e-3
    for p in (perm, lib_perm):
        assert best <= total_distance(x, noise, p) <= best * (1 + tol)


def test_torch_path_pool_and_knn():
    x, _ = images_and_noise(32, seed=13)
    pool = torch.randn(48, D, generator=torch.Generator().manual_seed(14))
    out_l, idx_l = imt.assign_noise_pool(x, pool, distance="library")
    out_t, idx_t = imt.assign_noise_pool(x, pool, distance="torch")
    assert torch.equal(idx_l, idx_t) and torch.equal(out_l, out_t)
    cand = torch.randn(32, 6, 3, 32, 32, generator=torch.Generator().manual_seed(15))
    out_l, idx_l = imt.select_noise_knn(x, cand, distance="library")
    out_t, idx_t = imt.select_noise_knn(x, cand, distance="torch")
    assert torch.equal(idx_l, idx_t) and torch.equal(out_l, out_t)
    assert out_t.shape == (32, 3, 32, 32)


# ---- ImmiscibleNoise ---------------------------------------------------------------------------

def sorted_rows(t):
    t = t.reshape(t.shape[0], -1)
    return t[t[:, 0].argsort()]


@pytest.mark.parametrize("distance", ["library", "torch"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_immiscible_noise_shapes_dtypes_generator(distance, dtype):
    x = images_and_noise(16, seed=20, dim=192)[0].reshape(16, 3, 8, 8).to(dtype)
    outs = []
    for _ in range(2):
        with imt.ImmiscibleNoise(distance=distance,
                                 generator=torch.Generator().manual_seed(3)) as imm:
            outs.append(imm(x))
    noise = outs[0]
    assert noise.shape == x.shape and noise.dtype == dtype and noise.device == x.device
    assert torch.equal(outs[0], outs[1])  # reproducible from the generator
    # a permutation of the raw draw, bitwise
    raw = torch.randn(x.shape, generator=torch.Generator().manual_seed(3), dtype=dtype)
    assert torch.equal(sorted_rows(noise), sorted_rows(raw))
    assert not torch.equal(noise, raw)


def test_immiscible_noise_integer_images_and_repr():
    x = (torch.rand(8, 1, 4, 4) * 255).to(torch.uint8)
    with imt.ImmiscibleNoise(generator=torch.Generator().manual_seed(0)) as imm:
        noise = imm(x)
        assert "assign" in repr(imm)
    assert noise.dtype == torch.get_default_dtype() and noise.shape == x.shape
    with pytest.raises(ValueError, match="method"):
        imt.ImmiscibleNoise("pool")
    with pytest.raises(ValueError, match="k must"):
        imt.ImmiscibleNoise("knn", k=0)


def test_immiscible_noise_knn_picks_nearest():
    x = images_and_noise(20, seed=21, dim=300)[0].reshape(20, 3, 10, 10)
    imm = imt.ImmiscibleNoise("knn", k=5, generator=torch.Generator().manual_seed(1))
    cand = imm.draw(x)
    assert cand.shape == (20, 5, 3, 10, 10)
    out, index = imm.assign(x, cand)
    d = ((cand.double() - x.double()[:, None]) ** 2).flatten(2).sum(2)
    assert torch.equal(index, d.argmin(1))
    assert torch.equal(out, cand[torch.arange(20), index])
    again = imt.ImmiscibleNoise("knn", k=5, generator=torch.Generator().manual_seed(1))(x)
    assert torch.equal(again, out)
    imm.close()


def test_submit_equals_direct_call():
    x = images_and_noise(64, seed=22, dim=768)[0]
    direct = imt.ImmiscibleNoise(generator=torch.Generator().manual_seed(9))
    background = imt.ImmiscibleNoise(generator=torch.Generator().manual_seed(9))
    futures = [background.submit(x) for _ in range(3)]  # queued in order
    for f in futures:
        assert torch.equal(f.result(), direct(x))
    direct.close()
    background.close()


def test_concurrent_calls_share_one_instance():
    import concurrent.futures
    xs = [images_and_noise(32, seed=30 + i, dim=256)[0] for i in range(8)]
    imm = imt.ImmiscibleNoise()
    noises = [torch.randn(32, 256, generator=torch.Generator().manual_seed(i)) for i in range(8)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda a: imm.assign(*a)[1], zip(xs, noises)))
    for x, n, perm in zip(xs, noises, got):
        assert torch.equal(perm, imt.assign_noise(x, n)[1])
    imm.close()


# ---- noise_collate in a DataLoader -------------------------------------------------------------

def test_noise_collate_in_dataloader_workers():
    from torch.utils.data import DataLoader, TensorDataset
    x = images_and_noise(96, seed=40, dim=192)[0].reshape(96, 3, 8, 8)
    data = TensorDataset(x, torch.arange(96))

    def run():
        loader = DataLoader(data, batch_size=32, num_workers=2, collate_fn=imt.noise_collate(),
                            generator=torch.Generator().manual_seed(5))
        return list(loader)

    first, second = run(), run()
    seen = []
    for (images, labels, noise), (_, _, noise2) in zip(first, second):
        assert images.shape == noise.shape == (32, 3, 8, 8) and labels.shape == (32,)
        assert torch.equal(noise, noise2)  # reproducible through the loader's generator
        # already optimally assigned: assigning it again keeps every row where it is
        _, perm = imt.assign_noise(images, noise)
        assert torch.equal(perm, torch.arange(32))
        seen.append(noise)
    assert not torch.equal(seen[0], seen[1])  # workers draw different noise


def test_noise_collate_batch_kinds():
    x = torch.rand(8, 2, 3)
    collate = imt.noise_collate(method="knn", k=3)
    batch, noise = collate([s for s in x])
    assert torch.equal(batch, x) and noise.shape == x.shape
    out = imt.noise_collate(key="img")([{"img": s, "y": i} for i, s in enumerate(x)])
    assert set(out) == {"img", "y", "noise"} and out["noise"].shape == x.shape
    import pickle
    assert isinstance(pickle.loads(pickle.dumps(collate)), imt.NoiseCollate)


# ---- ot_pair -----------------------------------------------------------------------------------

@pytest.mark.parametrize("batch,dim", [(5, 2), (16, 3), (40, 8)])
@pytest.mark.parametrize("distance", ["library", "torch"])
def test_ot_pair_equals_pot_emd(batch, dim, distance):
    ot = pytest.importorskip("ot", reason="POT is not installed (python3-pot)")
    from scipy.optimize import linear_sum_assignment
    g = torch.Generator().manual_seed(batch * 100 + dim)
    x0 = torch.randn(batch, dim, generator=g, dtype=torch.float64)
    x1 = torch.randn(batch, dim, generator=g, dtype=torch.float64) + 0.5
    x0_out, x1_paired = imt.ot_pair(x0, x1, distance=distance)
    assert x0_out is x0 and x1_paired.dtype == torch.float64
    cost = (torch.cdist(x0, x1) ** 2).numpy()
    a = np.full(batch, 1.0 / batch)
    plan = ot.emd(a, a, cost)
    pot_perm = plan.argmax(1)
    assert np.allclose(plan[np.arange(batch), pot_perm], 1.0 / batch)  # a permutation plan
    assert torch.equal(x1_paired, x1[torch.from_numpy(pot_perm)])
    rows, cols = linear_sum_assignment(cost)
    best = cost[rows, cols].sum()
    ours = ((x0 - x1_paired) ** 2).sum().item()
    assert ours <= best * (1 + 1e-6) + 1e-12


def test_ot_pair_image_batch_is_minimal():
    from scipy.optimize import linear_sum_assignment
    x1, x0 = images_and_noise(128, seed=50)
    _, paired = imt.ot_pair(x0, x1)
    cost = (torch.cdist(x0.double(), x1.double()) ** 2).numpy()
    rows, cols = linear_sum_assignment(cost)
    best = cost[rows, cols].sum()
    ours = ((x0.double() - paired.double()) ** 2).sum().item()
    assert best * (1 - 1e-12) <= ours <= best * (1 + 1e-6)


# ---- CUDA (where a GPU is present) -------------------------------------------------------------

@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_stays_on_device_with_one_sync():
    import warnings
    x, noise = images_and_noise(256, seed=60)
    xc, nc = x.cuda(), noise.cuda()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out, perm = imt.assign_noise(xc, nc)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    assert len(syncs) == 1, [str(w.message) for w in syncs]  # the cost-matrix copy only
    assert out.device == xc.device and perm.device == xc.device and perm.dtype == torch.int64
    _, cpu_perm = imt.assign_noise(x, noise, distance="torch")
    assert torch.equal(perm.cpu(), cpu_perm) or abs(
        total_distance(x, noise, perm.cpu()) - total_distance(x, noise, cpu_perm)) < 1e-5 * 1e4
    imm = imt.ImmiscibleNoise(generator=torch.Generator(device="cuda").manual_seed(0))
    assert imm(xc).device == xc.device
    assert imm.submit(xc).result().device == xc.device
    _, paired = imt.ot_pair(nc, xc)
    assert paired.device == xc.device
    out, idx = imt.select_noise_knn(xc, torch.randn(256, 4, D, device="cuda"))
    assert out.device == xc.device and idx.device == xc.device


# ---- docstring examples ------------------------------------------------------------------------

@pytest.mark.parametrize("module", ["immiscible.torch.functional", "immiscible.torch.noise"])
def test_docstrings(module):
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
