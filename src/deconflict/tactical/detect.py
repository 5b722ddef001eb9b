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
Candidates come from :func:`deconflict.tactical.pairs.overlapping_pairs` on 4-D boxes
(ECEF x, y, z and altitude) that bound each aircraft's path over the look-ahead,
widened by half a minimum and by a proven bound on the tangent-plane error, so no
conflict can be pruned. Only candidates get the exact closed-form windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from deconflict.agreement import Agreement
from deconflict.geo import WGS84_MIN_RADIUS, enu_basis, geodetic_to_ecef
from deconflict.tactical.pairs import PairStats, overlapping_pairs
from deconflict.tactical.state import TrafficState
from deconflict.units import fpm_to_fps, kt_to_mps, nm_to_m

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Extra width (m) added to every box beyond the proven bound: numerical headroom.
_BOX_SLACK_M = 50.0


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


def path_boxes(kin: Kinematics, agreement: Agreement) -> tuple[FloatArray, FloatArray]:
    """4-D boxes (ECEF x, y, z in m; altitude in ft) bounding each path over the look-ahead.

    Each box is widened by half the minimum in every dimension, so two paths that
    come within the minimum have overlapping boxes, plus a bound on how far a
    straight tangent-line path rises above the ellipsoid ((v·T)²/2R) and on the
    tilt between two nearby tangent planes (H²/2R), so the ECEF boxes can never
    prune a pair that the tangent-plane test would call a conflict.
    """
    T = agreement.lookahead_s
    H = nm_to_m(agreement.horizontal_nm)
    V = agreement.vertical_ft
    end = kin.pos + kin.vel * T
    travel = np.linalg.norm(kin.vel, axis=1) * T
    rise = (travel * travel + H * H) / (2.0 * WGS84_MIN_RADIUS)
    pad = (H / 2.0 + 1.5 * rise + _BOX_SLACK_M)[:, None]
    lo3 = np.minimum(kin.pos, end) - pad
    hi3 = np.maximum(kin.pos, end) + pad
    alt_end = kin.alt_ft + kin.vs_fps * T
    lo_alt = np.minimum(kin.alt_ft, alt_end) - V / 2.0
    hi_alt = np.maximum(kin.alt_ft, alt_end) + V / 2.0
    return np.column_stack([lo3, lo_alt]), np.column_stack([hi3, hi_alt])


def grid_cell(lo: FloatArray, hi: FloatArray, agreement: Agreement) -> FloatArray:
    """Grid cell size per dimension: about twice a typical box, outliers bounded.

    Measured on the benchmark traffic (bench/detect.py), cells of ~2 median boxes
    horizontally and ~4 vertical minima balance entries per box against pairs per
    cell. The 99.9th-percentile terms keep the rare long boxes (fast or steep
    aircraft) from covering more than a few cells each.
    """
    ext = hi - lo
    ext_xyz = ext[:, :3].max(axis=1)
    ext_alt = ext[:, 3]
    c_xyz = max(
        2.0 * float(np.median(ext_xyz)),
        float(np.quantile(ext_xyz, 0.999)) / 5.0,
        nm_to_m(agreement.horizontal_nm),
    )
    c_alt = max(
        2.0 * float(np.median(ext_alt)),
        float(np.quantile(ext_alt, 0.999)) / 8.0,
        4.0 * agreement.vertical_ft,
    )
    return np.array([c_xyz, c_xyz, c_xyz, c_alt])


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
    kin: Kinematics, agreement: Agreement, party: npt.NDArray[np.str_] | None = None
) -> Conflicts:
    """Conflicts from precomputed :class:`Kinematics` (see :func:`detect_state`)."""
    lo, hi = path_boxes(kin, agreement)
    if lo.shape[0] < 2:
        cand_a = cand_b = np.zeros(0, dtype=np.int64)
        stats = PairStats(0, 0, 0, 0)
    else:
        found = overlapping_pairs(lo, hi, kin.snap, grid_cell(lo, hi, agreement))
        cand_a, cand_b, stats = found.i, found.j, found.stats
    if party is not None:
        differ = party[cand_a] != party[cand_b]
        cand_a, cand_b = cand_a[differ], cand_b[differ]
    a = np.minimum(cand_a, cand_b)
    b = np.maximum(cand_a, cand_b)
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
