"""Performance-limited flight along routes and orbits, vectorised over the fleet.

Every aircraft has its type's limits (arrays of length N, one value per aircraft):

* **Turns** at ``turn_rate_dps``, or where a bank angle is given at
  ``ω = g·tan(bank) / v`` (so the turn radius is ``v / ω``), the shorter way round.
* **Vertical speed** towards the commanded rate at :data:`VERTICAL_ACCEL_FPS2`,
  within ``[-max_descent_fpm, climb_limit_fpm]``; the climb limit is
  ``max_climb_fpm`` up to 70 % of the ceiling and falls linearly to 0 at
  ``ceiling_ft``, and the altitude is clamped there: never above the ceiling.
* **Speed** towards the leg's speed (the type's cruise speed by default) at
  ``accel_kt_s``, clamped to ``[min_kt, max_kt]``.

Navigation (:func:`navigate`) follows a flat list of legs per aircraft: *go to* a
point (captured within a turn radius, or once abeam), or *orbit* a centre at a
radius for a time (a vector field onto the circle). Altitude: climbs at the full
rate, descents on the straight path that reaches the leg's altitude at its end,
both captured smoothly (:data:`ALT_GAIN_PER_MIN`). When its last leg is captured
the aircraft has landed (or left the scenario) and is no longer flown.

Positions move along the mid-step track in each aircraft's tangent plane and are
projected back onto the WGS84 ellipsoid (:mod:`deconflict.geo`): no longitude
arithmetic. The track is kept in the local frame from step to step (a rhumb line
between commands; navigation re-aims every step, so paths reach their points).

Flight only: the pilots who fly advisories instead of the navigation are
:mod:`deconflict.sim.scenario_pilots`.

>>> import numpy as np
>>> rate, bank, gs = np.array([3.0, np.nan]), np.array([np.nan, 25.0]), np.array([450.0, 450.0])
>>> omega = turn_rate_dps(rate, bank, gs)
>>> [round(float(w), 2) for w in omega]  # standard rate x 1; 25° bank at 450 kt
[3.0, 1.13]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from deconflict.geo import ecef_to_geodetic, enu_basis, geodetic_to_ecef
from deconflict.sim.kinematics import wrap180
from deconflict.tactical.state import TrafficState
from deconflict.units import KT, fpm_to_fps, fps_to_fpm, kt_to_mps, nm_to_m

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]

#: Standard gravity, m/s² (bank-angle turns).
G0_MPS2 = 9.80665
#: Largest change of vertical speed, ft/s² (about 0.25 g, as the resolution rules assume).
VERTICAL_ACCEL_FPS2 = 8.0
#: Altitude capture: commanded vertical speed (ft/min) per foot of error, per minute.
ALT_GAIN_PER_MIN = 6.0
#: Orbit guidance: how hard the course bends towards the circle (per radius off it).
ORBIT_GAIN = 2.0
#: Smallest capture distance of a waypoint, NM.
CAPTURE_NM = 0.5
#: Fraction of the ceiling up to which the full climb rate is available.
FULL_CLIMB_FRACTION = 0.7

#: Leg kinds.
GOTO, ORBIT = 0, 1
#: Aircraft status.
WAITING, AIRBORNE, DONE = 0, 1, 2


@dataclass(frozen=True, eq=False)
class FleetPlan:
    """What every aircraft is and will fly: arrays of length N, legs flat.

    Limits: ``min_kt``/``max_kt``/``cruise_kt`` (kt), ``max_climb_fpm``,
    ``max_descent_fpm`` (ft/min, positive), ``turn_rate_dps`` (deg/s, NaN where
    ``bank_deg`` is given instead), ``ceiling_ft``, ``accel_kt_s`` (kt/s),
    ``follows`` (obeys advisories). Departure: at ``depart_s`` from ``start_*``
    (deg, ft) at ``start_kt``. Legs of aircraft ``i`` are ``leg_first[i]`` to
    ``leg_end[i] - 1``: ``leg_kind`` (:data:`GOTO` | :data:`ORBIT`), the point or
    centre ``leg_lat``/``leg_lon`` (deg), ``leg_alt_ft``, ``leg_kt`` (NaN: cruise),
    ``leg_radius_m`` and ``leg_duration_s`` (orbits), ``leg_dir`` (+1 clockwise,
    -1 counter-clockwise).
    """

    id: StrArray
    party: StrArray
    min_kt: FloatArray
    max_kt: FloatArray
    cruise_kt: FloatArray
    max_climb_fpm: FloatArray
    max_descent_fpm: FloatArray
    turn_rate_dps: FloatArray
    bank_deg: FloatArray
    ceiling_ft: FloatArray
    accel_kt_s: FloatArray
    follows: BoolArray
    depart_s: FloatArray
    start_lat: FloatArray
    start_lon: FloatArray
    start_alt_ft: FloatArray
    start_kt: FloatArray
    leg_first: IntArray
    leg_end: IntArray
    leg_kind: IntArray
    leg_lat: FloatArray
    leg_lon: FloatArray
    leg_alt_ft: FloatArray
    leg_kt: FloatArray
    leg_radius_m: FloatArray
    leg_duration_s: FloatArray
    leg_dir: FloatArray

    def __len__(self) -> int:
        """Number of aircraft."""
        return int(self.id.shape[0])


@dataclass(frozen=True, eq=False)
class FlightState:
    """Where every aircraft is: position (deg, ft), ``gs_kt``, ``track_deg``, ``vs_fpm``.

    ``status`` is :data:`WAITING`, :data:`AIRBORNE` or :data:`DONE`; ``leg`` the
    current leg (flat index), ``leg_t0_s`` when it began; ``detour_lat``/``detour_lon``
    a point flown direct before the leg resumes (NaN: none).
    """

    lat: FloatArray
    lon: FloatArray
    alt_ft: FloatArray
    gs_kt: FloatArray
    track_deg: FloatArray
    vs_fpm: FloatArray
    status: IntArray
    leg: IntArray
    leg_t0_s: FloatArray
    detour_lat: FloatArray
    detour_lon: FloatArray

    @classmethod
    def initial(cls, plan: FleetPlan) -> FlightState:
        """Every aircraft waiting at its start point."""
        n = len(plan)
        nan = np.full(n, np.nan)
        return cls(
            lat=plan.start_lat.copy(),
            lon=plan.start_lon.copy(),
            alt_ft=plan.start_alt_ft.copy(),
            gs_kt=plan.start_kt.copy(),
            track_deg=np.zeros(n),
            vs_fpm=np.zeros(n),
            status=np.full(n, WAITING, dtype=np.int64),
            leg=plan.leg_first.copy(),
            leg_t0_s=plan.depart_s.copy(),
            detour_lat=nan,
            detour_lon=nan.copy(),
        )

    @property
    def airborne(self) -> BoolArray:
        """Aircraft in the air now."""
        return self.status == AIRBORNE


@dataclass(frozen=True, eq=False)
class Commands:
    """What each pilot flies towards: ``track_deg``, ``vs_fpm``, ``speed_kt``."""

    track_deg: FloatArray
    vs_fpm: FloatArray
    speed_kt: FloatArray


def turn_rate_dps(rate_dps: FloatArray, bank_deg: FloatArray, gs_kt: FloatArray) -> FloatArray:
    """Turn rate (deg/s): ``rate_dps`` where given, else ``g·tan(bank)/v`` at ``gs_kt``."""
    v = np.maximum(kt_to_mps(np.asarray(gs_kt, dtype=np.float64)), 1.0)
    banked = np.degrees(G0_MPS2 * np.tan(np.radians(np.nan_to_num(bank_deg))) / v)
    return np.where(np.isnan(rate_dps), banked, rate_dps)


def turn_radius_m(plan: FleetPlan, gs_kt: FloatArray) -> FloatArray:
    """Turn radius ``v / ω`` (m) of each aircraft at ``gs_kt``."""
    omega = np.radians(turn_rate_dps(plan.turn_rate_dps, plan.bank_deg, gs_kt))
    return kt_to_mps(np.asarray(gs_kt, dtype=np.float64)) / omega


def climb_limit_fpm(plan: FleetPlan, alt_ft: FloatArray) -> FloatArray:
    """Best climb rate (ft/min) at ``alt_ft``: full to 70 % of the ceiling, 0 at it."""
    top = plan.ceiling_ft
    share = np.clip((top - alt_ft) / ((1.0 - FULL_CLIMB_FRACTION) * top), 0.0, 1.0)
    return plan.max_climb_fpm * share


def bearing_distance(
    lat: FloatArray, lon: FloatArray, to_lat: FloatArray, to_lon: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """True bearing (deg) and distance (m) from each point to its target, in its tangent plane."""
    basis = enu_basis(lat, lon)
    d = geodetic_to_ecef(to_lat, to_lon, 0.0) - geodetic_to_ecef(lat, lon, 0.0)
    e = np.einsum("ij,ij->i", d, basis[:, 0, :])
    n = np.einsum("ij,ij->i", d, basis[:, 1, :])
    return np.mod(np.degrees(np.arctan2(e, n)), 360.0), np.hypot(e, n)


def depart(plan: FleetPlan, state: FlightState, t_s: float) -> FlightState:
    """Aircraft whose departure time has come take off (or appear in the air)."""
    go = (state.status == WAITING) & (plan.depart_s <= t_s)
    if not go.any():
        return state
    first = plan.leg_first
    brg, _ = bearing_distance(
        plan.start_lat, plan.start_lon, plan.leg_lat[first], plan.leg_lon[first]
    )
    return dataclasses.replace(
        state,
        status=np.where(go, AIRBORNE, state.status),
        track_deg=np.where(go, brg, state.track_deg),
        leg_t0_s=np.where(go, t_s, state.leg_t0_s),
    )


def _target(
    plan: FleetPlan, state: FlightState
) -> tuple[IntArray, IntArray, BoolArray, FloatArray, FloatArray]:
    """Each aircraft's leg, leg kind, whether on a detour, bearing (deg) and distance (m) to aim."""
    leg = np.minimum(state.leg, plan.leg_kind.size - 1)
    detour = ~np.isnan(state.detour_lat)
    to_lat = np.where(detour, state.detour_lat, plan.leg_lat[leg])
    to_lon = np.where(detour, state.detour_lon, plan.leg_lon[leg])
    brg, dist = bearing_distance(state.lat, state.lon, to_lat, to_lon)
    return leg, plan.leg_kind[leg], detour, brg, dist


