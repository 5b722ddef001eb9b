"""The exercise in fast time: a scenario flown with the protocol on or off, and its losses.

:func:`run_scenario` flies every sortie of a :class:`~deconflict.sim.scenario.Scenario`
with :mod:`deconflict.sim.performance` at the scenario's fixed step and returns the
tracks (:data:`TRACK_COLUMNS`). With the protocol on, an *advisory source* is asked
every step for the advisories of the airborne snapshot and the pilots fly them
(after the reaction delay); with it off nobody asks and nobody acts. The source is
any callable ``TrafficState -> DataFrame`` with the columns of
:func:`deconflict.tactical.advise.advise_state` (``id``, ``manoeuvre``,
``target_vs_fpm``, ``target_track_deg`` at least): :class:`InProcessAdvisor` computes
them here; the demo plugs in the broker, one client per party.

:func:`count_losses` measures a run from its tracks alone: cross-party losses of
separation and NMACs as episodes, loss seconds, the smallest horizontal separation;
vectorised with the tactical broad phase over all time steps at once.
:func:`zone_violations` finds the time spent inside protected airspace.
"""

from __future__ import annotations

import itertools
import time as _time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from deconflict.agreement import Agreement
from deconflict.airspace.zones import Zones
from deconflict.errors import InputError
from deconflict.geo import geodetic_from_enu, geodetic_to_ecef
from deconflict.sim import performance as pf
from deconflict.sim.scenario import (
    AircraftType,
    Base,
    CrossingAircraft,
    CrossingEvent,
    Scenario,
    Sortie,
    StrayEvent,
)
from deconflict.tactical.advise import advise_state
from deconflict.tactical.alerts import LEVELS, AlertTracker
from deconflict.tactical.detect import Kinematics, windows
from deconflict.tactical.pairs import overlapping_pairs
from deconflict.tactical.resolve import NO_SAFE, manoeuvre_codes
from deconflict.tactical.state import TrafficState
from deconflict.tactical.tables import ADVICE_COLUMNS
from deconflict.units import ft_to_m, kt_to_mps, m_to_nm, nm_to_m

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Columns of the tracks (the output contract of ``out/tracks.parquet``).
TRACK_COLUMNS = (
    "run",
    "time",
    "id",
    "party",
    "lat",
    "lon",
    "alt_ft",
    "gs_kt",
    "track_deg",
    "vs_fpm",
)
#: Columns of :attr:`Losses.episodes`.
EPISODE_COLUMNS = (
    "id_a",
    "id_b",
    "party_a",
    "party_b",
    "start_s",
    "end_s",
    "samples",
    "min_h_nm",
    "min_v_ft",
    "nmac",
)
#: NMAC: closer than this horizontally (ft) ...
NMAC_H_FT = 500.0
#: ... and this vertically (ft).
NMAC_V_FT = 100.0
#: Time steps whose pairs are found at once by :func:`count_losses` (bounds memory).
STEPS_PER_CHUNK = 400

AdvisorySource = Callable[[TrafficState], pd.DataFrame]
Progress = Callable[[int, int], None]


# -- the advisory source ----------------------------------------------------------------------


@dataclass
class InProcessAdvisor:
    """Advisories computed in this process with the agreement's rules, tracker kept.

    Calls :func:`~deconflict.tactical.advise.advise_state` on each snapshot; where the
    detector finds no conflict and the tracker holds none open, the (identical, empty)
    answer is given without it. Counts ``alerts`` raised by level (new conflicts and
    level changes) and advisory ``reversals``.
    """

    agreement: Agreement
    tracker: AlertTracker | None = None
    reversals: int = 0
    alerts: Counter[str] = field(default_factory=Counter)

    def __call__(self, state: TrafficState) -> pd.DataFrame:
        """Advisories for this snapshot (columns :data:`ADVICE_COLUMNS`)."""
        idle = self.tracker is None or len(self.tracker) == 0
        if idle and not any_conflict(state, self.agreement):
            return _NO_ADVICE
        advice = advise_state(state, self.agreement, tracker=self.tracker)
        self.tracker = advice.tracker
        self.reversals += advice.reversals
        raised = advice.events[advice.events["event"] != "cleared"]
        self.alerts.update(raised["level"].tolist())
        return advice.advisories


#: The empty answer (shared: callers only read it).
_NO_ADVICE = pd.DataFrame(columns=list(ADVICE_COLUMNS))


