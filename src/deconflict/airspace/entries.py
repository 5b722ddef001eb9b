"""Aircraft in protected zones now, or predicted to enter them within the look-ahead.

Model
-----
A zone is a polygon (holes and several parts allowed) between a floor and a ceiling
altitude (ft), active during optional time windows. Each aircraft flies straight on
exactly as in :mod:`deconflict.tactical.detect`: at its ground speed along its true
track in its own local horizontal plane (a tangent line), at constant vertical
speed. An aircraft is *in* a zone at time ``t`` when its horizontal position is in
the **closed** polygon (the boundary counts as inside), its altitude is in the
closed band ``[floor_ft, ceiling_ft]`` and ``t`` is in a closed activity window.
A zone with a ``parties`` list applies only to aircraft of those parties (states
without a party column: to none of them); the others are never in it.
:func:`zone_entries` returns the first such ``t`` in ``[0, lookahead_s]`` for every
aircraft and zone where there is one; ``t = 0`` is a violation (inside now).

The computation is exact up to rounding (millimetres at most): the crossing
times of the straight path with every edge are solved in closed form and the inside
intervals follow by the even-odd rule, which handles holes and multi-part zones
alike. An instant of contact of zero duration (a path grazing a vertex, or running
exactly along an edge) is decided by rounding either way.

Cost
----
A :class:`shapely.STRtree` over the zones' ECEF boxes is queried in bulk with the
paths' ECEF boxes (gathered by grid cell, then split back in numpy); the vertical
band, the activity windows and the path's box in the zone's plane prune further,
all vectorised; only the remaining (aircraft, zone) pairs get the exact crossings,
vectorised over (pair × vertex) in blocks of zones with similar vertex counts.

>>> import pandas as pd
>>> from deconflict import TrafficState
>>> from deconflict.airspace.zones import Zones
>>> fc = {"type": "FeatureCollection", "features": [{"type": "Feature",
...     "properties": {"name": "NFZ", "floor_ft": 0, "ceiling_ft": 20000},
...     "geometry": {"type": "Polygon", "coordinates": [[[0.2, -0.1], [0.4, -0.1],
...                                                      [0.4, 0.1], [0.2, 0.1], [0.2, -0.1]]]}}]}
>>> zones = Zones.from_geojson(fc)
>>> state = TrafficState.from_frame(pd.DataFrame({"time": [0.0], "id": ["A"], "lat": [0.0],
...     "lon": [0.0], "alt_ft": [15000.0], "gs_kt": [600.0], "track_deg": [90.0],
...     "vs_fpm": [0.0]}))
>>> row = entry_table(state, zones, zone_entries(state, zones, 300.0)).iloc[0]
>>> row.zone, row.status, round(float(row.t_entry_s), 1)  # 12.0 NM east at 600 kt
('NFZ', 'predicted', 72.1)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from deconflict.airspace.planes import expand
from deconflict.airspace.zones import BOX_SLACK_M, Zones
from deconflict.geo import WGS84_MIN_RADIUS
from deconflict.tactical.detect import Kinematics
from deconflict.tactical.state import TrafficState

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Most (pair × vertex) values the exact test holds at once (bounds peak memory).
_EXACT_CHUNK = 1 << 20


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


def zone_entries(state: TrafficState, zones: Zones, lookahead_s: float) -> ZoneEntries:
    """First time in ``[0, lookahead_s]`` (s) each aircraft is in each zone, where any.

    ``state`` is validated once, at the edge (:meth:`TrafficState.from_frame`,
    :func:`deconflict.io.states.read_states`). Candidates come from
    :func:`candidate_pairs`, less those whose zone does not apply to the aircraft's
    party (:meth:`Zones.applies`); :func:`pair_entries` decides them exactly.
    Entries are sorted by aircraft, then zone index.
    """
    if len(state) == 0 or len(zones) == 0:
        return _no_entries()
    kin = Kinematics.from_state(state)
    i, k = candidate_pairs(kin, zones, lookahead_s)
    if zones.party_limited.any():
        applies = zones.applies(k, None if state.party is None else state.party[i])
        i, k = i[applies], k[applies]
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
    owner, w = expand(zones.window_count[k], zones.window_first[k])
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
    row, s = expand(np.diff(first)[pair_h], first[pair_h])
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
    pad = (travel * travel / WGS84_MIN_RADIUS + BOX_SLACK_M)[:, None]
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
    owner, m = expand(size[g], first[g])
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


# -- tables ----------------------------------------------------------------------------


#: Columns of :func:`entry_table`'s result, in order.
ZONE_COLUMNS = ("time", "id", "party", "zone", "status", "t_entry_s")


def entry_table(state: TrafficState, zones: Zones, entries: ZoneEntries) -> pd.DataFrame:
    """Tabulate :class:`ZoneEntries` of ``state`` (columns :data:`ZONE_COLUMNS`).

    One row per (time, aircraft, zone), sorted by time, id and zone:

    ========== ==============================================================
    time       the state's snapshot time, s
    id, party  the aircraft (party None when the states have none)
    zone       the zone's name
    status     ``violation``: in the zone now (t_entry_s = 0); ``predicted``:
               enters it within the look-ahead
    t_entry_s  first time in the zone, s after ``time``
    ========== ==============================================================

    In the zone means horizontally in the closed polygon, altitude in the closed
    band ``[floor_ft, ceiling_ft]``, at a time in one of its activity windows.
    """
    a = entries.aircraft
    frame = pd.DataFrame(
        {
            "time": state.time[a],
            "id": state.id[a].astype(object),
            "party": state.party[a].astype(object) if state.party is not None else None,
            "zone": zones.name[entries.zone].astype(object),
            "status": np.where(entries.violation, "violation", "predicted").astype(object),
            "t_entry_s": entries.t_entry_s,
        },
        columns=list(ZONE_COLUMNS),
    )
    return frame.sort_values(["time", "id", "zone"], kind="stable").reset_index(drop=True)
