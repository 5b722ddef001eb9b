"""Closed-loop fast-time simulation: aircraft fly their coordinated advisories.

Every ``dt_s`` (1 s) the whole fleet is one :class:`~deconflict.tactical.state.TrafficState`
snapshot. Each step :func:`simulate`

1. measures every encounter pair (:class:`~deconflict.sim.records.PairLog`);
2. with advisories on, calls :func:`deconflict.tactical.advise.advise_state` on the
   snapshot (the alert tracker passed from step to step), records what each
   aircraft was told (:class:`~deconflict.sim.records.AircraftLog`) and hands it
   to the pilots (:class:`~deconflict.sim.pilots.Pilots`: reaction delay,
   following, release when clear of conflict);
3. moves the fleet one step (:func:`~deconflict.sim.kinematics.step`).

Two checks guard the shortcut of measuring only the pairs of each encounter: with
advisories off the full detector runs every step and any conflict between
different encounters is counted (``stray``); with advisories on, the aircraft
given advisories must be exactly those in a predicted conflict among the known
pairs (``mismatched``). Both must be 0.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt
import pandas as pd

from deconflict.agreement import Agreement
from deconflict.sim.encounters import Encounters, encounter_pairs
from deconflict.sim.kinematics import Fleet, Performance, step
from deconflict.sim.pilots import Issued, Pilots, margin_agreement
from deconflict.sim.records import AircraftLog, PairLog, Run, trace_rows
from deconflict.tactical.advise import advise_state
from deconflict.tactical.alerts import AlertTracker
from deconflict.tactical.detect import Kinematics, detect_state, pair_geometry, windows
from deconflict.tactical.state import TrafficState


def fleet_state(fleet: Fleet, enc: Encounters, time_s: float) -> TrafficState:
    """The fleet as one traffic-state snapshot at ``time_s`` (ids and parties of ``enc``)."""
    return TrafficState(
        time=np.full(len(fleet), float(time_s)),
        id=enc.id,
        party=enc.party,
        lat=fleet.lat,
        lon=fleet.lon,
        alt_ft=fleet.alt_ft,
        gs_kt=fleet.gs_kt,
        track_deg=fleet.track_deg,
        vs_fpm=fleet.vs_fpm,
    )


def simulate(
    enc: Encounters,
    agreement: Agreement | None = None,
    *,
    advisories: bool = True,
    duration_s: float = 480.0,
    dt_s: float = 1.0,
    perf: Performance | None = None,
    trace: npt.ArrayLike | None = None,
) -> Run:
    """Fly ``enc`` for ``duration_s`` seconds in steps of ``dt_s``, with or without advisories.

    ``perf`` defaults to the limits of ``agreement.resolution``; ``trace`` lists
    aircraft indices whose every step is recorded in :attr:`Run.trace`.
    """
    ag = agreement if agreement is not None else Agreement()
    rules = ag.resolution
    perf = perf if perf is not None else Performance.from_rules(rules)
    ag_margin = margin_agreement(ag)
    pairs = encounter_pairs(enc)
    ua, ub, cross = pairs.a, pairs.b, pairs.cross_party
    n = len(enc)
    n_steps = round(duration_s / dt_s)
    traced = np.asarray(trace if trace is not None else [], dtype=np.int64)

    fleet = Fleet.flying(
        lat=enc.lat,
        lon=enc.lon,
        alt_ft=enc.alt_ft,
        gs_kt=enc.gs_kt,
        track_deg=enc.track_deg,
        vs_fpm=enc.vs_fpm,
    )
    pair_log = PairLog(len(pairs), ag.horizontal_nm, ag.vertical_ft)
    aircraft_log = AircraftLog(n)
    pilots = Pilots(n, delay_steps=max(round(rules.reaction_s / dt_s), 1))
    tracker: AlertTracker | None = None
    stray = mismatched = advisory_reversals = 0
    trace_parts: list[pd.DataFrame] = []

    started = time.perf_counter()
    for k in range(n_steps + 1):
        t = k * dt_s
        state = fleet_state(fleet, enc, t)
        kin = Kinematics.from_state(state)
        pred = pair_log.sample(t, dt_s, windows(kin, ua, ub, ag), pair_geometry(kin, ua, ub), cross)
        if k == n_steps:
            break

        rows = None
        if advisories:
            advice = advise_state(state, ag, tracker=tracker)
            tracker = advice.tracker
            advisory_reversals += advice.reversals
            rows = advice.advisories
            issued = Issued.from_advisories(rows, enc.id)
            mismatched += int((issued.advised(n) != pairs.aircraft(n, pred)).sum())
            aircraft_log.advised(t, issued, fleet)
            fleet, released = pilots.respond(k, fleet, state, issued, pairs, ag_margin)
            aircraft_log.released(released)
        else:
            found = detect_state(state, ag)
            stray += int((enc.group[found.a] != enc.group[found.b]).sum())

        if traced.size:
            trace_parts.append(trace_rows(t, fleet, enc, traced, rows, pilots.holding))
        fleet = step(fleet, dt_s, perf)

    runtime = time.perf_counter() - started
    return Run(
        advisories=advisories,
        duration_s=n_steps * dt_s,
        dt_s=dt_s,
        pairs=pair_log.record(dt_s),
        aircraft=aircraft_log.record(),
        runtime_s=runtime,
        stray=stray,
        mismatched=mismatched,
        trace=pd.concat(trace_parts, ignore_index=True) if trace_parts else None,
        advisory_reversals=advisory_reversals,
    )
