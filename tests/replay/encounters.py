"""Synthetic tracks with known encounters, one per episode kind (reports every second).

Geometry near the equator, where a degree of latitude is 110,574 m (WGS84 meridian arc)
and a degree of longitude 111,319.5 m: the 5 NM (9,260 m) minimum is crossed between
grid steps, never on one, so the expected episode times below are exact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

M_PER_DEG_LAT = 110574.0
M_PER_DEG_LON = 111319.49
KT = 1852.0 / 3600.0
T0, T1 = 1000, 3000


def track(
    ident: str,
    lat0: float,
    lon0: float,
    alt_ft: float | np.ndarray,
    *,
    north_mps: float = 0.0,
    east_mps: float = 0.0,
    vs_fpm: float | np.ndarray = 0.0,
    t0: int = T0,
    t1: int = T1,
    party: str | None = None,
) -> pd.DataFrame:
    t = np.arange(t0, t1 + 1, dtype=np.float64)
    dt = t - t0
    gs = np.hypot(north_mps, east_mps) / KT
    frame = pd.DataFrame(
        {
            "time": t,
            "id": ident,
            "lat": lat0 + north_mps * dt / M_PER_DEG_LAT,
            "lon": lon0 + east_mps * dt / M_PER_DEG_LON,
            "alt_ft": np.broadcast_to(alt_ft, t.shape).astype(np.float64),
            "gs_kt": gs,
            "track_deg": np.degrees(np.arctan2(east_mps, north_mps)) % 360.0,
            "vs_fpm": np.broadcast_to(vs_fpm, t.shape).astype(np.float64),
        }
    )
    if party is not None:
        frame.insert(2, "party", party)
    return frame


def northbound(ident: str, alt_ft: float = 30000.0, **kw) -> pd.DataFrame:
    """Flies north along lon 0 at 0.002 deg/s (430 kt), at lat 0 at t = 2000."""
    return track(ident, -2.0, 0.0, alt_ft, north_mps=0.002 * M_PER_DEG_LAT, **kw)


def leading(ident: str, alt_ft: float = 30000.0, **kw) -> pd.DataFrame:
    """Flies north along lon 0 at 0.001 deg/s (215 kt), at lat 0 at t = 2000."""
    return track(ident, -1.0, 0.0, alt_ft, north_mps=0.001 * M_PER_DEG_LAT, **kw)


# A overtakes B at 110.574 m/s: |lat_A - lat_B| < 9260 / 110574 deg for t in (1916.26,
# 2083.74), so the loss runs from 1920 to 2080 on a 5 s grid, closest at 2000 (0 NM). The
# detector sees it coming once its time to loss drops under 300 s: from t = 1620, 300 s
# before t_start.
LOSS = {"t_start": 1920.0, "t_end": 2080.0, "t_closest": 2000.0, "warned_s": 300.0}


def loss_case() -> pd.DataFrame:
    return pd.concat([northbound("A"), leading("B")], ignore_index=True)


def level_adjacent_case() -> pd.DataFrame:
    # FL300 and FL310, read 30,025 and 30,975 ft: 950 ft apart, both level.
    return pd.concat([northbound("A", 30025.0), leading("B", 30975.0)], ignore_index=True)


def same_aircraft_case() -> pd.DataFrame:
    # Two ids 0.05 NM apart all their lives: one aircraft, two transponder codes.
    east = 200.0
    off = 0.05 * 1852.0 / M_PER_DEG_LAT
    return pd.concat(
        [
            track("A", 0.0, 0.0, 30000.0, east_mps=east),
            track("B", off, 0.0, 30000.0, east_mps=east),
        ],
        ignore_index=True,
    )


#: B descends at 20 ft/s from 32,010 ft to 30,500 ft (levels at t = 1075.5) 0.3 NM beside A
#: at 30,000 ft: vertical loss from t = 1050.5, so the episode starts at 1055.
FORMATION = {"t_start": 1055.0, "t_end": 3000.0}


def formation_case() -> pd.DataFrame:
    east = 200.0
    off = 0.3 * 1852.0 / M_PER_DEG_LAT
    t = np.arange(T0, T1 + 1, dtype=np.float64)
    alt_b = np.maximum(32010.0 - 20.0 * (t - T0), 30500.0)
    vs_b = np.where(alt_b > 30500.0, -1200.0, 0.0)
    return pd.concat(
        [
            track("A", 0.0, 0.0, 30000.0, east_mps=east),
            track("B", off, 0.0, alt_b, east_mps=east, vs_fpm=vs_b),
        ],
        ignore_index=True,
    )
