"""Rebuild the bundled basemap (country borders and coastlines) from Natural Earth.

The source is Natural Earth's 1:50m admin-0 countries (public domain) as packaged in
TopoJSON by the npm package ``world-atlas`` (ISC licence, pinned below). Run::

    npm install --no-save world-atlas@2.0.2
    python scripts/naturalearth.py node_modules/world-atlas/countries-50m.json

It writes ``src/deconflict/data/naturalearth/{borders,coastlines}.geojson``: each a
FeatureCollection of one MultiLineString, coordinates rounded to 0.001° (about 100 m).
A border is an arc shared by two countries; a coastline is an arc that bounds one only.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "deconflict" / "data" / "naturalearth"
DIGITS = 3


def _arc_indices(geometry: dict) -> list[int]:
    """Every arc index a Polygon/MultiPolygon geometry uses (reversed arcs as ~i)."""
    rings = geometry.get("arcs", [])
    if geometry["type"] == "Polygon":
        rings = [rings]
    return [i if i >= 0 else ~i for polygon in rings for ring in polygon for i in ring]


def _decode(arc: list[list[int]], scale: list[float], translate: list[float]) -> list[list[float]]:
    """Undo TopoJSON's delta encoding and quantisation; drop repeated rounded points."""
    x = y = 0
    out: list[list[float]] = []
    for dx, dy in arc:
        x += dx
        y += dy
        lon = round(x * scale[0] + translate[0], DIGITS)
        point = [lon, round(y * scale[1] + translate[1], DIGITS)]
        if not out or out[-1] != point:
            out.append(point)
    return out


def main(path: str) -> None:
    """Convert one world-atlas countries TopoJSON into the two bundled GeoJSON files."""
    topology = json.loads(Path(path).read_text())
    scale, translate = topology["transform"]["scale"], topology["transform"]["translate"]
    uses: Counter[int] = Counter()
    for geometry in topology["objects"]["countries"]["geometries"]:
        uses.update(set(_arc_indices(geometry)))
    lines: dict[str, list[list[list[float]]]] = {"borders": [], "coastlines": []}
    for index, arc in enumerate(topology["arcs"]):
        if uses[index] == 0:
            continue
        line = _decode(arc, scale, translate)
        if len(line) >= 2:
            lines["borders" if uses[index] > 1 else "coastlines"].append(line)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, coordinates in lines.items():
        feature = {
            "type": "Feature",
            "properties": {"name": name, "source": "Natural Earth 1:50m admin-0 (public domain)"},
            "geometry": {"type": "MultiLineString", "coordinates": coordinates},
        }
        collection = {"type": "FeatureCollection", "features": [feature]}
        text = json.dumps(collection, separators=(",", ":"))
        (OUT / f"{name}.geojson").write_text(text + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
