"""4-D operation volumes: an outline, an altitude band and a time window; circles and buffers.

A :class:`Volume` is an outline (a shapely Polygon or MultiPolygon of longitude,
latitude in degrees; holes allowed; the parts of a MultiPolygon are united), a closed
altitude band ``[alt_lower_ft, alt_upper_ft]`` and a time window
``[time_start_s, time_end_s]`` (Unix seconds, UTC). Edges are straight lines in
longitude/latitude, as GeoJSON says (RFC 7946 §3.1.1), taking the short way round in
longitude, so an outline may cross the antimeridian (written 179 → -179, 179 → 181,
or cut in two parts at ±180°). An outline must lie within :data:`MAX_RADIUS_DEG` of
its centre, below :data:`~deconflict.airspace.planes.MAX_ABS_LAT_DEG` of latitude and
must not enclose a pole.

:meth:`Volumes.from_geojson` reads a GeoJSON FeatureCollection,
:func:`deconflict.airspace.volume4d.from_volume4d` ASTM F3548 ``Volume4D`` JSON;
:func:`deconflict.airspace.overlaps.overlaps` finds where two parties' volumes overlap.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Geod

from deconflict.airspace.geojson import (
    Where,
    features,
    finite_number,
    invalid_polygon,
    is_number,
    point,
    polygonal,
    utc_time,
)
from deconflict.airspace.planes import (
    MAX_ABS_LAT_DEG,
    MAX_RADIUS_DEG,
    cut_antimeridian,
    grow,
    prepare,
    set_lon,
    starts,
    wrap,
)
from deconflict.errors import InputError
from deconflict.geo import WGS84_MIN_RADIUS, geodetic_to_ecef
from deconflict.names import id_problem, terminal_text

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjArray = npt.NDArray[np.object_]
Polygonal = shapely.Polygon | shapely.MultiPolygon

#: Most a circle's polygon exceeds the circle (m), up to its vertex limit.
CIRCLE_TOLERANCE_M = 2.0
#: Fewest and most vertices of a circle's polygon.
CIRCLE_VERTICES = (16, 720)
#: Largest circle radius (m) a file may give.
MAX_CIRCLE_RADIUS_M = 2_000_000.0
_GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class Volume:
    """One 4-D volume: outline (lon, lat deg), altitude band (ft), time window (Unix s, UTC).

    ``id`` names it (unique within its :class:`Volumes`). ``geometry`` is a shapely
    Polygon or MultiPolygon; see the module's notes for how it is read.
    """

    id: str
    geometry: Polygonal
    alt_lower_ft: float
    alt_upper_ft: float
    time_start_s: float
    time_end_s: float


@dataclass(frozen=True)
class Volumes:
    """One party's volumes, validated on construction.

    ``source`` names where they came from, in error messages. A bad volume raises
    :class:`~deconflict.errors.InputError` naming ``source``, the volume (index and
    id) and the field.

    >>> sq = shapely.box(0.0, 0.0, 0.1, 0.1)
    >>> vs = Volumes((Volume("op1", sq, 0.0, 400.0, 0.0, 3600.0),))
    >>> len(vs), vs.items[0].id
    (1, 'op1')
    """

    items: tuple[Volume, ...]
    source: str = "volumes"

    def __post_init__(self) -> None:
        """Accept any sequence of items; validate them (see :func:`validate`)."""
        object.__setattr__(self, "items", tuple(self.items))
        validate(self.items, self.source)

    def __len__(self) -> int:
        """Return the number of volumes."""
        return len(self.items)

    def outlines(self) -> ObjArray:
        """Each volume's outline (shapely, lon/lat deg) in an object array."""
        return np.array([v.geometry for v in self.items], dtype=object)

    @classmethod
    def from_geojson(cls, obj: Mapping[str, Any], source: str = "volumes") -> Volumes:
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
        items = [
            _geojson_volume(feature, props, Where(source, "feature", j, None))
            for j, (feature, props) in enumerate(features(obj, source))
        ]
        return collect(items, source, "feature")


