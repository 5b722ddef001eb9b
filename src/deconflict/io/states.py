"""Read aircraft states from CSV, Parquet or DAIDALUS ``.daa`` files into validated arrays.

Every reader ends in :meth:`deconflict.tactical.state.TrafficState.from_frame`, so a bad
file stops with one line naming the row (or CSV line) and column. Nothing is
silently dropped.
"""

from __future__ import annotations

import csv
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from deconflict.errors import InputError
from deconflict.tactical.state import INPUT_COLUMNS, TrafficState
from deconflict.units import FPM, HOUR, KM, KT, MINUTE, NM, m_to_ft, mps_to_fpm, mps_to_kt

SUFFIXES = (".csv", ".parquet", ".pq", ".daa")

#: Factors to the detector's input units for the units DAIDALUS writes in a ``.daa`` header.
_DAA_LENGTH_TO_FT = {
    "ft": 1.0,
    "m": m_to_ft(1.0),
    "km": m_to_ft(KM),
    "nmi": m_to_ft(NM),
    "nm": m_to_ft(NM),
}
_DAA_SPEED_TO_KT = {
    "knot": 1.0,
    "kn": 1.0,
    "kts": 1.0,
    "kt": 1.0,
    "m/s": mps_to_kt(1.0),
    "mps": mps_to_kt(1.0),
    "km/h": mps_to_kt(KM / HOUR),
    "kph": mps_to_kt(KM / HOUR),
    "fpm": mps_to_kt(FPM),
    "ft/min": mps_to_kt(FPM),
}
_DAA_VS_TO_FPM = {
    "fpm": 1.0,
    "ft/min": 1.0,
    "m/s": mps_to_fpm(1.0),
    "mps": mps_to_fpm(1.0),
    "knot": mps_to_fpm(KT),
    "kn": mps_to_fpm(KT),
    "kts": mps_to_fpm(KT),
}
_DAA_ANGLE_TO_DEG = {"deg": 1.0, "rad": math.degrees(1.0)}
_DAA_TIME_TO_S = {"s": 1.0, "sec": 1.0, "min": MINUTE, "h": HOUR}

#: DAIDALUS column → (our column, unit table).
_DAA_COLUMNS: dict[str, tuple[str, dict[str, float]]] = {
    "lat": ("lat", _DAA_ANGLE_TO_DEG),
    "lon": ("lon", _DAA_ANGLE_TO_DEG),
    "alt": ("alt_ft", _DAA_LENGTH_TO_FT),
    "trk": ("track_deg", _DAA_ANGLE_TO_DEG),
    "gs": ("gs_kt", _DAA_SPEED_TO_KT),
    "vs": ("vs_fpm", _DAA_VS_TO_FPM),
    "time": ("time", _DAA_TIME_TO_S),
}
OWNSHIP_PARTY = "ownship"
INTRUDER_PARTY = "intruder"


@dataclass(frozen=True)
class StatesFile:
    """A states table as read, and the number its first row has in error messages."""

    frame: pd.DataFrame
    first_row: int

    def validate(self) -> TrafficState:
        """Validate into a :class:`TrafficState` (errors name the file's rows)."""
        return TrafficState.from_frame(self.frame, first_row=self.first_row)


