"""Tactical conflict detection: every pair predicted to lose separation within the look-ahead.

Model
-----
Each aircraft flies straight on, at its ground speed and true track in its own
local horizontal plane and at its vertical speed. A pair is in conflict when, at
the same moment ``t`` in ``[0, lookahead_s]``, its horizontal distance is strictly
less than ``H`` **and** its vertical distance strictly less than ``V``: the open
horizontal and vertical time windows are intersected (never tested separately).

Geometry
--------
Positions are ECEF points on the WGS84 ellipsoid; velocities are ECEF vectors in
each aircraft's own horizontal plane. A pair is measured in the tangent plane
whose normal is the mean of the two aircraft's normals: symmetric in the two
aircraft, free of longitude arithmetic (so correct across the antimeridian and at
the poles) and, over the few tens of NM that matter, within centimetres of any
local-plane model. Vertical quantities stay in feet, the unit of the minimum, so an
exact boundary (two aircraft level exactly 1,000 ft apart) is decided exactly.

Cost
----
Candidates come from :func:`candidate_pairs`: the look-ahead is cut into time
slices and, in each, every aircraft's path piece is bounded by a 4-D box (x, y, z
in a rotated ECEF frame, and altitude), widened by half a minimum and by a proven
bound on the tangent-plane error, so no conflict can be pruned. The boxes are
hashed on the two in-plane axes of a cube face (:func:`face_frame`) and swept in
altitude by :func:`deconflict.tactical.pairs.overlapping_pairs`, so the pairs
examined follow the conflicts rather than the density. Only candidates get the
exact closed-form windows; docs/detect.md gives the proofs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from deconflict.agreement import Agreement
from deconflict.geo import WGS84_MIN_RADIUS, enu_basis, geodetic_to_ecef
from deconflict.tactical.pairs import NO_PAIRS, PairStats, overlapping_pairs
from deconflict.tactical.state import TrafficState
from deconflict.units import fpm_to_fps, kt_to_mps, nm_to_m

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Extra width (m) added to every box beyond the proven bound: numerical headroom.
_BOX_SLACK_M = 50.0
#: Median travel over the look-ahead per time slice, in horizontal minima.
SLICE_TRAVEL_MINIMA = 1.5
#: At most this many time slices.
MAX_SLICES = 8
#: Fewer aircraft than this are paired in one slice.
SLICE_MIN_AIRCRAFT = 256
#: Grid cell side in median face boxes.
CELL_BOXES = 1.0
#: Per cube face (axis k, sign): the two hashed axes, then the face's own axis.
_FACE_AXES = ((1, 2, 0), (1, 2, 0), (0, 2, 1), (0, 2, 1), (0, 1, 2), (0, 1, 2))


@dataclass(frozen=True)
class Kinematics:
    """Per-aircraft state in the detector's frame (SI horizontally, feet vertically).

    ``pos`` ECEF on the ellipsoid (m), ``vel`` ECEF horizontal velocity (m/s),
    ``up`` unit ellipsoid normal, ``alt_ft`` altitude (ft), ``vs_fps`` vertical
    speed (ft/s), ``snap`` snapshot index, ``times`` the snapshot times (s).
    """

    pos: FloatArray
    vel: FloatArray
    up: FloatArray
    alt_ft: FloatArray
    vs_fps: FloatArray
    snap: IntArray
    times: FloatArray

    @classmethod
    def from_state(cls, state: TrafficState) -> Kinematics:
        """Convert validated traffic states once (degrees, kt, fpm → ECEF, m/s, ft/s)."""
        basis = enu_basis(state.lat, state.lon)
        trk = np.radians(state.track_deg)
        gs = kt_to_mps(state.gs_kt)
        vel = (gs * np.sin(trk))[:, None] * basis[:, 0, :] + (gs * np.cos(trk))[:, None] * basis[
            :, 1, :
        ]
        times, snap = np.unique(state.time, return_inverse=True)
        return cls(
            pos=geodetic_to_ecef(state.lat, state.lon, 0.0).reshape(-1, 3),
            vel=vel.reshape(-1, 3),
            up=np.ascontiguousarray(basis[:, 2, :]).reshape(-1, 3),
            alt_ft=state.alt_ft.astype(np.float64),
            vs_fps=fpm_to_fps(state.vs_fpm),
            snap=snap.astype(np.int64).reshape(-1),
            times=times,
        )


@dataclass(frozen=True)
class Conflicts:
    """Conflicting pairs, one entry per pair per snapshot.

    ``a`` and ``b`` index the input states; ``t_in_s``/``t_out_s`` bound the
    predicted loss of separation (clipped to the look-ahead); ``t_cpa_s`` is the
    time of horizontal closest approach clipped to ``[0, lookahead_s]``;
    ``d_cpa_m`` and ``dz_cpa_ft`` the horizontal and vertical distances then.
    """

    a: IntArray
    b: IntArray
    t_in_s: FloatArray
    t_out_s: FloatArray
    t_cpa_s: FloatArray
    d_cpa_m: FloatArray
    dz_cpa_ft: FloatArray
    stats: PairStats

    def __len__(self) -> int:
        """Number of conflicting pairs."""
        return int(self.a.size)


@dataclass(frozen=True)
class PairGeometry:
    """Relative motion of pairs ``(a, b)`` (b relative to a) in each pair's tangent plane.

    ``up`` is the plane's unit normal (mean of the two verticals), ``r`` (m) and ``w``
    (m/s) the horizontal relative position and velocity, ``dz_ft`` and ``dvz_fps`` the
    relative altitude (ft) and vertical speed (ft/s). Swapping a and b negates
    ``r, w, dz_ft, dvz_fps`` exactly (IEEE subtraction is antisymmetric), so every
    decision taken from them is symmetric.
    """

    up: FloatArray
    r: FloatArray
    w: FloatArray
    dz_ft: FloatArray
    dvz_fps: FloatArray


@dataclass(frozen=True)
class Windows:
    """Exact loss-of-separation windows for given pairs (NaN where there is none).

    ``h_in_s``/``h_out_s`` bound the horizontal window alone (unclipped; ±inf when the
    relative motion is nil), for resolution.
    """

    conflict: BoolArray
    t_in_s: FloatArray
    t_out_s: FloatArray
    t_cpa_s: FloatArray
    d_cpa_m: FloatArray
    dz_cpa_ft: FloatArray
    h_in_s: FloatArray
    h_out_s: FloatArray


def pair_geometry(kin: Kinematics, a: IntArray, b: IntArray) -> PairGeometry:
    """Relative geometry of pairs ``(a, b)`` in their symmetric tangent planes."""
    up = kin.up[a] + kin.up[b]
    up /= np.linalg.norm(up, axis=1)[:, None]
    d0 = kin.pos[b] - kin.pos[a]
    dv = kin.vel[b] - kin.vel[a]
    r = d0 - np.einsum("ij,ij->i", d0, up)[:, None] * up
    w = dv - np.einsum("ij,ij->i", dv, up)[:, None] * up
    return PairGeometry(
        up=up,
        r=r,
        w=w,
        dz_ft=kin.alt_ft[b] - kin.alt_ft[a],
        dvz_fps=kin.vs_fps[b] - kin.vs_fps[a],
    )


def path_boxes(
    kin: Kinematics, agreement: Agreement, t0_s: float = 0.0, t1_s: float | None = None
) -> tuple[FloatArray, FloatArray]:
    """4-D boxes (ECEF x, y, z in m; altitude in ft) bounding each path over ``[t0_s, t1_s]``.

    The default interval is the whole look-ahead. Each box is widened by half the
    minimum in every dimension, so two paths that come within the minimum *at the
    same moment of the interval* have overlapping boxes, plus a bound on how far a
    straight tangent-line path rises above the ellipsoid over the look-ahead
    ((v·T)²/2R) and on the tilt between two nearby tangent planes (H²/2R), so the
    ECEF boxes can never prune a pair that the tangent-plane test would call a
    conflict. The widening does not depend on the interval: it bounds the
    difference between the tangent-plane and ECEF separations at any moment of the
    look-ahead.
    """
    T = agreement.lookahead_s
    t1 = T if t1_s is None else t1_s
    V = agreement.vertical_ft
    pad = box_padding(kin, agreement)[:, None]
    start = kin.pos + kin.vel * t0_s
    end = kin.pos + kin.vel * t1
    lo3 = np.minimum(start, end) - pad
    hi3 = np.maximum(start, end) + pad
    alt_start = kin.alt_ft + kin.vs_fps * t0_s
    alt_end = kin.alt_ft + kin.vs_fps * t1
    lo_alt = np.minimum(alt_start, alt_end) - V / 2.0
    hi_alt = np.maximum(alt_start, alt_end) + V / 2.0
    return np.column_stack([lo3, lo_alt]), np.column_stack([hi3, hi_alt])


def box_padding(kin: Kinematics, agreement: Agreement) -> FloatArray:
    """Half-width (m) added to every horizontal box side: H/2 + 1.5 rise + slack."""
    T = agreement.lookahead_s
    H = nm_to_m(agreement.horizontal_nm)
    travel = _norms(kin.vel) * T
    rise = (travel * travel + H * H) / (2.0 * WGS84_MIN_RADIUS)
    return H / 2.0 + 1.5 * rise + _BOX_SLACK_M


def _norms(v: FloatArray) -> FloatArray:
    """Euclidean norms of the rows of an (N, 3) array (column by column: fast in numpy)."""
    return np.sqrt(v[:, 0] * v[:, 0] + v[:, 1] * v[:, 1] + v[:, 2] * v[:, 2])


def _rotated(v: FloatArray, rotation: FloatArray, axis: int) -> FloatArray:
    """Coordinate ``axis`` of the rows of ``v`` in the rotated frame (``rotation @ v``)."""
    r = rotation[axis]
    return v[:, 0] * r[0] + v[:, 1] * r[1] + v[:, 2] * r[2]


def slice_count(kin: Kinematics, agreement: Agreement) -> int:
    """Time slices for the broad phase: about one per 1.5 minima of median travel.

    One below ``SLICE_MIN_AIRCRAFT`` aircraft, at most ``MAX_SLICES``.

    A slice's box is about (travel / K + H) long; K near travel / (1.5 H) balances
    the pairs whose boxes overlap without conflicting (fewer with more slices)
    against the grid entries (more with more slices). Measured in bench/detect.py.
    """
    if kin.vel.shape[0] < SLICE_MIN_AIRCRAFT:
        return 1  # a handful of aircraft: the slices' fixed cost would outweigh their gain
    travel = float(np.median(_norms(kin.vel))) * agreement.lookahead_s
    k = round(travel / (SLICE_TRAVEL_MINIMA * nm_to_m(agreement.horizontal_nm)))
    return int(min(max(k, 1), MAX_SLICES))


@dataclass(frozen=True)
class Faces:
    """Which frame faces each aircraft's boxes are hashed on (see :func:`face_frame`).

    ``rotation`` (3, 3) turns ECEF into the frame; ``member`` (N, 6) says whether
    aircraft i is hashed on face ``2 k + (sign < 0)`` of frame axis k.
    """

    rotation: FloatArray
    member: BoolArray


def face_frame(kin: Kinematics, agreement: Agreement) -> Faces:
    """A frame, and cube faces such that two aircraft whose boxes may overlap share one.

    The frame is ECEF rotated so that the traffic's mean vertical is its +z axis
    (the identity when the traffic spans the globe), so regional traffic lies on
    one face, nearly parallel to it. On a face of axis k the boxes are hashed on
    the two other axes only: the surface projects onto them without folding.
    Every aircraft is on the face of its vertical's dominant component, and on any
    other face within a margin of it: twice the bound on the difference between its
    vertical and that of any aircraft whose boxes may meet its own. When the farthest
    mover goes more than twice as far as the 99.9th percentile, the aircraft beyond
    that percentile (corrupted speeds) are on all six faces. See docs/detect.md.
    """
    n = kin.up.shape[0]
    mean_up = kin.up.mean(axis=0) if n else np.zeros(3)
    norm = float(np.linalg.norm(mean_up))
    if norm > 0.5:
        z = mean_up / norm
        helper = np.eye(3)[int(np.argmin(np.abs(z)))]
        x = np.cross(helper, z)
        x /= np.linalg.norm(x)
        rotation = np.stack([x, np.cross(z, x), z])
    else:
        rotation = np.eye(3)
    up = [_rotated(kin.up, rotation, k) for k in range(3)]
    # A point of the bounding box of a path piece lies within the piece's length of its
    # start (coordinate by coordinate), the padding adds sqrt(3) pad: a point of any slice
    # box lies within |v| T + sqrt(3) pad of the aircraft's position, so two aircraft whose
    # boxes overlap somewhere are at most reach_i + reach_j apart.
    reach = _norms(kin.vel) * agreement.lookahead_s + np.sqrt(3.0) * box_padding(kin, agreement)
    cap = float(np.quantile(reach, 0.999)) if n else 0.0
    if n and float(reach.max()) <= 2.0 * cap:
        cap = float(reach.max())  # no outlier: nobody needs all six faces
    wide = reach > cap
    # |n_i - n_j| <= |p_i - p_j| / (b²/a) on the ellipsoid (see docs/detect.md): the verticals
    # of j and of any i it may meet differ by at most (reach_j + cap) / (b²/a) per component,
    # so j is on i's dominant face when within twice that of its own dominant component.
    margin = 2.0 * (np.minimum(reach, cap) + cap) / WGS84_MIN_RADIUS * (1.0 + 1e-6) + 1e-12
    top = np.maximum(np.maximum(np.abs(up[0]), np.abs(up[1])), np.abs(up[2]))
    floor = top - margin
    member = np.empty((n, 6), dtype=np.bool_)
    for k in range(3):
        member[:, 2 * k] = (up[k] >= floor) | wide
        member[:, 2 * k + 1] = (-up[k] >= floor) | wide
    return Faces(rotation=rotation, member=member)


def candidate_pairs(
    kin: Kinematics, agreement: Agreement, slices: int | None = None
) -> tuple[IntArray, IntArray, PairStats]:
    """Pairs ``a < b`` whose slice boxes overlap in at least one time slice.

    The look-ahead is cut into ``slices`` equal slices (default
    :func:`slice_count`); in each, every aircraft's box bounds its path over the
    slice only (:func:`path_boxes`), expressed on its faces (:func:`face_frame`),
    and :func:`~deconflict.tactical.pairs.overlapping_pairs` pairs the boxes of the
    same snapshot and face. A conflict at moment t puts both aircraft, at t, inside
    their boxes of the slice holding t, within the minimum of each other, so that
    slice reports the pair: no conflict can be pruned. Of these, only the pairs whose
    relative motion brings every coordinate of their separation within the sum of
    their paddings, and their altitudes within V, at one moment of the look-ahead are
    kept (each conflict does so, by the same padding argument). Pairs found in several
    slices or faces are reported once, sorted by (a, b).
    """
    from deconflict.tactical import _sweep  # numba, imported on first use

    n = kin.pos.shape[0]
    empty = np.zeros(0, dtype=np.int64)
    if n < 2:
        return empty, empty, NO_PAIRS
    k = slice_count(kin, agreement) if slices is None else int(slices)
    if k < 1:
        raise ValueError(f"slices must be at least 1, got {slices}")
    faces = face_frame(kin, agreement)
    on_face = [np.flatnonzero(faces.member[:, f]) for f in range(6)]
    rows = np.concatenate(on_face)
    face_of = np.repeat(np.arange(6), [idx.size for idx in on_face])
    # Rotated positions and velocities; per row, the face's two hashed axes, then its own.
    pos_r = [_rotated(kin.pos, faces.rotation, a) for a in range(3)]
    vel_r = [_rotated(kin.vel, faces.rotation, a) for a in range(3)]
    pos = np.empty((rows.size, 3))
    vel = np.empty((rows.size, 3))
    first = 0
    for f, idx in enumerate(on_face):
        block = slice(first, first + idx.size)
        for col, a in enumerate(_FACE_AXES[f]):
            pos[block, col] = pos_r[a][idx]
            vel[block, col] = vel_r[a][idx]
            if col < 2 and idx.size:
                # Each face's grid starts at its own corner (pairs never cross faces), so
                # the grid's key space is one face wide, not the whole frame.
                pos[block, col] -= pos[block, col].min()
        first += idx.size
    del pos_r, vel_r
    pad_all = box_padding(kin, agreement)
    pad = pad_all[rows]
    dt = agreement.lookahead_s / k
    # Every slice's boxes have the same extents (|v| dt + 2 pad): one grid cell for all.
    extent = np.maximum(np.abs(vel[:, 0]), np.abs(vel[:, 1])) * dt + 2.0 * pad
    cell = face_cell(extent, agreement)
    group = kin.snap[rows] * 6 + face_of
    # Number the (snapshot, face) groups in use 0, 1, ...: the grid's key space is that many
    # faces wide, not six per snapshot.
    used = np.zeros(int(group.max()) + 1 if group.size else 0, dtype=np.int64)
    used[group] = 1
    group = (np.cumsum(used) - 1)[group]
    # Rows in grid order (snapshot, face, cell of the start), so the grid is walked in order.
    cu = np.floor((pos[:, 0] - pos[:, 0].min()) / cell[0])
    cv = np.floor((pos[:, 1] - pos[:, 1].min()) / cell[1])
    order = np.argsort((group * (cu.max() + 1) + cu) * (cv.max() + 1) + cv)
    rows, group, pos, vel, pad = rows[order], group[order], pos[order], vel[order], pad[order]
    pad1 = pad
    pad = pad[:, None]
    alt, vs = kin.alt_ft[rows], kin.vs_fps[rows]
    half_v = agreement.vertical_ft / 2.0
    keys: list[IntArray] = []
    stats = NO_PAIRS
    lo = np.empty((rows.size, 4))
    hi = np.empty((rows.size, 4))
    start, alt_start = pos, alt
    for step in range(1, k + 1):
        # The slice boxes of path_boxes, in the face frame (same padding).
        t1 = agreement.lookahead_s if step == k else step * dt
        end, alt_end = pos + vel * t1, alt + vs * t1
        np.subtract(np.minimum(start, end), pad, out=lo[:, :3])
        np.add(np.maximum(start, end), pad, out=hi[:, :3])
        np.subtract(np.minimum(alt_start, alt_end), half_v, out=lo[:, 3])
        np.add(np.maximum(alt_start, alt_end), half_v, out=hi[:, 3])
        start, alt_start = end, alt_end
        found = overlapping_pairs(lo, hi, group, cell)
        # Of the overlapping boxes, keep the pairs whose relative motion brings them within
        # the padding on every axis at one moment (what a conflict needs), then aircraft ids.
        keep = np.empty(found.i.size, dtype=np.bool_)
        _sweep.relative_filter(
            found.i, found.j, pos, vel, pad1, alt, vs, agreement.lookahead_s, half_v, 1.0, keep
        )
        a, b = rows[found.i[keep]], rows[found.j[keep]]
        keys.append(np.minimum(a, b) * n + np.maximum(a, b))
        stats = stats + found.stats
    key = np.concatenate(keys)
    key.sort()
    key = key[np.flatnonzero(np.r_[True, key[1:] != key[:-1]])] if key.size else key
    return key // n, key % n, stats


def face_cell(extent_m: FloatArray, agreement: Agreement) -> FloatArray:
    """Grid cells for face boxes of hashed extents ``extent_m`` (the larger of the two).

    About ``CELL_BOXES`` median boxes on a side (measured in bench/detect.py), at
    least one minimum, and at least a fifth of the 99.9th-percentile box so the rare
    long boxes (fast aircraft) cover few cells. The face's own axis is not hashed
    (infinite cell); altitude is swept (its cell is not used).
    """
    median, q999 = np.quantile(extent_m, [0.5, 0.999]) if extent_m.size else (0.0, 0.0)
    c = max(CELL_BOXES * float(median), float(q999) / 5.0, nm_to_m(agreement.horizontal_nm))
    return np.array([c, c, np.inf, agreement.vertical_ft])


def windows(kin: Kinematics, a: IntArray, b: IntArray, agreement: Agreement) -> Windows:
    """Exact closed-form windows of predicted loss of separation for pairs ``(a, b)``.

    Symmetric: swapping ``a`` and ``b`` gives the same numbers.
    """
    T = agreement.lookahead_s
    H = nm_to_m(agreement.horizontal_nm)
    V = agreement.vertical_ft
    g = pair_geometry(kin, a, b)
    r, w = g.r, g.w
    qa = np.einsum("ij,ij->i", w, w)
    qb = np.einsum("ij,ij->i", r, w)  # half the linear coefficient
    qc = np.einsum("ij,ij->i", r, r) - H * H

    with np.errstate(all="ignore"):
        # Horizontal: |r + w t|² < H² ⇔ qa t² + 2 qb t + qc < 0 (open interval).
        disc = qb * qb - qa * qc
        moving = qa > 0.0
        sq = np.sqrt(np.where(disc > 0.0, disc, 0.0))
        # Stable roots: q = -(qb + sign(qb)·sq); t1 = q/qa, t2 = qc/q.
        q = -(qb + np.copysign(sq, qb))
        r1 = q / qa
        r2 = np.where(q != 0.0, qc / q, -r1)
        h_lo = np.where(moving, np.minimum(r1, r2), np.where(qc < 0.0, -np.inf, np.inf))
        h_hi = np.where(moving, np.maximum(r1, r2), np.where(qc < 0.0, np.inf, -np.inf))
        h_none = moving & (disc <= 0.0)
        h_lo = np.where(h_none, np.inf, h_lo)
        h_hi = np.where(h_none, -np.inf, h_hi)

        # Vertical: |dz + dvz t| < V (feet, feet per second).
        dz = g.dz_ft
        dvz = g.dvz_fps
        climbing = dvz != 0.0
        v1 = (-V - dz) / dvz
        v2 = (V - dz) / dvz
        inside = np.abs(dz) < V
        v_lo = np.where(climbing, np.minimum(v1, v2), np.where(inside, -np.inf, np.inf))
        v_hi = np.where(climbing, np.maximum(v1, v2), np.where(inside, np.inf, -np.inf))

        lo = np.maximum(h_lo, v_lo)
        hi = np.minimum(h_hi, v_hi)
        conflict = (lo < hi) & (lo < T) & (hi > 0.0)
        t_cpa = np.where(moving, np.clip(-qb / qa, 0.0, T), 0.0)
    d_cpa = np.linalg.norm(r + w * t_cpa[:, None], axis=1)
    dz_cpa = np.abs(dz + dvz * t_cpa)
    nan = np.nan
    return Windows(
        conflict=conflict,
        t_in_s=np.where(conflict, np.maximum(lo, 0.0), nan),
        t_out_s=np.where(conflict, np.minimum(hi, T), nan),
        t_cpa_s=t_cpa,
        d_cpa_m=d_cpa,
        dz_cpa_ft=dz_cpa,
        h_in_s=h_lo,
        h_out_s=h_hi,
    )


def detect_state(
    state: TrafficState, agreement: Agreement, *, all_pairs: bool = False
) -> Conflicts:
    """Conflicts in validated traffic states (one or several snapshots).

    With a ``party`` array, only pairs of different parties are returned unless
    ``all_pairs``. Pairs are returned with ``a < b`` as input indices.
    """
    kin = Kinematics.from_state(state)
    return detect_kinematics(kin, agreement, party=None if all_pairs else state.party)


def detect_kinematics(
    kin: Kinematics,
    agreement: Agreement,
    party: npt.NDArray[np.str_] | None = None,
    *,
    slices: int | None = None,
) -> Conflicts:
    """Conflicts from precomputed :class:`Kinematics` (see :func:`detect_state`).

    ``slices`` sets the broad phase's time slices (default: :func:`slice_count`);
    the result does not depend on it, only the work does. Pairs are sorted by (a, b).
    """
    a, b, stats = candidate_pairs(kin, agreement, slices)
    if party is not None:
        differ = party[a] != party[b]
        a, b = a[differ], b[differ]
    win = windows(kin, a, b, agreement)
    keep = win.conflict
    return Conflicts(
        a=a[keep],
        b=b[keep],
        t_in_s=win.t_in_s[keep],
        t_out_s=win.t_out_s[keep],
        t_cpa_s=win.t_cpa_s[keep],
        d_cpa_m=win.d_cpa_m[keep],
        dz_cpa_ft=win.dz_cpa_ft[keep],
        stats=stats,
    )
