"""Traffic states as a frozen struct of numpy arrays, validated once at the edge.

Columns (and units) of the ``detect`` input contract:

========== ============================================================
time       snapshot time, s (float; several snapshots may share a frame)
id         aircraft id (string; unique within one time)
party      operating party (optional string)
lat, lon   WGS84 degrees
alt_ft     altitude, ft
gs_kt      ground speed, kt (≥ 0)
track_deg  true track, degrees clockwise from north (stored in [0, 360))
vs_fpm     vertical speed, ft/min (positive up)
========== ============================================================

Every number must be finite and within :data:`BOUNDS` (else :class:`InputError`);
``track_deg`` is then normalised into [0, 360). ``id`` and ``party`` follow the id
rule of :mod:`deconflict.names` (after stripping spaces at either end).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from deconflict.errors import InputError
from deconflict.names import first_bad_id

if TYPE_CHECKING:
    import pandas as pd

FloatArray = npt.NDArray[np.float64]
StrArray = npt.NDArray[np.str_]

NUMERIC_COLUMNS = ("time", "lat", "lon", "alt_ft", "gs_kt", "track_deg", "vs_fpm")
REQUIRED_COLUMNS = ("time", "id", "lat", "lon", "alt_ft", "gs_kt", "track_deg", "vs_fpm")
INPUT_COLUMNS = ("time", "id", "party", "lat", "lon", "alt_ft", "gs_kt", "track_deg", "vs_fpm")

#: Inclusive bounds checked for each numeric column: physically possible values (a
#: balloon at 200,000 ft, a 5,000 kt missile, Unix time up to the year 5138); outside
#: them a value is refused. The broker's schema uses the same numbers.
BOUNDS: dict[str, tuple[float, float]] = {
    "time": (-1e11, 1e11),
    "lat": (-90.0, 90.0),
    "lon": (-180.0, 180.0),
    "alt_ft": (-2000.0, 200000.0),
    "gs_kt": (0.0, 5000.0),
    "track_deg": (-3600.0, 3600.0),
    "vs_fpm": (-100000.0, 100000.0),
}


@dataclass(frozen=True, eq=False)
class TrafficState:
    """N aircraft states (one or several snapshot times), one array per column."""

    time: FloatArray
    id: StrArray
    party: StrArray | None
    lat: FloatArray
    lon: FloatArray
    alt_ft: FloatArray
    gs_kt: FloatArray
    track_deg: FloatArray
    vs_fpm: FloatArray

    def __len__(self) -> int:
        """Number of aircraft states."""
        return int(self.time.shape[0])

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, first_row: int = 0) -> TrafficState:
        """Validate a DataFrame with the input columns and take its arrays.

        ``first_row`` is the number shown for the frame's first row in errors (e.g. 2
        for the first data line of a CSV file with a header), so messages point at
        the right place. Raises :class:`~deconflict.errors.InputError` naming the
        row and column of the first problem; nothing is ever silently dropped.
        """
        missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
        if missing:
            raise InputError(
                f"missing column(s) {', '.join(repr(c) for c in missing)}; "
                f"expected columns {', '.join(INPUT_COLUMNS)} (party optional)"
            )
        where = "line" if first_row >= 2 else "row"
        arrays: dict[str, FloatArray] = {}
        for col in NUMERIC_COLUMNS:
            arrays[col] = _numeric(frame[col], col, first_row, where)
        ids = _strings(frame["id"], "id", first_row, where)
        party = _strings(frame["party"], "party", first_row, where) if "party" in frame else None
        _check_unique(arrays["time"], ids, first_row, where)
        return cls(
            time=arrays["time"],
            id=ids,
            party=party,
            lat=arrays["lat"],
            lon=arrays["lon"],
            alt_ft=arrays["alt_ft"],
            gs_kt=arrays["gs_kt"],
            track_deg=normalised_track(arrays["track_deg"]),
            vs_fpm=arrays["vs_fpm"],
        )


def normalised_track(track_deg: FloatArray) -> FloatArray:
    """Tracks (deg) folded into [0, 360): 360 → 0, -10 → 350, 720 → 0."""
    t = np.mod(track_deg, 360.0) + 0.0  # + 0.0 turns -0.0 into 0.0
    return np.where(t >= 360.0, 0.0, t)  # a tiny negative value rounds up to 360.0


def _first_bad(mask: npt.NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(mask)[0])


def _numeric(series: pd.Series, col: str, first_row: int, where: str) -> FloatArray:
    import pandas as pd

    if pd.api.types.is_bool_dtype(series) or not (
        pd.api.types.is_numeric_dtype(series)
        or pd.api.types.is_object_dtype(series)
        or pd.api.types.is_string_dtype(series)
    ):
        raise InputError(
            f"column '{col}': expected numbers, got {series.dtype} values"
            + (" (give times as seconds)" if col == "time" else "")
        )
    coerced = pd.to_numeric(series, errors="coerce")
    values = np.asarray(coerced, dtype=np.float64)
    raw_missing = np.asarray(series.isna())
    bad_text = np.isnan(values) & ~raw_missing
    if bad_text.any():
        i = _first_bad(bad_text)
        raise InputError(
            f"{where} {i + first_row}, column '{col}': {series.iloc[i]!r} is not a number"
        )
    if raw_missing.any() or np.isnan(values).any():
        i = _first_bad(raw_missing | np.isnan(values))
        raise InputError(f"{where} {i + first_row}, column '{col}': missing value (NaN)")
    if np.isinf(values).any():
        i = _first_bad(np.isinf(values))
        raise InputError(f"{where} {i + first_row}, column '{col}': {values[i]} is not finite")
    lo, hi = BOUNDS[col]
    if (values < lo).any():
        i = _first_bad(values < lo)
        raise InputError(
            f"{where} {i + first_row}, column '{col}': {values[i]:g} is below the minimum {lo:g}"
        )
    if (values > hi).any():
        i = _first_bad(values > hi)
        raise InputError(
            f"{where} {i + first_row}, column '{col}': {values[i]:g} is above the maximum {hi:g}"
        )
    return values


def _strings(series: pd.Series, col: str, first_row: int, where: str) -> StrArray:
    missing = np.asarray(series.isna())
    if missing.any():
        i = _first_bad(missing)
        raise InputError(f"{where} {i + first_row}, column '{col}': missing value")
    # Only plain spaces around a field are stripped (CSV padding); any other character at
    # either end — tab, line break, no-break space — is checked, and refused, by the id rule.
    text = series.astype(str).str.strip(" ")
    bad = first_bad_id(text.to_numpy(dtype=object))  # before numpy drops trailing NULs
    if bad is not None:
        i, problem = bad
        raise InputError(f"{where} {i + first_row}, column '{col}': {problem}")
    return np.asarray(text, dtype=np.str_)


def _check_unique(time: FloatArray, ids: StrArray, first_row: int, where: str) -> None:
    import pandas as pd

    dup = np.asarray(pd.DataFrame({"t": time, "id": ids}).duplicated(keep="first"))
    if dup.any():
        i = _first_bad(dup)
        raise InputError(
            f"{where} {i + first_row}, column 'id': duplicate id {str(ids[i])!r} "
            f"at time {time[i]:g} (one state per aircraft per time)"
        )
