"""Protected airspace: third-state borders, no-fly zones, missile corridors.

Model
-----
A zone is a polygon (holes and several parts allowed) between a floor and a ceiling
altitude (ft), active during optional time windows. Each aircraft flies straight on
exactly as in :mod:`deconflict.tactical.detect`: at its ground speed along its true
track in its own local horizontal plane (a tangent line), at constant vertical
speed. An aircraft is *in* a zone at time ``t`` when its horizontal position is in
the **closed** polygon (the boundary counts as inside), its altitude is in the
closed band ``[floor_ft, ceiling_ft]`` and ``t`` is in a closed activity window.
:func:`zone_entries` returns the first such ``t`` in ``[0, lookahead_s]`` for every
aircraft and zone where there is one; ``t = 0`` is a violation (inside now).

The computation is exact up to rounding (millimetres at most): the crossing
times of the straight path with every edge are solved in closed form and the inside
intervals follow by the even-odd rule, which handles holes and multi-part zones
alike. An instant of contact of zero duration (a path grazing a vertex, or running
exactly along an edge) is decided by rounding either way.

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

Cost
----
A :class:`shapely.STRtree` over the zones' ECEF boxes is queried in bulk with the
paths' ECEF boxes (gathered by grid cell, then split back in numpy); the vertical
band, the activity windows and the path's box in the zone's plane prune further,
all vectorised; only the remaining (aircraft, zone) pairs get the exact crossings,
vectorised over (pair × vertex) in blocks of zones with similar vertex counts.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import numpy as np
import numpy.typing as npt
import shapely

from deconflict._util import NaiveTimeError, parse_iso_utc
from deconflict.errors import InputError
from deconflict.geo import (
    WGS84_A,
    WGS84_F,
    WGS84_MIN_RADIUS,
    ecef_to_geodetic,
    enu_basis,
    geodetic_to_ecef,
)
from deconflict.tactical.detect import Kinematics
from deconflict.tactical.state import TrafficState

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]
Polygonal = shapely.Polygon | shapely.MultiPolygon

#: Longest piece (degrees of arc; less above 45° latitude) an edge is cut into.
MAX_STEP_DEG = 0.1
#: Largest angle (deg, at the Earth's centre) between a zone's centre and any vertex.
MAX_RADIUS_DEG = 20.0
#: Grid (m, in the zone's plane) used only when merging the parts of a multi-part zone.
_MERGE_GRID_M = 1e-3
#: Most (pair × vertex) values the exact test holds at once (bounds peak memory).
_EXACT_CHUNK = 1 << 20
#: Extra width (m) of every box beyond the proven bounds: numerical headroom.
_BOX_SLACK_M = 100.0


@dataclass(frozen=True)
class Zone:
    """One protected volume as written: geometry in degrees, altitudes in feet, times in s.

    ``geometry`` is a shapely Polygon or MultiPolygon of (longitude, latitude) in
    degrees; holes are allowed. ``floor_ft``/``ceiling_ft`` bound the closed altitude
    band (``-inf``: from the surface, whatever its height; ``inf``: unlimited).
    ``active`` is ``None`` (always active) or closed ``(start_s, end_s)`` windows in
    the time base of the states' ``time`` column. ``owner`` is free text (a third
    state, "missile corridor"). Validated when compiled into :class:`Zones`.
    """

    name: str
    geometry: Polygonal
    floor_ft: float = -math.inf
    ceiling_ft: float = math.inf
    owner: str | None = None
    active: tuple[tuple[float, float], ...] | None = None


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
    per-zone arrays. Activity windows are flat: window ``w`` belongs to zone
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
        return _compile(_parse_collection(obj, source), source, "feature")

    def plane_xy(self, zone: int, xyz_m: npt.ArrayLike) -> FloatArray:
        """ECEF points (m), shape ``(..., 3)`` → (east, north) in zone ``zone``'s plane (m)."""
        d = np.asarray(xyz_m, dtype=np.float64) - self.origin_ecef[zone]
        return np.stack([d @ self.east[zone], d @ self.north[zone]], axis=-1)


