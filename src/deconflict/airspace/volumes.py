"""4-D operation volumes: an outline, an altitude band and a time window; buffers and overlaps.

Model
-----
A :class:`Volume` is an outline (a shapely Polygon or MultiPolygon of longitude,
latitude in degrees; holes allowed; the parts of a MultiPolygon are united), a closed
altitude band ``[alt_lower_ft, alt_upper_ft]`` and a time window
``[time_start_s, time_end_s]`` (Unix seconds, UTC). Edges are straight lines in
longitude/latitude, as GeoJSON says (RFC 7946 §3.1.1), taking the short way round in
longitude, so an outline may cross the antimeridian (written 179 → -179, 179 → 181,
or cut in two parts at ±180°). An outline must lie within :data:`MAX_RADIUS_DEG` of
its centre, below :data:`MAX_ABS_LAT_DEG` of latitude and must not enclose a pole.

Two volumes **overlap** under minima ``H`` (horizontal) and ``V`` (vertical) and a time
buffer ``tb`` when all three hold:

- the horizontal distance between the two outlines on the ground is ``< H``
  (0 where they meet);
- the vertical gap between the bands is ``< V`` (negative where they overlap);
- the gap between the time windows is ``< tb`` (negative where they overlap; with
  ``tb = 0``, windows that only touch, one ending when the other starts, do not
  overlap).

This is the same as growing each volume by half of each (``H/2`` on the ground,
``V/2`` up and down, ``tb/2`` before and after) and asking whether the grown
volumes intersect; :func:`overlaps` reports that intersection: the region where the
two outlines grown by ``H/2`` meet, the band and the window.

Accuracy
--------
Distances are metric, on the WGS84 ellipsoid. Each edge is cut into pieces short
enough (:data:`DENSIFY_STEP_DEG` of arc, less above 45° latitude) that the
longitude/latitude line strays less than :data:`DENSIFY_TOLERANCE_M` (1 m) from the
straight pieces used; that is the outline's tolerance. For a candidate pair, both
outlines are projected into the tangent plane at a point between them (east, north:
an orthographic view of the surface). That projection never lengthens a distance,
and shortens one by at most the factor ``cos θ`` (``θ``: the angle between the
verticals at the plane's origin and at the far end), so a plane distance ``d``
decides the pair when ``d >= H`` (apart) or ``d < H cos θ`` (overlap). The few pairs
in between are projected again into the plane at the midpoint of their closest
points (twice at most), where the band shrinks to millimetres (2.5 mm at 5 NM),
and the geodesic distance between the closest points found decides the rest. A
pair exactly ``H`` apart is decided by rounding either way.

Cost
----
Each volume's surface is bounded by a box in Earth-centred (ECEF) coordinates; a
:class:`shapely.STRtree` over one side's boxes (grown by ``H/2``) is queried in bulk
with the other side's, then the band and window gaps prune the candidates, all
vectorised; only the remaining pairs are projected and measured, with shapely 2's
vectorised ``shortest_line``. Thousands of volumes per side take well under a
second (``bench/volumes.py``).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Geod

from deconflict.airspace.zones import _is_number, _Where
from deconflict.errors import InputError
from deconflict.geo import (
    WGS84_A,
    WGS84_E2,
    WGS84_F,
    WGS84_MIN_RADIUS,
    enu_basis,
    geodetic_to_ecef,
)
from deconflict.names import id_problem, terminal_text

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjArray = npt.NDArray[np.object_]
Polygonal = shapely.Polygon | shapely.MultiPolygon

#: Largest angle (deg, at the Earth's centre) between an outline's centre and any vertex.
MAX_RADIUS_DEG = 20.0
#: Outlines stay within this latitude (deg, north or south).
MAX_ABS_LAT_DEG = 89.0
#: Longest piece (degrees of arc; less above 45° latitude) an edge is cut into.
DENSIFY_STEP_DEG = 0.045
#: Most an edge strays (m) from the straight pieces it is cut into.
DENSIFY_TOLERANCE_M = 1.0
#: Segments per quarter circle of the round joins of a buffer.
QUAD_SEGS = 16
#: Most a circle's polygon exceeds the circle (m), up to its vertex limit.
CIRCLE_TOLERANCE_M = 2.0
#: Fewest and most vertices of a circle's polygon.
CIRCLE_VERTICES = (16, 720)
#: Extra growth (m) of a buffered outline: the input's and the output's edge tolerance.
GROW_MARGIN_M = 2.0 * DENSIFY_TOLERANCE_M + 0.5
#: Extra width (m) of every box beyond the proven bounds: numerical headroom.
_BOX_SLACK_M = 50.0
#: Most vertices projected at once when measuring candidate pairs (bounds peak memory).
_CHUNK_VERTICES = 1 << 21
#: Re-projections of a pair whose plane distance does not decide it.
_REFINE_ROUNDS = 2
_GEOD = Geod(ellps="WGS84")
_B = WGS84_A * (1.0 - WGS84_F)


#: Columns of an overlap table (exact or private), in order: the two volumes' ids, the
#: overlap's band (ft) and window (ISO 8601 UTC), the mode and the region.
OVERLAP_COLUMNS = (
    "a_id",
    "b_id",
    "alt_lower_ft",
    "alt_upper_ft",
    "time_start",
    "time_end",
    "mode",
    "geometry",
)


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


@dataclass(frozen=True, eq=False)
class Overlaps:
    """Overlapping pairs of volumes, one entry per pair in every array.

    ``a_index``/``b_index`` index the two :class:`Volumes`. ``geometry`` holds the
    overlap regions (shapely, lon/lat deg; cut at the antimeridian as RFC 7946
    asks): where the two outlines grown by ``H/2`` meet. The band
    ``[alt_lower_ft, alt_upper_ft]`` and the window ``[time_start_s, time_end_s]``
    are the intersections of the bands grown by ``V/2`` and of the windows grown by
    ``tb/2``. ``distance_m`` is the horizontal distance between the outlines (0 where
    they meet): a lower bound, short by at most a factor ``cos θ`` (see the module's
    notes: under 0.1 % for outlines within 300 km); near ``H``, the geodesic
    distance between the closest points found. Entries are sorted by ``a_index``, then ``b_index``.
    """

    a_index: IntArray
    b_index: IntArray
    geometry: ObjArray
    alt_lower_ft: FloatArray
    alt_upper_ft: FloatArray
    time_start_s: FloatArray
    time_end_s: FloatArray
    distance_m: FloatArray

    def __len__(self) -> int:
        """Return the number of overlapping pairs."""
        return int(self.a_index.size)


# -- validation ------------------------------------------------------------------------


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
        where = _Where(source, what, j, name)
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
                raise _Where(source, what, j, terminal_text(items[j].id)).error("geometry", problem)


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
        if not _is_number(value) or not math.isfinite(value):
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
    first = _starts(idx, live.size)

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
    lon = ref[idx] + _wrap(coords[:, 0] - ref[idx])
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
        unwrapped = shapely.transform(g[ok], _set_lon(lon[ok[idx]]))
        parts, owner = shapely.get_parts(unwrapped, return_index=True)
        valid = shapely.is_valid(parts)
        for p in np.flatnonzero(~valid):
            j = int(live[np.flatnonzero(ok)[owner[p]]])
            if out[j] is None:
                out[j] = _explain(shapely.is_valid_reason(parts[p]))
    return out


_REASON_AT = re.compile(r"^(?P<what>.*?)\s*\[(?P<x>\S+)\s+(?P<y>\S+)\]$")


def _explain(reason: str) -> str:
    """GEOS's reason for an invalid polygon, its location as a wrapped longitude."""
    m = _REASON_AT.match(reason)
    if m is None:
        return f"invalid polygon: {reason.lower()}"
    try:
        x, y = float(m["x"]), float(m["y"])
    except ValueError:
        return f"invalid polygon: {reason.lower()}"
    lon = float(_wrap(np.float64(x)))
    return f"invalid polygon: {m['what'].lower()} near lon {lon:.5f}, lat {y:.5f}"


