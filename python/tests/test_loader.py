"""Where the library comes from, and the ImportError when it cannot be found."""

import os
import shutil
import subprocess
import sys

import pytest

import immiscible
from immiscible import _lib


def import_in_subprocess(env_changes, pythonpath, cwd):
    env = {k: v for k, v in os.environ.items()
           if k not in ("IMMISCIBLE_LIBRARY", "LD_LIBRARY_PATH", "PYTHONPATH")}
    env.update(env_changes)
    env["PYTHONPATH"] = pythonpath
    return subprocess.run([sys.executable, "-c", "import immiscible; "
                           "print(immiscible.library_path())"],
                          env=env, cwd=cwd, capture_output=True, text=True)


def package_parent():
    return os.path.dirname(os.path.dirname(os.path.abspath(immiscible.__file__)))


def test_library_path():
    path = immiscible.library_path()
    assert os.path.isabs(path) and os.path.exists(path)
    assert os.path.basename(path).startswith(_lib.SONAME)
    prefix = os.environ.get("IMM_INSTALL_PREFIX")
    if prefix and not os.environ.get("IMMISCIBLE_LIBRARY"):  # under CTest: the installed one
        assert path.startswith(os.path.realpath(prefix) + os.sep), path


def test_installed_copy_loads_its_own_library(tmp_path):
    if not os.path.exists(os.path.join(os.path.dirname(immiscible.__file__), "_install.py")):
        pytest.skip("this copy was not installed by cmake --install")
    run = import_in_subprocess({}, package_parent(), tmp_path)
    assert run.returncode == 0, run.stderr
    from immiscible import _install
    assert run.stdout.strip().startswith(os.path.realpath(_install.LIBDIR))


def test_env_var_wins(tmp_path):
    path = immiscible.library_path()
    run = import_in_subprocess({"IMMISCIBLE_LIBRARY": path}, package_parent(), tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == path


def test_env_var_missing_file(tmp_path):
    run = import_in_subprocess({"IMMISCIBLE_LIBRARY": "/nonexistent/libimmiscible.so"},
                               package_parent(), tmp_path)
    assert run.returncode != 0
    err = run.stderr
    assert "ImportError: immiscible: cannot load libimmiscible" in err
    assert "$IMMISCIBLE_LIBRARY: /nonexistent/libimmiscible.so: no such file" in err
    assert "unset it to search the installed library and the system library path" in err


def test_env_var_not_the_library(tmp_path):
    libm = "libm.so.6"  # loads, but has no imm_version_number
    run = import_in_subprocess({"IMMISCIBLE_LIBRARY": libm}, package_parent(), tmp_path)
    assert run.returncode != 0
    assert "not libimmiscible (no imm_version_number)" in run.stderr


def test_every_place_named(tmp_path):
    """A copy of the package that was not installed, with no library anywhere: the error lists
    the environment variable, the install and the system search, each with its reason."""
    shutil.copytree(os.path.dirname(os.path.abspath(immiscible.__file__)),
                    tmp_path / "immiscible",
                    ignore=shutil.ignore_patterns("_install.py", "__pycache__"))
    run = import_in_subprocess({}, str(tmp_path), tmp_path)
    if run.returncode == 0:
        pytest.skip(f"the system library path has libimmiscible: {run.stdout.strip()}")
    err = run.stderr
    assert "$IMMISCIBLE_LIBRARY: not set" in err
    assert "installed with the package: this copy of the package was not installed" in err
    assert f"system library path: {_lib.SONAME}:" in err
    assert "cmake --install build --prefix PREFIX" in err
