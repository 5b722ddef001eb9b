"""Protected airspace: third-state borders, no-fly zones, missile corridors.

A zone is a polygon (holes and several parts allowed) between a floor and a ceiling
altitude (ft), active during optional time windows. :class:`Zones` compiles zone
definitions (:class:`Zone`, or GeoJSON through :meth:`Zones.from_geojson`, or an
agreement's protected areas through :meth:`Zones.from_agreement`) for checking;
:func:`deconflict.airspace.entries.zone_entries` finds the aircraft in them or
about to enter them.

Geometry
--------
Each zone lives in its own local tangent plane (east, north) at a point near its
centre: polygon vertices and aircraft positions are projected there, and each
aircraft's (ECEF) velocity is rotated into it, so the path stays a straight line
with a constant velocity. Going through ECEF, nothing depends on longitude
arithmetic: a zone may cross the antimeridian (written 179 → -179, 179 → 181, or
cut in two parts at ±180° as RFC 7946 recommends: parts are merged) or surround a
pole. A zone must lie within :data:`MAX_RADIUS_DEG` of its centre.

Edges are straight lines in longitude/latitude, as GeoJSON says (RFC 7946 §3.1.1),
taking the short way round in longitude. Every edge longer than
:data:`MAX_STEP_DEG` (less above 45° latitude) is divided into pieces that are
straight in the zone's plane; they follow the longitude/latitude line to within
about 2.5 m.

The path's tangent line rises above the ellipsoid by ``(v t)² / 2R`` (680 m after
50 NM); projected along the zone's vertical, this moves the predicted position by
that rise times the sine of the angle from the zone's centre (under 35 m after
50 NM anywhere in a zone 300 km across). Positions now (violations) are exact.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from deconflict.agreement import Agreement
from deconflict.airspace.geojson import (
    Where,
    features,
    finite_number,
    invalid_polygon,
    is_number,
    iso_time,
    polygonal,
)
from deconflict.airspace.planes import MAX_RADIUS_DEG, expand, lift, wrap
from deconflict.errors import InputError
from deconflict.geo import ecef_to_geodetic, enu_basis, geodetic_to_ecef
from deconflict.names import party_name_problem

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]
Polygonal = shapely.Polygon | shapely.MultiPolygon

#: Longest piece (degrees of arc; less above 45° latitude) an edge is cut into.
MAX_STEP_DEG = 0.1
#: Extra width (m) of every box beyond the proven bounds: numerical headroom.
BOX_SLACK_M = 100.0
#: Grid (m, in the zone's plane) used only when merging the parts of a multi-part zone.
_MERGE_GRID_M = 1e-3


@dataclass(frozen=True)
class Zone:
    """One protected volume as written: geometry in degrees, altitudes in feet, times in s.

    ``geometry`` is a shapely Polygon or MultiPolygon of (longitude, latitude) in
    degrees; holes are allowed. ``floor_ft``/``ceiling_ft`` bound the closed altitude
    band (``-inf``: from the surface, whatever its height; ``inf``: unlimited).
    ``active`` is ``None`` (always active) or closed ``(start_s, end_s)`` windows in
    the time base of the states' ``time`` column. ``owner`` is free text (a third
    state, "missile corridor"). ``parties`` is ``None`` (the zone applies to every
    aircraft) or the names of the parties whose aircraft it applies to (a host
    nation's airspace is open to its guests; a corridor is closed to all but the
    party that filed it). Validated when compiled into :class:`Zones`.
    """

    name: str
    geometry: Polygonal
    floor_ft: float = -math.inf
    ceiling_ft: float = math.inf
    owner: str | None = None
    active: tuple[tuple[float, float], ...] | None = None
    parties: tuple[str, ...] | None = None


@dataclass(frozen=True, eq=False)
class RingBlock:
    """Ring vertices (m, in each zone's plane) of zones with similar vertex counts.

    Row ``r`` holds one zone's closed rings one after another, padded to the width
    by repeating its last vertex; ``link[r, v]`` says that vertices ``v`` and
    ``v + 1`` form an edge (false at the end of each ring and in the padding).
    Equal widths let the exact test broadcast over (pair × vertex) without gathers.
    """

    x: FloatArray
    y: FloatArray
    link: BoolArray


@dataclass(frozen=True, eq=False)
class Zones:
    """Zones compiled for checking: one entry per zone in every array.

    ``zones`` keeps the definitions; ``name``, ``floor_ft``, ``ceiling_ft`` are
    per-zone arrays; ``party_limited`` marks the zones with a ``parties`` list (see
    :meth:`applies`). Activity windows are flat: window ``w`` belongs to zone
    ``window_zone[w]`` and spans ``[window_start_s[w], window_end_s[w]]`` (always
    active: one window ``(-inf, inf)``); ``window_first``/``window_count`` index them
    per zone. Each zone has a plane: ``origin_lat_deg``/``origin_lon_deg`` (its
    point on the ellipsoid ``origin_ecef``, m) and unit vectors ``east``/``north``
    (ECEF). ``local`` holds the zones as shapely geometries in that plane (m): the
    exact shapes that are checked. Their ring vertices are in ``blocks``: zone ``k``
    is row ``block_row[k]`` of ``blocks[block[k]]`` (see :class:`RingBlock`).
    ``plane_lo``/``plane_hi`` bound each zone in its plane (m), ``ecef_lo``/``ecef_hi``
    bound the surface under it (m).
    """

    zones: tuple[Zone, ...]
    name: StrArray
    floor_ft: FloatArray
    ceiling_ft: FloatArray
    party_limited: BoolArray
    window_zone: IntArray
    window_start_s: FloatArray
    window_end_s: FloatArray
    window_first: IntArray
    window_count: IntArray
    origin_lat_deg: FloatArray
    origin_lon_deg: FloatArray
    origin_ecef: FloatArray
    east: FloatArray
    north: FloatArray
    local: tuple[Polygonal, ...]
    blocks: tuple[RingBlock, ...]
    block: IntArray
    block_row: IntArray
    plane_lo: FloatArray
    plane_hi: FloatArray
    ecef_lo: FloatArray
    ecef_hi: FloatArray
    tree: shapely.STRtree = field(repr=False)
    source: str = "zones"

    def __len__(self) -> int:
        """Return the number of zones."""
        return len(self.zones)

    @classmethod
    def from_zones(cls, zones: Sequence[Zone], source: str = "zones") -> Zones:
        """Validate and compile zone definitions; errors name ``source`` and the zone."""
        return _compile(list(zones), source, "zone")

    @classmethod
    def from_geojson(cls, obj: Mapping[str, Any] | str, source: str = "zones") -> Zones:
        """Parse a GeoJSON FeatureCollection (a parsed mapping, or its JSON text).

        Each feature is a Polygon or MultiPolygon (longitude, latitude in degrees;
        holes allowed) with properties:

        ============ ===========================================================
        name         unique zone name (string); else the feature's ``id`` or
                     ``properties.id`` (string or number)
        floor_ft     lower limit, ft (number; absent or null: from the surface)
        ceiling_ft   upper limit, ft (number; absent or null: unlimited)
        owner        optional string (a third state, "missile corridor", ...)
        parties      optional non-empty list of party names: the zone applies
                     only to aircraft of these parties; absent or null: to
                     every aircraft
        active       optional list of ``[start, end]`` windows; each time a number
                     (s, the states' time base) or an ISO 8601 string with a UTC
                     offset such as ``"2015-10-01T06:00:00Z"`` (→ Unix seconds);
                     absent or null: always active
        ============ ===========================================================

        Other properties are ignored. Raises :class:`~deconflict.errors.InputError`
        with one line naming ``source``, the feature (index and name) and the field.

        >>> fc = {"type": "FeatureCollection", "features": [{"type": "Feature",
        ...     "properties": {"name": "R1", "ceiling_ft": 10000},
        ...     "geometry": {"type": "Polygon",
        ...                  "coordinates": [[[0, 0], [0.05, 0], [0.05, 0.05], [0, 0]]]}}]}
        >>> z = Zones.from_geojson(fc)
        >>> len(z), str(z.name[0]), float(z.floor_ft[0]), float(z.ceiling_ft[0])
        (1, 'R1', -inf, 10000.0)
        """
        if isinstance(obj, str):
            try:
                obj = json.loads(obj)
            except json.JSONDecodeError as err:
                raise InputError(f"{source}: not valid JSON: {err}") from None
        zones = [
            _geojson_zone(feature, props, source, j)
            for j, (feature, props) in enumerate(features(obj, source))
        ]
        return _compile(zones, source, "feature")

    @classmethod
    def from_agreement(cls, agreement: Agreement, source: str = "zones") -> Zones:
        """The agreement's protected areas (GeoJSON features, see :meth:`from_geojson`).

        >>> len(Zones.from_agreement(Agreement()))
        0
        """
        areas = {"type": "FeatureCollection", "features": list(agreement.protected_areas)}
        return cls.from_geojson(areas, source)

    def applies(self, zone: npt.ArrayLike, party: npt.ArrayLike | None) -> BoolArray:
        """Whether zone ``zone[j]`` applies to an aircraft of party ``party[j]`` (broadcast).

        A zone without ``parties`` applies to every aircraft; a zone with ``parties``
        only to aircraft of a listed party, so never to states without a party
        column (``party`` None). Vectorised: one :func:`numpy.isin` per zone with a
        list, over the distinct party names.

        >>> sq = shapely.box(0.0, 0.0, 0.1, 0.1)
        >>> z = Zones.from_zones([Zone("A", sq), Zone("B", sq, parties=("red",))])
        >>> z.applies([0, 1, 1], ["blue", "blue", "red"]).tolist()
        [True, False, True]
        >>> z.applies([0, 1], None).tolist()
        [True, False]
        """
        k = np.asarray(zone, dtype=np.int64)
        if party is None:
            return ~self.party_limited[k]
        names, code = np.unique(np.asarray(party, dtype=np.str_), return_inverse=True)
        table = np.ones((names.size, len(self)), dtype=bool)
        for z in np.flatnonzero(self.party_limited):  # over the zones with a list (few)
            table[:, z] = np.isin(names, np.asarray(self.zones[z].parties, dtype=np.str_))
        code, k = np.broadcast_arrays(code.reshape(np.shape(party)), k)
        return table[code, k]

    def plane_xy(self, zone: int, xyz_m: npt.ArrayLike) -> FloatArray:
        """ECEF points (m), shape ``(..., 3)`` → (east, north) in zone ``zone``'s plane (m)."""
        d = np.asarray(xyz_m, dtype=np.float64) - self.origin_ecef[zone]
        return np.stack([d @ self.east[zone], d @ self.north[zone]], axis=-1)


def _compile(zones: list[Zone], source: str, what: str) -> Zones:
    seen: dict[str, int] = {}
    for j, z in enumerate(zones):
        if not isinstance(z, Zone):
            raise InputError(f"{source}: {what} {j}: expected a Zone, got {type(z).__name__}")
        where = Where(source, what, j, z.name if isinstance(z.name, str) else None)
        _check_scalars(z, where)
        if z.name in seen:
            raise where.error("name", f"duplicate name (also {what} {seen[z.name]})")
        seen[z.name] = j

    planes = [_plane(z, Where(source, what, j, z.name)) for j, z in enumerate(zones)]
    nz = len(zones)
    counts = np.array([1 if z.active is None else len(z.active) for z in zones], dtype=np.int64)
    always = ((-math.inf, math.inf),)
    windows = [w for z in zones for w in (z.active if z.active is not None else always)]
    win = np.array(windows, dtype=np.float64).reshape(-1, 2)
    blocks, block, block_row = _blocks(planes)

    def stack(attr: str, shape: tuple[int, ...]) -> FloatArray:
        if nz == 0:
            return np.zeros((0, *shape))
        return np.array([getattr(p, attr) for p in planes], dtype=np.float64).reshape(-1, *shape)

    ecef_lo, ecef_hi = stack("ecef_lo", (3,)), stack("ecef_hi", (3,))
    tree = shapely.STRtree(shapely.box(ecef_lo[:, 0], ecef_lo[:, 1], ecef_hi[:, 0], ecef_hi[:, 1]))
    return Zones(
        zones=tuple(zones),
        name=np.array([z.name for z in zones], dtype=np.str_),
        floor_ft=np.array([z.floor_ft for z in zones], dtype=np.float64),
        ceiling_ft=np.array([z.ceiling_ft for z in zones], dtype=np.float64),
        party_limited=np.array([z.parties is not None for z in zones], dtype=bool),
        window_zone=np.repeat(np.arange(nz, dtype=np.int64), counts),
        window_start_s=win[:, 0].copy(),
        window_end_s=win[:, 1].copy(),
        window_first=(np.cumsum(counts) - counts).astype(np.int64),
        window_count=counts,
        origin_lat_deg=np.array([p.lat0 for p in planes], dtype=np.float64),
        origin_lon_deg=np.array([p.lon0 for p in planes], dtype=np.float64),
        origin_ecef=stack("origin", (3,)),
        east=stack("east", (3,)),
        north=stack("north", (3,)),
        local=tuple(p.local for p in planes),
        blocks=blocks,
        block=block,
        block_row=block_row,
        plane_lo=stack("plane_lo", (2,)),
        plane_hi=stack("plane_hi", (2,)),
        ecef_lo=ecef_lo,
        ecef_hi=ecef_hi,
        tree=tree,
        source=source,
    )


def _check_scalars(z: Zone, where: Where) -> None:
    """Name, altitude band, owner, parties and activity windows of one zone definition."""
    if not isinstance(z.name, str) or not z.name.strip():
        raise where.error("name", "missing or empty (each zone needs a unique name)")
    for fname in ("floor_ft", "ceiling_ft"):
        v = getattr(z, fname)
        if not is_number(v) or math.isnan(v):
            raise where.error(fname, f"{v!r} is not a number (ft)")
    if z.floor_ft == math.inf or z.ceiling_ft == -math.inf:
        raise where.error("floor_ft", "floor must be below the ceiling")
    if z.floor_ft >= z.ceiling_ft:
        raise where.error(
            "floor_ft", f"floor {z.floor_ft:g} ft is not below the ceiling {z.ceiling_ft:g} ft"
        )
    if z.owner is not None and not isinstance(z.owner, str):
        raise where.error("owner", f"{z.owner!r} is not a string")
    if z.parties is not None:
        if not isinstance(z.parties, tuple | list):
            raise where.error("parties", f"{z.parties!r} is not a list of party names")
        if not z.parties:
            raise where.error(
                "parties", "empty list (omit 'parties' if the zone applies to every party)"
            )
        for j, p in enumerate(z.parties):
            problem = party_name_problem(p)
            if problem is not None:
                raise where.error("parties", f"party {j}: {p!r}: {problem}")
    if z.active is not None:
        if not isinstance(z.active, tuple | list):
            raise where.error("active", f"{z.active!r} is not a sequence of (start, end) windows")
        if not z.active:
            raise where.error("active", "empty list of windows (omit 'active' if always active)")
        for j, w in enumerate(z.active):
            if (
                not isinstance(w, tuple | list)
                or len(w) != 2
                or not all(is_number(t) and math.isfinite(t) for t in w)
            ):
                raise where.error("active", f"window {j}: {w!r} is not two finite times (s)")
            if not w[0] < w[1]:
                raise where.error(
                    "active", f"window {j}: start {w[0]:g} is not before end {w[1]:g}"
                )
    if not isinstance(z.geometry, shapely.Polygon | shapely.MultiPolygon):
        raise where.error(
            "geometry", f"{type(z.geometry).__name__} is not a Polygon or MultiPolygon"
        )
    if z.geometry.is_empty:
        raise where.error("geometry", "empty polygon")


@dataclass(frozen=True)
class _Plane:
    """One zone projected into its own tangent plane (see :class:`Zones`)."""

    lat0: float
    lon0: float
    origin: FloatArray
    east: FloatArray
    north: FloatArray
    local: Polygonal
    vx: FloatArray
    vy: FloatArray
    link: BoolArray
    plane_lo: FloatArray
    plane_hi: FloatArray
    ecef_lo: FloatArray
    ecef_hi: FloatArray


def _rings(geometry: Polygonal) -> list[list[FloatArray]]:
    """Rings (lon, lat) of each part: ``[[shell, hole, ...], ...]``."""
    parts = list(geometry.geoms) if isinstance(geometry, shapely.MultiPolygon) else [geometry]
    out = []
    for part in parts:
        if part.is_empty:
            continue
        rings = [part.exterior, *part.interiors]
        out.append([np.asarray(r.coords, dtype=np.float64)[:, :2] for r in rings])
    return out


def _plane(z: Zone, where: Where) -> _Plane:
    """Project a zone into the tangent plane at its centre and validate it there."""
    parts = _rings(z.geometry)
    for rings in parts:
        for ring in rings:
            if not np.isfinite(ring).all():
                raise where.error("geometry", "coordinates must be finite numbers")
            if (np.abs(ring[:, 1]) > 90.0).any():
                lat = ring[np.abs(ring[:, 1]) > 90.0][0, 1]
                raise where.error("geometry", f"latitude {lat:g} is outside [-90, 90]")
            if (np.abs(ring[:, 0]) > 360.0).any():
                lon = ring[np.abs(ring[:, 0]) > 360.0][0, 0]
                raise where.error("geometry", f"longitude {lon:g} is outside [-360, 360]")
    shells = np.concatenate([rings[0][:-1] for rings in parts])  # rings are closed
    mean = geodetic_to_ecef(shells[:, 1], shells[:, 0]).mean(axis=0)
    if np.linalg.norm(mean) < 1.0:
        raise where.error("geometry", "the zone has no centre (it spans the globe)")
    lat0_a, lon0_a, _ = ecef_to_geodetic(mean)
    lat0, lon0 = float(lat0_a), float(lon0_a)
    origin = geodetic_to_ecef(lat0, lon0, 0.0)
    basis = enu_basis(lat0, lon0)
    centre_dir = origin / np.linalg.norm(origin)

    local_parts = []
    for rings in parts:
        local_rings = []
        for ring in rings:
            lat, lon = _densify(ring)
            xyz = geodetic_to_ecef(lat, lon, 0.0)
            cos_angle = (xyz / np.linalg.norm(xyz, axis=1)[:, None]) @ centre_dir
            if cos_angle.min() < math.cos(math.radians(MAX_RADIUS_DEG)):
                far = math.degrees(math.acos(max(-1.0, float(cos_angle.min()))))
                raise where.error(
                    "geometry",
                    f"zone extends {far:.1f}° from its centre, more than {MAX_RADIUS_DEG:g}° "
                    "(split it into smaller zones)",
                )
            local_rings.append((xyz - origin) @ basis.T)
        local_parts.append(local_rings)

    polys = []
    for local_rings in local_parts:
        try:
            poly = shapely.Polygon(local_rings[0][:, :2], [r[:, :2] for r in local_rings[1:]])
        except (ValueError, shapely.errors.GEOSException) as err:
            raise where.error("geometry", f"not a polygon: {err}") from None
        reason = shapely.is_valid_reason(poly)
        if reason != "Valid Geometry":
            raise where.error("geometry", invalid_polygon(reason, _surface_lonlat(lat0, lon0)))
        polys.append(poly)
    # Parts that touch (an antimeridian cut: ±180° differ by rounding) or overlap are merged.
    local: Polygonal = (
        polys[0] if len(polys) == 1 else shapely.union_all(polys, grid_size=_MERGE_GRID_M)
    )
    vx, vy, link = _ring_arrays(local)
    up = np.concatenate([r[:, 2] for rings in local_parts for r in rings])
    plane_lo = np.array([vx.min(), vy.min()])
    plane_hi = np.array([vx.max(), vy.max()])
    corners = np.array(
        [
            [x, y, u]
            for x in (plane_lo[0], plane_hi[0])
            for y in (plane_lo[1], plane_hi[1])
            for u in (min(float(up.min()), 0.0) - BOX_SLACK_M, BOX_SLACK_M)
        ]
    )
    corners_ecef = origin + corners @ basis
    return _Plane(
        lat0=lat0,
        lon0=lon0,
        origin=origin,
        east=basis[0].copy(),
        north=basis[1].copy(),
        local=local,
        vx=vx,
        vy=vy,
        link=link,
        plane_lo=plane_lo,
        plane_hi=plane_hi,
        ecef_lo=corners_ecef.min(axis=0) - BOX_SLACK_M,
        ecef_hi=corners_ecef.max(axis=0) + BOX_SLACK_M,
    )


def _densify(ring: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Cut each edge (the short way round in longitude) into short pieces.

    A straight longitude/latitude line curves (seen on the ground) by about
    ``tan(lat) / R``, so a chord of length ``L`` strays ``L² tan(lat) / 8R`` from it.
    Pieces of :data:`MAX_STEP_DEG` (of arc, ``hypot(dlat, dlon cos lat)``) divided by
    ``sqrt(max(1, tan |lat|))`` keep that under about 2.5 m at any latitude.
    """
    lon, lat = ring[:, 0], ring[:, 1]
    if lon[0] != lon[-1] or lat[0] != lat[-1]:  # close the ring
        lon, lat = np.append(lon, lon[0]), np.append(lat, lat[0])
    dlon = (np.diff(lon) + 180.0) % 360.0 - 180.0
    dlat = np.diff(lat)
    mid = np.radians(np.minimum(np.abs(0.5 * (lat[:-1] + lat[1:])), 89.9))
    step = MAX_STEP_DEG / np.sqrt(np.maximum(1.0, np.tan(mid)))
    pieces = np.maximum(1, np.ceil(np.hypot(dlat, dlon * np.cos(mid)) / step)).astype(np.int64)
    edge, _ = expand(pieces, np.zeros_like(pieces))
    frac = (np.arange(edge.size) - (np.cumsum(pieces) - pieces)[edge]) / pieces[edge]
    out_lon = np.append(lon[:-1][edge] + dlon[edge] * frac, lon[-1])
    out_lat = np.append(lat[:-1][edge] + dlat[edge] * frac, lat[-1])
    return out_lat, out_lon


def _width(n: int) -> int:
    """Block width for ``n`` vertices: 16, then 4 steps per doubling (20, 24, 28, 32, 40…)."""
    if n <= 16:
        return 16
    p = 1 << (n - 1).bit_length() - 1  # largest power of two below n
    return p + (p // 4) * -(-(n - p) // (p // 4))


def _blocks(planes: list[_Plane]) -> tuple[tuple[RingBlock, ...], IntArray, IntArray]:
    """Group zones by padded vertex count into :class:`RingBlock` s."""
    widths = [_width(p.vx.size) for p in planes]
    distinct = sorted(set(widths))
    block = np.array([distinct.index(w) for w in widths], dtype=np.int64)
    block_row = np.zeros(len(planes), dtype=np.int64)
    blocks = []
    for b, w in enumerate(distinct):
        members = np.flatnonzero(block == b)
        block_row[members] = np.arange(members.size)
        x = np.empty((members.size, w))
        y = np.empty((members.size, w))
        link = np.zeros((members.size, w), dtype=bool)
        for r, j in enumerate(members):
            n = planes[j].vx.size
            x[r, :n], x[r, n:] = planes[j].vx, planes[j].vx[-1]
            y[r, :n], y[r, n:] = planes[j].vy, planes[j].vy[-1]
            link[r, :n] = planes[j].link
        blocks.append(RingBlock(x=x, y=y, link=link))
    return tuple(blocks), block, block_row


def _ring_arrays(local: Polygonal) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Flat ring vertices (closed rings, m) of a planar polygon and their edge links."""
    xs, ys, links = [], [], []
    for part in shapely.get_parts(local):
        for ring in [part.exterior, *part.interiors]:
            xy = np.asarray(ring.coords, dtype=np.float64)[:, :2]
            xs.append(xy[:, 0])
            ys.append(xy[:, 1])
            link = np.ones(xy.shape[0], dtype=bool)
            link[-1] = False
            links.append(link)
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(links)


def _surface_lonlat(lat0: float, lon0: float) -> Callable[[float, float], tuple[float, float]]:
    """Plane point ``(x, y)`` (m) at ``(lat0, lon0)`` → (lon, lat) deg of the surface under it."""
    origin = geodetic_to_ecef(lat0, lon0, 0.0)[None, :]
    basis = enu_basis(lat0, lon0)[None, :, :]

    def locate(x: float, y: float) -> tuple[float, float]:
        lat, lon = lift(np.array([[x, y]]), origin, basis)
        return float(wrap(lon[0])), float(lat[0])

    return locate


def _feature_name(feature: Mapping[str, Any], props: Mapping[str, Any]) -> object:
    for value in (props.get("name"), feature.get("id"), props.get("id")):
        if value is not None:
            return value
    return None


def _geojson_zone(
    feature: Mapping[str, Any], props: Mapping[str, Any], source: str, j: int
) -> Zone:
    raw_name = _feature_name(feature, props)
    name: str | None = None
    if isinstance(raw_name, str) and raw_name.strip():
        name = raw_name.strip()
    elif is_number(raw_name) and not isinstance(raw_name, float):
        name = str(raw_name)
    where = Where(source, "feature", j, name)
    if name is None:
        shown = "missing" if raw_name is None else f"{raw_name!r} is not a non-empty string"
        raise where.error("name", f"{shown} (each zone needs a unique 'name' or 'id')")
    owner = props.get("owner")
    if owner is not None and not isinstance(owner, str):
        raise where.error("owner", f"{owner!r} is not a string")
    parties = props.get("parties")  # checked with the other fields when compiled
    return Zone(
        name=name,
        geometry=polygonal(feature.get("geometry"), where),
        floor_ft=finite_number(props.get("floor_ft"), where, "floor_ft", "ft", -math.inf),
        ceiling_ft=finite_number(props.get("ceiling_ft"), where, "ceiling_ft", "ft", math.inf),
        owner=owner,
        active=_parse_active(props.get("active"), where),
        parties=tuple(parties) if isinstance(parties, list) else parties,
    )


def _parse_time(value: object, where: Where, j: int) -> float:
    if isinstance(value, str):
        return iso_time(value, where, "active", prefix=f"window {j}: ")
    if not is_number(value) or not math.isfinite(float(value)):
        raise where.error(
            "active", f"window {j}: {value!r} is not a time (seconds, or ISO 8601 UTC)"
        )
    return float(value)


def _parse_active(value: object, where: Where) -> tuple[tuple[float, float], ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise where.error("active", f"{value!r} is not a list of [start, end] windows")
    out = []
    for j, w in enumerate(value):
        if not isinstance(w, list) or len(w) != 2:
            raise where.error("active", f"window {j}: {w!r} is not [start, end] (e.g. [[0, 3600]])")
        out.append((_parse_time(w[0], where, j), _parse_time(w[1], where, j)))
    return tuple(out)