def navigate(plan: FleetPlan, state: FlightState, t_s: float) -> tuple[FlightState, Commands]:
    """Advance captured legs and give each aircraft its navigation commands.

    A go-to leg (or a detour point) is captured within a turn radius (at least
    :data:`CAPTURE_NM`), or once the point is behind the aircraft within 2.5 turn
    radii; an orbit ends after its ``leg_duration_s``. Past its last leg an
    aircraft is :data:`DONE`.
    """
    flying = state.airborne
    leg, kind, detour, brg, dist = _target(plan, state)
    radius = turn_radius_m(plan, state.gs_kt)
    off = np.abs(wrap180(brg - state.track_deg))
    reach = np.maximum(radius, nm_to_m(CAPTURE_NM))
    goto_done = (dist < reach) | ((off > 90.0) & (dist < 2.5 * reach))
    detour_done = flying & detour & ((dist < nm_to_m(CAPTURE_NM)) | (off > 90.0))
    orbit_done = (kind == ORBIT) & (t_s - state.leg_t0_s >= plan.leg_duration_s[leg])
    advance = flying & ~detour & np.where(kind == GOTO, goto_done, orbit_done)
    new_leg = state.leg + advance
    finished = advance & (new_leg >= plan.leg_end)
    state = dataclasses.replace(
        state,
        leg=np.where(finished, state.leg, new_leg),
        leg_t0_s=np.where(advance, t_s, state.leg_t0_s),
        status=np.where(finished, DONE, state.status),
        detour_lat=np.where(detour_done, np.nan, state.detour_lat),
        detour_lon=np.where(detour_done, np.nan, state.detour_lon),
    )
    if advance.any() or detour_done.any():  # aim at the new targets
        leg, kind, detour, brg, dist = _target(plan, state)

    # Horizontal: straight at the point, or the orbit's vector field.
    orbiting = (kind == ORBIT) & ~detour
    from_centre = np.mod(brg + 180.0, 360.0)
    r = np.maximum(plan.leg_radius_m[leg], 1.0)
    s = plan.leg_dir[leg]
    bend = np.degrees(np.arctan(ORBIT_GAIN * (dist - r) / r))
    track = np.where(orbiting, from_centre + s * (90.0 + bend), brg)

    # Vertical: climb at the full rate, descend on the path reaching the altitude at the point.
    err = np.minimum(plan.leg_alt_ft[leg], plan.ceiling_ft) - state.alt_ft
    capture = err * ALT_GAIN_PER_MIN
    ttg_min = dist / np.maximum(kt_to_mps(state.gs_kt), 1.0) / 60.0
    path = err / np.maximum(ttg_min, 1.0 / ALT_GAIN_PER_MIN)
    descent = np.where(orbiting, capture, np.maximum(capture, path))
    vs = np.where(err >= 0.0, capture, descent)

    speed = plan.leg_kt[leg]
    speed = np.where(np.isnan(speed), plan.cruise_kt, speed)
    return state, Commands(track_deg=np.mod(track, 360.0), vs_fpm=vs, speed_kt=speed)