def any_conflict(state: TrafficState, agreement: Agreement) -> bool:
    """Tell whether the detector would find a cross-party conflict in one snapshot.

    The same exact windows (:func:`deconflict.tactical.detect.windows`), on the
    cross-party pairs that a bound leaves: closer now (chord on the ellipsoid) than
    ``H`` plus both ground speeds over the look-ahead plus 1 NM (the chord and the
    detector's mean tangent plane differ by tens of metres at these ranges), and
    vertically closer than ``V`` plus both vertical speeds over it. A test checks
    it against :func:`~deconflict.tactical.detect.detect_state`.
    """
    n = len(state)
    if n < 2 or state.party is None:
        return False
    T = agreement.lookahead_s
    p = geodetic_to_ecef(state.lat, state.lon, 0.0)
    a, b = np.triu_indices(n, 1)
    cross = state.party[a] != state.party[b]
    a, b = a[cross], b[cross]
    reach_m = (
        nm_to_m(agreement.horizontal_nm + 1.0) + kt_to_mps(state.gs_kt[a] + state.gs_kt[b]) * T
    )
    reach_ft = (
        agreement.vertical_ft + (np.abs(state.vs_fpm[a]) + np.abs(state.vs_fpm[b])) / 60.0 * T
    )
    near = np.abs(state.alt_ft[a] - state.alt_ft[b]) < reach_ft
    a, b = a[near], b[near]
    near = np.linalg.norm(p[a] - p[b], axis=1) < reach_m[near]
    if not near.any():
        return False
    return bool(windows(Kinematics.from_state(state), a[near], b[near], agreement).conflict.any())


# -- building the fleet -----------------------------------------------------------------------


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


# -- the run ----------------------------------------------------------------------------------


