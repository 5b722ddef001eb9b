"""Write result tables to CSV or Parquet, chosen by the file suffix."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

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
    tmp = p.with_name(p.name + ".tmp")
    try:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
        tmp.replace(p)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{p}: cannot write: {err.strerror or err}") from None
