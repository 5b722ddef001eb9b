"""Data files bundled with the package: the demo snapshot of real traffic and the basemap.

The basemap is Natural Earth's 1:50m country borders and coastlines (public domain; see
``naturalearth/README.md``), for maps that must draw offline: the working group's report
and the live map.

>>> sorted(basemap("borders"))
['features', 'type']
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any, Literal

BasemapLayer = Literal["borders", "coastlines"]


def basemap_text(layer: BasemapLayer) -> str:
    """The GeoJSON text of one basemap layer (a FeatureCollection of one MultiLineString)."""
    return (files(__package__) / "naturalearth" / f"{layer}.geojson").read_text(encoding="utf-8")


@cache
def basemap(layer: BasemapLayer) -> dict[str, Any]:
    """One basemap layer parsed (cached; treat it as read-only)."""
    return json.loads(basemap_text(layer))
