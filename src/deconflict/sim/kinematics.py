"""Point-mass aircraft kinematics for fast-time simulation, vectorised over the fleet.

Each aircraft flies at constant ground speed. Its track moves towards a
commanded track at no more than a turn rate (the shorter way round), and its
vertical speed towards a commanded vertical speed at no more than a vertical
acceleration, never beyond a maximum rate. With the command equal to the current
track and vertical speed it flies straight: along a geodesic of the WGS84
ellipsoid (the straight line of the detector's tangent planes), at constant rate
of climb.

Positions are advanced in ECEF (Earth-centred, Earth-fixed): one step moves the
point along the mid-step velocity in its tangent plane, then the point is
projected back onto the ellipsoid. Directions are carried along by parallel
transport, so that a constant commanded track means "straight on", not a rhumb
line. The error of one 1-s step is millimetres; nothing wraps a longitude, so the
antimeridian and the poles need no special case.

Every direction the fleet carries (track, commanded and planned tracks) is
transported alike, and :attr:`Fleet.transport_deg` accumulates the rotation, so
a direction stored elsewhere at time ``t0`` is brought to time ``t`` by adding
``transport_deg(t) - transport_deg(t0)``.

>>> import numpy as np
>>> f = Fleet.flying(lat=np.array([0.0]), lon=np.array([0.0]), alt_ft=np.array([30000.0]),
...     gs_kt=np.array([360.0]), track_deg=np.array([90.0]), vs_fpm=np.array([600.0]))
>>> for _ in range(60):
...     f = step(f, 1.0, Performance())
>>> round(float(f.lon[0]), 4), round(float(f.alt_ft[0]))  # 6 NM east in a minute, +600 ft
(0.0998, 30600)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from deconflict.agreement import ResolutionRules
from deconflict.geo import ecef_to_geodetic, enu_basis, geodetic_to_ecef
from deconflict.units import fpm_to_fps, fps_to_fpm, kt_to_mps

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Performance:
    """Manoeuvre limits of every aircraft.

    ``turn_rate_dps`` (deg/s), ``vertical_accel_fps2`` (ft/s²), ``max_vs_fpm``
    (ft/min, absolute value). The defaults are those the resolution rules assume.
    """

    turn_rate_dps: float = 3.0
    vertical_accel_fps2: float = 8.0
    max_vs_fpm: float = 3000.0

    @classmethod
    def from_rules(cls, rules: ResolutionRules) -> Performance:
        """The limits that an agreement's resolution rules assume of the pilots."""
        return cls(
            turn_rate_dps=rules.turn_rate_dps,
            vertical_accel_fps2=rules.vertical_accel_fps2,
            max_vs_fpm=rules.max_vs_fpm,
        )


@dataclass(frozen=True)
class Fleet:
    """State of N aircraft, one array per quantity (length N each).

    ``lat``/``lon`` WGS84 degrees; ``alt_ft`` ft; ``gs_kt`` ground speed (kt);
    ``track_deg`` true track (deg, clockwise from north); ``vs_fpm`` vertical speed
    (ft/min, positive up). ``cmd_track_deg``/``cmd_vs_fpm``: what the pilot flies
    towards now. ``planned_track_deg``/``planned_vs_fpm``: the clearance to return
    to when no advisory applies (the track transported, i.e. "straight on").
    ``transport_deg``: accumulated rotation of the local north reference along
    each path since the start (deg, unwrapped).
    """

    lat: FloatArray
    lon: FloatArray
    alt_ft: FloatArray
    gs_kt: FloatArray
    track_deg: FloatArray
    vs_fpm: FloatArray
    cmd_track_deg: FloatArray
    cmd_vs_fpm: FloatArray
    planned_track_deg: FloatArray
    planned_vs_fpm: FloatArray
    transport_deg: FloatArray

    def __len__(self) -> int:
        """Number of aircraft."""
        return int(self.lat.shape[0])

    @classmethod
    def flying(
        cls,
        *,
        lat: FloatArray,
        lon: FloatArray,
        alt_ft: FloatArray,
        gs_kt: FloatArray,
        track_deg: FloatArray,
        vs_fpm: FloatArray,
    ) -> Fleet:
        """A fleet flying its plan: commands and plan equal the current track and rate."""
        f64 = [np.asarray(x, dtype=np.float64).copy() for x in (lat, lon, alt_ft, gs_kt)]
        trk = np.mod(np.asarray(track_deg, dtype=np.float64), 360.0)
        vs = np.asarray(vs_fpm, dtype=np.float64).copy()
        return cls(
            lat=f64[0],
            lon=f64[1],
            alt_ft=f64[2],
            gs_kt=f64[3],
            track_deg=trk,
            vs_fpm=vs,
            cmd_track_deg=trk.copy(),
            cmd_vs_fpm=vs.copy(),
            planned_track_deg=trk.copy(),
            planned_vs_fpm=vs.copy(),
            transport_deg=np.zeros_like(trk),
        )