@dataclass(frozen=True)
class ZoneEntries:
    """Aircraft predicted in a zone within the look-ahead: one entry per (state, zone).

    ``aircraft`` indexes the input states, ``zone`` the :class:`Zones`;
    ``t_entry_s`` is the first time in the zone (s after the state's time, in
    ``[0, lookahead_s]``); ``violation`` is ``t_entry_s == 0`` (inside now).
    ``pairs_exact`` counts the (aircraft, zone) pairs that reached the exact test.
    """

    aircraft: IntArray
    zone: IntArray
    t_entry_s: FloatArray
    violation: BoolArray
    pairs_exact: int = 0

    def __len__(self) -> int:
        """Return the number of (state, zone) entries."""
        return int(self.aircraft.size)


# -- checking ---------------------------------------------------------------------------


def check_state(state: TrafficState, zones: Zones, lookahead_s: float) -> ZoneEntries:
    """Zone entries of validated traffic states (see :func:`zone_entries`)."""
    return zone_entries(Kinematics.from_state(state), zones, lookahead_s)


def zone_entries(kin: Kinematics, zones: Zones, lookahead_s: float) -> ZoneEntries:
    """First time in ``[0, lookahead_s]`` (s) each aircraft is in each zone, where any.

    Candidates come from :func:`candidate_pairs`; :func:`pair_entries` decides them
    exactly. Entries are sorted by aircraft, then zone index.
    """
    if kin.alt_ft.shape[0] == 0 or len(zones) == 0:
        return _no_entries()
    i, k = candidate_pairs(kin, zones, lookahead_s)
    return pair_entries(kin, zones, lookahead_s, i, k)


def pair_entries(
    kin: Kinematics, zones: Zones, lookahead_s: float, aircraft: IntArray, zone: IntArray
) -> ZoneEntries:
    """Exact first entries for given distinct (aircraft, zone) pairs; see :func:`zone_entries`.

    Pairs whose aircraft is more than 60° from the zone's centre are skipped (the
    zone's plane does not represent them; such a path cannot reach a zone of
    :data:`MAX_RADIUS_DEG` within an hour). Entries are sorted by aircraft, then zone.
    """
    T = float(lookahead_s)
    i = np.asarray(aircraft, dtype=np.int64)
    k = np.asarray(zone, dtype=np.int64)
    centre = zones.origin_ecef[k]
    ahead = np.einsum("ij,ij->i", kin.pos[i], centre)
    near_side = ahead > 0.5 * np.linalg.norm(kin.pos[i], axis=1) * np.linalg.norm(centre, axis=1)
    i, k = i[near_side], k[near_side]

    # Vertical band ∩ [0, T], then ∩ each activity window: the zone's "time slots".
    lo, hi = _band_window(kin.alt_ft[i], kin.vs_fps[i], zones.floor_ft[k], zones.ceiling_ft[k])
    lo = np.maximum(lo, 0.0)
    hi = np.minimum(hi, T)
    live = lo <= hi
    i, k, lo, hi = i[live], k[live], lo[live], hi[live]
    owner, w = _expand(zones.window_count[k], zones.window_first[k])
    t0 = kin.times[kin.snap[i]]
    slot_lo = np.maximum(lo[owner], zones.window_start_s[w] - t0[owner])
    slot_hi = np.minimum(hi[owner], zones.window_end_s[w] - t0[owner])
    ok = slot_lo <= slot_hi
    owner, slot_lo, slot_hi = owner[ok], slot_lo[ok], slot_hi[ok]
    pair = owner[np.r_[True, owner[1:] != owner[:-1]]] if owner.size else owner
    i, k = i[pair], k[pair]
    slot_pair = np.searchsorted(pair, owner)  # slots stay grouped by pair

    # The path in each zone's plane: a + w t (m, m/s).
    d = kin.pos[i] - zones.origin_ecef[k]
    east, north = zones.east[k], zones.north[k]
    ax = np.einsum("ij,ij->i", d, east)
    ay = np.einsum("ij,ij->i", d, north)
    wx = np.einsum("ij,ij->i", kin.vel[i], east)
    wy = np.einsum("ij,ij->i", kin.vel[i], north)

    # Prune by the path's box over its slots against the zone's box in its plane.
    t_a = np.full(i.size, np.inf)
    t_b = np.full(i.size, -np.inf)
    np.minimum.at(t_a, slot_pair, slot_lo)
    np.maximum.at(t_b, slot_pair, slot_hi)
    x1, x2 = ax + wx * t_a, ax + wx * t_b
    y1, y2 = ay + wy * t_a, ay + wy * t_b
    near = (
        (np.minimum(x1, x2) <= zones.plane_hi[k, 0])
        & (np.maximum(x1, x2) >= zones.plane_lo[k, 0])
        & (np.minimum(y1, y2) <= zones.plane_hi[k, 1])
        & (np.maximum(y1, y2) >= zones.plane_lo[k, 1])
    )
    keep = np.flatnonzero(near)
    remap = np.full(i.size, -1, dtype=np.int64)
    remap[keep] = np.arange(keep.size)
    slot_pair = remap[slot_pair]
    in_slot = slot_pair >= 0
    slot_pair, slot_lo, slot_hi = slot_pair[in_slot], slot_lo[in_slot], slot_hi[in_slot]
    i, k = i[keep], k[keep]
    ax, ay, wx, wy = ax[keep], ay[keep], wx[keep], wy[keep]

    # Exact inside intervals along the path, then their first point within a slot.
    pair_h, h_lo, h_hi = _inside_intervals(zones, k, ax, ay, wx, wy)
    first = np.zeros(i.size + 1, dtype=np.int64)
    np.cumsum(np.bincount(slot_pair, minlength=i.size), out=first[1:])
    row, s = _expand(np.diff(first)[pair_h], first[pair_h])
    entry = np.maximum(h_lo[row], slot_lo[s])
    leave = np.minimum(h_hi[row], slot_hi[s])
    hit = entry <= leave
    best = np.full(i.size, np.inf)
    np.minimum.at(best, pair_h[row[hit]], entry[hit])
    found = np.flatnonzero(np.isfinite(best))
    found = found[np.lexsort((k[found], i[found]))]
    return ZoneEntries(
        aircraft=i[found],
        zone=k[found],
        t_entry_s=best[found],
        violation=best[found] == 0.0,
        pairs_exact=int(i.size),
    )


