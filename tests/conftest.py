from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deconflict import TrafficState

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
PARIS = SHARED_DATA / "adsb" / "paris_2021-10-07.parquet"
HEADON = SHARED_DATA / "daidalus" / "headon.daa"


def make_state(rows: list[dict], party: bool = False) -> TrafficState:
    """States from dicts; missing fields default to a level 0-kt aircraft at t=0."""
    defaults = {"time": 0.0, "alt_ft": 30000.0, "gs_kt": 0.0, "track_deg": 0.0, "vs_fpm": 0.0}
    frame = pd.DataFrame([{**defaults, **r} for r in rows])
    if "id" not in frame:
        frame["id"] = [f"AC{i:03d}" for i in range(len(frame))]
    if not party and "party" in frame:
        frame = frame.drop(columns="party")
    return TrafficState.from_frame(frame)


@pytest.fixture(scope="session")
def paris_reports() -> pd.DataFrame:
    if not PARIS.exists():
        pytest.skip(f"real ADS-B data not found at {PARIS} (../shared is absent)")
    from deconflict.replay.archive import clean_reports

    return clean_reports(pd.read_parquet(PARIS)).frame


def rng() -> np.random.Generator:
    return np.random.default_rng(12345)
