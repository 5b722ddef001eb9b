"""Each flight on a common time grid, never across a gap longer than the gap limit.

Grid times are the multiples of ``step_s`` (``t = k · step_s``, Unix epoch seconds), so
any slice of an archive puts its flights on exactly the same points as the whole
archive: what makes windowed (Dask) replays identical to single-process ones.

A flight (one ``id``) gets a point at every grid time between its first and last
report where either a report falls exactly on the grid time or the two reports around
it are at most ``gap_limit_s`` apart; the point is linearly interpolated between them
(longitude across the antimeridian, velocities as east/north components so a track
through north interpolates correctly). Nothing is extrapolated and nothing is
invented inside a longer gap. Without velocity columns, each report's velocity is its
segment's to the next report (the previous one for a flight's last report; zero for
an isolated report), from positions on a sphere of the WGS84 mean radius.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from deconflict.errors import InputError
from deconflict.replay.archive import VELOCITY_COLUMNS
from deconflict.units import mps_to_kt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.str_]

#: A report repeating its flight's previous position at this ground speed (kt) or more is
#: stale: at 50 kt an aircraft moves 25 m a second, five times ADS-B's position resolution.
STALE_MIN_GS_KT = 50.0
#: Mean Earth radius (m) for velocities derived from positions (IUGG R1 of WGS84).
_MEAN_RADIUS_M = 6371008.8


@dataclass(frozen=True)
class Grid:
    """Flight points on the grid, struct of arrays sorted by ``(k, flight)``.

    ``k`` grid index (time ``k · step_s``); ``flight`` index into ``ids`` (sorted ids,
    so comparing codes compares ids); ``party`` index into ``parties`` (or None when
    the archive has no party column); positions and velocities in input units.
    """

    step_s: float
    ids: StrArray
    parties: StrArray | None
    k: IntArray
    flight: IntArray
    party: IntArray | None
    lat: FloatArray
    lon: FloatArray
    alt_ft: FloatArray
    gs_kt: FloatArray
    track_deg: FloatArray
    vs_fpm: FloatArray

    def __len__(self) -> int:
        """Number of grid points."""
        return int(self.k.size)

    @property
    def t_s(self) -> FloatArray:
        """Grid times (Unix epoch s)."""
        return self.k.astype(np.float64) * self.step_s


def _segment_velocity(
    code: IntArray, t: FloatArray, lat: FloatArray, lon: FloatArray, alt: FloatArray, gap_s: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """East/north (m/s) and vertical (ft/min) velocity of each report from its segment."""
    n = t.size
    ve = np.zeros(n)
    vn = np.zeros(n)
    vs = np.zeros(n)
    if n < 2:
        return ve, vn, vs
    dt = np.diff(t)
    ok = (code[1:] == code[:-1]) & (dt > 0.0) & (dt <= gap_s)
    dlon = (lon[1:] - lon[:-1] + 180.0) % 360.0 - 180.0
    mid_lat = np.radians(0.5 * (lat[1:] + lat[:-1]))
    with np.errstate(all="ignore"):
        seg_e = np.where(ok, np.radians(dlon) * _MEAN_RADIUS_M * np.cos(mid_lat) / dt, 0.0)
        seg_n = np.where(ok, np.radians(lat[1:] - lat[:-1]) * _MEAN_RADIUS_M / dt, 0.0)
        seg_v = np.where(ok, (alt[1:] - alt[:-1]) / dt * 60.0, 0.0)
    # Forward segment where there is one, else the backward one.
    fwd = np.r_[ok, False]
    bwd = np.r_[False, ok]
    ve = np.where(fwd, np.r_[seg_e, 0.0], np.where(bwd, np.r_[0.0, seg_e], 0.0))
    vn = np.where(fwd, np.r_[seg_n, 0.0], np.where(bwd, np.r_[0.0, seg_n], 0.0))
    vs = np.where(fwd, np.r_[seg_v, 0.0], np.where(bwd, np.r_[0.0, seg_v], 0.0))
    return ve, vn, vs


def _codes(series: pd.Series) -> tuple[IntArray, StrArray]:
    """Integer codes of a label column and its labels, sorted (code order = label order)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        # Dictionary-encoded ids (as Parquet windows are read): the codes are there already;
        # keep the categories in use, in category order (as factorize(sort=True) would).
        cat = pd.Categorical(series)
        raw_codes = np.asarray(cat.codes)
        used = np.flatnonzero(np.bincount(raw_codes[raw_codes >= 0], minlength=cat.categories.size))
        remap = np.full(cat.categories.size, -1, dtype=np.int64)
        remap[used] = np.arange(used.size)
        codes = np.where(raw_codes >= 0, remap[raw_codes], -1)
        uniques = np.asarray(cat.categories)[used]
    else:
        codes, uniques = pd.factorize(series, sort=True)
    labels = np.asarray([str(u) for u in uniques], dtype=np.str_)
    order = np.argsort(labels, kind="stable")  # str order, whatever the column's type
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[codes].astype(np.int64), labels[order]


