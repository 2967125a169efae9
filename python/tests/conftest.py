"""Shared fixtures. Under CTest (IMM_EXPECT_PACKAGE_DIR set) the suite must test the installed
package: importing it from anywhere else (the source tree) aborts the run."""

import os

import numpy as np
import pytest

import immiscible


def pytest_sessionstart(session):
    expected = os.environ.get("IMM_EXPECT_PACKAGE_DIR")
    if not expected:
        return
    got = os.path.realpath(os.path.dirname(immiscible.__file__))
    want = os.path.realpath(os.path.join(expected, "immiscible"))
    if got != want:
        pytest.exit(f"imported immiscible from {got}, expected the installed {want}", returncode=1)


@pytest.fixture
def rng(request):
    """A generator seeded from the test's name: reproducible, different per test."""
    return np.random.default_rng(list(request.node.name.encode()))


@pytest.fixture
def scipy_lsa():
    return pytest.importorskip("scipy.optimize").linear_sum_assignment
