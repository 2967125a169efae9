"""immiscible: noise assignment for diffusion training, on libimmiscible.

A binding of the C library through ctypes (no compiled extension): every call releases the GIL.

- :func:`linear_sum_assignment`: scipy's function (same signature, results and errors), exact,
  with ``+inf`` as forbidden pairs and (P, n, m) batches solved in one call.
- :func:`assign_noise`, :func:`assign_noise_pool`, :func:`select_noise_knn`: the per-batch noise
  operations; :class:`Assigner` reuses one library context across steps.
- :func:`library_path` says which shared library was loaded (``IMMISCIBLE_LIBRARY``, else the
  one installed with this package, else the system's).
- ``immiscible.torch`` (imported on first use): PyTorch helpers.

Examples
--------
>>> import numpy as np
>>> from immiscible import linear_sum_assignment
>>> linear_sum_assignment(np.array([[1.0, 2.0], [2.0, 5.0]]))
(array([0, 1]), array([1, 0]))
"""

from . import _lib
from ._lib import (ImmiscibleError, ImmiscibleMemoryError, InfeasibleError,
                   InvalidArgumentError, NonFiniteError, Status, TooLargeError,
                   UnsupportedError)
from ._lsa import linear_sum_assignment
from ._noise import Assigner, assign_noise, assign_noise_pool, select_noise_knn

__version__ = "0.1.1"

__all__ = [
    "linear_sum_assignment", "assign_noise", "assign_noise_pool", "select_noise_knn",
    "Assigner", "library_path", "library_version", "simd_arch", "Status", "ImmiscibleError",
    "InvalidArgumentError", "NonFiniteError", "InfeasibleError", "TooLargeError",
    "UnsupportedError", "ImmiscibleMemoryError", "__version__",
]


def library_path():
    """The path of the libimmiscible shared library this package loaded."""
    return _lib.library_path


def library_version():
    """The loaded library's version string, "MAJOR.MINOR.PATCH"."""
    return _lib.lib.imm_version_string().decode()


def simd_arch():
    """The SIMD variant the library's kernels run: "scalar", "avx2" or "avx512"."""
    return _lib.lib.imm_simd_arch().decode()


def __getattr__(name):
    if name == "torch":  # immiscible.torch imports torch: only on first use
        import importlib
        return importlib.import_module(".torch", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