def validate(items: Sequence[Volume], source: str = "volumes", what: str = "volume") -> None:
    """Check every volume; the first bad one raises :class:`~deconflict.errors.InputError`.

    The message is one line: ``source: what j ('id'): field 'name': problem``. Checked:
    the id (the rule of :mod:`deconflict.names`), unique; finite numbers with
    ``alt_lower_ft <= alt_upper_ft`` and ``time_start_s < time_end_s``; the outline (see
    :func:`outline_problem`).
    """
    seen: dict[str, int] = {}
    for j, v in enumerate(items):
        if not isinstance(v, Volume):
            raise InputError(f"{source}: {what} {j}: expected a Volume, got {type(v).__name__}")
        name = terminal_text(v.id) if isinstance(v.id, str) else None
        where = Where(source, what, j, name)
        problem = _scalar_problem(v)
        if problem is not None:
            raise where.error(*problem)
        if v.id in seen:
            raise where.error("id", f"duplicate id (also {what} {seen[v.id]})")
        seen[v.id] = j
    if items:
        problems = _outline_problems(np.array([v.geometry for v in items], dtype=object))
        for j, problem in enumerate(problems):
            if problem is not None:
                raise Where(source, what, j, terminal_text(items[j].id)).error("geometry", problem)


def _scalar_problem(v: Volume) -> tuple[str, str] | None:
    """(field, problem) for a bad id, band or window, else None."""
    problem = id_problem(v.id)  # the one id rule (deconflict.names)
    if problem is not None:
        return "id", problem
    for fname, unit in (
        ("alt_lower_ft", "ft"),
        ("alt_upper_ft", "ft"),
        ("time_start_s", "s"),
        ("time_end_s", "s"),
    ):
        value = getattr(v, fname)
        if not is_number(value) or not math.isfinite(value):
            return fname, f"{value!r} is not a finite number ({unit})"
    if v.alt_lower_ft > v.alt_upper_ft:
        return "alt_lower_ft", (
            f"{v.alt_lower_ft:g} ft is above alt_upper_ft {v.alt_upper_ft:g} ft"
        )
    if not v.time_start_s < v.time_end_s:
        return "time_end_s", f"{v.time_end_s:g} is not after time_start_s {v.time_start_s:g}"
    return None


def outline_problem(geometry: object) -> str | None:
    """What is wrong with an outline, in words, or None when it is usable.

    >>> outline_problem(shapely.box(0, 0, 1, 1)) is None
    True
    >>> outline_problem(shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]))
    'invalid polygon: self-intersection near lon 0.50000, lat 0.50000'
    """
    return _outline_problems(np.array([geometry], dtype=object))[0]