# -- circles ---------------------------------------------------------------------------


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
    lon = lon_deg + _wrap(np.asarray(lon) - lon_deg)
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


# -- buffering -------------------------------------------------------------------------


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
        _check_nonnegative(name, value)
    _check_nonnegative("time_s", time_s)
    n = len(volumes)
    if horizontal_m > 0.0 and n:
        prep = _prepare(volumes)
        grown = _cut_antimeridian(_grow(prep, np.arange(n), float(horizontal_m)))
    else:
        grown = np.array([v.geometry for v in volumes.items], dtype=object)
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


def _check_nonnegative(name: str, value: float) -> None:
    if not _is_number(value) or not math.isfinite(value) or value < 0.0:
        raise InputError(f"{name}: {value!r} is not a finite number >= 0")


def _grow(prep: _Prepared, idx: IntArray, radius_m: float) -> ObjArray:
    """Outlines ``idx`` grown by ``radius_m`` (m), as continuous lon/lat polygons.

    See :func:`buffered` for the guarantee. Longitudes stay within 180° of each
    outline's reference longitude.
    """
    planar = _project(prep, idx, prep.origin[idx], prep.basis[idx])
    # GEOS rounds the number of chords of a round join: each spans up to 1.5 × 90°/QUAD_SEGS.
    dist = (radius_m + GROW_MARGIN_M) / math.cos(3.0 * math.pi / (8 * QUAD_SEGS))
    grown = shapely.buffer(planar, dist, quad_segs=QUAD_SEGS)
    lat_far = np.minimum(
        prep.lat_max_abs[idx] + np.degrees(dist / WGS84_MIN_RADIUS) + 0.01, MAX_ABS_LAT_DEG + 0.5
    )
    step_m = _step_m(lat_far)
    grown = shapely.segmentize(grown, step_m)
    coords, owner = shapely.get_coordinates(grown, return_index=True)
    lat, lon = _lift(coords, prep.origin[idx][owner], prep.basis[idx][owner])
    ref = prep.ref_lon[idx][owner]
    lon = ref + _wrap(lon - ref)
    out = np.asarray(shapely.transform(grown, lambda _c: np.column_stack([lon, lat])), dtype=object)
    # Lifting is smooth and one-to-one, but rounding may pinch a near-degenerate spot.
    pinched = ~shapely.is_valid(out)
    if pinched.any():
        out[pinched] = _polygonal(np.asarray(shapely.make_valid(out[pinched]), dtype=object))
    return out


