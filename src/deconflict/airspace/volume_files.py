"""Operation volumes at the edge: GeoJSON and ASTM F3548 ``Volume4D`` in, overlaps out.

>>> from deconflict import Agreement
>>> def op(ident, lon0, lower, upper, start, end):
...     return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[
...         [lon0, 0.0], [lon0 + 0.1, 0.0], [lon0 + 0.1, 0.1], [lon0, 0.1], [lon0, 0.0]]]},
...         "properties": {"id": ident, "alt_lower_ft": lower, "alt_upper_ft": upper,
...                        "time_start": start, "time_end": end}}
>>> a = parse({"type": "FeatureCollection", "features": [
...     op("survey", 0.0, 0, 1500, "2026-05-01T10:00:00Z", "2026-05-01T12:00:00Z")]})
>>> b = parse({"type": "FeatureCollection", "features": [
...     op("patrol", 0.15, 2000, 5000, "2026-05-01T11:30:00Z", "2026-05-01T13:00:00Z")]})
>>> row = overlaps(a, b, Agreement(horizontal_nm=5, vertical_ft=1000)).iloc[0]
>>> row["a_id"], row["b_id"], float(row["alt_lower_ft"]), float(row["alt_upper_ft"]), row["mode"]
('survey', 'patrol', 1500.0, 2000.0, 'exact')
>>> row["time_start"], row["time_end"]
('2026-05-01T11:30:00Z', '2026-05-01T12:00:00Z')
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
import shapely.geometry
from pyproj import Geod

from deconflict._util import NaiveTimeError, atomic_write, iso_utc, parse_iso_utc
from deconflict.agreement import Agreement
from deconflict.airspace.volumes import (
    MAX_ABS_LAT_DEG,
    OVERLAP_COLUMNS,
    Overlaps,
    Volume,
    Volumes,
    buffered,
    circle,
    outline_problem,
)
from deconflict.airspace.volumes import overlaps as overlaps_core
from deconflict.airspace.zones import _is_number, _parse_geometry, _Where, feature_properties
from deconflict.errors import InputError
from deconflict.json_text import read_json
from deconflict.names import id_problem, terminal_text

__all__ = [
    "OVERLAP_COLUMNS",
    "Volume",
    "Volumes",
    "areas_km2",
    "as_volumes",
    "buffered",
    "from_geojson",
    "from_volume4d",
    "iso_utc",
    "overlaps",
    "overlaps_frame",
    "parse",
    "read",
    "to_geojson",
    "write_geojson",
]

#: Properties of each feature :func:`to_geojson` writes, in order.
OVERLAP_PROPERTIES = OVERLAP_COLUMNS[:-1]
#: Feet per metre, for Volume4D altitudes in metres.
_FT_PER_M = 1.0 / 0.3048
_UNITS_TO_M = {"M": 1.0, "FT": 0.3048}
_GEOD = Geod(ellps="WGS84")
_EXPECTED = (
    "expected a GeoJSON FeatureCollection, or ASTM F3548 Volume4D JSON "
    "(a list, or an object with 'volumes')"
)


# -- reading ---------------------------------------------------------------------------


def read(path: str | os.PathLike[str]) -> Volumes:
    """Read a volumes file: a GeoJSON FeatureCollection or ASTM F3548 ``Volume4D`` JSON.

    See :func:`from_geojson` and :func:`from_volume4d` for the formats. Raises
    :class:`~deconflict.errors.InputError` with one line naming the file and, for a
    bad volume, the feature (index and id) and the field.
    """
    obj = read_json(path, "volumes")
    return parse(obj, source=str(path))


def parse(obj: object, source: str = "volumes") -> Volumes:
    """Parsed JSON (a GeoJSON FeatureCollection, or Volume4D: a list or ``{"volumes": [...]}``)."""
    if isinstance(obj, list):
        return from_volume4d(obj, source)
    if not isinstance(obj, Mapping):
        raise InputError(f"{source}: {_EXPECTED}, got {type(obj).__name__}")
    if obj.get("type") == "FeatureCollection":
        return from_geojson(obj, source)
    if "volumes" in obj:
        return from_volume4d(obj, source)
    if "type" in obj:
        raise InputError(
            f"{source}: field 'type': expected a GeoJSON FeatureCollection, got {obj['type']!r}"
        )
    raise InputError(f"{source}: {_EXPECTED}")


def as_volumes(
    volumes: Volumes | str | os.PathLike[str] | Mapping[str, Any] | list[Any],
) -> Volumes:
    """Pass :class:`Volumes` through, read a file path, or parse parsed JSON."""
    if isinstance(volumes, Volumes):
        return volumes
    if isinstance(volumes, Mapping | list):
        return parse(volumes)
    if isinstance(volumes, str | os.PathLike):
        return read(volumes)
    raise InputError(
        f"volumes: expected Volumes, a file path or parsed JSON, got {type(volumes).__name__}"
    )


def from_geojson(obj: Mapping[str, Any], source: str = "volumes") -> Volumes:
    """Volumes from a GeoJSON FeatureCollection (a parsed mapping).

    Each feature is a Polygon or MultiPolygon (longitude, latitude in degrees; holes
    allowed; see :mod:`deconflict.airspace.volumes` for edges and the antimeridian), or a
    Point with a ``radius_m`` property (a circle, see
    :func:`~deconflict.airspace.volumes.circle`), with properties:

    ============= ==========================================================
    id            string, unique in the file (else the feature's ``id``)
    alt_lower_ft  lower limit of the band, ft (number)
    alt_upper_ft  upper limit, ft (number, not below ``alt_lower_ft``)
    time_start    ISO 8601 time with a UTC offset, e.g. ``2026-05-01T10:00:00Z``
    time_end      ISO 8601, after ``time_start``
    radius_m      Points only: the circle's radius, m (number > 0)
    ============= ==========================================================

    Other properties are ignored.
    """
    if obj.get("type") != "FeatureCollection":
        raise InputError(
            f"{source}: field 'type': expected a GeoJSON FeatureCollection, got {obj.get('type')!r}"
        )
    features = obj.get("features")
    if not isinstance(features, list):
        raise InputError(f"{source}: field 'features': expected a list of features")
    items = [_geojson_feature(f, source, j) for j, f in enumerate(features)]
    return _collect(items, source, "feature")


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
    return _collect(items, source, "volume")


def _collect(items: list[Volume], source: str, what: str) -> Volumes:
    seen: dict[str, int] = {}
    for j, v in enumerate(items):
        if v.id in seen:
            raise _Where(source, what, j, v.id).error(
                "id", f"duplicate id (also {what} {seen[v.id]})"
            )
        seen[v.id] = j
    return Volumes(tuple(items), source=source)


def _ident(raw: object) -> str | None:
    if isinstance(raw, str) and raw.strip():
        return raw
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    return None


def _check_ident(ident: str, where: _Where) -> None:
    """The one id rule (:mod:`deconflict.names`): printable, no control characters, ≤ 64."""
    problem = id_problem(ident)
    if problem is not None:
        raise where.error("id", problem)


def _geojson_feature(raw_feature: object, source: str, j: int) -> Volume:
    feature, props = feature_properties(raw_feature, source, j)
    raw = props["id"] if props.get("id") is not None else feature.get("id")
    ident = _ident(raw)
    where = _Where(source, "feature", j, None if ident is None else terminal_text(ident))
    if ident is None:
        shown = (
            "missing" if raw is None else f"{terminal_text(repr(raw))} is not a non-empty string"
        )
        raise where.error("id", f"{shown} (each volume needs a unique string 'id')")
    _check_ident(ident, where)
    geometry = _geojson_geometry(feature.get("geometry"), props, where)
    lower = _number(props.get("alt_lower_ft"), "alt_lower_ft", "ft", where)
    upper = _number(props.get("alt_upper_ft"), "alt_upper_ft", "ft", where)
    if lower > upper:
        raise where.error("alt_lower_ft", f"{lower:g} ft is above alt_upper_ft {upper:g} ft")
    start = _time(props.get("time_start"), "time_start", where)
    end = _time(props.get("time_end"), "time_end", where)
    if not end > start:
        raise where.error(
            "time_end", f"{props['time_end']!r} is not after time_start {props['time_start']!r}"
        )
    problem = outline_problem(geometry)
    if problem is not None:
        raise where.error("geometry", problem)
    return Volume(ident, geometry, lower, upper, start, end)


def _geojson_geometry(geometry: object, props: Mapping[str, Any], where: _Where) -> Any:
    if not isinstance(geometry, Mapping):
        raise where.error("geometry", "missing (expected a Polygon, MultiPolygon or Point)")
    kind = geometry.get("type")
    if kind == "Point":
        coords = geometry.get("coordinates")
        if (
            not isinstance(coords, list)
            or len(coords) not in (2, 3)
            or not all(_is_number(c) and math.isfinite(c) for c in coords)
        ):
            raise where.error("geometry", f"Point coordinates {coords!r} are not [lon, lat]")
        radius = props.get("radius_m")
        if radius is None:
            raise where.error("radius_m", "missing (a Point needs the circle's radius in metres)")
        if not _is_number(radius) or not math.isfinite(radius) or radius <= 0:
            raise where.error("radius_m", f"{radius!r} is not a number > 0 (m)")
        return _circle(float(coords[0]), float(coords[1]), float(radius), "geometry", where)
    if kind not in ("Polygon", "MultiPolygon"):
        raise where.error("geometry", f"type {kind!r} is not a Polygon, MultiPolygon or Point")
    return _parse_geometry(geometry, where)


def _circle(lon: float, lat: float, radius_m: float, fname: str, where: _Where) -> Any:
    if abs(lat) > MAX_ABS_LAT_DEG or abs(lon) > 360.0:
        raise where.error(fname, f"centre lon {lon:g}, lat {lat:g} is out of range")
    if radius_m > 2_000_000.0:
        raise where.error(fname, f"radius {radius_m:g} m is over 2000 km (split the volume)")
    return circle(lon, lat, radius_m)


def _number(value: object, fname: str, unit: str, where: _Where) -> float:
    if value is None:
        raise where.error(fname, f"missing (a number, {unit})")
    if not _is_number(value) or not math.isfinite(value):
        raise where.error(fname, f"{value!r} is not a finite number ({unit})")
    return float(value)


def _time(value: object, fname: str, where: _Where) -> float:
    example = "2026-05-01T10:00:00Z"
    if value is None:
        raise where.error(fname, f"missing (an ISO 8601 UTC time such as {example})")
    if not isinstance(value, str):
        raise where.error(fname, f"{value!r} is not an ISO 8601 time such as {example}")
    try:
        return parse_iso_utc(value)
    except NaiveTimeError:
        raise where.error(fname, f"{value!r} has no UTC offset (write e.g. {value}Z)") from None
    except ValueError:
        raise where.error(fname, f"{value!r} is not an ISO 8601 time such as {example}") from None


def _volume4d(item: object, source: str, j: int) -> Volume:
    if not isinstance(item, Mapping):
        raise InputError(f"{source}: volume {j}: not an object (expected an F3548 Volume4D)")
    ident = _ident(item.get("id")) or f"v{j}"
    where = _Where(source, "volume", j, terminal_text(ident))
    _check_ident(ident, where)
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


def _latlng(value: object, fname: str, where: _Where) -> tuple[float, float]:
    if not isinstance(value, Mapping):
        raise where.error(fname, f"{value!r} is not an object with 'lat' and 'lng'")
    out = []
    for name in ("lng", "lat"):
        v = value.get(name)
        if not _is_number(v) or not math.isfinite(v):
            raise where.error(f"{fname}.{name}", f"{v!r} is not a finite number (deg)")
        out.append(float(v))
    return out[0], out[1]


def _outline_polygon(value: object, where: _Where) -> shapely.Polygon:
    fname = "volume.outline_polygon.vertices"
    vertices = value.get("vertices") if isinstance(value, Mapping) else None
    if not isinstance(vertices, list) or len(vertices) < 3:
        raise where.error(fname, "expected a list of at least 3 {lat, lng} vertices")
    points = [_latlng(v, f"{fname}[{k}]", where) for k, v in enumerate(vertices)]
    return shapely.Polygon(points)


def _outline_circle(value: object, where: _Where) -> shapely.Polygon:
    fname = "volume.outline_circle"
    if not isinstance(value, Mapping):
        raise where.error(fname, "expected an object with 'center' and 'radius'")
    lng, lat = _latlng(value.get("center"), f"{fname}.center", where)
    radius = value.get("radius")
    r_value = radius.get("value") if isinstance(radius, Mapping) else None
    units = radius.get("units", "M") if isinstance(radius, Mapping) else None
    if not _is_number(r_value) or not math.isfinite(r_value) or r_value <= 0:
        raise where.error(f"{fname}.radius.value", f"{r_value!r} is not a number > 0")
    if units not in _UNITS_TO_M:
        raise where.error(f"{fname}.radius.units", f"{units!r} is not M or FT")
    return _circle(lng, lat, float(r_value) * _UNITS_TO_M[units], fname, where)


def _altitude(value: object, fname: str, where: _Where) -> float:
    if not isinstance(value, Mapping):
        shown = "missing" if value is None else f"{value!r} is not an object"
        raise where.error(fname, f"{shown} (expected {{value, reference: W84, units: M|FT}})")
    v = value.get("value")
    if not _is_number(v) or not math.isfinite(v):
        raise where.error(f"{fname}.value", f"{v!r} is not a finite number")
    units = value.get("units")
    if units not in _UNITS_TO_M:
        raise where.error(f"{fname}.units", f"{units!r} is not M or FT")
    reference = value.get("reference", "W84")
    if reference != "W84":
        raise where.error(f"{fname}.reference", f"{reference!r} is not W84")
    return float(v) if units == "FT" else float(v) * _FT_PER_M


def _time4d(value: object, fname: str, where: _Where) -> float:
    if not isinstance(value, Mapping):
        shown = "missing" if value is None else f"{value!r} is not an object"
        raise where.error(fname, f"{shown} (expected {{value: RFC 3339 time, format: RFC3339}})")
    fmt = value.get("format", "RFC3339")
    if fmt != "RFC3339":
        raise where.error(f"{fname}.format", f"{fmt!r} is not RFC3339")
    return _time(value.get("value"), f"{fname}.value", where)


# -- overlaps --------------------------------------------------------------------------


def overlaps(
    a: Volumes | str | os.PathLike[str] | Mapping[str, Any] | list[Any],
    b: Volumes | str | os.PathLike[str] | Mapping[str, Any] | list[Any],
    agreement: Agreement,
    time_buffer_s: float = 0.0,
) -> pd.DataFrame:
    """Overlapping volumes of two parties under the agreement's minima, exactly.

    ``a`` and ``b`` are :class:`Volumes`, file paths or parsed JSON. Two volumes
    overlap when their outlines are less than ``agreement.horizontal_nm`` apart on the
    ground, their bands less than ``agreement.vertical_ft`` apart, and their windows
    overlap or are less than ``time_buffer_s`` apart (see
    :mod:`deconflict.airspace.volumes`). The result has the columns
    :data:`OVERLAP_COLUMNS`, one row per overlapping pair, sorted by A's then B's
    order in their files:

    ============ ==========================================================
    a_id, b_id   the volumes' ids in A and B
    alt_lower_ft the overlap's band, ft: the bands grown by V/2 each, intersected
    alt_upper_ft
    time_start   the overlap's window (ISO 8601 UTC): the windows grown by
    time_end     ``time_buffer_s / 2`` each, intersected
    mode         ``exact``
    geometry     the overlap region: the outlines grown by H/2 each, intersected
                 (shapely, lon/lat deg, cut at the antimeridian)
    ============ ==========================================================
    """
    va, vb = as_volumes(a), as_volumes(b)
    found = overlaps_core(va, vb, agreement.horizontal_nm, agreement.vertical_ft, time_buffer_s)
    return overlaps_frame(va, vb, found)


def overlaps_frame(a: Volumes, b: Volumes, found: Overlaps, mode: str = "exact") -> pd.DataFrame:
    """Tabulate :class:`~deconflict.airspace.volumes.Overlaps` (columns :data:`OVERLAP_COLUMNS`)."""
    a_ids = np.array([v.id for v in a.items] or [""], dtype=object)
    b_ids = np.array([v.id for v in b.items] or [""], dtype=object)
    return pd.DataFrame(
        {
            "a_id": a_ids[found.a_index],
            "b_id": b_ids[found.b_index],
            "alt_lower_ft": found.alt_lower_ft.astype(np.float64),
            "alt_upper_ft": found.alt_upper_ft.astype(np.float64),
            "time_start": np.array([iso_utc(t) for t in found.time_start_s], dtype=object),
            "time_end": np.array([iso_utc(t) for t in found.time_end_s], dtype=object),
            "mode": np.full(len(found), mode, dtype=object),
            "geometry": found.geometry.astype(object),
        },
        columns=list(OVERLAP_COLUMNS),
    )


def areas_km2(geometries: Sequence[Any] | npt.NDArray[np.object_]) -> npt.NDArray[np.float64]:
    """Geodesic area (km², WGS84) of each lon/lat geometry."""
    return np.array(
        [abs(_GEOD.geometry_area_perimeter(g)[0]) / 1e6 for g in geometries], dtype=np.float64
    )


def to_geojson(frame: pd.DataFrame) -> dict[str, Any]:
    """A GeoJSON FeatureCollection: one feature per row, the region as its geometry.

    Properties are :data:`OVERLAP_PROPERTIES` (``a_id, b_id, alt_lower_ft,
    alt_upper_ft, time_start, time_end, mode``).
    """
    missing = [c for c in OVERLAP_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"overlaps: missing column(s) {missing}")
    features = []
    for row in frame.itertuples(index=False):
        props: dict[str, Any] = {}
        for col in OVERLAP_PROPERTIES:
            value = getattr(row, col)
            if col in ("alt_lower_ft", "alt_upper_ft"):
                value = float(value)
            elif value is not None:
                value = str(value)
            props[col] = value
        features.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": _mapping(row.geometry),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _mapping(geometry: Any) -> Any:
    """GeoJSON geometry object with plain lists (JSON-ready)."""
    if geometry is None:
        return None
    return json.loads(json.dumps(shapely.geometry.mapping(geometry)))


def write_geojson(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write :func:`to_geojson` of ``frame`` to ``path`` atomically (a temporary file, a rename)."""
    p = Path(path)
    text = json.dumps(to_geojson(frame), indent=1, allow_nan=False)
    try:
        atomic_write(p, text + "\n")
    except OSError as err:
        raise InputError(f"{p}: cannot write: {err.strerror or err}") from None
