"""The one place that loads libimmiscible and declares its C interface.

Everything the package calls in C is declared here, once: every function's ``argtypes`` and
``restype``, the two structs (:class:`ImmOptions`, :class:`ImmLapInfo`), the status codes and the
exceptions they map to. Data pointers are declared ``c_void_p`` and passed as integer addresses
(``ndarray.ctypes.data``); the callers in this package check dtype, contiguity and shape first.

The library is loaded with :class:`ctypes.CDLL`, which releases the GIL for the duration of every
foreign call: other Python threads run while the library works.

Search order (the first library that loads *and* passes the version check wins):

1. the environment variable ``IMMISCIBLE_LIBRARY`` (a path). When it is set, it is the only
   candidate: a wrong path is an error, not a silent fallback to another library;
2. the library installed with this package by ``cmake --install`` (``_install.py``, written at
   install time, records the absolute library directory of the install prefix);
3. the system library path, by SONAME (``libimmiscible.so.0.MINOR``: ``LD_LIBRARY_PATH``,
   ``ld.so.cache``, the default directories).
"""

import ctypes
import ctypes.util
import enum
import os

# The C ABI this package was written against (include/immiscible.h). While the major version is
# 0 every minor version may change the ABI, so the minor must match exactly and the SONAME carries
# it; the patch level only has to be at least this (test_layout.py checks these against the header).
ABI_MAJOR = 0
ABI_MINOR = 1
MIN_PATCH = 0
SONAME = f"libimmiscible.so.{ABI_MAJOR}.{ABI_MINOR}"
ENV_VAR = "IMMISCIBLE_LIBRARY"
# A symbol that the oldest acceptable library has and older ones lack.
REQUIRED_SYMBOL = "imm_lap_solve_batch"


# ---- structs -------------------------------------------------------------------------------

class ImmOptions(ctypes.Structure):
    """``struct imm_options`` (128 bytes). Always filled by ``imm_options_init`` first."""

    _fields_ = [
        ("solver", ctypes.c_int32),
        ("precision", ctypes.c_int32),
        ("metric", ctypes.c_int32),
        ("num_threads", ctypes.c_int32),
        ("accuracy", ctypes.c_double),
        ("exact_finish", ctypes.c_int32),
        ("reserved_int_", ctypes.c_int32),
        ("reserved_", ctypes.c_uint64 * 12),
    ]


class ImmLapInfo(ctypes.Structure):
    """``struct imm_lap_info``: what a solve did and how good its result provably is."""

    _fields_ = [
        ("total", ctypes.c_double),
        ("lower_bound", ctypes.c_double),
        ("gap_bound", ctypes.c_double),
        ("final_eps", ctypes.c_double),
        ("bids", ctypes.c_int64),
        ("augmentations", ctypes.c_int64),
        ("phases", ctypes.c_int32),
        ("exact", ctypes.c_int32),
        ("passes", ctypes.c_double),
        ("seconds", ctypes.c_double * 4),
        ("sparse", ctypes.c_int32),
        ("rounds", ctypes.c_int32),
        ("reserved_", ctypes.c_uint64 * 2),
    ]


# ---- status codes and exceptions -----------------------------------------------------------

class Status(enum.IntEnum):
    """``imm_status``: the values are stable across versions."""

    OK = 0
    ERR_INVALID_ARG = -1
    ERR_NONFINITE = -2
    ERR_NOMEM = -3
    ERR_TOO_LARGE = -4
    ERR_UNSUPPORTED = -5
    ERR_INFEASIBLE = -6


class ImmiscibleError(Exception):
    """An error status returned by libimmiscible; ``.status`` is the :class:`Status`."""

    def __init__(self, message, status):
        super().__init__(message)
        self.status = status


class InvalidArgumentError(ImmiscibleError, ValueError):
    """IMM_ERR_INVALID_ARG: a bad argument (shape, option, overlapping buffers...)."""


class NonFiniteError(ImmiscibleError, ValueError):
    """IMM_ERR_NONFINITE: NaN or infinity where the library needs finite values."""


class InfeasibleError(ImmiscibleError, ValueError):
    """IMM_ERR_INFEASIBLE: no complete assignment avoids the forbidden (+inf) pairs."""


class TooLargeError(ImmiscibleError, ValueError):
    """IMM_ERR_TOO_LARGE: a size the library cannot index."""


class UnsupportedError(ImmiscibleError, ValueError):
    """IMM_ERR_UNSUPPORTED: a valid request this build cannot serve (the auction with +inf)."""


