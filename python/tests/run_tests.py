"""Runs the package's pytest suite for CTest (python/CMakeLists.txt).

Exit status: pytest's, except 77 ("skipped" for CTest) when numpy or pytest is missing, and 1
when pytest collected no tests (its status 5), so that an empty run never passes.
(It lives in tests/, not next to the package: Python puts the script's directory first on
sys.path, and the suite must import the installed package, not the source tree.)
Usage: run_tests.py TESTS_DIR [pytest arguments...]
"""

import importlib.util
import sys

missing = [m for m in ("numpy", "pytest") if importlib.util.find_spec(m) is None]
if missing:
    print(f"SKIP: {sys.executable} lacks {', '.join(missing)} "
          "(Debian: apt-get install python3-numpy python3-pytest)")
    sys.exit(77)

import pytest  # noqa: E402

status = pytest.main(["-q", "-p", "no:cacheprovider", "-rsx"] + sys.argv[1:])
if status == pytest.ExitCode.NO_TESTS_COLLECTED:
    print("FAIL: pytest collected no tests")
    sys.exit(1)
sys.exit(int(status))