def run_scenario(
    scenario: Scenario,
    agreement: Agreement,
    protocol_on: bool,
    *,
    advisor: AdvisorySource | None = None,
    duration_s: float | None = None,
    reaction_s: float = pf.REACTION_S,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Fly ``scenario``; the tracks of every airborne aircraft at every step.

    Columns :data:`TRACK_COLUMNS`: ``run`` (``on``/``off``), ``time`` (s from the
    start), ``id``, ``party``, ``lat``, ``lon`` (deg), ``alt_ft``, ``gs_kt``,
    ``track_deg``, ``vs_fpm``, sorted by time and id, at the scenario's ``step_s``.
    ``advisor`` (protocol on only) defaults to an :class:`InProcessAdvisor` of
    ``agreement``; ``duration_s`` cuts the run short; ``progress(k, n)`` is called
    after each of the ``n`` steps. Deterministic: the same scenario (seed) gives the
    same tracks.
    """
    fleet = build_fleet(scenario)
    plan = fleet.plan
    dt = scenario.step_s
    total = scenario.duration_s if duration_s is None else min(duration_s, scenario.duration_s)
    n_steps = round(total / dt)
    source = advisor if advisor is not None else InProcessAdvisor(agreement)
    order = np.argsort(plan.id)
    state = pf.FlightState.initial(plan)
    pilots = pf.Pilots.start(len(plan), dt, reaction_s)
    det_t = fleet.detours["time"].to_numpy(dtype=np.float64)
    det_i = fleet.detours["aircraft"].to_numpy(dtype=np.int64)
    det_lat = fleet.detours["lat"].to_numpy(dtype=np.float64)
    det_lon = fleet.detours["lon"].to_numpy(dtype=np.float64)
    next_detour = 0
    rec_idx: list[IntArray] = []
    rec_t: list[FloatArray] = []
    rec_val: list[FloatArray] = []
    for k in range(n_steps + 1):
        t = k * dt
        state = pf.depart(plan, state, t)
        while next_detour < det_t.size and det_t[next_detour] <= t + 1e-9:
            state = _detour(
                state, int(det_i[next_detour]), det_lat[next_detour], det_lon[next_detour]
            )
            next_detour += 1
        state, nav = pf.navigate(plan, state, t)
        idx = np.flatnonzero(state.airborne)
        rec_idx.append(idx)
        rec_t.append(np.full(idx.size, t))
        rec_val.append(
            np.stack(
                [
                    state.lat[idx],
                    state.lon[idx],
                    state.alt_ft[idx],
                    state.gs_kt[idx],
                    state.track_deg[idx],
                    state.vs_fpm[idx],
                ],
                axis=1,
            )
        )
        if k == n_steps:
            break
        cmd = nav
        if protocol_on:
            adv = source(pf.traffic_state(plan, state, t, idx)) if idx.size else None
            pilots = _hear(pilots, k, plan, state, adv, order)
            pilots = pf.release(pilots, plan, state, nav, t, agreement)
            cmd = pf.apply(pilots, nav)
        state = pf.fly(plan, state, cmd, dt)
        if progress is not None:
            progress(k + 1, n_steps)
    idx = np.concatenate(rec_idx)
    val = np.concatenate(rec_val)
    tracks = pd.DataFrame(
        {
            "run": pd.Categorical(
                np.full(idx.size, "on" if protocol_on else "off"), categories=["on", "off"]
            ),
            "time": np.concatenate(rec_t),
            "id": plan.id[idx].astype(object),
            "party": plan.party[idx].astype(object),
            "lat": val[:, 0],
            "lon": val[:, 1],
            "alt_ft": val[:, 2],
            "gs_kt": val[:, 3],
            "track_deg": val[:, 4],
            "vs_fpm": val[:, 5],
        },
        columns=list(TRACK_COLUMNS),
    )
    return tracks.sort_values(["time", "id"], kind="stable").reset_index(drop=True)


def _detour(state: pf.FlightState, i: int, lat: float, lon: float) -> pf.FlightState:
    d_lat, d_lon = state.detour_lat.copy(), state.detour_lon.copy()
    d_lat[i], d_lon[i] = lat, lon
    return pf.FlightState(**{**state.__dict__, "detour_lat": d_lat, "detour_lon": d_lon})


def _hear(
    pilots: pf.Pilots,
    k: int,
    plan: pf.FleetPlan,
    state: pf.FlightState,
    adv: pd.DataFrame | None,
    order: IntArray,
) -> pf.Pilots:
    """Queue this step's advisories for the aircraft that follow them."""
    if adv is None or not len(adv):
        empty = np.zeros(0)
        return pf.receive(
            pilots, k, state, np.zeros(0, dtype=np.int64), empty, empty, empty.astype(bool)
        )
    ids = adv["id"].to_numpy(dtype=np.str_)
    pos = order[np.searchsorted(plan.id[order], ids)]
    keep = plan.follows[pos]
    man = manoeuvre_codes(adv["manoeuvre"].to_numpy(dtype=np.str_))[keep]
    return pf.receive(
        pilots,
        k,
        state,
        pos[keep],
        adv["target_vs_fpm"].to_numpy(dtype=np.float64)[keep],
        adv["target_track_deg"].to_numpy(dtype=np.float64)[keep],
        man == NO_SAFE,
    )


# -- measuring --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Losses:
    """Cross-party separation of one run, from its tracks.

    ``losses``: loss-of-separation episodes (horizontal < H and vertical < V at a
    sample; an episode is a run of consecutive samples of one pair), ``loss_s`` the
    samples in loss times the step (s), ``nmac`` the episodes closer than 500 ft
    horizontally and 100 ft vertically, ``min_h_nm`` the smallest horizontal
    distance between aircraft of different parties less than V apart vertically
    (NaN if none came within ``2·H``). ``episodes``: one row per loss episode
    (:data:`EPISODE_COLUMNS`).
    """

    losses: int
    loss_s: float
    nmac: int
    min_h_nm: float
    episodes: pd.DataFrame


def count_losses(tracks: pd.DataFrame, h_nm: float, v_ft: float) -> Losses:
    """Cross-party losses of separation and NMACs in the tracks of one run.

    ``tracks`` has the columns ``time, id, party, lat, lon, alt_ft`` (one run: a
    ``run`` column, if any, must hold one value) at a fixed step. Horizontal
    distance is the chord between the points on the WGS84 ellipsoid (within
    millimetres of the geodesic at these ranges). Candidate pairs come from the
    tactical broad phase over all samples at once (no loop over pairs).
    """
    if "run" in tracks.columns and tracks["run"].nunique() > 1:
        raise InputError("count_losses: tracks of several runs; select one 'run' first")
    missing = [c for c in ("time", "id", "party", "lat", "lon", "alt_ft") if c not in tracks]
    if missing:
        raise InputError(f"count_losses: missing column(s) {missing}")
    h_m = nm_to_m(float(h_nm))
    reach_m = 2.0 * h_m
    times, step = np.unique(tracks["time"].to_numpy(dtype=np.float64), return_inverse=True)
    dt = float(np.median(np.diff(times))) if times.size > 1 else 0.0
    ids, code = np.unique(tracks["id"].to_numpy(dtype=np.str_), return_inverse=True)
    party = tracks["party"].to_numpy(dtype=np.str_)
    pos = geodetic_to_ecef(
        tracks["lat"].to_numpy(np.float64), tracks["lon"].to_numpy(np.float64), 0.0
    )
    alt = tracks["alt_ft"].to_numpy(dtype=np.float64)
    order = np.argsort(step, kind="stable")
    bounds = np.searchsorted(
        step[order], np.arange(0, times.size + STEPS_PER_CHUNK, STEPS_PER_CHUNK)
    )
    parts: list[tuple[IntArray, IntArray, FloatArray, FloatArray]] = []
    min_h = np.inf
    for lo, hi in itertools.pairwise(bounds):
        rows = order[lo:hi]
        if rows.size < 2:
            continue
        box = np.column_stack([pos[rows], alt[rows]])
        half = np.array([reach_m / 2] * 3 + [v_ft / 2])
        found = overlapping_pairs(
            box - half, box + half, step[rows], np.array([reach_m] * 3 + [v_ft])
        )
        a, b = rows[found.i], rows[found.j]
        cross = party[a] != party[b]
        a, b = a[cross], b[cross]
        d = np.linalg.norm(pos[a] - pos[b], axis=1)
        dz = np.abs(alt[a] - alt[b])
        close = dz < v_ft
        if close.any():
            min_h = min(min_h, float(d[close].min()))
        lost = close & (d < h_m)
        parts.append((a[lost], b[lost], d[lost], dz[lost]))
    a = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    b = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    d = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0)
    dz = np.concatenate([p[3] for p in parts]) if parts else np.zeros(0)
    nmac_hit = (d < ft_to_m(NMAC_H_FT)) & (dz < NMAC_V_FT)
    episodes = _episodes(a, b, d, dz, nmac_hit, step, code, ids, party, times)
    nmac = _episodes(
        a[nmac_hit],
        b[nmac_hit],
        d[nmac_hit],
        dz[nmac_hit],
        nmac_hit[nmac_hit],
        step,
        code,
        ids,
        party,
        times,
    )
    return Losses(
        losses=len(episodes),
        loss_s=float(a.size * dt),
        nmac=len(nmac),
        min_h_nm=float(m_to_nm(min_h)) if np.isfinite(min_h) else float("nan"),
        episodes=episodes,
    )


