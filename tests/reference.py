"""Obvious, independent references the detector is checked against.

``geodesic_reference``: every aircraft flies a geodesic (pyproj) at constant ground
speed and vertical speed; for each of the N² pairs the separation margin
``m(t) = max(d(t)/H, |dz(t)|/V)`` is minimised over [0, T] by ternary search (it is
convex for straight relative motion). A pair is in conflict iff that minimum < 1.
Slow (Python loop over pairs is fine here) but shares no code with the detector.

``reference_detect``: the detector as it was before time slices (issue 17): one
4-D box per aircraft over the whole look-ahead and the numpy grid of that time
(``reference_overlapping_pairs``), then the same exact windows. The sliced broad
phase must return exactly its conflicts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyproj import Geod

from deconflict import Agreement, TrafficState
from deconflict.geo import WGS84_MIN_RADIUS
from deconflict.tactical.detect import Kinematics, windows
from deconflict.units import nm_to_m

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


# --- the broad phase before time slices (issue 17) -----------------------------------

#: Boxes covering more grid cells than this are treated by brute force.
MAX_CELLS_PER_BOX = 256
#: Pairs materialised at once while scanning cells (bounds peak memory).
PAIR_CHUNK = 4_000_000


def reference_path_boxes(kin: Kinematics, agreement: Agreement) -> tuple[np.ndarray, np.ndarray]:
    """4-D boxes (ECEF x, y, z in m; altitude in ft) over the whole look-ahead, as before."""
    T = agreement.lookahead_s
    H = nm_to_m(agreement.horizontal_nm)
    V = agreement.vertical_ft
    end = kin.pos + kin.vel * T
    travel = np.linalg.norm(kin.vel, axis=1) * T
    rise = (travel * travel + H * H) / (2.0 * WGS84_MIN_RADIUS)
    pad = (H / 2.0 + 1.5 * rise + 50.0)[:, None]
    lo3 = np.minimum(kin.pos, end) - pad
    hi3 = np.maximum(kin.pos, end) + pad
    alt_end = kin.alt_ft + kin.vs_fps * T
    lo_alt = np.minimum(kin.alt_ft, alt_end) - V / 2.0
    hi_alt = np.maximum(kin.alt_ft, alt_end) + V / 2.0
    return np.column_stack([lo3, lo_alt]), np.column_stack([hi3, hi_alt])


def reference_grid_cell(lo: np.ndarray, hi: np.ndarray, agreement: Agreement) -> np.ndarray:
    """The grid cell of that time: about twice a typical box, outliers bounded."""
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


@dataclass
class RefConflicts:
    """Candidates and conflicts of the reference detector, pairs ``a < b`` sorted."""

    cand_a: np.ndarray
    cand_b: np.ndarray
    a: np.ndarray
    b: np.ndarray
    t_in_s: np.ndarray
    t_out_s: np.ndarray
    t_cpa_s: np.ndarray
    d_cpa_m: np.ndarray
    dz_cpa_ft: np.ndarray
    examined: int


def reference_detect(
    kin: Kinematics, agreement: Agreement, party: np.ndarray | None = None
) -> RefConflicts:
    """The detector before time slices: whole-look-ahead boxes, the old grid, exact windows."""
    lo, hi = reference_path_boxes(kin, agreement)
    i, j, examined = reference_overlapping_pairs(
        lo, hi, kin.snap, reference_grid_cell(lo, hi, agreement)
    )
    a, b = np.minimum(i, j), np.maximum(i, j)
    if party is not None:
        differ = party[a] != party[b]
        a, b = a[differ], b[differ]
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    win = windows(kin, a, b, agreement)
    k = win.conflict
    return RefConflicts(
        cand_a=a,
        cand_b=b,
        a=a[k],
        b=b[k],
        t_in_s=win.t_in_s[k],
        t_out_s=win.t_out_s[k],
        t_cpa_s=win.t_cpa_s[k],
        d_cpa_m=win.d_cpa_m[k],
        dz_cpa_ft=win.dz_cpa_ft[k],
        examined=examined,
    )


def reference_overlapping_pairs(
    lo: np.ndarray, hi: np.ndarray, group: np.ndarray, cell: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """The broad phase as it was before time slices (issue 17): pairs (i, j) and pairs examined.

    A 4-D uniform grid, every box hashed into every cell it covers, pairs generated
    per cell in numpy. Kept as the reference the new broad phase is checked against.

    Parameters
    ----------
    lo, hi : (N, D) arrays
        Box corners, ``lo <= hi``.
    group : (N,) int array
        Group (snapshot) index of each box, ``>= 0``.
    cell : (D,) array
        Grid cell size per dimension, > 0.

    """
    n, _d = lo.shape
    empty = np.zeros(0, dtype=np.int64)
    if n < 2:
        return empty, empty, 0
    origin = lo.min(axis=0)
    c_lo = np.floor((lo - origin) / cell).astype(np.int64)
    c_hi = np.floor((hi - origin) / cell).astype(np.int64)
    spans = c_hi - c_lo + 1
    ncells = np.prod(spans.astype(np.float64), axis=1)
    big = ncells > MAX_CELLS_PER_BOX
    small = np.flatnonzero(~big)

    dims = c_hi.max(axis=0) + 1
    n_groups = int(group.max()) + 1
    strides = _ref_strides(np.concatenate([[n_groups], dims]))

    gi, gj, entries, examined = _ref_grid_pairs(small, lo, hi, c_lo, spans, group, strides)
    bi, bj, b_examined = _ref_brute_force_pairs(np.flatnonzero(big), lo, hi, group)
    del entries
    return np.concatenate([gi, bi]), np.concatenate([gj, bj]), examined + b_examined


def _ref_strides(shape: np.ndarray) -> np.ndarray:
    """Row-major strides for a key space of ``shape``; refuses int64 overflow."""
    total = float(np.prod(shape.astype(np.float64)))
    if total >= 2.0**62:
        raise OverflowError(f"grid key space {total:.3g} exceeds int64; use larger cells")
    strides = np.ones(shape.size, dtype=np.int64)
    for k in range(shape.size - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    return strides


def _ref_grid_pairs(
    idx: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    c_lo: np.ndarray,
    spans: np.ndarray,
    group: np.ndarray,
    strides: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Pairs among the boxes ``idx`` through the grid; returns (i, j, entries, examined)."""
    empty = np.zeros(0, dtype=np.int64)
    if idx.size < 2:
        return empty, empty, 0, 0
    d = lo.shape[1]
    sp = spans[idx]
    counts = np.prod(sp, axis=1)
    owner = np.repeat(idx, counts)
    # Offset of each entry inside its box's cell block, decomposed per dimension.
    starts = np.cumsum(counts) - counts
    k = np.arange(owner.size, dtype=np.int64) - np.repeat(starts, counts)
    key = group[owner] * strides[0]
    sp_rep = sp[np.repeat(np.arange(idx.size), counts)]
    for dim in range(d - 1, -1, -1):
        off = k % sp_rep[:, dim]
        k //= sp_rep[:, dim]
        key += (c_lo[owner, dim] + off) * strides[dim + 1]
    del k, sp_rep

    order = np.argsort(key, kind="stable")
    key = key[order]
    owner = owner[order]
    # Runs of equal keys; pairs of entries inside each run.
    run_start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    run_len = np.diff(np.r_[run_start, key.size])
    pos_in_run = np.arange(key.size) - np.repeat(run_start, run_len)
    partners = np.repeat(run_len, run_len) - pos_in_run - 1  # later entries in the same run
    has = np.flatnonzero(partners > 0)
    partners = partners[has]
    examined = int(partners.sum())

    lo_cols = [np.ascontiguousarray(lo[:, k]) for k in range(d)]
    hi_cols = [np.ascontiguousarray(hi[:, k]) for k in range(d)]
    c_lo_cols = [np.ascontiguousarray(c_lo[:, k]) for k in range(d)]
    out_i: list[np.ndarray] = []
    out_j: list[np.ndarray] = []
    # Chunk the entries so that at most ~PAIR_CHUNK pairs exist at once.
    cum = np.cumsum(partners)
    bounds = np.searchsorted(cum, np.arange(PAIR_CHUNK, examined + PAIR_CHUNK, PAIR_CHUNK))
    first = 0
    for last in np.unique(np.minimum(bounds + 1, has.size)):
        sel = has[first:last]
        cnt = partners[first:last]
        first = int(last)
        if sel.size == 0:
            continue
        a = np.repeat(sel, cnt)
        b = a + 1 + (np.arange(a.size) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        i, j = owner[a], owner[b]
        # Test one dimension at a time on contiguous columns, shrinking as we go.
        for dim in range(d):
            lo_d, hi_d = lo_cols[dim], hi_cols[dim]
            ok = (lo_d[i] <= hi_d[j]) & (lo_d[j] <= hi_d[i])
            a, i, j = a[ok], i[ok], j[ok]
        # Report each pair only in the cell holding the lower corner of the intersection
        # (floor is monotonic, so that cell is the larger of the two boxes' lowest cells).
        ref = group[i] * strides[0]
        for dim in range(d):
            ref += np.maximum(c_lo_cols[dim][i], c_lo_cols[dim][j]) * strides[dim + 1]
        keep = ref == key[a]
        out_i.append(i[keep])
        out_j.append(j[keep])
    if not out_i:
        return empty, empty, int(owner.size), examined
    return np.concatenate(out_i), np.concatenate(out_j), int(owner.size), examined


def _ref_brute_force_pairs(
    big: np.ndarray, lo: np.ndarray, hi: np.ndarray, group: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """Pairs involving at least one box in ``big``, tested against its whole group."""
    empty = np.zeros(0, dtype=np.int64)
    if big.size == 0:
        return empty, empty, 0
    order = np.argsort(group, kind="stable")
    g_sorted = group[order]
    g_start = np.searchsorted(g_sorted, group[big], side="left")
    g_end = np.searchsorted(g_sorted, group[big], side="right")
    cnt = g_end - g_start
    a = np.repeat(big, cnt)
    b = order[
        np.repeat(g_start, cnt) + (np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    ]
    is_big = np.zeros(lo.shape[0], dtype=bool)
    is_big[big] = True
    # Drop self pairs and count big–big pairs once (from the lower index).
    keep = (a != b) & (~is_big[b] | (a < b))
    a, b = a[keep], b[keep]
    ok = np.all((lo[a] <= hi[b]) & (lo[b] <= hi[a]), axis=1)
    return a[ok], b[ok], int(keep.sum())
