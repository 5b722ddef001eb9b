"""WGS84 geodesy: geodetic lat/lon ↔ Earth-centred Earth-fixed (ECEF) ↔ local east-north-up.

All functions are vectorised (they broadcast over numpy arrays) and work in SI:
angles in degrees at the interface, lengths in metres. Going through ECEF makes
every transform correct across the antimeridian and at the poles: there is no
longitude arithmetic to wrap.

>>> import numpy as np
>>> xyz = geodetic_to_ecef(0.0, 0.0, 0.0)
>>> [round(float(v), 3) for v in xyz]
[6378137.0, 0.0, 0.0]
>>> e, n, u = enu_from_geodetic(0.0, 180.0, 0.0, 0.0, -179.99, 0.0).T
>>> round(float(e), 1)  # 0.01° west of the origin, across the antimeridian
-1113.2
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt
from pyproj import Transformer

FloatArray = npt.NDArray[np.float64]

#: WGS84 semi-major axis (m).
WGS84_A = 6378137.0
#: WGS84 flattening.
WGS84_F = 1.0 / 298.257223563
#: WGS84 first eccentricity squared.
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
#: Smallest radius of curvature of the WGS84 ellipsoid (meridional, at the equator), m.
WGS84_MIN_RADIUS = WGS84_A * (1.0 - WGS84_E2)


def geodetic_to_ecef(
    lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike, h_m: npt.ArrayLike = 0.0
) -> FloatArray:
    """Geodetic WGS84 (deg, deg, m above the ellipsoid) → ECEF (m), shape ``(..., 3)``."""
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    h = np.asarray(h_m, dtype=np.float64)
    sin_lat = np.sin(lat)
    cos_lat = np.cos(lat)
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)
    x = (n + h) * cos_lat * np.cos(lon)
    y = (n + h) * cos_lat * np.sin(lon)
    z = (n * (1.0 - WGS84_E2) + h) * sin_lat
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


@cache
def _ecef_to_geodetic_transformer() -> Transformer:
    return Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True)


def ecef_to_geodetic(xyz_m: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """ECEF (m), shape ``(..., 3)`` → geodetic ``(lat_deg, lon_deg, h_m)`` (PROJ, exact to µm)."""
    xyz = np.asarray(xyz_m, dtype=np.float64)
    lon, lat, h = _ecef_to_geodetic_transformer().transform(xyz[..., 0], xyz[..., 1], xyz[..., 2])
    return np.asarray(lat), np.asarray(lon), np.asarray(h)


def enu_basis(lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike) -> FloatArray:
    """Unit vectors east, north, up (in ECEF) at each point, shape ``(..., 3, 3)``.

    ``basis[..., 0, :]`` is east, ``[..., 1, :]`` north, ``[..., 2, :]`` up (the ellipsoid
    normal). At the poles east is taken along +y rotated by the longitude, which
    keeps the basis orthonormal and continuous in longitude.
    """
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    lat, lon = np.broadcast_arrays(lat, lon)
    sl, cl = np.sin(lat), np.cos(lat)
    so, co = np.sin(lon), np.cos(lon)
    zero = np.zeros_like(lat)
    east = np.stack([-so, co, zero], axis=-1)
    north = np.stack([-sl * co, -sl * so, cl], axis=-1)
    up = np.stack([cl * co, cl * so, sl], axis=-1)
    return np.stack([east, north, up], axis=-2)


def enu_from_geodetic(
    lat_deg: npt.ArrayLike,
    lon_deg: npt.ArrayLike,
    h_m: npt.ArrayLike,
    lat0_deg: float,
    lon0_deg: float,
    h0_m: float = 0.0,
) -> FloatArray:
    """Geodetic points → east-north-up (m) in the tangent plane at ``(lat0, lon0, h0)``.

    Returns shape ``(..., 3)``. Exact (a rotation of ECEF differences), so valid
    across the antimeridian and near the poles; "up" is along the origin's normal.
    """
    p = geodetic_to_ecef(lat_deg, lon_deg, h_m)
    p0 = geodetic_to_ecef(lat0_deg, lon0_deg, h0_m)
    basis = enu_basis(lat0_deg, lon0_deg)
    return (p - p0) @ basis.T


def geodetic_from_enu(
    enu_m: npt.ArrayLike, lat0_deg: float, lon0_deg: float, h0_m: float = 0.0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """East-north-up (m) at ``(lat0, lon0, h0)`` → geodetic ``(lat_deg, lon_deg, h_m)``."""
    enu = np.asarray(enu_m, dtype=np.float64)
    basis = enu_basis(lat0_deg, lon0_deg)
    p = geodetic_to_ecef(lat0_deg, lon0_deg, h0_m) + enu @ basis
    return ecef_to_geodetic(p)


def horizontal_velocity_ecef(
    lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike, gs_mps: npt.ArrayLike, track_deg: npt.ArrayLike
) -> FloatArray:
    """Ground speed (m/s) along a true track (deg, clockwise from north) → ECEF vector (m/s)."""
    basis = enu_basis(lat_deg, lon_deg)
    trk = np.radians(np.asarray(track_deg, dtype=np.float64))
    gs = np.asarray(gs_mps, dtype=np.float64)
    ve = (gs * np.sin(trk))[..., None]
    vn = (gs * np.cos(trk))[..., None]
    return ve * basis[..., 0, :] + vn * basis[..., 1, :]