def _episodes(
    a: IntArray,
    b: IntArray,
    d: FloatArray,
    dz: FloatArray,
    nmac: npt.NDArray[np.bool_],
    step: IntArray,
    code: IntArray,
    ids: npt.NDArray[np.str_],
    party: npt.NDArray[np.str_],
    times: FloatArray,
) -> pd.DataFrame:
    """Runs of consecutive samples of each pair (rows ``a``, ``b`` of the tracks).

    An episode is flagged ``nmac`` when any of its samples is (``nmac`` per sample).
    """
    ca, cb = code[a], code[b]
    swap = ca > cb
    ra, rb = np.where(swap, b, a), np.where(swap, a, b)
    key = np.minimum(ca, cb).astype(np.int64) * ids.size + np.maximum(ca, cb)
    s = step[ra]
    o = np.lexsort((s, key))
    key, s, ra, rb, d, dz, nmac = key[o], s[o], ra[o], rb[o], d[o], dz[o], nmac[o]
    new = (
        np.r_[True, (key[1:] != key[:-1]) | (s[1:] != s[:-1] + 1)]
        if key.size
        else np.zeros(0, bool)
    )
    first = np.flatnonzero(new)
    last = np.r_[first[1:], key.size][: first.size].astype(np.int64) - 1
    ep = np.cumsum(new) - 1
    n = first.size
    min_d = np.full(n, np.inf)
    min_z = np.full(n, np.inf)
    np.minimum.at(min_d, ep, d)
    np.minimum.at(min_z, ep, dz)
    flag = np.zeros(n, dtype=bool)
    np.logical_or.at(flag, ep, nmac)
    frame = pd.DataFrame(
        {
            "id_a": ids[code[ra[first]]].astype(object),
            "id_b": ids[code[rb[first]]].astype(object),
            "party_a": party[ra[first]].astype(object),
            "party_b": party[rb[first]].astype(object),
            "start_s": times[s[first]],
            "end_s": times[s[last]],
            "samples": (last - first + 1).astype(np.int64),
            "min_h_nm": m_to_nm(min_d),
            "min_v_ft": min_z,
            "nmac": flag,
        },
        columns=list(EPISODE_COLUMNS),
    )
    return frame


