"""The exercise in fast time: a scenario flown with the protocol on or off.

:func:`run_scenario` flies every aircraft of a :class:`~deconflict.sim.scenario.Scenario`
(planned by :func:`~deconflict.sim.fleet.build_fleet`) with
:mod:`deconflict.sim.performance` at the scenario's fixed step and returns the
tracks (:data:`TRACK_COLUMNS`). With the protocol on, an *advisory source* is asked
every step for the advisories of the airborne snapshot and the pilots
(:mod:`deconflict.sim.scenario_pilots`) fly them after the reaction delay; with it
off nobody asks and nobody acts. The source is any callable
``TrafficState -> DataFrame`` with the columns of
:func:`deconflict.tactical.advise.advise_state` (``id``, ``manoeuvre``,
``target_vs_fpm``, ``target_track_deg`` at least): :class:`InProcessAdvisor` computes
them here; the demo plugs in the broker, one client per party.

:func:`exercise` is one run with the in-process advisor and its :class:`RunSummary`,
measured by :mod:`deconflict.sim.losses`.
"""

from __future__ import annotations

import time as _time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from deconflict.agreement import Agreement
from deconflict.geo import geodetic_to_ecef
from deconflict.sim import performance as pf
from deconflict.sim import scenario_pilots as sp
from deconflict.sim.fleet import build_fleet
from deconflict.sim.losses import Losses, count_losses, zone_violations
from deconflict.sim.scenario import Scenario
from deconflict.tactical.advise import advise_state
from deconflict.tactical.alerts import LEVELS, AlertTracker
from deconflict.tactical.detect import Kinematics, windows
from deconflict.tactical.resolve import NO_SAFE, manoeuvre_codes
from deconflict.tactical.state import TrafficState
from deconflict.tactical.tables import ADVICE_COLUMNS
from deconflict.units import fpm_to_fps, kt_to_mps, nm_to_m

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
        agreement.vertical_ft + fpm_to_fps(np.abs(state.vs_fpm[a]) + np.abs(state.vs_fpm[b])) * T
    )
    near = np.abs(state.alt_ft[a] - state.alt_ft[b]) < reach_ft
    a, b = a[near], b[near]
    near = np.linalg.norm(p[a] - p[b], axis=1) < reach_m[near]
    if not near.any():
        return False
    return bool(windows(Kinematics.from_state(state), a[near], b[near], agreement).conflict.any())


# -- the run ----------------------------------------------------------------------------------


def run_scenario(
    scenario: Scenario,
    agreement: Agreement,
    protocol_on: bool,
    *,
    advisor: AdvisorySource | None = None,
    duration_s: float | None = None,
    reaction_s: float = sp.REACTION_S,
    progress: Progress | None = None,
    consult_off: bool = False,
) -> pd.DataFrame:
    """Fly ``scenario``; the tracks of every airborne aircraft at every step.

    Columns :data:`TRACK_COLUMNS`: ``run`` (``on``/``off``), ``time`` (s from the
    start), ``id``, ``party``, ``lat``, ``lon`` (deg), ``alt_ft``, ``gs_kt``,
    ``track_deg``, ``vs_fpm``, sorted by time and id, at the scenario's ``step_s``.
    ``advisor`` (protocol on only) defaults to an :class:`InProcessAdvisor` of
    ``agreement``; ``duration_s`` cuts the run short; ``progress(k, n)`` is called
    after each of the ``n`` steps. ``consult_off``: with the protocol off, ``advisor``
    is still asked every step and its answer ignored (the demo's broker records the
    alerts nobody acts on). Deterministic: the same scenario (seed) gives the
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
    pilots = sp.Pilots.start(len(plan), dt, reaction_s)
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
        if not protocol_on and consult_off and idx.size:
            source(pf.traffic_state(plan, state, t, idx))
        if protocol_on:
            adv = source(pf.traffic_state(plan, state, t, idx)) if idx.size else None
            pilots = _hear(pilots, k, plan, state, adv, order)
            pilots = sp.release(pilots, plan, state, nav, t, agreement)
            cmd = sp.apply(pilots, nav)
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
    pilots: sp.Pilots,
    k: int,
    plan: pf.FleetPlan,
    state: pf.FlightState,
    adv: pd.DataFrame | None,
    order: IntArray,
) -> sp.Pilots:
    """Queue this step's advisories for the aircraft that follow them."""
    if adv is None or not len(adv):
        empty = np.zeros(0)
        return sp.receive(
            pilots, k, state, np.zeros(0, dtype=np.int64), empty, empty, empty.astype(bool)
        )
    ids = adv["id"].to_numpy(dtype=np.str_)
    pos = order[np.searchsorted(plan.id[order], ids)]
    keep = plan.follows[pos]
    man = manoeuvre_codes(adv["manoeuvre"].to_numpy(dtype=np.str_))[keep]
    return sp.receive(
        pilots,
        k,
        state,
        pos[keep],
        adv["target_vs_fpm"].to_numpy(dtype=np.float64)[keep],
        adv["target_track_deg"].to_numpy(dtype=np.float64)[keep],
        man == NO_SAFE,
    )


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
    violations = zone_violations(tracks, scenario.zones())
    flown = tracks.drop_duplicates("id")["party"].value_counts()
    return tracks, RunSummary(
        losses=losses,
        violations=violations,
        alerts={lvl: int(advisor.alerts.get(lvl, 0)) for lvl in LEVELS[1:]},
        reversals=advisor.reversals,
        runtime_s=runtime,
        aircraft={str(p): int(n) for p, n in flown.items()},
    )