def _step_m(lat_abs_deg: FloatArray) -> FloatArray:
    """Longest piece (m, in a plane) that keeps a lon/lat line within 1 m of its chord."""
    t = np.maximum(1.0, np.tan(np.radians(lat_abs_deg)))
    # Pieces of DENSIFY_STEP_DEG / sqrt(t) of arc (5 km at most): _sag_m ≤ 0.9 m anywhere.
    step = np.radians(DENSIFY_STEP_DEG) * WGS84_MIN_RADIUS / np.sqrt(t)
    return np.asarray(0.95 * step, dtype=np.float64)


# -- overlaps --------------------------------------------------------------------------


def overlaps(
    a: Volumes, b: Volumes, horizontal_nm: float, vertical_ft: float, time_buffer_s: float = 0.0
) -> Overlaps:
    """Pairs of volumes of ``a`` and ``b`` that overlap under the minima (see the module's notes).

    ``horizontal_nm`` (NM) and ``vertical_ft`` (ft) are positive; ``time_buffer_s``
    (s) is at least 0.

    >>> sq = shapely.box(0.0, 0.0, 0.1, 0.1)
    >>> a = Volumes((Volume("a", sq, 0.0, 1000.0, 0.0, 3600.0),))
    >>> east = shapely.box(0.17, 0.0, 0.2, 0.1)  # 7.8 km east
    >>> b = Volumes((Volume("b", east, 1500.0, 3000.0, 1800.0, 7200.0),))
    >>> o = overlaps(a, b, horizontal_nm=5, vertical_ft=1000)
    >>> len(o), float(o.alt_lower_ft[0]), float(o.alt_upper_ft[0])
    (1, 1000.0, 1500.0)
    >>> float(o.time_start_s[0]), float(o.time_end_s[0]), round(float(o.distance_m[0]))
    (1800.0, 3600.0, 7792)
    >>> len(overlaps(a, b, horizontal_nm=4, vertical_ft=1000))
    0
    """
    for name, value in (("horizontal_nm", horizontal_nm), ("vertical_ft", vertical_ft)):
        if not _is_number(value) or not math.isfinite(value) or value <= 0.0:
            raise InputError(f"{name}: {value!r} is not a finite number > 0")
    _check_nonnegative("time_buffer_s", time_buffer_s)
    H = float(horizontal_nm) * 1852.0
    V = float(vertical_ft)
    tb = float(time_buffer_s)
    if len(a) == 0 or len(b) == 0:
        return _no_overlaps()
    pa, pb = _prepare(a), _prepare(b)
    ia, ib = _candidates(pa, pb, 0.5 * H + _BOX_SLACK_M)
    band_gap = np.maximum(pb.alt_lower[ib] - pa.alt_upper[ia], pa.alt_lower[ia] - pb.alt_upper[ib])
    time_gap = np.maximum(pb.t_start[ib] - pa.t_end[ia], pa.t_start[ia] - pb.t_end[ib])
    keep = (band_gap < V) & (time_gap < tb)
    ia, ib = ia[keep], ib[keep]
    hit = np.zeros(ia.size, dtype=bool)
    dist = np.zeros(ia.size)
    for sl in _chunks(pa.count[ia] + pb.count[ib]):
        hit[sl], dist[sl] = _decide(pa, ia[sl], pb, ib[sl], H)
    ia, ib, dist = ia[hit], ib[hit], dist[hit]
    order = np.lexsort((ib, ia))
    ia, ib, dist = ia[order], ib[order], dist[order]
    return Overlaps(
        a_index=ia.astype(np.int64),
        b_index=ib.astype(np.int64),
        geometry=_regions(pa, ia, pb, ib, 0.5 * H),
        alt_lower_ft=np.maximum(pa.alt_lower[ia], pb.alt_lower[ib]) - 0.5 * V,
        alt_upper_ft=np.minimum(pa.alt_upper[ia], pb.alt_upper[ib]) + 0.5 * V,
        time_start_s=np.maximum(pa.t_start[ia], pb.t_start[ib]) - 0.5 * tb,
        time_end_s=np.minimum(pa.t_end[ia], pb.t_end[ib]) + 0.5 * tb,
        distance_m=dist,
    )


