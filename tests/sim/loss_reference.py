"""A brute-force pass over recorded tracks: cross-party losses of separation and NMACs.

Shares no code with :func:`deconflict.sim.losses.count_losses`: every pair of
aircraft at every time, geodesic distances from pyproj, episodes gathered in a plain
Python dictionary. Slow, obvious, and the reference the fast count is checked against
(also usable on ``out/tracks.parquet``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyproj import Geod

GEOD = Geod(ellps="WGS84")
NM_M = 1852.0
FT_M = 0.3048


@dataclass
class Reference:
    losses: int
    loss_s: float
    nmac: int
    min_h_nm: float
    #: (id_a, id_b, start_s, end_s, samples) per loss episode, ids in sorted order.
    episodes: list[tuple[str, str, float, float, int]]


def _episodes(hits: dict[tuple[str, str], list[int]], times: np.ndarray) -> list[tuple]:
    out = []
    for (a, b), steps in sorted(hits.items()):
        steps = sorted(steps)
        start = prev = steps[0]
        for s in [*steps[1:], None]:
            if s is not None and s == prev + 1:
                prev = s
                continue
            out.append((a, b, float(times[start]), float(times[prev]), prev - start + 1))
            if s is not None:
                start = prev = s
    return out


def brute_force_losses(tracks: pd.DataFrame, h_nm: float, v_ft: float) -> Reference:
    times = np.unique(tracks["time"].to_numpy())
    step = float(np.median(np.diff(times))) if times.size > 1 else 0.0
    lost: dict[tuple[str, str], list[int]] = {}
    nmac: dict[tuple[str, str], list[int]] = {}
    samples = 0
    min_h = np.inf
    for k, (_, snap) in enumerate(tracks.groupby("time", sort=True)):
        ids = snap["id"].to_numpy(dtype=str)
        party = snap["party"].to_numpy(dtype=str)
        i, j = np.triu_indices(len(snap), 1)
        keep = party[i] != party[j]
        i, j = i[keep], j[keep]
        lat, lon = snap["lat"].to_numpy(), snap["lon"].to_numpy()
        alt = snap["alt_ft"].to_numpy()
        _, _, d = GEOD.inv(lon[i], lat[i], lon[j], lat[j])
        dz = np.abs(alt[i] - alt[j])
        close = dz < v_ft
        if close.any():
            min_h = min(min_h, float(np.min(np.asarray(d)[close])))
        for a, b, dd, zz in zip(ids[i], ids[j], np.atleast_1d(d), dz, strict=True):
            key = (min(a, b), max(a, b))
            if dd < h_nm * NM_M and zz < v_ft:
                lost.setdefault(key, []).append(k)
                samples += 1
            if dd < 500 * FT_M and zz < 100:
                nmac.setdefault(key, []).append(k)
    episodes = _episodes(lost, times)
    return Reference(
        losses=len(episodes),
        loss_s=samples * step,
        nmac=len(_episodes(nmac, times)),
        min_h_nm=min_h / NM_M if np.isfinite(min_h) and min_h < 2 * h_nm * NM_M else float("nan"),
        episodes=episodes,
    )
