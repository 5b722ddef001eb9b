"""Cut the bundled demo snapshot from the real Paris ADS-B archive.

Usage: python scripts/cut_demo_snapshot.py [../shared/data/adsb/paris_2021-10-07.parquet]

Writes src/deconflict/data/paris_snapshot.csv: three snapshots 60 s apart (airborne
aircraft with complete states, one state each), with each aircraft's party taken
from its callsign's airline designator (``GA`` when it has none).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from deconflict.replay.archive import clean_reports, snapshots

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared/data/adsb/paris_2021-10-07.parquet"
TARGET = ROOT / "src/deconflict/data/paris_snapshot.csv"
#: Offsets (s) from the archive's first report: a busy moment over Paris.
OFFSETS = (8760.0, 8820.0, 8880.0)


def main() -> None:
    """Cut and write the snapshot."""
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE
    reports = clean_reports(pd.read_parquet(source)).frame
    airline = reports["callsign"].str.match(r"^[A-Z]{3}[0-9]")
    reports["party"] = np.where(airline, reports["callsign"].str[:3], "GA")
    t0 = float(reports["time"].min())
    cut = snapshots(reports, [round(t0) + o for o in OFFSETS])
    cols = [
        "time",
        "id",
        "callsign",
        "party",
        "lat",
        "lon",
        "alt_ft",
        "gs_kt",
        "track_deg",
        "vs_fpm",
    ]
    cut[cols].to_csv(TARGET, index=False, float_format="%.6f")


if __name__ == "__main__":
    main()