def _no_overlaps() -> Overlaps:
    empty = np.zeros(0, dtype=np.int64)
    return Overlaps(
        empty,
        empty.copy(),
        np.zeros(0, dtype=object),
        np.zeros(0),
        np.zeros(0),
        np.zeros(0),
        np.zeros(0),
        np.zeros(0),
    )


def _chunks(vertices: IntArray) -> list[slice]:
    """Consecutive slices of pairs holding at most :data:`_CHUNK_VERTICES` vertices each."""
    if vertices.size == 0:
        return []
    total = np.cumsum(vertices)
    bounds = [0]
    while bounds[-1] < vertices.size:
        base = total[bounds[-1] - 1] if bounds[-1] else 0
        nxt = int(np.searchsorted(total, base + _CHUNK_VERTICES, side="right"))
        bounds.append(max(nxt, bounds[-1] + 1))
    return [slice(s, e) for s, e in itertools.pairwise(bounds)]


def _candidates(pa: _Prepared, pb: _Prepared, pad_m: float) -> tuple[IntArray, IntArray]:
    """Pairs whose ECEF boxes, each grown by ``pad_m``, overlap.

    Points of the two surfaces less than ``2 pad_m`` apart on the ground are less
    than that apart in a straight line, so their boxes grown by ``pad_m`` meet. The
    tree holds 2-D boxes on the two ECEF axes least aligned with the volumes' mean
    vertical; the third axis is checked in numpy.
    """
    up = np.concatenate([pa.origin, pb.origin]).sum(axis=0)
    drop = int(np.argmax(np.abs(up)))
    k0, k1 = (k for k in range(3) if k != drop)
    lo_a, hi_a = pa.lo - pad_m, pa.hi + pad_m
    lo_b, hi_b = pb.lo - pad_m, pb.hi + pad_m
    tree = shapely.STRtree(shapely.box(lo_b[:, k0], lo_b[:, k1], hi_b[:, k0], hi_b[:, k1]))
    ia, ib = tree.query(shapely.box(lo_a[:, k0], lo_a[:, k1], hi_a[:, k0], hi_a[:, k1]))
    near = (lo_a[ia, drop] <= hi_b[ib, drop]) & (hi_a[ia, drop] >= lo_b[ib, drop])
    return ia[near].astype(np.int64), ib[near].astype(np.int64)


