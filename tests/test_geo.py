"""Geodesy against PROJ and known values, including the antimeridian and the poles."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod, Transformer

from deconflict import geo
from deconflict.units import (
    FPM,
    FT,
    KT,
    NM,
    fpm_to_mps,
    ft_to_m,
    kt_to_mps,
    m_to_ft,
    m_to_nm,
    nm_to_m,
)

GEOD = Geod(ellps="WGS84")


def test_units_are_exact_definitions():
    assert NM == 1852.0 and FT == 0.3048
    assert pytest.approx(0.514444444, rel=1e-9) == KT
    assert pytest.approx(0.00508, rel=1e-12) == FPM
    assert nm_to_m(5.0) == 9260.0 and m_to_nm(9260.0) == 5.0
    assert ft_to_m(1000.0) == pytest.approx(304.8) and m_to_ft(304.8) == pytest.approx(1000.0)
    assert kt_to_mps(3600.0) == pytest.approx(1852.0) and fpm_to_mps(60.0) == pytest.approx(0.3048)
    arr = np.array([1.0, 2.0])
    assert np.allclose(nm_to_m(arr), [1852.0, 3704.0])


@pytest.mark.parametrize(
    ("lat", "lon", "h", "xyz"),
    [
        (0.0, 0.0, 0.0, (6378137.0, 0.0, 0.0)),
        (0.0, 90.0, 0.0, (0.0, 6378137.0, 0.0)),
        (90.0, 0.0, 0.0, (0.0, 0.0, 6356752.314245)),
        (-90.0, 0.0, 1000.0, (0.0, 0.0, -6357752.314245)),
        (0.0, 180.0, 0.0, (-6378137.0, 0.0, 0.0)),
    ],
)
def test_ecef_known_values(lat, lon, h, xyz):
    assert np.allclose(geo.geodetic_to_ecef(lat, lon, h), xyz, atol=1e-5)


@settings(max_examples=50, deadline=None)
@given(
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    h=st.floats(-500, 20000),
)
def test_ecef_matches_proj_and_round_trips(lat, lon, h):
    t = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
    expect = t.transform(lon, lat, h)
    got = geo.geodetic_to_ecef(lat, lon, h)
    assert np.allclose(got, expect, atol=1e-6)
    lat2, lon2, h2 = geo.ecef_to_geodetic(got)
    assert float(lat2) == pytest.approx(lat, abs=1e-9)
    if abs(lat) < 89.999999:
        assert (float(lon2) - lon + 180) % 360 - 180 == pytest.approx(0.0, abs=1e-8)
    assert float(h2) == pytest.approx(h, abs=1e-5)


def test_enu_across_the_antimeridian_is_continuous():
    e, n, _u = geo.enu_from_geodetic(0.0, -179.99, 0.0, 0.0, 179.99, 0.0).T
    # 0.02° of longitude east at the equator: 2,226.4 m, and no wrap-around jump.
    assert float(e) == pytest.approx(2226.39, abs=0.05)
    assert abs(float(n)) < 1e-6


def test_enu_distances_match_geodesics_near_the_pole():
    # Two points 10 km either side of the pole along the 0/180 meridian.
    lat = 90 - np.degrees(10000 / 6399593.6)
    enu = geo.enu_from_geodetic(np.array([lat, lat]), np.array([0.0, 180.0]), 0.0, 90.0, 0.0)
    chord = np.linalg.norm(enu[0, :2] - enu[1, :2])
    _, _, d = GEOD.inv(0.0, lat, 180.0, lat)
    assert chord == pytest.approx(d, rel=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    lat0=st.floats(-89.5, 89.5),
    lon0=st.floats(-180, 180),
    dist=st.floats(0, 100_000),
    az=st.floats(0, 360),
)
def test_enu_round_trip_and_bearing(lat0, lon0, dist, az):
    lon1, lat1, _ = GEOD.fwd(lon0, lat0, az, dist)
    enu = geo.enu_from_geodetic(lat1, lon1, 0.0, lat0, lon0, 0.0)
    # Horizontal range in the tangent plane ≈ geodesic distance (chord vs arc: 4 m at 100 km).
    horiz = float(np.hypot(enu[0], enu[1]))
    assert horiz == pytest.approx(dist, abs=1e-3 + dist * 6e-5)
    lat2, lon2, _ = geo.geodetic_from_enu(enu, lat0, lon0, 0.0)
    assert float(lat2) == pytest.approx(lat1, abs=1e-9)
    assert (float(lon2) - lon1 + 180) % 360 - 180 == pytest.approx(0.0, abs=1e-8)


def test_horizontal_velocity_points_along_the_track():
    v = geo.horizontal_velocity_ecef(45.0, 10.0, 100.0, 90.0)
    basis = geo.enu_basis(45.0, 10.0)
    assert np.allclose(v @ basis.T, [100.0, 0.0, 0.0], atol=1e-9)
    v = geo.horizontal_velocity_ecef(np.array([0.0, 60.0]), np.array([0.0, -170.0]), 50.0, 180.0)
    assert v.shape == (2, 3)
    assert np.allclose(np.linalg.norm(v, axis=1), 50.0)