def _no_entries() -> ZoneEntries:
    empty = np.zeros(0, dtype=np.int64)
    return ZoneEntries(empty, empty.copy(), np.zeros(0), np.zeros(0, dtype=bool))


def candidate_pairs(kin: Kinematics, zones: Zones, lookahead_s: float) -> tuple[IntArray, IntArray]:
    """(aircraft, zone) pairs whose ECEF boxes overlap: the path's and the zone's.

    A path point (on the tangent line, at most ``rise = (v T)² / 2R`` above the
    ellipsoid) that projects into the zone lies within ``rise / cos α`` of the
    surface point under it along the zone's vertical, where ``α`` (the angle between
    the two verticals) is about :data:`MAX_RADIUS_DEG` at most; that surface point
    is in the zone's box. So the path's box is widened by ``2 rise`` (``cos α >
    1/2``) and no entry can be pruned.

    Making a shapely box per aircraft would cost more than everything else, so the
    boxes are first gathered by the grid cell (ECEF x, y) of their centre, about
    two mean boxes wide; the tree is queried in bulk with one box per occupied
    cell (bounding its members), and the members of each hit are then tested
    against the zone's box exactly, in numpy.
    """
    T = float(lookahead_s)
    if kin.alt_ft.shape[0] == 0 or len(zones) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy()
    end = kin.pos + kin.vel * T
    travel = np.linalg.norm(kin.vel, axis=1) * T
    pad = (travel * travel / WGS84_MIN_RADIUS + _BOX_SLACK_M)[:, None]
    lo = np.minimum(kin.pos, end) - pad
    hi = np.maximum(kin.pos, end) + pad
    centre = 0.5 * (lo[:, :2] + hi[:, :2])
    cell = 2.0 * float((hi[:, :2] - lo[:, :2]).mean())
    ij = np.floor((centre - centre.min(axis=0)) / cell).astype(np.int64)
    key = ij[:, 0] * (int(ij[:, 1].max()) + 1) + ij[:, 1]
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    first = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    size = np.diff(np.r_[first, key.size])
    glo = np.minimum.reduceat(lo[order], first, axis=0)
    ghi = np.maximum.reduceat(hi[order], first, axis=0)
    g, k = zones.tree.query(shapely.box(glo[:, 0], glo[:, 1], ghi[:, 0], ghi[:, 1]))
    owner, m = _expand(size[g], first[g])
    i, k = order[m], k[owner]
    hit = np.ones(i.size, dtype=bool)
    for axis in range(3):
        hit &= lo[:, axis][i] <= zones.ecef_hi[:, axis][k]
        hit &= hi[:, axis][i] >= zones.ecef_lo[:, axis][k]
    return i[hit].astype(np.int64), k[hit].astype(np.int64)