def _decide(
    pa: _Prepared, ia: IntArray, pb: _Prepared, ib: IntArray, H: float
) -> tuple[BoolArray, FloatArray]:
    """Whether each pair's outlines are less than ``H`` (m) apart, and that distance (m)."""
    k = ia.size
    origin, basis = _mid_planes(pa.origin[ia], pb.origin[ib])
    yes = np.zeros(k, dtype=bool)
    todo = np.arange(k)
    dist = np.zeros(k)
    for round_ in range(_REFINE_ROUNDS + 1):
        d, p, q = _closest(pa, ia[todo], pb, ib[todo], origin[todo], basis[todo])
        dist[todo] = d
        rho = np.maximum(np.hypot(p[:, 0], p[:, 1]), np.hypot(q[:, 0], q[:, 1]))
        theta = np.minimum(1.01 * rho / WGS84_MIN_RADIUS, 0.5 * math.pi)
        sure_yes = d < H * np.cos(theta)
        yes[todo[sure_yes]] = True
        open_ = ~sure_yes & (d < H)
        if not open_.any():
            break
        todo, p, q = todo[open_], p[open_], q[open_]
        pe = _surface_ecef(p, origin[todo], basis[todo])
        qe = _surface_ecef(q, origin[todo], basis[todo])
        if round_ == _REFINE_ROUNDS:
            # Millimetres from H: the geodesic between the closest points decides.
            lat_p, lon_p = _ecef_surface_latlon(pe)
            lat_q, lon_q = _ecef_surface_latlon(qe)
            _, _, geo = _GEOD.inv(lon_p, lat_p, lon_q, lat_q)
            geo = np.asarray(geo, dtype=np.float64)
            yes[todo[geo < H]] = True
            dist[todo] = geo
            break
        new_origin, new_basis = _mid_planes(pe, qe)
        origin = origin.copy()
        basis = basis.copy()
        origin[todo], basis[todo] = new_origin, new_basis
    return yes, dist


