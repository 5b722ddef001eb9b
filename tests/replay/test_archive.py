from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deconflict import InputError, TrafficState
from deconflict.replay.archive import clean_reports, snapshots


def raw_reports() -> pd.DataFrame:
    ts = pd.to_datetime(
        [
            "2021-10-07 12:00:00",
            "2021-10-07 12:00:01",
            "2021-10-07 12:00:02",
            "2021-10-07 12:00:02",
            "2021-10-07 12:00:03",
            "2021-10-07 12:00:03",
        ]
    )
    return pd.DataFrame(
        {
            "timestamp": ts,
            "icao24": ["a", "a", "b", "c", "d", "a"],
            "callsign": ["AFR1", "AFR1", "BAW2", "X", "Y", "AFR1"],
            "latitude": [48.0, 48.01, 49.0, 47.0, 46.0, 48.02],
            "longitude": [2.0, 2.0, 2.5, 2.0, 2.0, 2.0],
            "altitude": [3000.0, 3100.0, 123100.0, 5000.0, np.nan, 3200.0],
            "groundspeed": [200.0, 200.0, 300.0, 250.0, 250.0, 200.0],
            "track": [0.0, 0.0, 90.0, 90.0, 90.0, 0.0],
            "vertical_rate": [600.0, 600.0, 0.0, 0.0, 0.0, 600.0],
            "onground": [False, False, False, True, False, False],
        }
    )


def test_dirty_reports_are_dropped_and_counted():
    clean = clean_reports(raw_reports())
    assert clean.dropped == {
        "on ground": 1,
        "incomplete state": 1,
        "alt_ft outside [-1500, 60000]": 1,
    }
    assert clean.frame["id"].tolist() == ["a", "a", "a"]
    assert clean.frame["time"].iloc[0] == pd.Timestamp("2021-10-07 12:00:00", tz="UTC").timestamp()


def test_snapshots_take_the_latest_report_per_aircraft():
    frame = clean_reports(raw_reports()).frame
    t = frame["time"].iloc[0]
    snap = snapshots(frame, [t + 1.5, t + 3.0])
    assert snap["time"].tolist() == [t + 1.5, t + 3.0]
    assert snap["alt_ft"].tolist() == [3100.0, 3200.0]
    TrafficState.from_frame(snap.drop(columns="callsign"))


def test_missing_columns():
    with pytest.raises(InputError, match="missing column"):
        clean_reports(raw_reports().drop(columns="latitude"))
