"""Write result tables to CSV or Parquet, chosen by the file suffix."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from deconflict._util import atomic_write
from deconflict.errors import InputError

TABLE_SUFFIXES = (".csv", ".parquet")


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write ``frame`` to ``.csv`` or ``.parquet`` (atomically: temporary file, then rename)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(
            f"{p}: unknown output type {suffix or '(none)'!r}; expected .csv or .parquet"
        )
    data = frame.to_csv(index=False) if suffix == ".csv" else frame.to_parquet(index=False)
    try:
        atomic_write(p, data)
    except OSError as err:
        raise InputError(f"{p}: cannot write: {err.strerror or err}") from None
