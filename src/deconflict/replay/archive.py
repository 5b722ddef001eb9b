"""Read ADS-B archives in the ``traffic`` library's layout and cut them into snapshots.

Real archives are dirty: missing positions and speeds, corrupted altitudes, aircraft
on the ground. :func:`clean_reports` keeps airborne reports with a complete, physically
possible state and counts what it dropped and why; :func:`snapshots` takes one state
per aircraft per snapshot time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from deconflict.errors import InputError
from deconflict.tactical.state import BOUNDS

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
#: Columns every report needs, in input names.
POSITION_COLUMNS = ("time", "id", "lat", "lon", "alt_ft")
#: Velocity columns: optional; when a column is absent, velocities are derived from positions.
VELOCITY_COLUMNS = ("gs_kt", "track_deg", "vs_fpm")
#: Report times accepted (epoch s, inclusive): the detector's bounds (years 1800 to 5138).
TIME_BOUNDS = BOUNDS["time"]
#: Physically plausible bounds for an airborne report (inclusive).
PLAUSIBLE = {
    "time": TIME_BOUNDS,
    "alt_ft": (-1500.0, 60000.0),
    "gs_kt": (0.0, 1000.0),
    "vs_fpm": (-15000.0, 15000.0),
    "lat": (-90.0, 90.0),
    "lon": (-180.0, 180.0),
}
#: File suffixes the archive readers accept.
SUFFIXES = (".csv", ".parquet", ".pq")


@dataclass(frozen=True)
class CleanReports:
    """Airborne, complete reports in input columns, and the count dropped per reason.

    ``frame`` has ``time`` (Unix epoch s), ``id``, optional ``party`` and ``callsign``,
    ``lat``, ``lon``, ``alt_ft`` and, when the archive has all three, ``gs_kt``,
    ``track_deg``, ``vs_fpm``; sorted by time (stable).
    """

    frame: pd.DataFrame
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def has_velocity(self) -> bool:
        """Whether reported velocities are present (else they are derived from positions)."""
        return all(c in self.frame.columns for c in VELOCITY_COLUMNS)


def input_columns(raw: pd.DataFrame) -> pd.DataFrame:
    """Rename ``traffic`` columns to input columns; times to Unix epoch seconds.

    Accepts the detector's input columns (``time``, ``id``, ``party``, ``lat``, ``lon``,
    ``alt_ft``, ``gs_kt``, ``track_deg``, ``vs_fpm``) or the ``traffic`` library's
    (``timestamp``, ``icao24``, ``callsign``, ``latitude``, ``longitude``, ``altitude``,
    ``groundspeed``, ``track``, ``vertical_rate``, ``onground``). Velocity columns are
    optional; anything else required and missing raises :class:`InputError`.
    """
    traffic = "icao24" in raw.columns or "timestamp" in raw.columns
    frame = raw.rename(columns={**TRAFFIC_COLUMNS, "timestamp": "time"}) if traffic else raw
    missing = [c for c in POSITION_COLUMNS if c not in frame.columns]
    if missing:
        names = {v: k for k, v in {**TRAFFIC_COLUMNS, "timestamp": "time"}.items()}
        shown = [names[c] for c in missing] if traffic else missing
        raise InputError(
            f"archive: missing column(s) {', '.join(shown)}; expected time, id, lat, lon, "
            "alt_ft (detect's columns) or timestamp, icao24, latitude, longitude, altitude "
            "(traffic's)"
        )
    time = frame["time"]
    if pd.api.types.is_datetime64_any_dtype(time) or pd.api.types.is_string_dtype(time):
        try:
            ts = pd.to_datetime(time, utc=True)
        except (ValueError, TypeError):
            raise InputError("archive: column 'time' holds values that are not times") from None
        seconds = (ts - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    elif pd.api.types.is_numeric_dtype(time) and not pd.api.types.is_bool_dtype(time):
        seconds = time.astype(np.float64)
    else:
        raise InputError(f"archive: column 'time' must be epoch seconds or times, not {time.dtype}")
    return frame.assign(time=seconds)


def clean_reports(
    raw: pd.DataFrame, counted: npt.NDArray[np.bool_] | None = None, min_gs_kt: float = 0.0
) -> CleanReports:
    """Map columns to input columns (:func:`input_columns`); drop and count unusable reports.

    Dropped: reports on the ground (``onground``), reports missing a time, id, position
    or altitude or (where the columns exist) a velocity (``incomplete state``), and
    values outside :data:`PLAUSIBLE`, and reports whose reported ground speed is below
    ``min_gs_kt`` (not airborne). Only rows where ``counted`` is true (default: all)
    are counted in :attr:`CleanReports.dropped`. Output columns: see :class:`CleanReports`.
    """
    data, dropped = clean_columns(raw, counted, min_gs_kt)
    return CleanReports(pd.DataFrame(data), dropped)  # copied: the caller's to modify


def clean_columns(
    raw: pd.DataFrame, counted: npt.NDArray[np.bool_] | None = None, min_gs_kt: float = 0.0
) -> tuple[dict[str, Any], dict[str, int]]:
    """:func:`clean_reports` as a dict of columns (numpy arrays, ids as pandas arrays).

    No copy where nothing is dropped and the reports are in time order already: columns
    may then be read-only views of ``raw``'s. Returns the columns and the dropped counts.
    """
    frame = input_columns(raw)
    dropped: dict[str, int] = {}
    n = len(frame)
    count = np.ones(n, dtype=bool) if counted is None else np.asarray(counted, dtype=bool)
    keep = np.ones(n, dtype=bool)

    def drop(reason: str, bad: npt.NDArray[np.bool_]) -> None:
        nonlocal keep
        dropped[reason] = int((keep & bad & count).sum())
        keep &= ~bad

    if "onground" in frame:
        drop("on ground", np.array(frame["onground"].fillna(False), dtype=bool))
    velocity = [c for c in VELOCITY_COLUMNS if c in frame.columns]
    if len(velocity) < len(VELOCITY_COLUMNS):
        velocity = []  # derived from positions, all three alike
    numeric = ["time", "lat", "lon", "alt_ft", *velocity]
    values = {}
    for col in numeric:
        v = frame[col]
        if not pd.api.types.is_numeric_dtype(v) or pd.api.types.is_bool_dtype(v):
            v = pd.to_numeric(v, errors="coerce")
        try:
            values[col] = np.asarray(v, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"archive: column '{col}' must hold numbers") from None
    incomplete = np.array(frame["id"].isna(), dtype=bool)
    for col in numeric:
        incomplete |= ~np.isfinite(values[col])
    drop("incomplete state", incomplete)
    for col, (lo, hi) in PLAUSIBLE.items():
        if col in values:
            v = values[col]
            drop(f"{col} outside [{lo:g}, {hi:g}]", ~((v >= lo) & (v <= hi)))
    if velocity and min_gs_kt > 0.0:
        drop(f"gs_kt below {min_gs_kt:g} (not airborne)", values["gs_kt"] < min_gs_kt)
    dropped = {k: v for k, v in dropped.items() if v}
    everything = bool(keep.all())
    idx: npt.NDArray[np.intp] | None = None if everything else np.flatnonzero(keep)
    t = values["time"] if idx is None else values["time"][idx]
    if t.size > 1 and not bool(np.all(t[1:] >= t[:-1])):
        order = np.argsort(t, kind="stable")
        idx = order if idx is None else idx[order]
        t = t[order]
    data: dict[str, Any] = {"time": t, "id": _labels(frame["id"], idx)}
    for c in ("party", "callsign"):
        if c in frame.columns:
            if c == "party":
                data[c] = _labels(frame[c], idx)
            else:
                data[c] = frame[c].array if idx is None else frame[c].array[idx]
    for c in ("lat", "lon", "alt_ft", *velocity):
        data[c] = values[c] if idx is None else values[c][idx]
    return data, dropped


def _labels(series: pd.Series, idx: npt.NDArray[np.intp] | None) -> object:
    """Rows ``idx`` (None: all) of an id-like column, as strings (categories kept as they are)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        cats = series.cat.categories
        if not pd.api.types.is_string_dtype(cats):
            series = series.cat.rename_categories(cats.astype(str))
    elif not pd.api.types.is_string_dtype(series):
        series = series.astype(str)
    return series.array if idx is None else series.array[idx]


def read_archive(paths: Sequence[Path]) -> pd.DataFrame:
    """Read and concatenate CSV/Parquet archives as they are (columns unchanged)."""
    frames = []
    for path in paths:
        suffix = path.suffix.lower()
        if suffix not in SUFFIXES:
            raise InputError(f"{path}: unknown file type; expected {', '.join(SUFFIXES)}")
        try:
            if suffix == ".csv":
                frames.append(pd.read_csv(path))
            else:
                frames.append(pd.read_parquet(path))
        except (OSError, UnicodeDecodeError):
            raise
        except Exception as err:  # pandas/pyarrow parse errors: many types, one message
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise InputError(f"{path}: not a readable {suffix[1:]} file ({first})") from None
    if not frames:
        raise InputError("archive: no files given")
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


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
