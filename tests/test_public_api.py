from __future__ import annotations

import pkgutil

import deconflict


def test_all_is_complete_and_sorted():
    public = {n for n in dir(deconflict) if not n.startswith("_")}
    modules = {m.name for m in pkgutil.iter_modules(deconflict.__path__)}
    assert set(deconflict.__all__) == public - modules - {"annotations"}
    assert list(deconflict.__all__) == sorted(deconflict.__all__)
