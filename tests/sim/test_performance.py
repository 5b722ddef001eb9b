"""Performance-limited flight: turn radius, climb and descent limits, ceiling, speeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pyproj import Geod

from deconflict.geo import enu_from_geodetic
from deconflict.sim import performance as pf
from deconflict.sim.fleet import build_fleet
from deconflict.sim.scenario import parse_scenario
from deconflict.units import kt_to_mps

GEOD = Geod(ellps="WGS84")
TYPES = """
[[aircraft_types]]
name = "banked"
cruise_kt = 450.0
min_kt = 200.0
max_kt = 500.0
max_climb_fpm = 6000.0
max_descent_fpm = 4000.0
bank_deg = 45.0
ceiling_ft = 30000.0
accel_kt_s = 4.0

[[aircraft_types]]
name = "rate"
cruise_kt = 180.0
min_kt = 90.0
max_climb_fpm = 1500.0
max_descent_fpm = 2000.0
turn_rate_dps = 3.0
ceiling_ft = 25000.0
"""


def scenario_text(sorties: str) -> str:
    head = (
        'name = "perf"\nseed = 1\nduration_s = 3600.0\nstep_s = 1.0\n'
        '[[parties]]\nname = "blue"\n[[parties]]\nname = "red"\n'
        '[[bases]]\nname = "home"\nparty = "blue"\nlat = 35.0\nlon = 36.0\nelevation_ft = 500.0\n'
    )
    return head + TYPES + sorties


def plan_of(sorties: str) -> pf.FleetPlan:
    return build_fleet(parse_scenario(scenario_text(sorties), Path("perf.toml"))).plan


AIRBORNE = """
[[sorties]]
id = "a"
kind = "transport"
party = "blue"
type = "banked"
start = { lat = 35.0, lon = 36.0, alt_ft = 20000.0 }
callsign = "A"
return_to_base = false
route = [{ lat = 36.0, lon = 36.0, alt_ft = 20000.0 }]

