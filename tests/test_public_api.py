from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import deconflict


def test_all_is_complete_and_sorted():
    public = {n for n in dir(deconflict) if not n.startswith("_")}
    modules = {m.name for m in pkgutil.iter_modules(deconflict.__path__)}
    assert set(deconflict.__all__) == public - modules - {"annotations"}
    assert list(deconflict.__all__) == sorted(deconflict.__all__)


def test_core_never_imports_outer_layers():
    outer = (
        "service",
        "store",
        "hotline",
        "sim",
        "replay",
        "report",
        "web",
        "cli",
        "io",
        "private",
    )
    import pathlib

    core = pathlib.Path(deconflict.__file__).parent / "core"
    for path in core.glob("*.py"):
        text = path.read_text()
        for layer in outer:
            assert f"deconflict.{layer}" not in text, f"{path.name} imports deconflict.{layer}"


@pytest.mark.parametrize(
    "module",
    [
        "deconflict.units",
        "deconflict.core.geo",
        "deconflict.core.agreement",
        "deconflict.frames",
    ],
)
def test_doctests(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