def _closest(
    pa: _Prepared,
    ia: IntArray,
    pb: _Prepared,
    ib: IntArray,
    origin: FloatArray,
    basis: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Distance (m) and closest points (plane, m) of each pair in its plane."""
    ga = _project(pa, ia, origin, basis)
    gb = _project(pb, ib, origin, basis)
    line = shapely.get_coordinates(shapely.shortest_line(ga, gb)).reshape(-1, 2, 2)
    p, q = line[:, 0], line[:, 1]
    return np.hypot(*(q - p).T), p, q


def _regions(pa: _Prepared, ia: IntArray, pb: _Prepared, ib: IntArray, r_m: float) -> ObjArray:
    """Where the outlines grown by ``r_m`` meet, per pair (lon/lat, cut at the antimeridian)."""
    if ia.size == 0:
        return np.zeros(0, dtype=object)
    ua, inv_a = np.unique(ia, return_inverse=True)
    ub, inv_b = np.unique(ib, return_inverse=True)
    ga = _grow(pa, ua, r_m)[inv_a]
    gb = _grow(pb, ub, r_m)[inv_b]
    shift = 360.0 * np.round((pa.ref_lon[ia] - pb.ref_lon[ib]) / 360.0)
    _, owner = shapely.get_coordinates(gb, return_index=True)
    gb = shapely.transform(gb, lambda c: c + np.column_stack([shift[owner], np.zeros(owner.size)]))
    try:
        region = shapely.intersection(ga, gb)
    except shapely.errors.GEOSException:  # pragma: no cover - a grown outline out of shape
        region = shapely.intersection(shapely.make_valid(ga), shapely.make_valid(gb))
    return _cut_antimeridian(_polygonal(np.asarray(region, dtype=object)))


def _polygonal(geoms: ObjArray) -> ObjArray:
    """Keep only the polygonal parts of each geometry (drop touching lines and points)."""
    out = geoms.copy()
    kind = shapely.get_type_id(geoms)
    for j in np.flatnonzero((kind != 3) & (kind != 6)):
        parts = [p for p in shapely.get_parts(geoms[j]) if isinstance(p, shapely.Polygon)]
        out[j] = (
            shapely.Polygon()
            if not parts
            else parts[0]
            if len(parts) == 1
            else shapely.MultiPolygon(parts)
        )
    return out


def _cut_antimeridian(geoms: ObjArray) -> ObjArray:
    """Longitudes into [-180, 180]: outlines crossing ±180° become two-sided MultiPolygons."""
    out = np.asarray(geoms, dtype=object).copy()
    if out.size == 0:
        return out
    bounds = shapely.bounds(out)
    outside = np.flatnonzero((bounds[:, 0] < -180.0) | (bounds[:, 2] > 180.0))
    for j in outside:
        g = out[j]
        parts: list[shapely.Polygon] = []
        for lo, shift in ((-540.0, 360.0), (-180.0, 0.0), (180.0, -360.0)):
            piece = shapely.intersection(g, shapely.box(lo, -90.0, lo + 360.0, 90.0))
            if shift:
                piece = shapely.transform(piece, lambda c, s=shift: c + np.array([s, 0.0]))
            parts.extend(p for p in shapely.get_parts(piece) if isinstance(p, shapely.Polygon))
        out[j] = parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)
    return out


# -- geometry in tangent planes ---------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Prepared:
    """Volumes ready for measuring: densified outlines, their ECEF vertices, planes, boxes.

    ``dense`` holds each outline with its edges cut (see :data:`DENSIFY_STEP_DEG`),
    longitudes unwrapped within 180° of ``ref_lon``; ``ecef`` its vertices (m) in
    ``shapely.get_coordinates`` order, volume ``i``'s from ``start[i]``, ``count[i]``
    of them. Each volume's own plane is at ``origin`` (ECEF) with ``basis`` (east,
    north, up rows); ``lo``/``hi`` bound the surface under the outline (ECEF, m).
    """

    dense: ObjArray
    ref_lon: FloatArray
    lat_max_abs: FloatArray
    ecef: FloatArray
    start: IntArray
    count: IntArray
    origin: FloatArray
    basis: FloatArray
    lo: FloatArray
    hi: FloatArray
    alt_lower: FloatArray
    alt_upper: FloatArray
    t_start: FloatArray
    t_end: FloatArray


def _prepare(volumes: Volumes) -> _Prepared:
    items = volumes.items
    n = len(items)
    geoms = np.array([v.geometry for v in items], dtype=object)
    coords, idx = shapely.get_coordinates(geoms, return_index=True)
    first = _starts(idx, n)
    ref = coords[first, 0]
    lon = ref[idx] + _wrap(coords[:, 0] - ref[idx])
    lat = coords[:, 1]
    lat_max = np.maximum.reduceat(np.abs(lat), first)
    crosses = (np.minimum.reduceat(lat, first) < 0.0) & (np.maximum.reduceat(lat, first) > 0.0)
    lat_min = np.where(crosses, 0.0, np.minimum.reduceat(np.abs(lat), first))

    # Cut edges in (lon cos(lat_min), lat): pieces no longer than the step in arc.
    scale = np.cos(np.radians(lat_min))
    scaled = shapely.transform(geoms, _set_lon(lon * scale[idx]))
    step = DENSIFY_STEP_DEG / np.sqrt(np.maximum(1.0, np.tan(np.radians(lat_max))))
    dense = shapely.segmentize(scaled, step)
    dcoords, didx = shapely.get_coordinates(dense, return_index=True)
    dlon = dcoords[:, 0] / scale[didx]
    dense = np.asarray(shapely.transform(dense, _set_lon(dlon)), dtype=object)

    ecef = geodetic_to_ecef(dcoords[:, 1], dlon, 0.0)
    count = np.bincount(didx, minlength=n).astype(np.int64)
    start = (np.cumsum(count) - count).astype(np.int64)
    lat0, lon0 = _ecef_surface_latlon(np.add.reduceat(ecef, start, axis=0))
    origin = geodetic_to_ecef(lat0, lon0, 0.0)
    basis = enu_basis(lat0, lon0)
    d = ecef - origin[didx]
    own = np.einsum("ij,ikj->ik", d, basis[didx])  # (east, north, up) per vertex
    plane_lo = np.minimum.reduceat(own, start, axis=0)
    plane_hi = np.maximum.reduceat(own, start, axis=0)
    # The surface under the outline: its plane box, from the lowest vertex to the plane.
    corners = np.stack(
        [
            np.stack([x, y, u], axis=-1)
            for x in (plane_lo[:, 0], plane_hi[:, 0])
            for y in (plane_lo[:, 1], plane_hi[:, 1])
            for u in (plane_lo[:, 2], np.zeros(n))
        ],
        axis=1,
    )  # (n, 8, 3)
    corners_ecef = origin[:, None, :] + np.einsum("nck,nkj->ncj", corners, basis)
    return _Prepared(
        dense=dense,
        ref_lon=ref,
        lat_max_abs=lat_max,
        ecef=ecef,
        start=start,
        count=count,
        origin=origin,
        basis=basis,
        lo=corners_ecef.min(axis=1) - _BOX_SLACK_M,
        hi=corners_ecef.max(axis=1) + _BOX_SLACK_M,
        alt_lower=np.array([v.alt_lower_ft for v in items], dtype=np.float64),
        alt_upper=np.array([v.alt_upper_ft for v in items], dtype=np.float64),
        t_start=np.array([v.time_start_s for v in items], dtype=np.float64),
        t_end=np.array([v.time_end_s for v in items], dtype=np.float64),
    )


def _project(prep: _Prepared, idx: IntArray, origin: FloatArray, basis: FloatArray) -> ObjArray:
    """Outlines ``idx`` in the planes ``origin[k]``, ``basis[k]`` (one per entry of ``idx``)."""
    owner, vert = _expand(prep.count[idx], prep.start[idx])
    d = prep.ecef[vert] - origin[owner]
    x = np.einsum("ij,ij->i", d, basis[owner, 0])
    y = np.einsum("ij,ij->i", d, basis[owner, 1])
    return np.asarray(
        shapely.transform(prep.dense[idx], lambda _c: np.column_stack([x, y])), dtype=object
    )


def _mid_planes(p: FloatArray, q: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Tangent planes (origin ECEF, basis) on the surface halfway between ECEF points."""
    mid = p / np.linalg.norm(p, axis=1)[:, None] + q / np.linalg.norm(q, axis=1)[:, None]
    lat, lon = _ecef_surface_latlon(mid)
    return geodetic_to_ecef(lat, lon, 0.0), enu_basis(lat, lon)