def _outline_problems(geoms: ObjArray) -> list[str | None]:
    """One problem (or None) per outline, checked in bulk."""
    n = geoms.size
    out: list[str | None] = [None] * n
    is_geom = np.array([isinstance(g, shapely.Geometry) for g in geoms], dtype=bool)
    kind = np.full(n, -1)
    kind[is_geom] = shapely.get_type_id(geoms[is_geom])
    for j in range(n):
        if kind[j] not in (3, 6):  # Polygon, MultiPolygon
            out[j] = f"{type(geoms[j]).__name__} is not a Polygon or MultiPolygon"
        elif geoms[j].is_empty:
            out[j] = "empty polygon"
    live = np.flatnonzero([p is None for p in out])
    if live.size == 0:
        return out
    g = geoms[live]
    coords, idx = shapely.get_coordinates(g, return_index=True)
    first = starts(idx, live.size)

    def flag(bad: BoolArray, message: Callable[[int], str]) -> None:
        for k in np.flatnonzero(bad):
            j = int(live[k])
            if out[j] is None:
                out[j] = message(int(k))

    finite = np.isfinite(coords).all(axis=1)
    flag(~np.logical_and.reduceat(finite, first), lambda k: "coordinates must be finite numbers")
    coords = np.where(finite[:, None], coords, 0.0)
    lat_abs = np.abs(coords[:, 1])
    worst_lat = np.maximum.reduceat(lat_abs, first)
    flag(
        worst_lat > MAX_ABS_LAT_DEG,
        lambda k: f"latitude {worst_lat[k]:g} is beyond ±{MAX_ABS_LAT_DEG:g}°",
    )
    worst_lon = np.maximum.reduceat(np.abs(coords[:, 0]), first)
    flag(worst_lon > 360.0, lambda k: f"longitude {worst_lon[k]:g} is outside [-360, 360]")

    ref = coords[first, 0]
    lon = ref[idx] + wrap(coords[:, 0] - ref[idx])
    span = np.maximum.reduceat(lon, first) - np.minimum.reduceat(lon, first)
    flag(
        span >= 180.0,
        lambda k: f"spans {span[k]:.1f}° of longitude (it must not enclose a pole)",
    )
    xyz = geodetic_to_ecef(np.clip(coords[:, 1], -90.0, 90.0), lon, 0.0)
    unit = xyz / np.linalg.norm(xyz, axis=1)[:, None]
    centre = np.add.reduceat(unit, first, axis=0)
    norm = np.linalg.norm(centre, axis=1)
    centre = centre / np.where(norm > 0.0, norm, 1.0)[:, None]
    cos_far = np.minimum.reduceat(np.einsum("ij,ij->i", unit, centre[idx]), first)
    far = np.degrees(np.arccos(np.clip(cos_far, -1.0, 1.0)))
    flag(
        far > MAX_RADIUS_DEG,
        lambda k: (
            f"extends {far[k]:.1f}° from its centre, more than {MAX_RADIUS_DEG:g}° "
            "(split it into smaller volumes)"
        ),
    )

    # Validity, part by part in unwrapped longitudes (parts may touch or overlap).
    ok = np.array([out[j] is None for j in live], dtype=bool)
    if ok.any():
        unwrapped = shapely.transform(g[ok], set_lon(lon[ok[idx]]))
        parts, owner = shapely.get_parts(unwrapped, return_index=True)
        valid = shapely.is_valid(parts)
        for p in np.flatnonzero(~valid):
            j = int(live[np.flatnonzero(ok)[owner[p]]])
            if out[j] is None:
                out[j] = invalid_polygon(shapely.is_valid_reason(parts[p]), _wrapped)
    return out


def _wrapped(x: float, y: float) -> tuple[float, float]:
    """An unwrapped (lon, lat) deg with its longitude wrapped into [-180, 180)."""
    return float(wrap(np.float64(x))), y


def circle(
    lon_deg: float, lat_deg: float, radius_m: float, tolerance_m: float = CIRCLE_TOLERANCE_M
) -> shapely.Polygon:
    """A polygon (lon/lat deg) that contains the geodesic circle of ``radius_m`` around a point.

    Its vertices lie at equal azimuths a little beyond the circle, so that each edge
    clears the circle (by at least the edge's 1 m tolerance); it exceeds the circle by
    at most ``tolerance_m`` plus that, with :data:`CIRCLE_VERTICES` vertices at most
    (beyond that, by ``radius_m (1/cos(π/720) - 1)``: 10 m at 1000 km). Longitudes stay
    within 180° of ``lon_deg`` (continuous across the antimeridian).

    >>> c = circle(10.0, 45.0, 1000.0)
    >>> len(c.exterior.coords) - 1, c.contains(shapely.Point(10.0, 45.0))
    (50, True)
    """
    if not (math.isfinite(radius_m) and radius_m > 0.0):
        raise ValueError(f"radius_m must be a positive finite number, got {radius_m!r}")
    lo, hi = CIRCLE_VERTICES
    n = int(np.clip(math.ceil(math.pi * math.sqrt(radius_m / (2.0 * tolerance_m))), lo, hi))
    half = math.pi / n
    edge_m = 2.0 * radius_m * math.tan(half)
    lat_far = min(abs(lat_deg) + math.degrees(radius_m / WGS84_MIN_RADIUS), MAX_ABS_LAT_DEG)
    sag_m = _sag_m(edge_m, lat_far)
    az = np.linspace(0.0, 360.0, n, endpoint=False)
    dist = np.full(n, (radius_m + sag_m) / math.cos(half))
    lon, lat, _ = _GEOD.fwd(np.full(n, lon_deg), np.full(n, lat_deg), az, dist)
    lon = lon_deg + wrap(np.asarray(lon) - lon_deg)
    return shapely.Polygon(np.column_stack([lon, lat]))


