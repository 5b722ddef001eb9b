"""The one GeoJSON reader of the airspace: collections, features, numbers, times, rings.

Zones (:meth:`deconflict.airspace.zones.Zones.from_geojson`) and operation volumes
(:meth:`deconflict.airspace.volumes.Volumes.from_geojson`) read their features with
these functions, so a bad file gets the same kind of one-line error either way: the source,
the feature (index and name) and the field, e.g. ``zones.geojson: feature 3
('NFZ-1'): field 'floor_ft': 'x' is not a finite number (ft), nor null``.

>>> fc = {"type": "FeatureCollection", "features": [{"type": "Feature",
...     "properties": {"floor_ft": "x"}, "geometry": None}]}
>>> feature, props = next(features(fc, "z.geojson"))
>>> where = Where("z.geojson", "feature", 0, "R1")
>>> finite_number(props["floor_ft"], where, "floor_ft", "ft")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
deconflict.errors.InputError: z.geojson: feature 0 ('R1'): field 'floor_ft': 'x' is not a ...
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeGuard

import numpy as np
import shapely
import shapely.geometry

from deconflict._util import NaiveTimeError, parse_iso_utc
from deconflict.errors import InputError

Polygonal = shapely.Polygon | shapely.MultiPolygon
#: An example of the ISO 8601 times that files hold.
ISO_EXAMPLE = "2026-05-01T10:00:00Z"
_REQUIRED = object()


class Where:
    """Names one item of a file in error messages: ``source: feature 3 ('NFZ-1'): ...``.

    ``what`` is the kind of item (``feature``, ``zone``, ``volume``), ``index`` its
    position and ``name`` its name where it has one (``None``: shown as ``no name``).
    """

    def __init__(self, source: str, what: str, index: int, name: str | None) -> None:
        """Remember where the item is."""
        self.source, self.what, self.index, self.name = source, what, index, name

    def error(self, field_name: str, problem: str) -> InputError:
        """One-line :class:`~deconflict.errors.InputError` naming the item and the field."""
        label = f"'{self.name}'" if self.name is not None else "no name"
        return InputError(
            f"{self.source}: {self.what} {self.index} ({label}): field '{field_name}': {problem}"
        )


def is_number(v: object) -> TypeGuard[float]:
    """Tell whether ``v`` is a real number (int or float, numpy's included), not a bool.

    >>> is_number(3), is_number(2.5), is_number(True), is_number("1")
    (True, True, False, False)
    """
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def features(obj: object, source: str) -> Iterator[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(feature, properties) of each feature of a GeoJSON FeatureCollection (a parsed mapping).

    Each feature is checked as it is reached, so the first bad one in the file is named.
    """
    if not isinstance(obj, Mapping):
        raise InputError(f"{source}: expected a GeoJSON object, got {type(obj).__name__}")
    kind = obj.get("type")
    if kind != "FeatureCollection":
        raise InputError(
            f"{source}: field 'type': expected a GeoJSON FeatureCollection, got {kind!r}"
        )
    found = obj.get("features")
    if not isinstance(found, list):
        raise InputError(f"{source}: field 'features': expected a list of features")
    for j, f in enumerate(found):
        yield feature_properties(f, source, j)


def feature_properties(
    feature: object, source: str, j: int
) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """(feature, properties) of GeoJSON feature ``j``; InputError naming it if malformed."""
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise InputError(f"{source}: feature {j}: not a GeoJSON Feature")
    props = feature.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, Mapping):
        raise InputError(f"{source}: feature {j}: field 'properties': not an object")
    return feature, props


def finite_number(
    value: object, where: Where, field_name: str, unit: str, default: Any = _REQUIRED
) -> float:
    """A finite number in ``unit``; ``None`` gives ``default`` (a missing field, if none)."""
    if value is None:
        if default is _REQUIRED:
            raise where.error(field_name, f"missing (a number, {unit})")
        return float(default)
    if not is_number(value) or not math.isfinite(float(value)):
        nullable = "" if default is _REQUIRED else ", nor null"
        raise where.error(field_name, f"{value!r} is not a finite number ({unit}){nullable}")
    return float(value)


def iso_time(text: str, where: Where, field_name: str, prefix: str = "", hint: str = "") -> float:
    """Unix seconds of an ISO 8601 time with a UTC offset; errors start with ``prefix``.

    ``hint`` follows "is not an ISO 8601 time" in the error (e.g. `` such as ...``).
    """
    try:
        return parse_iso_utc(text)
    except NaiveTimeError:
        raise where.error(
            field_name, f"{prefix}{text!r} has no UTC offset (write e.g. {text}Z)"
        ) from None
    except ValueError:
        raise where.error(field_name, f"{prefix}{text!r} is not an ISO 8601 time{hint}") from None


