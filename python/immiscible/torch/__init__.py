"""immiscible.torch: immiscible noise and minibatch OT for PyTorch training loops.

Tensors in, tensors out: every call takes tensors of shape (B, ...) on any device and returns
tensors on the input's device, in its dtype (index tensors are int64).

Where the distances are computed (``distance=``):

``"library"``
    The C library computes them on the host. CPU float32 contiguous tensors are read in place
    (no copy); other tensors are converted to that once.
``"torch"``
    torch computes them on the tensors' device, ``|x|^2 + |y|^2 - 2 x y^T`` with the rows
    rounded to ``precision`` (``"fp32"``, ``"fp16"``, ``"bf16"``) and one matmul in that dtype
    (float32 accumulation; on the CPU, where torch 1.13 has no half matmul, half-rounded rows
    are multiplied in float32), norms and combination in float32, clamped at 0, square-rooted
    for ``"l2"``. fp16 needs ``|x_i . y_j| < 65504`` (the matmul's output is half); an overflow
    is reported as a ValueError, never solved as a forbidden pair.
    Only the (B, B) float32 distance matrix is copied to the host -- on CUDA the one host
    synchronisation of the call -- the library solves the assignment, and the permutation is
    applied on the device with ``index_select``: x and the noise never leave the device.
    If you enable TF32 (``torch.backends.cuda.matmul.allow_tf32``), the fp32 matmul uses it.
``"auto"`` (default)
    ``"torch"`` for tensors off the CPU, ``"library"`` for CPU tensors. Passing ``"torch"``
    with CPU tensors runs the CUDA code path on the CPU (that is how the tests exercise it).

The two paths solve the same problem but round the distances differently, so on a near-tie
they may return different (equally good, to float32 rounding) permutations.

Contents: :class:`ImmiscibleNoise` (``noise = imm(x)``, ``imm.submit(x)``),
:func:`noise_collate` (assignment inside DataLoader workers), :func:`assign_noise`,
:func:`assign_noise_pool`, :func:`select_noise_knn` and :func:`ot_pair` (the exact minibatch
OT coupling of flow matching).
"""

try:
    import torch as _torch  # noqa: F401  (absolute import: PyTorch itself)
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "immiscible.torch needs PyTorch, which is not installed "
        "(Debian: apt-get install python3-torch); the rest of immiscible works without it"
    ) from exc

from .functional import assign_noise, assign_noise_pool, ot_pair, select_noise_knn
from .noise import ImmiscibleNoise, NoiseCollate, noise_collate

__all__ = [
    "ImmiscibleNoise",
    "NoiseCollate",
    "assign_noise",
    "assign_noise_pool",
    "noise_collate",
    "ot_pair",
    "select_noise_knn",
]
