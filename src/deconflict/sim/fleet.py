"""A scenario's aircraft as a flight plan: :func:`build_fleet`.

Every sortie and every crossing aircraft of a :class:`~deconflict.sim.scenario.Scenario`
becomes one row of a :class:`~deconflict.sim.performance.FleetPlan` (its type's limits,
its departure, its legs), with the jitter of departure time and altitude drawn from the
scenario's seed; stray events become scripted detours. Deterministic: the same scenario
gives the same plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from deconflict.geo import geodetic_from_enu
from deconflict.sim import performance as pf
from deconflict.sim.scenario import Scenario
from deconflict.sim.scenario_schema import (
    AircraftType,
    Base,
    CrossingAircraft,
    CrossingEvent,
    Sortie,
    StrayEvent,
)
from deconflict.units import kt_to_mps, nm_to_m

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Fleet:
    """A scenario's aircraft as a flight plan, and its scripted detours.

    ``detours`` rows: time (s), aircraft index, lat, lon (deg), sorted by time.
    """

    plan: pf.FleetPlan
    detours: pd.DataFrame


Leg = tuple[int, float, float, float, float, float, float, float]


def build_fleet(scenario: Scenario) -> Fleet:
    """Every aircraft of ``scenario`` (sorties, then crossings), jittered from its seed."""
    spec = scenario.spec
    rng = np.random.default_rng(spec.seed)
    types = {t.name: t for t in spec.aircraft_types}
    bases = {b.name: b for b in spec.bases}
    rows: list[dict[str, Any]] = []
    legs: list[list[Leg]] = []
    index: dict[str, int] = {}
    for sortie in spec.sorties:
        n = sortie.count
        dep = rng.uniform(-1.0, 1.0, n) * spec.jitter.departure_s
        dalt = np.round(rng.uniform(-1.0, 1.0, n) * spec.jitter.altitude_ft / 100.0) * 100.0
        if not sortie.jitter:
            dep[:] = 0.0
            dalt[:] = 0.0
        base = bases[sortie.base] if sortie.base is not None else None
        for k, aid in enumerate(sortie.aircraft_ids()):
            index[aid] = len(rows)
            row, plan_legs = _sortie_aircraft(
                sortie, k, aid, types[sortie.type], base, float(dep[k]), float(dalt[k])
            )
            rows.append(row)
            legs.append(plan_legs)
    for e in spec.events:
        if isinstance(e, CrossingEvent):
            for j, a in enumerate(e.aircraft):
                index[a.id] = len(rows)
                row, plan_legs = _crossing_aircraft(e, j, a, types[a.type])
                rows.append(row)
                legs.append(plan_legs)
    detours = []
    for e in spec.events:
        if isinstance(e, StrayEvent):
            sortie = next(s for s in spec.sorties if s.id == e.sortie)
            i = index[sortie.aircraft_ids()[e.aircraft - 1]]
            detours.append({"time": e.at_s, "aircraft": i, "lat": e.lat, "lon": e.lon})
    frame = pd.DataFrame(detours, columns=["time", "aircraft", "lat", "lon"])
    return Fleet(plan=_plan(rows, legs), detours=frame.sort_values("time", kind="stable"))


def _type_row(t: AircraftType) -> dict[str, Any]:
    low, high = t.speed_range_kt
    return {
        "min_kt": low,
        "max_kt": high,
        "cruise_kt": t.cruise_kt,
        "max_climb_fpm": t.max_climb_fpm,
        "max_descent_fpm": t.max_descent_fpm,
        "turn_rate_dps": np.nan if t.turn_rate_dps is None else t.turn_rate_dps,
        "bank_deg": np.nan if t.bank_deg is None else t.bank_deg,
        "ceiling_ft": t.ceiling_ft,
        "accel_kt_s": t.accel_kt_s,
        "follows": t.follows_advisories,
    }


def _sortie_aircraft(
    s: Sortie, k: int, aid: str, t: AircraftType, base: Base | None, off_s: float, off_ft: float
) -> tuple[dict[str, Any], list[Leg]]:
    """One aircraft of a sortie: departure ``off_s`` late, every level ``off_ft`` higher."""
    row = {"id": aid, "party": s.party, **_type_row(t)}
    if s.start is not None:
        start = (s.start.lat, s.start.lon, s.start.alt_ft + off_ft, t.cruise_kt)
    else:
        assert base is not None
        low = t.speed_range_kt[0]
        start = (base.lat, base.lon, base.elevation_ft, low if low > 0 else 0.5 * t.cruise_kt)
    row.update(
        depart_s=max(s.departure_s + k * s.interval_s + off_s, 0.0),
        start_lat=start[0],
        start_lon=start[1],
        start_alt_ft=start[2],
        start_kt=start[3],
    )
    nan = np.nan
    plan_legs: list[Leg] = [
        (pf.GOTO, w.lat, w.lon, w.alt_ft + off_ft, w.speed_kt or nan, nan, nan, 1.0)
        for w in s.route
    ]
    if s.orbit is not None:
        o = s.orbit
        turn = 1.0 if o.clockwise else -1.0
        radius = nm_to_m(o.radius_nm)
        alt = o.alt_ft + off_ft
        plan_legs.append(
            (pf.ORBIT, o.lat, o.lon, alt, o.speed_kt or nan, radius, o.duration_s, turn)
        )
    if base is not None and s.return_to_base:
        plan_legs.append((pf.GOTO, base.lat, base.lon, base.elevation_ft, nan, nan, nan, 1.0))
    return row, plan_legs


def _crossing_aircraft(
    e: CrossingEvent, j: int, a: CrossingAircraft, t: AircraftType
) -> tuple[dict[str, Any], list[Leg]]:
    """Aircraft ``j`` of a crossing: straight and level through the point at ``at_s``.

    The second aircraft passes ``miss_nm`` to the right of the point (as it flies).
    """
    row = {"id": a.id, "party": a.party, **_type_row(t)}
    v = kt_to_mps(t.cruise_kt)
    trk = np.radians(a.track_deg)
    along = np.array([np.sin(trk), np.cos(trk)])
    right = np.array([np.cos(trk), -np.sin(trk)])
    shift = nm_to_m(e.miss_nm) * right if j == 1 else np.zeros(2)
    pts = np.array([shift - v * e.lead_s * along, shift, shift + v * e.after_s * along])
    lat, lon, _ = geodetic_from_enu(np.column_stack([pts, np.zeros(3)]), e.lat, e.lon)
    alt = e.alt_ft + a.alt_offset_ft
    row.update(
        depart_s=e.at_s - e.lead_s,
        start_lat=float(lat[0]),
        start_lon=float(lon[0]),
        start_alt_ft=alt,
        start_kt=t.cruise_kt,
    )
    nan = np.nan
    legs: list[Leg] = [
        (pf.GOTO, float(lat[i]), float(lon[i]), alt, nan, nan, nan, 1.0) for i in (1, 2)
    ]
    return row, legs


def _plan(rows: list[dict[str, Any]], legs: list[list[Leg]]) -> pf.FleetPlan:
    frame = pd.DataFrame(rows)
    counts = np.array([len(x) for x in legs], dtype=np.int64)
    first = np.cumsum(counts) - counts
    flat = np.array([leg for x in legs for leg in x], dtype=np.float64).reshape(-1, 8)

    def col(name: str) -> FloatArray:
        return frame[name].to_numpy(dtype=np.float64)

    return pf.FleetPlan(
        id=frame["id"].to_numpy(dtype=np.str_),
        party=frame["party"].to_numpy(dtype=np.str_),
        min_kt=col("min_kt"),
        max_kt=col("max_kt"),
        cruise_kt=col("cruise_kt"),
        max_climb_fpm=col("max_climb_fpm"),
        max_descent_fpm=col("max_descent_fpm"),
        turn_rate_dps=col("turn_rate_dps"),
        bank_deg=col("bank_deg"),
        ceiling_ft=col("ceiling_ft"),
        accel_kt_s=col("accel_kt_s"),
        follows=frame["follows"].to_numpy(dtype=bool),
        depart_s=col("depart_s"),
        start_lat=col("start_lat"),
        start_lon=col("start_lon"),
        start_alt_ft=col("start_alt_ft"),
        start_kt=col("start_kt"),
        leg_first=first.astype(np.int64),
        leg_end=(first + counts).astype(np.int64),
        leg_kind=flat[:, 0].astype(np.int64),
        leg_lat=flat[:, 1].copy(),
        leg_lon=flat[:, 2].copy(),
        leg_alt_ft=flat[:, 3].copy(),
        leg_kt=flat[:, 4].copy(),
        leg_radius_m=flat[:, 5].copy(),
        leg_duration_s=flat[:, 6].copy(),
        leg_dir=flat[:, 7].copy(),
    )
