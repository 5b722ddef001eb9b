"""Random traffic for the benchmarks: constant density, uniform on a spherical cap.

Every aircraft gets about ``AREA_PER_AIRCRAFT_NM2`` of the Earth's surface, so the
cap grows with N (1M aircraft cover the whole globe). The default centre puts the
antimeridian inside the cap at every size, so the benchmark also exercises the
wrap-around; :data:`EUROPE` is a centre far from it (for detectors that do not wrap
longitude, such as BlueSky's equirectangular distance).
"""

from __future__ import annotations

import numpy as np

from deconflict import TrafficState

#: Surface per aircraft (NM²): the density held constant across sizes.
AREA_PER_AIRCRAFT_NM2 = 150.0
#: Mean Earth radius (m) used to size the cap.
EARTH_RADIUS_M = 6_371_000.0
#: Default cap centre (lat, lon in degrees): 2° west of the antimeridian, ~98 NM away.
PACIFIC = (35.0, 178.0)
#: A cap centre far from the antimeridian (up to ~100k aircraft).
EUROPE = (50.0, 10.0)
#: Share of aircraft in level flight; the rest climb or descend.
LEVEL_SHARE = 0.7
#: The dense case: a 500 x 600 km box over Syria (lat, lon bounds in degrees).
DENSE_LAT = (33.0, 37.5)
DENSE_LON = (35.5, 42.0)
#: The dense case's altitudes: 100-ft steps from 10,000 to 40,000 ft.
DENSE_ALT_FT = (10_000, 40_000, 100)

NM_M = 1852.0


def cap_radius_nm(n: int) -> float:
    """Great-circle radius (NM) of the cap holding ``n`` aircraft (the globe: ~10,800)."""
    frac = _cap_fraction(n)
    return float(np.arccos(1.0 - 2.0 * frac)) * EARTH_RADIUS_M / NM_M


def _cap_fraction(n: int) -> float:
    area = n * AREA_PER_AIRCRAFT_NM2 * NM_M**2
    return min(area / (4.0 * np.pi * EARTH_RADIUS_M**2), 1.0)


def random_traffic(
    n: int,
    seed: int,
    *,
    level: bool = False,
    centre: tuple[float, float] = PACIFIC,
) -> TrafficState:
    """``n`` aircraft at one snapshot (time 0), uniform on a cap of ``n`` x 150 NM².

    Altitudes uniform 1,000-45,000 ft; ground speeds uniform 150-500 kt; tracks
    uniform. 70% fly level and 30% climb or descend at 500-3,000 fpm, unless
    ``level`` (everyone level, as in BlueSky's published figures). Ids ``AC0000000``
    onwards; no party (every pair counts).
    """
    rng = np.random.default_rng(seed)
    # Uniform on the cap around the north pole: cos(colatitude) uniform.
    frac = _cap_fraction(n)
    z = rng.uniform(1.0 - 2.0 * frac, 1.0, n)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    s = np.sqrt(np.clip(1.0 - z * z, 0.0, None))
    # Rotate the pole onto the centre: local east/north/up frame of the centre.
    lat0, lon0 = np.radians(centre[0]), np.radians(centre[1])
    up = np.array([np.cos(lat0) * np.cos(lon0), np.cos(lat0) * np.sin(lon0), np.sin(lat0)])
    east = np.array([-np.sin(lon0), np.cos(lon0), 0.0])
    north = np.cross(up, east)
    p = z[:, None] * up + (s * np.cos(phi))[:, None] * east + (s * np.sin(phi))[:, None] * north
    lat = np.degrees(np.arcsin(np.clip(p[:, 2], -1.0, 1.0)))
    lon = np.degrees(np.arctan2(p[:, 1], p[:, 0]))  # in [-180, 180]

    alt_ft = rng.uniform(1_000.0, 45_000.0, n)
    gs_kt = rng.uniform(150.0, 500.0, n)
    track_deg = rng.uniform(0.0, 360.0, n)
    vs_fpm = rng.uniform(500.0, 3_000.0, n) * rng.choice([-1.0, 1.0], n)
    if level:
        vs_fpm[:] = 0.0
    else:
        vs_fpm[rng.random(n) < LEVEL_SHARE] = 0.0

    ids = np.char.add("AC", np.char.zfill(np.arange(n).astype(np.str_), 7))
    return TrafficState(
        time=np.zeros(n),
        id=ids,
        party=None,
        lat=lat,
        lon=lon,
        alt_ft=alt_ft,
        gs_kt=gs_kt,
        track_deg=track_deg,
        vs_fpm=vs_fpm,
    )


def dense_traffic(n: int, seed: int) -> TrafficState:
    """``n`` aircraft uniformly in the dense box (33-37.5 N x 35.5-42 E), one snapshot.

    Uniform in area (sine of latitude uniform) over :data:`DENSE_LAT` x :data:`DENSE_LON`;
    altitudes uniform on the 100-ft steps of :data:`DENSE_ALT_FT`; ground speeds
    150-500 kt and tracks uniform; 70% level and 30% climbing or descending at
    500-3,000 fpm (as :func:`random_traffic`). No party (every pair counts).
    """
    rng = np.random.default_rng(seed)
    s_lo, s_hi = np.sin(np.radians(DENSE_LAT))
    lat = np.degrees(np.arcsin(rng.uniform(s_lo, s_hi, n)))
    lon = rng.uniform(*DENSE_LON, n)
    lo_ft, hi_ft, step_ft = DENSE_ALT_FT
    alt_ft = rng.integers(0, (hi_ft - lo_ft) // step_ft + 1, n) * float(step_ft) + lo_ft
    gs_kt = rng.uniform(150.0, 500.0, n)
    track_deg = rng.uniform(0.0, 360.0, n)
    vs_fpm = rng.uniform(500.0, 3_000.0, n) * rng.choice([-1.0, 1.0], n)
    vs_fpm[rng.random(n) < LEVEL_SHARE] = 0.0
    ids = np.char.add("AC", np.char.zfill(np.arange(n).astype(np.str_), 7))
    return TrafficState(
        time=np.zeros(n),
        id=ids,
        party=None,
        lat=lat,
        lon=lon,
        alt_ft=alt_ft,
        gs_kt=gs_kt,
        track_deg=track_deg,
        vs_fpm=vs_fpm,
    )