def fly(plan: FleetPlan, state: FlightState, cmd: Commands, dt_s: float) -> FlightState:
    """Move the airborne aircraft ``dt_s`` seconds towards ``cmd`` within their limits."""
    flying = state.airborne
    lo_kt = plan.min_kt
    gs_cmd = np.clip(cmd.speed_kt, lo_kt, plan.max_kt)
    dv = plan.accel_kt_s * dt_s
    gs1 = state.gs_kt + np.clip(gs_cmd - state.gs_kt, -dv, dv)
    gs_mid = 0.5 * (state.gs_kt + gs1)

    omega = turn_rate_dps(plan.turn_rate_dps, plan.bank_deg, gs_mid)
    max_turn = omega * dt_s
    turn = np.clip(wrap180(cmd.track_deg - state.track_deg), -max_turn, max_turn)
    mid = np.radians(state.track_deg + 0.5 * turn)

    vs_cmd = np.clip(cmd.vs_fpm, -plan.max_descent_fpm, climb_limit_fpm(plan, state.alt_ft))
    dvs = fps_to_fpm(VERTICAL_ACCEL_FPS2) * dt_s
    vs1 = state.vs_fpm + np.clip(vs_cmd - state.vs_fpm, -dvs, dvs)
    alt1 = state.alt_ft + fpm_to_fps(0.5 * (state.vs_fpm + vs1)) * dt_s
    capped = alt1 >= plan.ceiling_ft
    alt1 = np.minimum(alt1, plan.ceiling_ft)
    vs1 = np.where(capped, np.minimum(vs1, 0.0), vs1)

    idx = np.flatnonzero(flying)
    lat1, lon1 = state.lat.copy(), state.lon.copy()
    if idx.size:
        basis = enu_basis(state.lat[idx], state.lon[idx])
        step_m = (gs_mid[idx] * KT * dt_s)[:, None]
        move = step_m * (
            np.sin(mid[idx])[:, None] * basis[:, 0, :] + np.cos(mid[idx])[:, None] * basis[:, 1, :]
        )
        p1 = geodetic_to_ecef(state.lat[idx], state.lon[idx], 0.0) + move
        la, lo, _ = ecef_to_geodetic(p1)
        lat1[idx] = la
        lon1[idx] = wrap180(lo)
    return dataclasses.replace(
        state,
        lat=lat1,
        lon=lon1,
        alt_ft=np.where(flying, alt1, state.alt_ft),
        gs_kt=np.where(flying, gs1, state.gs_kt),
        track_deg=np.where(flying, np.mod(state.track_deg + turn, 360.0), state.track_deg),
        vs_fpm=np.where(flying, vs1, state.vs_fpm),
    )


def traffic_state(plan: FleetPlan, state: FlightState, t_s: float, idx: IntArray) -> TrafficState:
    """The aircraft ``idx`` as one detector snapshot at ``t_s``."""
    return TrafficState(
        time=np.full(idx.size, float(t_s)),
        id=plan.id[idx],
        party=plan.party[idx],
        lat=state.lat[idx],
        lon=state.lon[idx],
        alt_ft=state.alt_ft[idx],
        gs_kt=state.gs_kt[idx],
        track_deg=state.track_deg[idx],
        vs_fpm=state.vs_fpm[idx],
    )