def read_states_table(path: str | Path) -> StatesFile:
    """Read STATES (CSV, Parquet or DAIDALUS ``.daa``) into the input columns, unvalidated."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(
            f"{p}: unknown file type {suffix or '(none)'!r}; expected one of {', '.join(SUFFIXES)}"
        )
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise InputError(f"{p}: file is empty")
    try:
        if suffix == ".csv":
            frame = _read_csv(p)
            first_row = 2  # line 1 is the header
        elif suffix == ".daa":
            return StatesFile(read_daa(p), first_row=0)
        else:
            frame = pd.read_parquet(p)
            first_row = 0
    except InputError:
        raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as err:
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"{p}: cannot read as {suffix[1:]}: {msg}") from None
    if frame.empty:
        raise InputError(f"{p}: no rows")
    return StatesFile(frame, first_row)


def read_states(path: str | Path) -> TrafficState:
    """Read and validate STATES; see :func:`read_states_table`.

    When a CSV file does not validate, a line with more or fewer fields than the header
    is named instead (its values would be under the wrong columns, or missing).
    """
    p = Path(path)
    table = read_states_table(p)
    try:
        return table.validate()
    except InputError as err:
        shape = _csv_shape_problem(p) if p.suffix.lower() == ".csv" else None
        raise InputError(f"{p}: {shape or err}") from None


def _read_csv(p: Path) -> pd.DataFrame:
    """A CSV states file; a line with more fields than the header is an InputError.

    ``index_col=False``: pandas would otherwise take the first column as the index when
    the first data line has one field more than the header, shifting every value.
    """
    with warnings.catch_warnings():
        # pandas warns (and drops the extra value) for a first data line too long.
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            return pd.read_csv(
                p, dtype={"id": str, "party": str}, skipinitialspace=True, index_col=False
            )
        except (pd.errors.ParserError, pd.errors.ParserWarning):
            shape = _csv_shape_problem(p)
            if shape is not None:
                raise InputError(f"{p}: {shape}") from None
            raise


def _csv_shape_problem(p: Path) -> str | None:
    """``line N has 10 fields, the header 9`` for the first such line, else None.

    Only run when a file has already failed (a loop over lines: the error path).
    """
    try:
        with p.open(newline="", encoding="utf-8", errors="replace") as f:
            reader = csv.reader(f, skipinitialspace=True)
            header = next(reader, None)
            if header is None:
                return None
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # a blank line (pandas skips these too)
                if len(row) != len(header):
                    return f"line {reader.line_num} has {len(row)} fields, the header {len(header)}"
    except (OSError, csv.Error):
        return None
    return None


def read_daa(path: str | Path) -> pd.DataFrame:
    """Read a DAIDALUS ``.daa`` encounter into the detector's input columns.

    Line 1 names the columns, line 2 gives their units (e.g. ``[deg]``, ``[ft]``,
    ``[knot]``, ``[fpm]``, ``[s]``); then one row per aircraft per time. The first
    aircraft at each time is that time's ownship: it gets party ``ownship`` and every
    other aircraft at that time ``intruder``, so detection reports ownship–intruder
    pairs only.
    """
    p = Path(path)
    lines = [
        (n, ln.strip())
        for n, ln in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    if len(lines) < 3:
        raise InputError(f"{p}: a .daa file needs a names line, a units line and data rows")
    split = re.compile(r"[,\s]+")
    names = [c.lower() for c in split.split(lines[0][1]) if c]
    units = [u.strip("[]").lower() for u in split.split(lines[1][1]) if u]
    if len(units) != len(names):
        raise InputError(f"{p}: line {lines[1][0]}: {len(units)} units for {len(names)} columns")
    if "name" not in names:
        raise InputError(f"{p}: line {lines[0][0]}: no NAME column")
    missing = [c for c in _DAA_COLUMNS if c not in names]
    if missing:
        raise InputError(
            f"{p}: line {lines[0][0]}: missing column(s) {', '.join(missing)} "
            "(only geodetic lat/lon encounters are supported)"
        )
    rows: list[list[str]] = []
    line_no: list[int] = []
    for n, ln in lines[2:]:
        cells = [c for c in split.split(ln) if c]
        if len(cells) != len(names):
            raise InputError(f"{p}: line {n}: {len(cells)} values for {len(names)} columns")
        rows.append(cells)
        line_no.append(n)
    raw = pd.DataFrame(rows, columns=names)
    out = pd.DataFrame({"id": raw["name"].astype(str)})
    for col, (ours, table) in _DAA_COLUMNS.items():
        unit = units[names.index(col)]
        if unit not in table:
            raise InputError(
                f"{p}: column {col!r}: unit [{unit}] not supported; expected one of "
                + ", ".join(f"[{u}]" for u in table)
            )
        values = pd.to_numeric(raw[col], errors="coerce")
        bad = values.isna()
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise InputError(
                f"{p}: line {line_no[i]}, column {col!r}: {raw[col].iloc[i]!r} is not a number"
            )
        out[ours] = values * table[unit]
    first_at_time = ~out["time"].duplicated(keep="first")
    out["party"] = np.where(first_at_time, OWNSHIP_PARTY, INTRUDER_PARTY)
    return out[list(INPUT_COLUMNS)]
