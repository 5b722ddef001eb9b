"""Obvious, independent references the detector is checked against.

``geodesic_reference``: every aircraft flies a geodesic (pyproj) at constant ground
speed and vertical speed; for each of the N² pairs the separation margin
``m(t) = max(d(t)/H, |dz(t)|/V)`` is minimised over [0, T] by ternary search (it is
convex for straight relative motion). A pair is in conflict iff that minimum < 1.
Slow (Python loop over pairs is fine here) but shares no code with the detector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyproj import Geod

from deconflict import Agreement, TrafficState

GEOD = Geod(ellps="WGS84")
NM = 1852.0
KT = 1852.0 / 3600.0


@dataclass
class RefPair:
    a: int
    b: int
    min_margin: float  # min over t of max(d/H, |dz|/V); conflict iff < 1
    t_min: float
    t_in: float  # first t with margin < 1 (nan when none)


def _positions(state: TrafficState, idx: np.ndarray, t: np.ndarray):
    """Lat, lon, alt_ft of aircraft idx at times t (arrays of equal shape)."""
    dist = state.gs_kt[idx] * KT * t
    lon, lat, _ = GEOD.fwd(state.lon[idx], state.lat[idx], state.track_deg[idx], dist)
    alt = state.alt_ft[idx] + state.vs_fpm[idx] / 60.0 * t
    return np.asarray(lat), np.asarray(lon), alt


def _margin(state, a, b, t, H, V):
    la, oa, za = _positions(state, a, t)
    lb, ob, zb = _positions(state, b, t)
    _, _, d = GEOD.inv(oa, la, ob, lb)
    return np.maximum(np.asarray(d) / H, np.abs(zb - za) / V)


def geodesic_reference(
    state: TrafficState, agreement: Agreement, all_pairs: bool = False
) -> list[RefPair]:
    """Every pair's minimum separation margin over the look-ahead (same time only)."""
    H = agreement.horizontal_nm * NM
    V = agreement.vertical_ft
    T = agreement.lookahead_s
    n = len(state)
    ia, ib = np.triu_indices(n, 1)
    same_time = state.time[ia] == state.time[ib]
    if state.party is not None and not all_pairs:
        same_time &= state.party[ia] != state.party[ib]
    a, b = ia[same_time], ib[same_time]
    if a.size == 0:
        return []
    lo = np.zeros(a.size)
    hi = np.full(a.size, T)
    for _ in range(80):  # ternary search, vectorised over pairs
        m1 = lo + (hi - lo) / 3
        m2 = hi - (hi - lo) / 3
        f1 = _margin(state, a, b, m1, H, V)
        f2 = _margin(state, a, b, m2, H, V)
        left = f1 < f2
        hi = np.where(left, m2, hi)
        lo = np.where(left, lo, m1)
    t_min = (lo + hi) / 2
    # Compare with the ends explicitly (the minimum may sit on a boundary).
    cands = np.stack([np.zeros_like(t_min), t_min, np.full_like(t_min, T)])
    vals = np.stack([_margin(state, a, b, c, H, V) for c in cands])
    best = vals.argmin(axis=0)
    t_min = cands[best, np.arange(a.size)]
    m_min = vals[best, np.arange(a.size)]
    # First entry: margin is convex, so it decreases on [0, t_min]: bisect.
    conflict = m_min < 1.0
    t_in = np.full(a.size, np.nan)
    at0 = _margin(state, a, b, np.zeros(a.size), H, V) < 1.0
    lo = np.zeros(a.size)
    hi = t_min.copy()
    for _ in range(60):
        mid = (lo + hi) / 2
        inside = _margin(state, a, b, mid, H, V) < 1.0
        hi = np.where(inside, mid, hi)
        lo = np.where(inside, lo, mid)
    t_in[conflict] = np.where(at0[conflict], 0.0, hi[conflict])
    return [
        RefPair(int(x), int(y), float(m), float(tm), float(ti))
        for x, y, m, tm, ti in zip(a, b, m_min, t_min, t_in, strict=True)
    ]
