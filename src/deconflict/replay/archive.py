"""Read ADS-B archives in the ``traffic`` library's layout and cut them into snapshots.

Real archives are dirty: missing positions and speeds, corrupted altitudes, aircraft
on the ground. :func:`clean_reports` keeps airborne reports with a complete, physically
possible state and counts what it dropped and why; :func:`snapshots` takes one state
per aircraft per snapshot time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from deconflict.errors import InputError
from deconflict.tactical.state import NUMERIC_COLUMNS

#: ``traffic`` column → detector input column.
TRAFFIC_COLUMNS = {
    "icao24": "id",
    "latitude": "lat",
    "longitude": "lon",
    "altitude": "alt_ft",
    "groundspeed": "gs_kt",
    "track": "track_deg",
    "vertical_rate": "vs_fpm",
}
#: Physically plausible bounds for an airborne report (inclusive).
PLAUSIBLE = {
    "alt_ft": (-1500.0, 60000.0),
    "gs_kt": (0.0, 1000.0),
    "vs_fpm": (-15000.0, 15000.0),
    "lat": (-90.0, 90.0),
    "lon": (-180.0, 180.0),
}


@dataclass(frozen=True)
class CleanReports:
    """Airborne, complete reports in input columns, and the count dropped per reason."""

    frame: pd.DataFrame
    dropped: dict[str, int] = field(default_factory=dict)


def clean_reports(raw: pd.DataFrame) -> CleanReports:
    """Map ``traffic`` columns to input columns; drop and count unusable reports.

    Output columns: ``time`` (Unix epoch s), ``id``, ``callsign``, ``lat``, ``lon``,
    ``alt_ft``, ``gs_kt``, ``track_deg``, ``vs_fpm``.
    """
    missing = [c for c in ("timestamp", *TRAFFIC_COLUMNS) if c not in raw.columns]
    if missing:
        raise InputError(f"archive: missing column(s) {', '.join(missing)}")
    frame = raw.rename(columns=TRAFFIC_COLUMNS)
    ts = pd.to_datetime(frame["timestamp"], utc=True)
    frame = frame.assign(time=(ts - pd.Timestamp(0, tz="UTC")).dt.total_seconds())
    dropped: dict[str, int] = {}
    keep = np.ones(len(frame), dtype=bool)
    if "onground" in frame:
        on_ground = frame["onground"].fillna(False).to_numpy(dtype=bool)
        dropped["on ground"] = int((keep & on_ground).sum())
        keep &= ~on_ground
    cols = [c for c in NUMERIC_COLUMNS if c != "time"]
    incomplete = frame[cols].isna().any(axis=1).to_numpy()
    dropped["incomplete state"] = int((keep & incomplete).sum())
    keep &= ~incomplete
    for col, (lo, hi) in PLAUSIBLE.items():
        v = frame[col].to_numpy(dtype=np.float64)
        bad = ~((v >= lo) & (v <= hi))
        dropped[f"{col} outside [{lo:g}, {hi:g}]"] = int((keep & bad).sum())
        keep &= ~bad
    out_cols = ["time", "id", *(["callsign"] if "callsign" in frame else []), *cols]
    out = frame.loc[keep, out_cols].sort_values("time", kind="stable").reset_index(drop=True)
    out["id"] = out["id"].astype(str)
    return CleanReports(out, {k: v for k, v in dropped.items() if v})


def snapshots(
    reports: pd.DataFrame, times: Iterable[float], max_age_s: float = 5.0
) -> pd.DataFrame:
    """One state per aircraft per snapshot time: its latest report in ``(t - max_age_s, t]``.

    The report's values are used as they are (not dead-reckoned over the short gap)
    and stamped with the snapshot time ``t``.
    """
    t_all = reports["time"].to_numpy()
    parts = []
    for t in times:
        lo = np.searchsorted(t_all, t - max_age_s, side="right")
        hi = np.searchsorted(t_all, t, side="right")
        window = reports.iloc[lo:hi]
        latest = window.drop_duplicates("id", keep="last").assign(time=float(t))
        parts.append(latest)
    if not parts:
        return reports.iloc[0:0]
    return pd.concat(parts, ignore_index=True)