def _sag_m(edge_m: float | FloatArray, lat_abs_deg: float | FloatArray) -> FloatArray:
    """Most a longitude/latitude line of length ``edge_m`` strays from its chord (m).

    Its curvature on the ground is below ``1.4 max(1, tan |lat|) / R`` (a parallel:
    ``tan(lat) / R``; the turn of a slanting line adds at most 40 %), plus that of a
    geodesic seen in a tangent plane within 20° (under ``0.4 / R``); the sag of an arc
    of curvature ``κ`` over a chord ``L`` is ``κ L² / 8``.
    """
    t = np.tan(np.radians(np.minimum(np.abs(lat_abs_deg), MAX_ABS_LAT_DEG + 0.5)))
    kappa = (1.4 * np.maximum(1.0, t) + 0.4) / WGS84_MIN_RADIUS
    return np.asarray(kappa * np.square(edge_m) / 8.0, dtype=np.float64)


def buffered(volumes: Volumes, horizontal_m: float, vertical_ft: float, time_s: float) -> Volumes:
    """Each volume grown: outline by ``horizontal_m`` on the ground, band and window both ways.

    The band becomes ``[alt_lower_ft - vertical_ft, alt_upper_ft + vertical_ft]``
    and the window ``[time_start_s - time_s, time_end_s + time_s]``; ids and
    ``source`` are kept.

    The grown outline **contains** the true metric buffer: every point of the ground
    within ``horizontal_m`` (geodesic, WGS84) of the outline. It is computed in the
    tangent plane at the outline's centre, where the projection never lengthens a
    distance, with a margin of :data:`GROW_MARGIN_M` for the edges' tolerance, round
    joins whose chords lie outside the circle (about :data:`QUAD_SEGS` per quarter;
    GEOS lets a chord span up to 1.5 times that angle) and edges cut so that they
    stray less than :data:`DENSIFY_TOLERANCE_M` when drawn straight in
    longitude/latitude. So it exceeds the true buffer by at most
    ``(horizontal_m + 2.5 m) · 0.28 %`` plus 2.5 m, plus ``horizontal_m (1/cos θ - 1)``
    at ``θ`` from the centre (under 0.11 % of ``horizontal_m`` within 300 km of it).
    Outlines come back in longitudes within [-180, 180], cut at the antimeridian into
    a MultiPolygon where they cross it. ``horizontal_m == 0`` leaves outlines as given.
    A grown outline must still meet the limits of :class:`Volumes` (within
    :data:`MAX_ABS_LAT_DEG` of latitude, :data:`MAX_RADIUS_DEG` of its centre), else
    :class:`~deconflict.errors.InputError` names it.

    >>> sq = shapely.box(0.0, 0.0, 0.01, 0.01)
    >>> vs = Volumes((Volume("a", sq, 1000.0, 2000.0, 0.0, 60.0),))
    >>> g = buffered(vs, 500.0, 500.0, 30.0).items[0]
    >>> g.alt_lower_ft, g.alt_upper_ft, g.time_start_s, g.time_end_s
    (500.0, 2500.0, -30.0, 90.0)
    >>> g.geometry.contains(shapely.Point(-0.0044, 0.005))  # 490 m west of the square
    True
    """
    for name, value in (("horizontal_m", horizontal_m), ("vertical_ft", vertical_ft)):
        check_nonnegative(name, value)
    check_nonnegative("time_s", time_s)
    n = len(volumes)
    if horizontal_m > 0.0 and n:
        prep = prepare(volumes.outlines())
        grown = cut_antimeridian(grow(prep, np.arange(n), float(horizontal_m)))
    else:
        grown = volumes.outlines()
    items = tuple(
        Volume(
            id=v.id,
            geometry=grown[j],
            alt_lower_ft=float(v.alt_lower_ft) - float(vertical_ft),
            alt_upper_ft=float(v.alt_upper_ft) + float(vertical_ft),
            time_start_s=float(v.time_start_s) - float(time_s),
            time_end_s=float(v.time_end_s) + float(time_s),
        )
        for j, v in enumerate(volumes.items)
    )
    return Volumes(items, source=volumes.source)