def utc_time(value: object, where: Where, field_name: str) -> float:
    """Unix seconds of a required ISO 8601 time with a UTC offset (e.g. :data:`ISO_EXAMPLE`)."""
    if value is None:
        raise where.error(field_name, f"missing (an ISO 8601 UTC time such as {ISO_EXAMPLE})")
    if not isinstance(value, str):
        raise where.error(field_name, f"{value!r} is not an ISO 8601 time such as {ISO_EXAMPLE}")
    return iso_time(value, where, field_name, hint=f" such as {ISO_EXAMPLE}")


def polygonal(geometry: object, where: Where) -> Polygonal:
    """A GeoJSON Polygon or MultiPolygon (lon, lat deg; rings closed if open) as shapely."""
    if not isinstance(geometry, Mapping):
        raise where.error("geometry", "missing (expected a Polygon or MultiPolygon)")
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind == "Polygon":
        return _polygon(coords, where, "")
    if kind == "MultiPolygon":
        if not isinstance(coords, list) or not coords:
            raise where.error("geometry", "MultiPolygon needs a non-empty list of polygons")
        return shapely.MultiPolygon(
            [_polygon(p, where, f"polygon {j}, ") for j, p in enumerate(coords)]
        )
    raise where.error("geometry", f"type {kind!r} is not a Polygon or MultiPolygon")


def invalid_polygon(reason: str, locate: Callable[[float, float], tuple[float, float]]) -> str:
    """GEOS's reason for an invalid polygon, its ``[x y]`` turned by ``locate`` into (lon, lat) deg.

    >>> invalid_polygon("Self-intersection[0.5 0.25]", lambda x, y: (x + 1.0, y))
    'invalid polygon: self-intersection near lon 1.50000, lat 0.25000'
    >>> invalid_polygon("Too few points", lambda x, y: (x, y))
    'invalid polygon: too few points'
    """
    m = _REASON_AT.match(reason)
    if m is None:
        return f"invalid polygon: {reason.lower()}"
    try:
        x, y = float(m["x"]), float(m["y"])
    except ValueError:
        return f"invalid polygon: {reason.lower()}"
    lon, lat = locate(x, y)
    return f"invalid polygon: {m['what'].lower()} near lon {lon:.5f}, lat {lat:.5f}"


_REASON_AT = re.compile(r"^(?P<what>.*?)\s*\[(?P<x>\S+)\s+(?P<y>\S+)\]$")


def point(coords: object, where: Where) -> tuple[float, float]:
    """(lon, lat) deg of a GeoJSON Point's ``coordinates`` (an altitude is ignored)."""
    if (
        not isinstance(coords, list)
        or len(coords) not in (2, 3)
        or not all(is_number(c) and math.isfinite(c) for c in coords)
    ):
        raise where.error("geometry", f"Point coordinates {coords!r} are not [lon, lat]")
    return float(coords[0]), float(coords[1])


def _polygon(coords: object, where: Where, label: str) -> shapely.Polygon:
    if not isinstance(coords, list) or not coords:
        raise where.error("geometry", f"{label}expected a non-empty list of rings")
    rings = []
    for j, ring in enumerate(coords):
        try:
            arr = np.asarray(ring, dtype=np.float64)
        except (ValueError, TypeError):
            arr = np.zeros((0, 0))
        if arr.ndim != 2 or arr.shape[1] not in (2, 3):
            raise where.error("geometry", f"{label}ring {j}: not a list of [lon, lat] positions")
        arr = arr[:, :2]
        if not np.isfinite(arr).all():
            raise where.error("geometry", f"{label}ring {j}: coordinates must be finite")
        closed = arr if (arr[0] == arr[-1]).all() else np.vstack([arr, arr[:1]])
        if closed.shape[0] < 4:
            raise where.error(
                "geometry", f"{label}ring {j}: {arr.shape[0]} positions, a ring needs 3 corners"
            )
        rings.append(closed)
    return shapely.Polygon(rings[0], rings[1:])


def geometry_mapping(geometry: shapely.Geometry | None) -> Any:
    """GeoJSON geometry object of a shapely geometry, with plain lists (JSON-ready).

    >>> geometry_mapping(shapely.Point(1.0, 2.0))
    {'type': 'Point', 'coordinates': [1.0, 2.0]}
    """
    if geometry is None:
        return None
    return json.loads(json.dumps(shapely.geometry.mapping(geometry)))