def _band_window(
    alt_ft: FloatArray, vs_fps: FloatArray, floor_ft: FloatArray, ceiling_ft: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Return the closed time interval (s; infinite or empty) with the altitude in the band."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (floor_ft - alt_ft) / vs_fps
        t2 = (ceiling_ft - alt_ft) / vs_fps
    moving = vs_fps != 0.0
    inside = (alt_ft >= floor_ft) & (alt_ft <= ceiling_ft)
    lo = np.where(moving, np.minimum(t1, t2), np.where(inside, -np.inf, np.inf))
    hi = np.where(moving, np.maximum(t1, t2), np.where(inside, np.inf, -np.inf))
    return lo, hi


def _expand(count: IntArray, first: IntArray) -> tuple[IntArray, IntArray]:
    """For ``j`` with ``count[j]`` items from ``first[j]``: (owner j, item index) per item."""
    count = np.asarray(count, dtype=np.int64)
    total = int(count.sum())
    owner = np.repeat(np.arange(count.size, dtype=np.int64), count)
    start = np.cumsum(count) - count
    item = np.arange(total, dtype=np.int64) + (np.asarray(first, dtype=np.int64) - start)[owner]
    return owner, item


def _inside_intervals(
    zones: Zones, k: IntArray, ax: FloatArray, ay: FloatArray, wx: FloatArray, wy: FloatArray
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Return the closed times (s) when each path ``a + w t`` is in zone ``k``'s polygon.

    The whole line is cut by every edge whose ends lie on opposite sides of it (a
    vertex exactly on the line counts as being on its right, which is a consistent
    symbolic perturbation: every closed ring is crossed an even number of times).
    Sorted along the line, crossings alternate entry and exit (even-odd rule), so
    holes and several parts need no special case. A stationary aircraft is inside
    for all time or never. Returns (pair index, t_in, t_out), one row per interval.
    """
    speed = np.hypot(wx, wy)
    still = speed == 0.0
    safe = np.where(still, 1.0, speed)
    ux = np.where(still, 1.0, wx / safe)
    uy = np.where(still, 0.0, wy / safe)
    c = ux * ay - uy * ax  # side of vertex v: ux (vy - ay) - uy (vx - ax)
    d = ux * ax + uy * ay  # distance along the path of vertex v: ux vx + uy vy - d
    block = zones.block[k]
    ps, ss = [], []
    for b in np.unique(block):
        blk = zones.blocks[b]
        sel_all = np.flatnonzero(block == b)
        step = max(1, _EXACT_CHUNK // blk.x.shape[1])
        for lo in range(0, sel_all.size, step):
            sel = sel_all[lo : lo + step]
            rows = zones.block_row[k[sel]]
            vx, vy = blk.x[rows], blk.y[rows]
            side = ux[sel, None] * vy - uy[sel, None] * vx - c[sel, None]
            left = side > 0.0
            r, v = np.nonzero(blk.link[rows][:, :-1] & (left[:, :-1] != left[:, 1:]))
            q = sel[r]
            s0, s1 = side[r, v], side[r, v + 1]
            along0 = ux[q] * vx[r, v] + uy[q] * vy[r, v] - d[q]
            along1 = ux[q] * vx[r, v + 1] + uy[q] * vy[r, v + 1] - d[q]
            ps.append(q)
            ss.append(along0 + (along1 - along0) * (s0 / (s0 - s1)))
    p = np.concatenate(ps) if ps else np.zeros(0, dtype=np.int64)
    s = np.concatenate(ss) if ss else np.zeros(0)
    # Each pair's crossings are contiguous (one chunk, row-major), and even in number.
    # Most pairs have two: no sort needed; the others are sorted along the line.
    first = np.flatnonzero(np.r_[True, p[1:] != p[:-1]]) if p.size else p
    size = np.diff(np.r_[first, p.size])
    two = first[size == 2]
    many = np.flatnonzero(np.repeat(size != 2, size))
    many = many[np.lexsort((s[many], p[many]))]
    pair = np.concatenate([p[two], p[many[0::2]]])
    s_in = np.concatenate([np.minimum(s[two], s[two + 1]), s[many[0::2]]])
    s_out = np.concatenate([np.maximum(s[two], s[two + 1]), s[many[1::2]]])
    v_pair = speed[pair]
    moving = v_pair > 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        t_in = s_in / v_pair
        t_out = s_out / v_pair
    covers = (s_in <= 0.0) & (s_out >= 0.0)
    t_in = np.where(moving, t_in, np.where(covers, -np.inf, np.inf))
    t_out = np.where(moving, t_out, np.where(covers, np.inf, -np.inf))
    return pair, t_in, t_out


# -- compiling --------------------------------------------------------------------------


class _Where:
    """Names a zone in error messages: ``source: feature 3 ('NFZ-1'): field 'x': ...``."""

    def __init__(self, source: str, what: str, index: int, name: str | None) -> None:
        self.source, self.what, self.index, self.name = source, what, index, name

    def error(self, field_name: str, problem: str) -> InputError:
        label = f"'{self.name}'" if self.name is not None else "no name"
        return InputError(
            f"{self.source}: {self.what} {self.index} ({label}): field '{field_name}': {problem}"
        )


def _compile(zones: list[Zone], source: str, what: str) -> Zones:
    seen: dict[str, int] = {}
    for j, z in enumerate(zones):
        if not isinstance(z, Zone):
            raise InputError(f"{source}: {what} {j}: expected a Zone, got {type(z).__name__}")
        where = _Where(source, what, j, z.name if isinstance(z.name, str) else None)
        _check_scalars(z, where)
        if z.name in seen:
            raise where.error("name", f"duplicate name (also {what} {seen[z.name]})")
        seen[z.name] = j

    planes = [_plane(z, _Where(source, what, j, z.name)) for j, z in enumerate(zones)]
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


def _is_number(v: object) -> TypeGuard[float]:
    """Tell whether ``v`` is a real number (int or float, numpy's included), not a bool."""
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def _check_scalars(z: Zone, where: _Where) -> None:
    """Name, altitude band, owner and activity windows of one zone definition."""
    if not isinstance(z.name, str) or not z.name.strip():
        raise where.error("name", "missing or empty (each zone needs a unique name)")
    for fname in ("floor_ft", "ceiling_ft"):
        v = getattr(z, fname)
        if not _is_number(v) or math.isnan(v):
            raise where.error(fname, f"{v!r} is not a number (ft)")
    if z.floor_ft == math.inf or z.ceiling_ft == -math.inf:
        raise where.error("floor_ft", "floor must be below the ceiling")
    if z.floor_ft >= z.ceiling_ft:
        raise where.error(
            "floor_ft", f"floor {z.floor_ft:g} ft is not below the ceiling {z.ceiling_ft:g} ft"
        )
    if z.owner is not None and not isinstance(z.owner, str):
        raise where.error("owner", f"{z.owner!r} is not a string")
    if z.active is not None:
        if not isinstance(z.active, tuple | list):
            raise where.error("active", f"{z.active!r} is not a sequence of (start, end) windows")
        if not z.active:
            raise where.error("active", "empty list of windows (omit 'active' if always active)")
        for j, w in enumerate(z.active):
            if (
                not isinstance(w, tuple | list)
                or len(w) != 2
                or not all(_is_number(t) and math.isfinite(t) for t in w)
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


def _plane(z: Zone, where: _Where) -> _Plane:
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
            raise where.error("geometry", _explain(reason, lat0, lon0))
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
            for u in (min(float(up.min()), 0.0) - _BOX_SLACK_M, _BOX_SLACK_M)
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
        ecef_lo=corners_ecef.min(axis=0) - _BOX_SLACK_M,
        ecef_hi=corners_ecef.max(axis=0) + _BOX_SLACK_M,
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
    edge, _ = _expand(pieces, np.zeros_like(pieces))
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


_REASON_AT = re.compile(r"^(?P<what>.*?)\s*\[(?P<x>\S+)\s+(?P<y>\S+)\]$")


def _explain(reason: str, lat0: float, lon0: float) -> str:
    """GEOS's reason, with its location turned from the zone's plane back into degrees."""
    m = _REASON_AT.match(reason)
    if m is None:
        return f"invalid polygon: {reason.lower()}"
    try:
        x, y = float(m["x"]), float(m["y"])
    except ValueError:
        return f"invalid polygon: {reason.lower()}"
    lon, lat = _surface_lonlat(x, y, lat0, lon0)
    return f"invalid polygon: {m['what'].lower()} near lon {lon:.5f}, lat {lat:.5f}"


def _surface_lonlat(x: float, y: float, lat0: float, lon0: float) -> tuple[float, float]:
    """Point ``(x, y)`` (m) of the plane at ``(lat0, lon0)`` → (lon, lat) of the surface under it.

    Inverse of the projection: the line along the plane's vertical through the point
    meets the ellipsoid where ``|P / (a, a, b)|² = 1``, a quadratic in the height.
    """
    basis = enu_basis(lat0, lon0)
    base = geodetic_to_ecef(lat0, lon0, 0.0) + x * basis[0] + y * basis[1]
    scale = np.array([1.0 / WGS84_A, 1.0 / WGS84_A, 1.0 / (WGS84_A * (1.0 - WGS84_F))])
    b, u = base * scale, basis[2] * scale
    qa, qb, qc = float(u @ u), float(b @ u), float(b @ b) - 1.0
    h = (-qb + math.sqrt(max(qb * qb - qa * qc, 0.0))) / qa  # the near root
    lat, lon, _ = ecef_to_geodetic(base + h * basis[2])
    return (float(lon) + 180.0) % 360.0 - 180.0, float(lat)


# -- GeoJSON ----------------------------------------------------------------------------


def _parse_collection(obj: object, source: str) -> list[Zone]:
    if not isinstance(obj, Mapping):
        raise InputError(f"{source}: expected a GeoJSON object, got {type(obj).__name__}")
    kind = obj.get("type")
    if kind != "FeatureCollection":
        raise InputError(
            f"{source}: field 'type': expected a GeoJSON FeatureCollection, got {kind!r}"
        )
    features = obj.get("features")
    if not isinstance(features, list):
        raise InputError(f"{source}: field 'features': expected a list of features")
    return [_parse_feature(f, source, j) for j, f in enumerate(features)]


def _feature_name(feature: Mapping[str, Any], props: Mapping[str, Any]) -> object:
    for value in (props.get("name"), feature.get("id"), props.get("id")):
        if value is not None:
            return value
    return None


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


def _parse_feature(raw: object, source: str, j: int) -> Zone:
    feature, props = feature_properties(raw, source, j)
    raw_name = _feature_name(feature, props)
    name: str | None = None
    if isinstance(raw_name, str) and raw_name.strip():
        name = raw_name.strip()
    elif _is_number(raw_name) and not isinstance(raw_name, float):
        name = str(raw_name)
    where = _Where(source, "feature", j, name)
    if name is None:
        shown = "missing" if raw_name is None else f"{raw_name!r} is not a non-empty string"
        raise where.error("name", f"{shown} (each zone needs a unique 'name' or 'id')")
    owner = props.get("owner")
    if owner is not None and not isinstance(owner, str):
        raise where.error("owner", f"{owner!r} is not a string")
    return Zone(
        name=name,
        geometry=_parse_geometry(feature.get("geometry"), where),
        floor_ft=_limit(props.get("floor_ft"), -math.inf, "floor_ft", where),
        ceiling_ft=_limit(props.get("ceiling_ft"), math.inf, "ceiling_ft", where),
        owner=owner,
        active=_parse_active(props.get("active"), where),
    )


def _limit(value: object, default: float, fname: str, where: _Where) -> float:
    if value is None:
        return default
    if not _is_number(value) or not math.isfinite(float(value)):
        raise where.error(fname, f"{value!r} is not a finite number (ft), nor null")
    return float(value)


def _parse_time(value: object, where: _Where, j: int) -> float:
    if isinstance(value, str):
        try:
            return parse_iso_utc(value)
        except NaiveTimeError:
            raise where.error(
                "active", f"window {j}: {value!r} has no UTC offset (write e.g. {value}Z)"
            ) from None
        except ValueError:
            raise where.error("active", f"window {j}: {value!r} is not an ISO 8601 time") from None
    if not _is_number(value) or not math.isfinite(float(value)):
        raise where.error(
            "active", f"window {j}: {value!r} is not a time (seconds, or ISO 8601 UTC)"
        )
    return float(value)


def _parse_active(value: object, where: _Where) -> tuple[tuple[float, float], ...] | None:
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


def _parse_geometry(geometry: object, where: _Where) -> Polygonal:
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


def _polygon(coords: object, where: _Where, label: str) -> shapely.Polygon:
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
