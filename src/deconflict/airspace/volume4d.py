"""ASTM F3548 ``Volume4D`` JSON in, and the choice between it and GeoJSON.

>>> v = from_volume4d([{"id": "op1", "volume": {
...     "outline_circle": {"center": {"lat": 45.0, "lng": 10.0},
...                        "radius": {"value": 500, "units": "M"}},
...     "altitude_lower": {"value": 0, "reference": "W84", "units": "M"},
...     "altitude_upper": {"value": 120, "reference": "W84", "units": "M"}},
...     "time_start": {"value": "2026-05-01T10:00:00Z", "format": "RFC3339"},
...     "time_end": {"value": "2026-05-01T11:00:00Z", "format": "RFC3339"}}])
>>> item = v.items[0]
>>> item.id, round(item.alt_upper_ft, 1), item.time_end_s - item.time_start_s
('op1', 393.7, 3600.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import shapely

from deconflict._util import iso_utc
from deconflict.airspace.geojson import Where, is_number, utc_time
from deconflict.airspace.volumes import (
    Volume,
    Volumes,
    checked_circle,
    collect,
    outline_problem,
    volume_id,
)
from deconflict.errors import InputError
from deconflict.names import terminal_text
from deconflict.units import ft_to_m, m_to_ft

#: Length units a Volume4D may give.
UNITS = ("M", "FT")


_EXPECTED = (
    "expected a GeoJSON FeatureCollection, or ASTM F3548 Volume4D JSON "
    "(a list, or an object with 'volumes')"
)


def parse_volumes(obj: object, source: str = "volumes") -> Volumes:
    """Volumes from parsed JSON in either format the files and the broker accept.

    A GeoJSON FeatureCollection (:meth:`Volumes.from_geojson`), or Volume4D: a list or
    ``{"volumes": [...]}`` (:func:`from_volume4d`).
    """
    if isinstance(obj, list):
        return from_volume4d(obj, source)
    if not isinstance(obj, Mapping):
        raise InputError(f"{source}: {_EXPECTED}, got {type(obj).__name__}")
    if obj.get("type") == "FeatureCollection":
        return Volumes.from_geojson(obj, source)
    if "volumes" in obj:
        return from_volume4d(obj, source)
    if "type" in obj:
        raise InputError(
            f"{source}: field 'type': expected a GeoJSON FeatureCollection, got {obj['type']!r}"
        )
    raise InputError(f"{source}: {_EXPECTED}")


def from_volume4d(obj: Sequence[Any] | Mapping[str, Any], source: str = "volumes") -> Volumes:
    """Volumes from ASTM F3548 ``Volume4D`` JSON: a list, or an object with ``volumes``.

    Each item is ``{"volume": {"outline_polygon": {"vertices": [{"lat": .., "lng":
    ..}, ...]}`` or ``"outline_circle": {"center": {"lat": .., "lng": ..}, "radius":
    {"value": .., "units": "M"}}``, ``"altitude_lower": {"value": .., "reference":
    "W84", "units": "M"}``, ``"altitude_upper": {...}}``, ``"time_start": {"value":
    "2026-05-01T10:00:00Z", "format": "RFC3339"}``, ``"time_end": {...}}``. Units are
    ``M`` or ``FT``; the reference, where given, must be ``W84``. An item's id is its
    ``id`` where it has one, else ``v`` and its index (``v0``, ``v1``, ...).
    """
    if isinstance(obj, Mapping):
        inner = obj.get("volumes")
        if not isinstance(inner, list):
            raise InputError(f"{source}: field 'volumes': expected a list of Volume4D objects")
        obj = inner
    items = [_volume4d(item, source, j) for j, item in enumerate(obj)]
    return collect(items, source, "volume")


def _volume4d(item: object, source: str, j: int) -> Volume:
    if not isinstance(item, Mapping):
        raise InputError(f"{source}: volume {j}: not an object (expected an F3548 Volume4D)")
    ident = volume_id(item.get("id"), Where(source, "volume", j, None)) or f"v{j}"
    where = Where(source, "volume", j, terminal_text(ident))
    vol = item.get("volume")
    if not isinstance(vol, Mapping):
        raise where.error("volume", "missing (expected a Volume3D object)")
    has_polygon = vol.get("outline_polygon") is not None
    has_circle = vol.get("outline_circle") is not None
    if has_polygon == has_circle:
        raise where.error("volume", "needs exactly one of outline_polygon and outline_circle")
    if has_polygon:
        geometry = _outline_polygon(vol["outline_polygon"], where)
    else:
        geometry = _outline_circle(vol["outline_circle"], where)
    lower = _altitude(vol.get("altitude_lower"), "volume.altitude_lower", where)
    upper = _altitude(vol.get("altitude_upper"), "volume.altitude_upper", where)
    if lower > upper:
        raise where.error(
            "volume.altitude_lower", f"{lower:g} ft is above altitude_upper {upper:g} ft"
        )
    start = _time4d(item.get("time_start"), "time_start", where)
    end = _time4d(item.get("time_end"), "time_end", where)
    if not end > start:
        raise where.error(
            "time_end.value", f"{iso_utc(end)} is not after time_start {iso_utc(start)}"
        )
    problem = outline_problem(geometry)
    if problem is not None:
        fname = "volume.outline_polygon" if has_polygon else "volume.outline_circle"
        raise where.error(fname, problem)
    return Volume(ident, geometry, lower, upper, start, end)


def _latlng(value: object, fname: str, where: Where) -> tuple[float, float]:
    if not isinstance(value, Mapping):
        raise where.error(fname, f"{value!r} is not an object with 'lat' and 'lng'")
    out = []
    for name in ("lng", "lat"):
        v = value.get(name)
        if not is_number(v) or not math.isfinite(v):
            raise where.error(f"{fname}.{name}", f"{v!r} is not a finite number (deg)")
        out.append(float(v))
    return out[0], out[1]


def _outline_polygon(value: object, where: Where) -> shapely.Polygon:
    fname = "volume.outline_polygon.vertices"
    vertices = value.get("vertices") if isinstance(value, Mapping) else None
    if not isinstance(vertices, list) or len(vertices) < 3:
        raise where.error(fname, "expected a list of at least 3 {lat, lng} vertices")
    points = [_latlng(v, f"{fname}[{k}]", where) for k, v in enumerate(vertices)]
    return shapely.Polygon(points)


def _outline_circle(value: object, where: Where) -> shapely.Polygon:
    fname = "volume.outline_circle"
    if not isinstance(value, Mapping):
        raise where.error(fname, "expected an object with 'center' and 'radius'")
    lng, lat = _latlng(value.get("center"), f"{fname}.center", where)
    radius = value.get("radius")
    r_value = radius.get("value") if isinstance(radius, Mapping) else None
    units = radius.get("units", "M") if isinstance(radius, Mapping) else None
    if not is_number(r_value) or not math.isfinite(r_value) or r_value <= 0:
        raise where.error(f"{fname}.radius.value", f"{r_value!r} is not a number > 0")
    if units not in UNITS:
        raise where.error(f"{fname}.radius.units", f"{units!r} is not M or FT")
    radius_m = float(r_value) if units == "M" else ft_to_m(float(r_value))
    return checked_circle(lng, lat, radius_m, fname, where)


def _altitude(value: object, fname: str, where: Where) -> float:
    if not isinstance(value, Mapping):
        shown = "missing" if value is None else f"{value!r} is not an object"
        raise where.error(fname, f"{shown} (expected {{value, reference: W84, units: M|FT}})")
    v = value.get("value")
    if not is_number(v) or not math.isfinite(v):
        raise where.error(f"{fname}.value", f"{v!r} is not a finite number")
    units = value.get("units")
    if units not in UNITS:
        raise where.error(f"{fname}.units", f"{units!r} is not M or FT")
    reference = value.get("reference", "W84")
    if reference != "W84":
        raise where.error(f"{fname}.reference", f"{reference!r} is not W84")
    return float(v) if units == "FT" else m_to_ft(float(v))


def _time4d(value: object, fname: str, where: Where) -> float:
    if not isinstance(value, Mapping):
        shown = "missing" if value is None else f"{value!r} is not an object"
        raise where.error(fname, f"{shown} (expected {{value: RFC 3339 time, format: RFC3339}})")
    fmt = value.get("format", "RFC3339")
    if fmt != "RFC3339":
        raise where.error(f"{fname}.format", f"{fmt!r} is not RFC3339")
    return utc_time(value.get("value"), where, f"{fname}.value")