#: Columns of :func:`zone_violations`.
VIOLATION_COLUMNS = ("id", "party", "zone", "start_s", "end_s", "samples", "seconds")


def zone_violations(
    tracks: pd.DataFrame, zones: Zones, closed_to: Mapping[str, Sequence[str]] | None = None
) -> pd.DataFrame:
    """Episodes of aircraft inside protected zones (closed polygon, band and window).

    Tracks of one run at a fixed step; ``seconds`` is samples times the step.
    ``closed_to`` maps a zone name to the parties it is closed to (others may fly
    in it; zones not named are closed to all: :attr:`Scenario.zone_parties`). Each
    zone is tested against all samples at once (``shapely.contains_xy`` in
    longitude/latitude: zone edges are straight there, as GeoJSON says).
    """
    times, step = np.unique(tracks["time"].to_numpy(dtype=np.float64), return_inverse=True)
    dt = float(np.median(np.diff(times))) if times.size > 1 else 0.0
    lon = tracks["lon"].to_numpy(dtype=np.float64)
    lat = tracks["lat"].to_numpy(dtype=np.float64)
    alt = tracks["alt_ft"].to_numpy(dtype=np.float64)
    t = tracks["time"].to_numpy(dtype=np.float64)
    ids = tracks["id"].to_numpy(dtype=np.str_)
    party = tracks["party"].to_numpy(dtype=np.str_)
    out = []
    for z, zone in enumerate(zones.zones):  # a handful of zones, each over every sample
        band = (alt >= zone.floor_ft) & (alt <= zone.ceiling_ft)
        if closed_to is not None and zone.name in closed_to:
            band &= np.isin(party, np.asarray(closed_to[zone.name], dtype=np.str_))
        w = slice(zones.window_first[z], zones.window_first[z] + zones.window_count[z])
        live = np.zeros(t.size, dtype=bool)
        for start, end in zip(zones.window_start_s[w], zones.window_end_s[w], strict=True):
            live |= (t >= start) & (t <= end)
        cand = np.flatnonzero(band & live)
        inside = cand[shapely.contains_xy(zone.geometry, lon[cand], lat[cand])]
        inside = inside[np.lexsort((step[inside], ids[inside]))]
        if not inside.size:
            continue
        who, s = ids[inside], step[inside]
        new = np.r_[True, (who[1:] != who[:-1]) | (s[1:] != s[:-1] + 1)]
        first = np.flatnonzero(new)
        last = np.r_[first[1:], inside.size] - 1
        out.append(
            pd.DataFrame(
                {
                    "id": who[first].astype(object),
                    "party": party[inside[first]].astype(object),
                    "zone": zone.name,
                    "start_s": times[s[first]],
                    "end_s": times[s[last]],
                    "samples": last - first + 1,
                    "seconds": (last - first + 1) * dt,
                }
            )
        )
    if not out:
        return pd.DataFrame(columns=list(VIOLATION_COLUMNS))
    return pd.concat(out, ignore_index=True)[list(VIOLATION_COLUMNS)]


@dataclass(frozen=True)
class RunSummary:
    """One run in figures: its losses, zone violations, alerts and reversals, runtime (s)."""

    losses: Losses
    violations: pd.DataFrame
    alerts: dict[str, int]
    reversals: int
    runtime_s: float
    aircraft: dict[str, int]


def exercise(
    scenario: Scenario,
    agreement: Agreement,
    protocol_on: bool,
    *,
    duration_s: float | None = None,
    progress: Progress | None = None,
) -> tuple[pd.DataFrame, RunSummary]:
    """One run with the in-process advisor: its tracks and its summary."""
    advisor = InProcessAdvisor(agreement)
    started = _time.perf_counter()
    tracks = run_scenario(
        scenario, agreement, protocol_on, advisor=advisor, duration_s=duration_s, progress=progress
    )
    runtime = _time.perf_counter() - started
    losses = count_losses(tracks, agreement.horizontal_nm, agreement.vertical_ft)
    violations = zone_violations(tracks, scenario.zones(), scenario.zone_parties)
    flown = tracks.drop_duplicates("id")["party"].value_counts()
    return tracks, RunSummary(
        losses=losses,
        violations=violations,
        alerts={lvl: int(advisor.alerts.get(lvl, 0)) for lvl in LEVELS[1:]},
        reversals=advisor.reversals,
        runtime_s=runtime,
        aircraft={str(p): int(n) for p, n in flown.items()},
    )
