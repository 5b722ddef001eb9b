"""Point-mass kinematics: straight flight is a geodesic, turns and climbs stay within limits."""

from __future__ import annotations

import numpy as np
from pyproj import Geod

from deconflict.sim.kinematics import Fleet, Performance, command, step
from deconflict.units import fps_to_fpm, kt_to_mps

GEOD = Geod(ellps="WGS84")


def fleet_of(n: int, rng: np.random.Generator, **over: np.ndarray) -> Fleet:
    values = {
        "lat": rng.uniform(-85.0, 85.0, n),
        "lon": rng.uniform(-180.0, 180.0, n),
        "alt_ft": np.full(n, 30000.0),
        "gs_kt": rng.uniform(150.0, 500.0, n),
        "track_deg": rng.uniform(0.0, 360.0, n),
        "vs_fpm": np.zeros(n),
    }
    values.update(over)
    return Fleet.flying(**values)


def test_straight_flight_is_a_geodesic():
    rng = np.random.default_rng(3)
    f0 = fleet_of(500, rng)
    f = f0
    for _ in range(300):
        f = step(f, 1.0, Performance())
    lon, lat, back_az = GEOD.fwd(f0.lon, f0.lat, f0.track_deg, kt_to_mps(f0.gs_kt) * 300)
    _, _, err_m = GEOD.inv(f.lon, f.lat, lon, lat)
    assert err_m.max() < 1.0  # metres after 300 one-second steps
    track_err = np.mod(f.track_deg - np.mod(back_az + 180.0, 360.0) + 180.0, 360.0) - 180.0
    assert np.abs(track_err).max() < 1e-4
    assert np.allclose(f.planned_track_deg, f.track_deg)  # the plan is transported alike


def test_turn_and_climb_within_limits():
    rng = np.random.default_rng(4)
    f = fleet_of(3, rng, track_deg=np.array([10.0, 10.0, 350.0]), vs_fpm=np.zeros(3))
    # Left 60° (the short way), right 90°, and across north: 350 → 20 is 30° right.
    targets = np.array([310.0, 100.0, 20.0])
    f = command(f, np.ones(3, bool), targets, np.array([5000.0, -1500.0, 0.0]))
    perf = Performance(turn_rate_dps=3.0, vertical_accel_fps2=8.0, max_vs_fpm=3000.0)
    tracks, rates = [], []
    for _ in range(40):
        before = f
        f = step(f, 1.0, perf)
        # The turn itself: the track change less the rotation of north along the path.
        transport = f.transport_deg - before.transport_deg
        turn = np.mod(f.track_deg - before.track_deg - transport + 180.0, 360.0) - 180.0
        tracks.append(turn)
        rates.append(f.vs_fpm - before.vs_fpm)
    turns = np.array(tracks)
    assert np.abs(turns).max() <= 3.0 + 1e-6
    assert (turns[:5, 0] < 0).all() and (turns[:5, 1] > 0).all() and (turns[:5, 2] > 0).all()
    assert np.allclose(f.cmd_track_deg, f.track_deg)  # reached and held
    assert np.abs(np.array(rates)).max() <= fps_to_fpm(8.0) + 1e-6
    assert f.vs_fpm[0] == 3000.0  # commanded 5,000 ft/min, capped
    assert f.vs_fpm[1] == -1500.0