def check_nonnegative(name: str, value: float) -> None:
    """Raise a one-line :class:`~deconflict.errors.InputError` unless ``value`` is finite, >= 0."""
    if not is_number(value) or not math.isfinite(value) or value < 0.0:
        raise InputError(f"{name}: {value!r} is not a finite number >= 0")


# -- reading ---------------------------------------------------------------------------


def collect(items: Sequence[Volume], source: str, what: str) -> Volumes:
    """:class:`Volumes` of parsed items; a duplicate id names the item as ``what`` (feature...)."""
    seen: dict[str, int] = {}
    for j, v in enumerate(items):
        if v.id in seen:
            raise Where(source, what, j, v.id).error(
                "id", f"duplicate id (also {what} {seen[v.id]})"
            )
        seen[v.id] = j
    return Volumes(tuple(items), source=source)


def volume_id(raw: object, where: Where) -> str | None:
    """A volume's id as written (a non-empty string, or an int), checked; None if absent.

    The one id rule (:mod:`deconflict.names`): printable, no control characters, ≤ 64.
    """
    ident: str | None = None
    if isinstance(raw, str) and raw.strip():
        ident = raw
    elif isinstance(raw, int) and not isinstance(raw, bool):
        ident = str(raw)
    if ident is not None:
        problem = id_problem(ident)
        if problem is not None:
            raise Where(where.source, where.what, where.index, terminal_text(ident)).error(
                "id", problem
            )
    return ident


def checked_circle(lon: float, lat: float, radius_m: float, field_name: str, where: Where) -> Any:
    """:func:`circle` around a centre read from a file; errors name ``field_name``."""
    if abs(lat) > MAX_ABS_LAT_DEG or abs(lon) > 360.0:
        raise where.error(field_name, f"centre lon {lon:g}, lat {lat:g} is out of range")
    if radius_m > MAX_CIRCLE_RADIUS_M:
        raise where.error(field_name, f"radius {radius_m:g} m is over 2000 km (split the volume)")
    return circle(lon, lat, radius_m)


def _geojson_volume(feature: Mapping[str, Any], props: Mapping[str, Any], where: Where) -> Volume:
    raw = props["id"] if props.get("id") is not None else feature.get("id")
    ident = volume_id(raw, where)
    if ident is None:
        shown = (
            "missing" if raw is None else f"{terminal_text(repr(raw))} is not a non-empty string"
        )
        raise where.error("id", f"{shown} (each volume needs a unique string 'id')")
    where = Where(where.source, where.what, where.index, terminal_text(ident))
    geometry = _geojson_geometry(feature.get("geometry"), props, where)
    lower = finite_number(props.get("alt_lower_ft"), where, "alt_lower_ft", "ft")
    upper = finite_number(props.get("alt_upper_ft"), where, "alt_upper_ft", "ft")
    if lower > upper:
        raise where.error("alt_lower_ft", f"{lower:g} ft is above alt_upper_ft {upper:g} ft")
    start = utc_time(props.get("time_start"), where, "time_start")
    end = utc_time(props.get("time_end"), where, "time_end")
    if not end > start:
        raise where.error(
            "time_end", f"{props['time_end']!r} is not after time_start {props['time_start']!r}"
        )
    problem = outline_problem(geometry)
    if problem is not None:
        raise where.error("geometry", problem)
    return Volume(ident, geometry, lower, upper, start, end)


def _geojson_geometry(geometry: object, props: Mapping[str, Any], where: Where) -> Polygonal:
    if not isinstance(geometry, Mapping):
        raise where.error("geometry", "missing (expected a Polygon, MultiPolygon or Point)")
    kind = geometry.get("type")
    if kind == "Point":
        lon, lat = point(geometry.get("coordinates"), where)
        radius = props.get("radius_m")
        if radius is None:
            raise where.error("radius_m", "missing (a Point needs the circle's radius in metres)")
        if not is_number(radius) or not math.isfinite(radius) or radius <= 0:
            raise where.error("radius_m", f"{radius!r} is not a number > 0 (m)")
        return checked_circle(lon, lat, float(radius), "geometry", where)
    if kind not in ("Polygon", "MultiPolygon"):
        raise where.error("geometry", f"type {kind!r} is not a Polygon, MultiPolygon or Point")
    return polygonal(geometry, where)