def _ecef_surface_latlon(xyz: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Geodetic (lat, lon) deg of the surface point on the ray from the centre through ``xyz``.

    Exact for points on the surface: there ``tan(lat) = z / ((1 - e²) p)``.
    """
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    lat = np.degrees(np.arctan2(z, (1.0 - WGS84_E2) * np.hypot(x, y)))
    lon = np.degrees(np.arctan2(y, x))
    return lat, lon


def _surface_ecef(xy: FloatArray, origin: FloatArray, basis: FloatArray) -> FloatArray:
    """Plane points (m) → the surface points under them along the planes' verticals (ECEF).

    The line ``origin + x e + y n + h u`` meets the ellipsoid where ``|P / (a, a, b)|² = 1``,
    a quadratic in ``h``; the near root (0 at the origin) is taken.
    """
    base = origin + xy[:, 0:1] * basis[:, 0] + xy[:, 1:2] * basis[:, 1]
    scale = np.array([1.0 / WGS84_A, 1.0 / WGS84_A, 1.0 / _B])
    b, u = base * scale, basis[:, 2] * scale
    qa = np.einsum("ij,ij->i", u, u)
    qb = np.einsum("ij,ij->i", b, u)
    qc = np.einsum("ij,ij->i", b, b) - 1.0
    h = (-qb + np.sqrt(np.maximum(qb * qb - qa * qc, 0.0))) / qa
    return np.asarray(base + h[:, None] * basis[:, 2], dtype=np.float64)


def _lift(xy: FloatArray, origin: FloatArray, basis: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Plane points (m) → (lat, lon) deg of the surface under them (inverse of projecting)."""
    return _ecef_surface_latlon(_surface_ecef(xy, origin, basis))


# -- small helpers ---------------------------------------------------------------------


def _wrap(dlon: FloatArray) -> FloatArray:
    """Longitude differences into [-180, 180)."""
    return np.asarray((dlon + 180.0) % 360.0 - 180.0, dtype=np.float64)


def _set_lon(lon: FloatArray) -> Callable[[FloatArray], FloatArray]:
    """A ``shapely.transform`` function that replaces the x coordinates by ``lon``."""
    return lambda c: np.column_stack([lon, c[:, 1]])


def _starts(idx: IntArray, n: int) -> IntArray:
    """First coordinate of each of ``n`` geometries in a sorted owner index (none empty)."""
    return np.searchsorted(idx, np.arange(n)).astype(np.int64)


def _expand(count: IntArray, first: IntArray) -> tuple[IntArray, IntArray]:
    """For ``j`` with ``count[j]`` items from ``first[j]``: (owner j, item index) per item."""
    count = np.asarray(count, dtype=np.int64)
    total = int(count.sum())
    owner = np.repeat(np.arange(count.size, dtype=np.int64), count)
    start = np.cumsum(count) - count
    item = np.arange(total, dtype=np.int64) + (np.asarray(first, dtype=np.int64) - start)[owner]
    return owner, item