def wrap180(deg: FloatArray) -> FloatArray:
    """Angles wrapped to ``[-180, 180)`` degrees."""
    return np.mod(np.asarray(deg, dtype=np.float64) + 180.0, 360.0) - 180.0


def command(
    fleet: Fleet,
    mask: BoolArray,
    track_deg: FloatArray | None = None,
    vs_fpm: FloatArray | None = None,
) -> Fleet:
    """Set the commanded track (deg) and/or vertical speed (ft/min) where ``mask`` holds.

    ``track_deg``/``vs_fpm`` are full-length arrays (values outside ``mask`` are
    ignored); ``None`` leaves that command unchanged.
    """
    cmd_trk = fleet.cmd_track_deg
    cmd_vs = fleet.cmd_vs_fpm
    if track_deg is not None:
        cmd_trk = np.where(mask, np.mod(track_deg, 360.0), cmd_trk)
    if vs_fpm is not None:
        cmd_vs = np.where(mask, vs_fpm, cmd_vs)
    return dataclasses.replace(fleet, cmd_track_deg=cmd_trk, cmd_vs_fpm=cmd_vs)


def step(fleet: Fleet, dt_s: float, perf: Performance) -> Fleet:
    """Advance the fleet by ``dt_s`` seconds towards its commands, within ``perf``.

    The turn takes the shorter way to the commanded track at ``turn_rate_dps``;
    the vertical speed changes at ``vertical_accel_fps2`` towards the commanded
    rate clipped to ``±max_vs_fpm``. Position uses the mid-step track, altitude the
    mean vertical speed of the step (both exact for a constant rate of change).
    """
    # Heading and vertical speed at the end of the step, within the limits.
    max_turn = perf.turn_rate_dps * dt_s
    turn = np.clip(wrap180(fleet.cmd_track_deg - fleet.track_deg), -max_turn, max_turn)
    trk1 = fleet.track_deg + turn
    target_vs = np.clip(fleet.cmd_vs_fpm, -perf.max_vs_fpm, perf.max_vs_fpm)
    max_dvs = fps_to_fpm(perf.vertical_accel_fps2) * dt_s  # ft/min per step
    vs1 = fleet.vs_fpm + np.clip(target_vs - fleet.vs_fpm, -max_dvs, max_dvs)
    alt1 = fleet.alt_ft + fpm_to_fps(0.5 * (fleet.vs_fpm + vs1)) * dt_s

    # Horizontal: along the mid-step velocity in the tangent plane, then back on the ellipsoid.
    basis0 = enu_basis(fleet.lat, fleet.lon)
    mid = np.radians(fleet.track_deg + 0.5 * turn)
    gs = kt_to_mps(fleet.gs_kt)
    vel = (gs * np.sin(mid))[:, None] * basis0[:, 0, :] + (gs * np.cos(mid))[:, None] * basis0[
        :, 1, :
    ]
    p1 = geodetic_to_ecef(fleet.lat, fleet.lon, 0.0) + vel * dt_s
    lat1, lon1, _ = ecef_to_geodetic(p1)
    lon1 = wrap180(lon1)

    # Parallel transport of the end-of-step direction to the new point gives the
    # rotation of the north reference; every carried direction turns by it.
    t1 = np.radians(trk1)
    u = np.sin(t1)[:, None] * basis0[:, 0, :] + np.cos(t1)[:, None] * basis0[:, 1, :]
    basis1 = enu_basis(lat1, lon1)
    up1 = basis1[:, 2, :]
    u = u - np.einsum("ij,ij->i", u, up1)[:, None] * up1
    trk1_new = np.degrees(
        np.arctan2(
            np.einsum("ij,ij->i", u, basis1[:, 0, :]), np.einsum("ij,ij->i", u, basis1[:, 1, :])
        )
    )
    delta = wrap180(trk1_new - trk1)
    return Fleet(
        lat=np.asarray(lat1, dtype=np.float64),
        lon=lon1,
        alt_ft=alt1,
        gs_kt=fleet.gs_kt,
        track_deg=np.mod(trk1 + delta, 360.0),
        vs_fpm=vs1,
        cmd_track_deg=np.mod(fleet.cmd_track_deg + delta, 360.0),
        cmd_vs_fpm=fleet.cmd_vs_fpm,
        planned_track_deg=np.mod(fleet.planned_track_deg + delta, 360.0),
        planned_vs_fpm=fleet.planned_vs_fpm,
        transport_deg=fleet.transport_deg + delta,
    )