class ImmiscibleMemoryError(ImmiscibleError, MemoryError):
    """IMM_ERR_NOMEM: an allocation inside the library failed."""


_ERRORS = {
    Status.ERR_INVALID_ARG: InvalidArgumentError,
    Status.ERR_NONFINITE: NonFiniteError,
    Status.ERR_NOMEM: ImmiscibleMemoryError,
    Status.ERR_TOO_LARGE: TooLargeError,
    Status.ERR_UNSUPPORTED: UnsupportedError,
    Status.ERR_INFEASIBLE: InfeasibleError,
}


def error_for(status, what, message=None):
    """The exception for a non-zero status of the C function ``what``."""
    try:
        status = Status(status)
    except ValueError:
        pass
    cls = _ERRORS.get(status, ImmiscibleError)
    if message is None:
        text = lib.imm_strerror(int(status)).decode("utf-8", "replace")
        message = f"{what}: {text} ({getattr(status, 'name', status)})"
    return cls(message, status)


def check(status, what):
    """Raise the exception for ``status`` unless it is IMM_OK."""
    if status != 0:
        raise error_for(status, what)


# ---- signatures ----------------------------------------------------------------------------

_p = ctypes.c_void_p  # a data pointer: an integer address (ndarray.ctypes.data) or None
_n = ctypes.c_size_t
_int = ctypes.c_int
_OPT = ctypes.POINTER(ImmOptions)

SIGNATURES = {
    "imm_version_string": ([], ctypes.c_char_p),
    "imm_version_number": ([], ctypes.c_uint),
    "imm_strerror": ([_int], ctypes.c_char_p),
    "imm_simd_arch": ([], ctypes.c_char_p),
    "imm_options_init": ([_OPT], None),
    "imm_lap_solve": ([_p, _n, _n, _OPT, _p, _p], _int),
    "imm_lap_solve_dual": ([_p, _n, _n, _OPT, _p, _p, _p, _p], _int),
    "imm_lap_solve_ex": ([_p, _n, _n, _OPT, _p, _p, _p, ctypes.POINTER(ImmLapInfo)], _int),
    "imm_lap_solve_batch": ([_p, _n, _n, _n, _OPT, _p, _p, _p, _p], _int),
    "imm_lap_certify": ([_p, _n, _n, _p, _p, _p, _p], _int),
    "imm_distance": ([_p, _n, _p, _n, _n, _OPT, _p], _int),
    "imm_permute_rows": ([_p, _n, _n, _p], _int),
    "imm_assign_noise": ([_p, _p, _n, _n, _OPT, _p], _int),
    "imm_assign_noise_pool": ([_p, _n, _p, _n, _n, _OPT, _p, _p], _int),
    "imm_select_noise_knn": ([_p, _n, _p, _n, _n, _OPT, _p, _p], _int),
    "imm_ctx_create": ([ctypes.POINTER(ctypes.c_void_p), _OPT], _int),
    "imm_ctx_free": ([_p], None),
    "imm_ctx_assign_noise": ([_p, _p, _p, _n, _n, _p], _int),
    "imm_ctx_assign_noise_pool": ([_p, _p, _n, _p, _n, _n, _p, _p], _int),
    "imm_ctx_select_noise_knn": ([_p, _p, _n, _p, _n, _n, _p, _p], _int),
    "imm_ctx_workspace_size": ([_OPT, _n, _n, ctypes.POINTER(ctypes.c_size_t)], _int),
}


def _declare(handle):
    """Declare every signature on a loaded library; raise AttributeError for a missing one."""
    for name, (argtypes, restype) in SIGNATURES.items():
        fn = getattr(handle, name)
        fn.argtypes = argtypes
        fn.restype = restype


# ---- loading -------------------------------------------------------------------------------

def _installed_libdir():
    """The library directory recorded by ``cmake --install``, or (None, why not)."""
    try:
        from . import _install  # written by cmake --install (python/_install.py.in)
    except ImportError:
        return None, "this copy of the package was not installed by cmake --install"
    return _install.LIBDIR, None


def _version_problem(handle):
    """None if the library is one this package can use, else the reason."""
    try:
        version_number = handle.imm_version_number
    except AttributeError:
        return "not libimmiscible (no imm_version_number)"
    version_number.argtypes, version_number.restype = SIGNATURES["imm_version_number"]
    number = int(version_number())
    major, minor, patch = number // 10000, number // 100 % 100, number % 100
    have = f"{major}.{minor}.{patch}"
    need = f"{ABI_MAJOR}.{ABI_MINOR}.{MIN_PATCH}"
    if (major, minor) != (ABI_MAJOR, ABI_MINOR) or patch < MIN_PATCH:
        return f"version {have}, this package needs {ABI_MAJOR}.{ABI_MINOR}.x >= {need}"
    if not hasattr(handle, REQUIRED_SYMBOL):
        return f"version {have} lacks {REQUIRED_SYMBOL} (a build older than this package)"
    return None


