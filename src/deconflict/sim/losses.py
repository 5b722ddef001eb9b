"""Measuring a run from its tracks alone: losses of separation, NMACs, zone violations.

:func:`count_losses` finds the cross-party losses of separation and NMACs of one run
as episodes, the loss seconds and the smallest horizontal separation; vectorised with
the tactical broad phase over all time steps at once. :func:`zone_violations` finds
the time aircraft spent inside protected airspace. Both read a tracks table (the
columns of :data:`~deconflict.sim.exercise.TRACK_COLUMNS`), whoever flew it.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from deconflict.airspace.entries import zone_entries
from deconflict.airspace.zones import Zones
from deconflict.errors import InputError
from deconflict.geo import geodetic_to_ecef
from deconflict.tactical.pairs import overlapping_pairs
from deconflict.tactical.state import TrafficState
from deconflict.units import ft_to_m, m_to_nm, nm_to_m

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Columns of :attr:`Losses.episodes`.
EPISODE_COLUMNS = (
    "id_a",
    "id_b",
    "party_a",
    "party_b",
    "start_s",
    "end_s",
    "samples",
    "min_h_nm",
    "min_v_ft",
    "nmac",
)
#: NMAC: closer than this horizontally (ft) ...
NMAC_H_FT = 500.0
#: ... and this vertically (ft).
NMAC_V_FT = 100.0
#: Time steps whose pairs are found at once by :func:`count_losses` (bounds memory).
STEPS_PER_CHUNK = 400


@dataclass(frozen=True)
class Losses:
    """Cross-party separation of one run, from its tracks.

    ``losses``: loss-of-separation episodes (horizontal < H and vertical < V at a
    sample; an episode is a run of consecutive samples of one pair), ``loss_s`` the
    samples in loss times the step (s), ``nmac`` the episodes closer than 500 ft
    horizontally and 100 ft vertically, ``min_h_nm`` the smallest horizontal
    distance between aircraft of different parties less than V apart vertically
    (NaN if none came within ``2·H``). ``episodes``: one row per loss episode
    (:data:`EPISODE_COLUMNS`).
    """

    losses: int
    loss_s: float
    nmac: int
    min_h_nm: float
    episodes: pd.DataFrame


def count_losses(tracks: pd.DataFrame, h_nm: float, v_ft: float) -> Losses:
    """Cross-party losses of separation and NMACs in the tracks of one run.

    ``tracks`` has the columns ``time, id, party, lat, lon, alt_ft`` (one run: a
    ``run`` column, if any, must hold one value) at a fixed step. Horizontal
    distance is the chord between the points on the WGS84 ellipsoid (within
    millimetres of the geodesic at these ranges). Candidate pairs come from the
    tactical broad phase over all samples at once (no loop over pairs).
    """
    if "run" in tracks.columns and tracks["run"].nunique() > 1:
        raise InputError("count_losses: tracks of several runs; select one 'run' first")
    missing = [c for c in ("time", "id", "party", "lat", "lon", "alt_ft") if c not in tracks]
    if missing:
        raise InputError(f"count_losses: missing column(s) {missing}")
    h_m = nm_to_m(float(h_nm))
    reach_m = 2.0 * h_m
    times, step = np.unique(tracks["time"].to_numpy(dtype=np.float64), return_inverse=True)
    dt = float(np.median(np.diff(times))) if times.size > 1 else 0.0
    ids, code = np.unique(tracks["id"].to_numpy(dtype=np.str_), return_inverse=True)
    party = tracks["party"].to_numpy(dtype=np.str_)
    pos = geodetic_to_ecef(
        tracks["lat"].to_numpy(np.float64), tracks["lon"].to_numpy(np.float64), 0.0
    )
    alt = tracks["alt_ft"].to_numpy(dtype=np.float64)
    order = np.argsort(step, kind="stable")
    bounds = np.searchsorted(
        step[order], np.arange(0, times.size + STEPS_PER_CHUNK, STEPS_PER_CHUNK)
    )
    parts: list[tuple[IntArray, IntArray, FloatArray, FloatArray]] = []
    min_h = np.inf
    for lo, hi in itertools.pairwise(bounds):
        rows = order[lo:hi]
        if rows.size < 2:
            continue
        box = np.column_stack([pos[rows], alt[rows]])
        half = np.array([reach_m / 2] * 3 + [v_ft / 2])
        found = overlapping_pairs(
            box - half, box + half, step[rows], np.array([reach_m] * 3 + [v_ft])
        )
        a, b = rows[found.i], rows[found.j]
        cross = party[a] != party[b]
        a, b = a[cross], b[cross]
        d = np.linalg.norm(pos[a] - pos[b], axis=1)
        dz = np.abs(alt[a] - alt[b])
        close = dz < v_ft
        if close.any():
            min_h = min(min_h, float(d[close].min()))
        lost = close & (d < h_m)
        parts.append((a[lost], b[lost], d[lost], dz[lost]))
    a = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    b = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    d = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0)
    dz = np.concatenate([p[3] for p in parts]) if parts else np.zeros(0)
    nmac_hit = (d < ft_to_m(NMAC_H_FT)) & (dz < NMAC_V_FT)
    episodes = _episodes(a, b, d, dz, nmac_hit, step, code, ids, party, times)
    nmac = _episodes(
        a[nmac_hit],
        b[nmac_hit],
        d[nmac_hit],
        dz[nmac_hit],
        nmac_hit[nmac_hit],
        step,
        code,
        ids,
        party,
        times,
    )
    return Losses(
        losses=len(episodes),
        loss_s=float(a.size * dt),
        nmac=len(nmac),
        min_h_nm=float(m_to_nm(min_h)) if np.isfinite(min_h) else float("nan"),
        episodes=episodes,
    )


def _episodes(
    a: IntArray,
    b: IntArray,
    d: FloatArray,
    dz: FloatArray,
    nmac: npt.NDArray[np.bool_],
    step: IntArray,
    code: IntArray,
    ids: npt.NDArray[np.str_],
    party: npt.NDArray[np.str_],
    times: FloatArray,
) -> pd.DataFrame:
    """Runs of consecutive samples of each pair (rows ``a``, ``b`` of the tracks).

    An episode is flagged ``nmac`` when any of its samples is (``nmac`` per sample).
    """
    ca, cb = code[a], code[b]
    swap = ca > cb
    ra, rb = np.where(swap, b, a), np.where(swap, a, b)
    key = np.minimum(ca, cb).astype(np.int64) * ids.size + np.maximum(ca, cb)
    s = step[ra]
    o = np.lexsort((s, key))
    key, s, ra, rb, d, dz, nmac = key[o], s[o], ra[o], rb[o], d[o], dz[o], nmac[o]
    new = (
        np.r_[True, (key[1:] != key[:-1]) | (s[1:] != s[:-1] + 1)]
        if key.size
        else np.zeros(0, bool)
    )
    first = np.flatnonzero(new)
    last = np.r_[first[1:], key.size][: first.size].astype(np.int64) - 1
    ep = np.cumsum(new) - 1
    n = first.size
    min_d = np.full(n, np.inf)
    min_z = np.full(n, np.inf)
    np.minimum.at(min_d, ep, d)
    np.minimum.at(min_z, ep, dz)
    flag = np.zeros(n, dtype=bool)
    np.logical_or.at(flag, ep, nmac)
    frame = pd.DataFrame(
        {
            "id_a": ids[code[ra[first]]].astype(object),
            "id_b": ids[code[rb[first]]].astype(object),
            "party_a": party[ra[first]].astype(object),
            "party_b": party[rb[first]].astype(object),
            "start_s": times[s[first]],
            "end_s": times[s[last]],
            "samples": (last - first + 1).astype(np.int64),
            "min_h_nm": m_to_nm(min_d),
            "min_v_ft": min_z,
            "nmac": flag,
        },
        columns=list(EPISODE_COLUMNS),
    )
    return frame


#: Columns of :func:`zone_violations`.
VIOLATION_COLUMNS = ("id", "party", "zone", "start_s", "end_s", "samples", "seconds")


def zone_violations(
    tracks: pd.DataFrame, zones: Zones, closed_to: Mapping[str, Sequence[str]] | None = None
) -> pd.DataFrame:
    """Episodes of aircraft inside protected zones (closed polygon, band and window).

    Tracks of one run at a fixed step; ``seconds`` is samples times the step. A
    sample is inside exactly when :func:`~deconflict.airspace.entries.zone_entries`
    with no look-ahead says so, all samples at once: so a zone with a ``parties``
    list counts only the aircraft of those parties, as the broker does.
    ``closed_to`` (zone name → parties) replaces the lists of the zones it names;
    :attr:`Scenario.zone_parties` repeats the scenario's own lists, so passing it
    changes nothing. Rows are sorted by zone, id and start.
    """
    if closed_to:
        zones = Zones.from_zones(
            [
                dataclasses.replace(z, parties=tuple(closed_to[z.name]))
                if z.name in closed_to
                else z
                for z in zones.zones
            ],
            zones.source,
        )
    times, step = np.unique(tracks["time"].to_numpy(dtype=np.float64), return_inverse=True)
    dt = float(np.median(np.diff(times))) if times.size > 1 else 0.0
    state = TrafficState.from_frame(tracks)
    entries = zone_entries(state, zones, 0.0)
    row, zone = entries.aircraft[entries.violation], entries.zone[entries.violation]
    ids = state.id
    order = np.lexsort((step[row], ids[row], zone))
    row, zone = row[order], zone[order]
    if not row.size:
        return pd.DataFrame(columns=list(VIOLATION_COLUMNS))
    who, s = ids[row], step[row]
    new = np.r_[True, (zone[1:] != zone[:-1]) | (who[1:] != who[:-1]) | (s[1:] != s[:-1] + 1)]
    first = np.flatnonzero(new)
    last = np.r_[first[1:], row.size] - 1
    party = state.party[row[first]].astype(object) if state.party is not None else None
    return pd.DataFrame(
        {
            "id": who[first].astype(object),
            "party": party,
            "zone": zones.name[zone[first]].astype(object),
            "start_s": times[s[first]],
            "end_s": times[s[last]],
            "samples": last - first + 1,
            "seconds": (last - first + 1) * dt,
        },
        columns=list(VIOLATION_COLUMNS),
    )