[[sorties]]
id = "b"
kind = "transport"
party = "red"
type = "rate"
start = { lat = 35.0, lon = 37.0, alt_ft = 20000.0 }
callsign = "B"
return_to_base = false
route = [{ lat = 36.0, lon = 37.0, alt_ft = 20000.0 }]
"""


def airborne() -> tuple[pf.FleetPlan, pf.FlightState]:
    plan = plan_of(AIRBORNE)
    return plan, pf.depart(plan, pf.FlightState.initial(plan), 0.0)


def command(state: pf.FlightState, **over: np.ndarray) -> pf.Commands:
    base = {"track_deg": state.track_deg, "vs_fpm": np.zeros(2), "speed_kt": state.gs_kt}
    return pf.Commands(**{**base, **over})


def test_turn_radius_is_v_over_omega():
    plan, state = airborne()
    points = []
    for _ in range(200):  # keep asking for 90° more to the right: a steady max-rate turn
        state = pf.fly(plan, state, command(state, track_deg=state.track_deg + 90.0), 1.0)
        points.append((state.lat.copy(), state.lon.copy()))
    lat = np.array([p[0] for p in points])
    lon = np.array([p[1] for p in points])
    for i in range(2):
        enu = enu_from_geodetic(lat[:, i], lon[:, i], 0.0, lat[0, i], lon[0, i])
        x, y = enu[:, 0], enu[:, 1]
        # Least-squares circle: x² + y² = 2 a x + 2 b y + c.
        m = np.column_stack([2 * x, 2 * y, np.ones_like(x)])
        a, b, c = np.linalg.lstsq(m, x**2 + y**2, rcond=None)[0]
        radius = np.sqrt(c + a**2 + b**2)
        v = kt_to_mps(state.gs_kt[i])
        omega = np.radians(pf.turn_rate_dps(plan.turn_rate_dps, plan.bank_deg, state.gs_kt)[i])
        assert radius == pytest.approx(v / omega, rel=0.005)
    # 45° bank at 450 kt: g/v rad/s; standard rate: 3 deg/s.
    omega = pf.turn_rate_dps(plan.turn_rate_dps, plan.bank_deg, np.array([450.0, 180.0]))
    assert omega[0] == pytest.approx(np.degrees(9.80665 / kt_to_mps(450.0)))
    assert omega[1] == 3.0


def test_turn_rate_limits_each_step():
    plan, state = airborne()
    omega = pf.turn_rate_dps(plan.turn_rate_dps, plan.bank_deg, state.gs_kt)
    for _ in range(30):
        before = state.track_deg
        state = pf.fly(plan, state, command(state, track_deg=before + 170.0), 2.0)
        turned = np.abs(pf.wrap180(state.track_deg - before))
        assert (turned <= omega * 2.0 + 1e-9).all()


def test_climb_descent_and_ceiling_limits():
    plan, state = airborne()
    alts, rates = [], []
    for _ in range(600):
        state = pf.fly(plan, state, command(state, vs_fpm=np.full(2, 50000.0)), 1.0)
        alts.append(state.alt_ft.copy())
        rates.append(state.vs_fpm.copy())
    alts_a, rates_a = np.array(alts), np.array(rates)
    assert (rates_a <= plan.max_climb_fpm + 1e-9).all()
    assert (np.abs(np.diff(rates_a, axis=0)) <= pf.VERTICAL_ACCEL_FPS2 * 60.0 + 1e-9).all()
    assert (alts_a <= plan.ceiling_ft).all()  # never above the ceiling
    # It gets close: the climb rate fades over the last 30 % (time constant 0.3 ceiling/rate).
    assert alts_a[-1, 0] == pytest.approx(plan.ceiling_ft[0], abs=50.0)
    assert 24000.0 < alts_a[-1, 1] < 25000.0
    assert rates_a[0, 0] == pytest.approx(pf.VERTICAL_ACCEL_FPS2 * 60.0)  # ramps up, no jump
    assert rates_a[:, 0].max() == pytest.approx(6000.0)  # full rate below 70 % of the ceiling
    limit = pf.climb_limit_fpm(plan, np.array([29000.0, 24000.0]))
    assert limit[0] == pytest.approx(6000.0 * 1000.0 / 9000.0)
    for _ in range(300):
        state = pf.fly(plan, state, command(state, vs_fpm=np.full(2, -50000.0)), 1.0)
        assert (state.vs_fpm >= -plan.max_descent_fpm - 1e-9).all()
    assert state.vs_fpm.tolist() == pytest.approx([-4000.0, -2000.0])


def test_speed_clamped_and_accelerated_within_limits():
    plan, state = airborne()
    for want, bound in ((0.0, plan.min_kt), (9999.0, plan.max_kt)):
        for _ in range(200):
            before = state.gs_kt
            state = pf.fly(plan, state, command(state, speed_kt=np.full(2, want)), 1.0)
            assert (np.abs(state.gs_kt - before) <= plan.accel_kt_s + 1e-9).all()
        assert state.gs_kt == pytest.approx(bound)


SORTIES = """
[[sorties]]
id = "round-trip"
kind = "strike"
party = "blue"
type = "banked"
base = "home"
departure_s = 60.0
callsign = "S"
route = [{ lat = 35.5, lon = 36.5, alt_ft = 20000.0 }]

[[sorties]]
id = "loiter"
kind = "isr"
party = "red"
type = "rate"
start = { lat = 35.0, lon = 37.0, alt_ft = 15000.0 }
callsign = "L"
return_to_base = false
orbit = { lat = 35.2, lon = 37.2, radius_nm = 5.0, alt_ft = 15000.0, duration_s = 2400.0 }
"""


def test_route_orbit_and_landing():
    plan = plan_of(SORTIES)
    state = pf.FlightState.initial(plan)
    closest = np.inf
    radii = []
    peak = 0.0
    for k in range(3600):
        t = float(k)
        state = pf.depart(plan, state, t)
        state, nav = pf.navigate(plan, state, t)
        if k == 30:
            assert state.status.tolist() == [pf.WAITING, pf.AIRBORNE]
        if state.status[0] == pf.AIRBORNE:
            _, _, d = GEOD.inv(state.lon[0], state.lat[0], 36.5, 35.5)
            closest = min(closest, d)
            peak = max(peak, float(state.alt_ft[0]))
        if 1200 <= t <= 2400 and state.status[1] == pf.AIRBORNE:
            _, _, r = GEOD.inv(37.2, 35.2, state.lon[1], state.lat[1])
            radii.append(r)
        state = pf.fly(plan, state, nav, 1.0)
    assert closest < pf.turn_radius_m(plan, np.array([450.0, 180.0]))[0] * 1.05
    assert peak == pytest.approx(20000.0, abs=100.0)
    assert state.status.tolist() == [pf.DONE, pf.DONE]  # landed; orbit over, left
    lat, lon = state.lat[0], state.lon[0]
    assert GEOD.inv(lon, lat, 36.0, 35.0)[2] < 6000.0  # landed at home
    radii_nm = np.array(radii) / 1852.0
    assert radii_nm.min() > 4.5 and radii_nm.max() < 5.5
