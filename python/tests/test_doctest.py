"""The docstring examples run."""

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["immiscible", "immiscible._lsa", "immiscible._noise"])
def test_docstrings(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
