from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["deconflict.private.cells", "deconflict.private.psi"])
def test_doctests(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