def _try_load(path):
    """(handle, None) or (None, reason)."""
    if os.sep in path and not os.path.exists(path):
        return None, "no such file"
    try:
        handle = ctypes.CDLL(path)
    except OSError as exc:
        return None, str(exc)
    problem = _version_problem(handle)
    if problem is not None:
        return None, problem
    try:
        _declare(handle)
    except AttributeError as exc:
        return None, f"missing symbol ({exc})"
    return handle, None


def _candidates():
    """[(label, path or None, reason if no path)] in search order."""
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        return [(f"${ENV_VAR}", explicit, None)]
    found = [(f"${ENV_VAR}", None, "not set")]
    libdir, why = _installed_libdir()
    if libdir is None:
        found.append(("installed with the package", None, why))
    else:
        found.append(("installed with the package", os.path.join(libdir, SONAME), None))
    found.append(("system library path", SONAME, None))
    return found


def _loaded_path(handle, fallback):
    """The file the dynamic linker actually loaded (dladdr on one of its symbols)."""

    class DlInfo(ctypes.Structure):
        _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                    ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]

    try:
        libc = ctypes.CDLL(None)
        dladdr = libc.dladdr
        dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(DlInfo)]
        dladdr.restype = ctypes.c_int
        info = DlInfo()
        addr = ctypes.cast(handle.imm_version_number, ctypes.c_void_p)
        if dladdr(addr, ctypes.byref(info)) and info.dli_fname:
            return os.path.realpath(os.fsdecode(info.dli_fname))
    except (AttributeError, OSError):
        pass
    return os.path.realpath(fallback) if os.sep in fallback else fallback


def load():
    """Load the library; return (handle, path). Raise one ImportError naming every place tried."""
    tried = []
    for label, path, reason in _candidates():
        if path is None:
            tried.append(f"  {label}: {reason}")
            continue
        handle, reason = _try_load(path)
        if handle is not None:
            return handle, _loaded_path(handle, path)
        tried.append(f"  {label}: {path}: {reason}")
    hint = ctypes.util.find_library("immiscible")
    lines = [f"immiscible: cannot load libimmiscible ({SONAME}, version "
             f"{ABI_MAJOR}.{ABI_MINOR}.x >= {ABI_MAJOR}.{ABI_MINOR}.{MIN_PATCH} with "
             f"{REQUIRED_SYMBOL}). Searched, in order:"] + tried
    if hint and hint != SONAME:
        lines.append(f"  (the system has {hint}, a different ABI version)")
    if os.environ.get(ENV_VAR):
        lines.append(f"Fix ${ENV_VAR}, or unset it to search the installed library and the "
                     "system library path.")
    else:
        lines.append(f"Build and install the library (cmake --install build --prefix PREFIX), or "
                     f"set ${ENV_VAR} to the path of {SONAME}.")
    raise ImportError("\n".join(lines))


lib, library_path = load()


def options(solver="exact", precision="fp32", metric="l2", threads=None, accuracy=None,
            exact_finish=False):
    """A filled :class:`ImmOptions` (imm_options_init, then the given fields)."""
    opts = ImmOptions()
    lib.imm_options_init(ctypes.byref(opts))
    opts.solver = _enum_value(SOLVERS, solver, "solver")
    opts.precision = _enum_value(PRECISIONS, precision, "precision")
    opts.metric = _enum_value(METRICS, metric, "metric")
    if threads is not None:
        threads = int(threads)
        if threads < 0:
            raise ValueError(f"threads must be >= 0 or None, got {threads}")
        opts.num_threads = threads
    if accuracy is not None:
        opts.accuracy = float(accuracy)
    opts.exact_finish = 1 if exact_finish else 0
    return opts


SOLVERS = {"exact": 0, "auction": 1}
PRECISIONS = {"fp32": 0, "fp16": 1, "int8": 2, "bf16": 3}
METRICS = {"l2": 0, "sql2": 1}


def _enum_value(table, value, what):
    if isinstance(value, str) and value.lower() in table:
        return table[value.lower()]
    raise ValueError(f"{what} must be one of {', '.join(map(repr, table))}, got {value!r}")