def _stable_order(key: IntArray) -> IntArray:
    """``np.argsort(key, kind="stable")``, by radix sort on narrow ints when the range allows."""
    if key.size == 0:
        return np.zeros(0, dtype=np.int64)
    lo, hi = int(key.min()), int(key.max())
    if hi - lo < 2**16:
        return np.argsort((key - lo).astype(np.uint16), kind="stable")
    return np.argsort(key, kind="stable")


def to_grid(
    reports: pd.DataFrame | Mapping[str, Any],
    step_s: float,
    gap_limit_s: float,
    k_range: tuple[int, int] | None = None,
    counted: npt.NDArray[np.bool_] | None = None,
) -> tuple[Grid, dict[str, int]]:
    """Put every flight of cleaned ``reports`` on the grid of ``step_s``.

    ``reports`` has the columns of :class:`~deconflict.replay.archive.CleanReports` (a
    frame, or a dict of columns as :func:`~deconflict.replay.archive.clean_columns` gives).
    ``k_range = (k_lo, k_hi)`` keeps grid indices ``k_lo <= k <= k_hi`` only. Two more
    kinds of report are dropped here, where each flight's reports are in order:
    ``duplicate report`` (same id and time as another; the first kept) and ``stale
    position`` (the same latitude and longitude as the flight's previous report, at most
    the gap limit earlier, while the report's own ground speed is at least
    :data:`STALE_MIN_GS_KT`: a receiver repeating a last known position; with reported
    velocities only). Returns the grid and those counts, over the rows where
    ``counted`` is true (default: all).

    >>> frame = pd.DataFrame({"time": [0.0, 10.0], "id": ["a", "a"], "lat": [0.0, 0.0],
    ...     "lon": [0.0, 0.01], "alt_ft": [1000.0, 2000.0]})
    >>> grid, _ = to_grid(frame, step_s=5.0, gap_limit_s=60.0)
    >>> grid.k.tolist(), grid.alt_ft.tolist()
    ([0, 1, 2], [1000.0, 1500.0, 2000.0])
    """
    if not step_s > 0.0 or not np.isfinite(step_s):
        raise InputError(f"step_s must be a positive number of seconds, got {step_s}")

    def col(name: str) -> FloatArray:
        return np.asarray(reports[name], dtype=np.float64)

    code, ids = _codes(reports["id"])
    t = col("time")
    if t.size < 2 or bool(np.all(t[1:] >= t[:-1])):
        order = _stable_order(code)  # already by time: by flight, then time
    else:
        order = np.lexsort((t, code))
    code, t = code[order], t[order]
    count = np.ones(t.size, bool) if counted is None else np.asarray(counted, bool)[order]
    same = code[1:] == code[:-1]
    dup = np.zeros(t.size, dtype=bool)
    dup[1:] = same & (t[1:] == t[:-1])
    dropped = {"duplicate report": int((dup & count).sum())}
    reported = all(c in reports for c in VELOCITY_COLUMNS)
    if reported:
        stale = np.zeros(t.size, dtype=bool)
        stale[1:] = same & (t[1:] - t[:-1] <= gap_limit_s)
        for name in ("lat", "lon"):
            v = col(name)[order]
            stale[1:] &= v[1:] == v[:-1]
        stale[1:] &= col("gs_kt")[order][1:] >= STALE_MIN_GS_KT
        stale &= ~dup
        dropped["stale position"] = int((stale & count).sum())
        dup |= stale
        del stale
    if dup.any():
        keep = order[~dup]
        code, t = code[~dup], t[~dup]
    else:
        keep = order
    del order, count, same, dup
    # Report columns are gathered only at the reports that bracket grid points (below),
    # except where velocities are derived from the positions of every report.
    derived: tuple[FloatArray, FloatArray, FloatArray] | None = None
    if not reported:
        lat_all, lon_all, alt_all = col("lat")[keep], col("lon")[keep], col("alt_ft")[keep]
        ve, vn, vs = _segment_velocity(code, t, lat_all, lon_all, alt_all, gap_limit_s)
        derived = (mps_to_kt(ve), mps_to_kt(vn), vs)
        del lat_all, lon_all, alt_all, ve, vn, vs
    parties: StrArray | None = None
    party_code: IntArray | None = None
    if "party" in reports:
        party_code, parties = _codes(reports["party"])

    n_fl = ids.size
    first = np.searchsorted(code, np.arange(n_fl), side="left")
    last = np.searchsorted(code, np.arange(n_fl), side="right") - 1
    k0 = np.ceil(t[first] / step_s).astype(np.int64)
    k0 += k0.astype(np.float64) * step_s < t[first]
    k0 -= (k0 - 1).astype(np.float64) * step_s >= t[first]
    k1 = np.floor(t[last] / step_s).astype(np.int64)
    k1 -= k1.astype(np.float64) * step_s > t[last]
    k1 += (k1 + 1).astype(np.float64) * step_s <= t[last]
    if k_range is not None:
        k0 = np.maximum(k0, k_range[0])
        k1 = np.minimum(k1, k_range[1])
    counts = np.maximum(k1 - k0 + 1, 0)
    flight = np.repeat(np.arange(n_fl, dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    k = np.repeat(k0, counts) + (np.arange(flight.size, dtype=np.int64) - np.repeat(starts, counts))
    tg = k.astype(np.float64) * step_s
    # Last report at or before each grid time, searched flight by flight through one
    # composite key (reports and grid points are both sorted by flight, then time).
    t_min = float(t.min()) if t.size else 0.0
    span = (float(t.max()) - t_min if t.size else 0.0) + 2.0 * step_s + 1.0
    key_r = code.astype(np.float64) * span + (t - t_min)
    key_g = flight.astype(np.float64) * span + (tg - t_min)
    i = np.searchsorted(key_r, key_g, side="right") - 1
    i = np.clip(i, first[flight], last[flight])
    # Guard against rounding in the composite key: step to the exact bracket.
    i -= (t[i] > tg) & (i > first[flight])
    nxt = np.minimum(i + 1, last[flight])
    i = np.where((t[nxt] <= tg) & (nxt > i), nxt, i)
    j = np.minimum(i + 1, last[flight])
    exact = t[i] == tg
    dt = t[j] - t[i]
    ok = exact | ((j > i) & (dt <= gap_limit_s))
    i, j, k, flight, tg, dt = i[ok], j[ok], k[ok], flight[ok], tg[ok], dt[ok]
    exact = exact[ok]
    with np.errstate(all="ignore"):
        w = np.where(exact, 0.0, (tg - t[i]) / dt)
    w = np.clip(w, 0.0, 1.0)
    del t, code, tg, dt, exact
    ri, rj = keep[i], keep[j]  # rows of the bracketing reports in ``reports``

    def at(name: str) -> tuple[FloatArray, FloatArray]:
        v = col(name)
        return v[ri], v[rj]

    lon_i, lon_j = at("lon")
    dlon = (lon_j - lon_i + 180.0) % 360.0 - 180.0
    lon_g = lon_i + w * dlon
    lon_g = np.where(lon_g > 180.0, lon_g - 360.0, np.where(lon_g < -180.0, lon_g + 360.0, lon_g))
    del lon_i, lon_j, dlon
    lat_i, lat_j = at("lat")
    lat_g = lat_i + w * (lat_j - lat_i)
    alt_i, alt_j = at("alt_ft")
    alt_g = alt_i + w * (alt_j - alt_i)
    del lat_i, lat_j, alt_i, alt_j
    if derived is None:
        gs_i, gs_j = at("gs_kt")
        trk_i, trk_j = (np.radians(x) for x in at("track_deg"))
        ve_i, vn_i = gs_i * np.sin(trk_i), gs_i * np.cos(trk_i)  # kt
        ve_j, vn_j = gs_j * np.sin(trk_j), gs_j * np.cos(trk_j)
        vs_i, vs_j = at("vs_fpm")
        del gs_i, gs_j, trk_i, trk_j
    else:
        ve_i, vn_i, vs_i = (x[i] for x in derived)
        ve_j, vn_j, vs_j = (x[j] for x in derived)
    ve_g = ve_i + w * (ve_j - ve_i)
    vn_g = vn_i + w * (vn_j - vn_i)
    vs_g = vs_i + w * (vs_j - vs_i)
    del ve_i, vn_i, vs_i, ve_j, vn_j, vs_j, w
    gs_g = np.hypot(ve_g, vn_g)
    trk_g = np.degrees(np.arctan2(ve_g, vn_g)) % 360.0
    trk_g = np.where(trk_g >= 360.0, 0.0, trk_g)
    by_time = _stable_order(k)  # points are by flight, then k: now by k, then flight
    return (
        Grid(
            step_s=float(step_s),
            ids=ids,
            parties=parties,
            k=k[by_time],
            flight=flight[by_time],
            party=None if party_code is None else party_code[ri][by_time],
            lat=lat_g[by_time],
            lon=lon_g[by_time],
            alt_ft=alt_g[by_time],
            gs_kt=gs_g[by_time],
            track_deg=trk_g[by_time],
            vs_fpm=vs_g[by_time],
        ),
        {k: v for k, v in dropped.items() if v},
    )
