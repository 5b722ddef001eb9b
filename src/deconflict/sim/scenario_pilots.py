"""The pilots of the scenario exercise: advisories flown after a delay, navigation resumed.

With the protocol on, each advisory is flown :data:`REACTION_S` after it is issued
(rounded up to whole steps), its target vertical speed and track replacing the
navigation's; ``no_safe_manoeuvre`` holds the current ones. Once no advisory is
pending for it, the pilot resumes navigation if that stays clear of predicted
conflict with the minima enlarged by the agreement's resolution margin, else levels
off if that does, else holds and tries again at the next step (the margin is the
hysteresis against flip-flop). Aircraft whose type does not follow advisories
(cruise missiles) are given none (:func:`deconflict.sim.exercise.run_scenario`).

The same pilot as the closed loop's (:mod:`deconflict.sim.pilots`: delay line,
following, release when clear with margin), flying a different aircraft model, so
the two are kept apart; they share the release test
(:func:`~deconflict.sim.pilots.margin_agreement`,
:func:`~deconflict.sim.pilots.trial_conflicts`). The differences, each of which
would change the figures of one side if merged:

* here pilots fly :mod:`deconflict.sim.performance` aircraft, which navigate
  along routes and orbits (:class:`~deconflict.sim.performance.Commands` from
  :func:`~deconflict.sim.performance.navigate` every step): *resuming* means
  handing the controls back to the navigation. The closed loop's aircraft fly a
  fixed planned track and rate (:class:`~deconflict.sim.kinematics.Fleet`).
* release options: here two (resume navigation; level off on the current track),
  each tested with only the aircraft taking it moved; the closed loop has three
  (also "keep the track, resume the planned rate") and keeps the aircraft moved by
  an earlier option moved in later tests.
* here the release test judges every airborne aircraft of another party (the
  exercise has no list of pairs); the closed loop judges its encounter pairs.
* ``no_safe_manoeuvre`` holds the *current* track and rate here (copied when
  due); the closed loop keeps the current *command*.
* the delay is :data:`REACTION_S` rounded *up* to whole steps (``ceil``); the
  closed loop rounds the agreement's ``reaction_s`` to the nearest step.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from deconflict.agreement import Agreement
from deconflict.sim.performance import Commands, FleetPlan, FlightState, traffic_state
from deconflict.sim.pilots import margin_agreement, trial_conflicts

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Pilot reaction delay to an advisory, s (the TCAS assumption for a first advisory).
REACTION_S = 5.0


@dataclass(frozen=True, eq=False)
class Pilots:
    """The pilots' side of advisories: a delay line and what each one flies now.

    ``q_*`` (delay steps x N): advisories issued and not yet flown (``q_set``), their
    target vertical speed (ft/min) and track (deg), ``q_hold`` for
    ``no_safe_manoeuvre``. ``following``: flying an advisory (or its level-off)
    instead of the navigation, at ``vs_fpm``/``track_deg``.
    """

    q_set: BoolArray
    q_vs: FloatArray
    q_trk: FloatArray
    q_hold: BoolArray
    following: BoolArray
    vs_fpm: FloatArray
    track_deg: FloatArray

    @classmethod
    def start(cls, n: int, dt_s: float, reaction_s: float = REACTION_S) -> Pilots:
        """N pilots with no advisory; the delay is ``reaction_s`` rounded up to whole steps."""
        d = max(math.ceil(reaction_s / dt_s - 1e-9), 1)
        return cls(
            q_set=np.zeros((d, n), dtype=bool),
            q_vs=np.zeros((d, n)),
            q_trk=np.zeros((d, n)),
            q_hold=np.zeros((d, n), dtype=bool),
            following=np.zeros(n, dtype=bool),
            vs_fpm=np.zeros(n),
            track_deg=np.zeros(n),
        )

    @property
    def delay_steps(self) -> int:
        """Steps between an advisory and the pilot flying it."""
        return int(self.q_set.shape[0])


def receive(
    pilots: Pilots,
    k: int,
    state: FlightState,
    aircraft: IntArray,
    vs_fpm: FloatArray,
    track_deg: FloatArray,
    hold: BoolArray,
) -> Pilots:
    """Step ``k``: fly the advisories issued ``delay_steps`` ago, queue those issued now.

    ``aircraft`` indexes the fleet (only those that follow advisories should be
    given); ``hold`` marks ``no_safe_manoeuvre`` (keep the current track and rate).
    """
    slot = k % pilots.delay_steps
    due = pilots.q_set[slot]
    hold_due = due & pilots.q_hold[slot]
    vs = np.where(due, np.where(hold_due, state.vs_fpm, pilots.q_vs[slot]), pilots.vs_fpm)
    trk = np.where(due, np.where(hold_due, state.track_deg, pilots.q_trk[slot]), pilots.track_deg)
    q_set, q_vs, q_trk, q_hold = (
        a.copy() for a in (pilots.q_set, pilots.q_vs, pilots.q_trk, pilots.q_hold)
    )
    q_set[slot] = False
    q_set[slot, aircraft] = True
    q_vs[slot, aircraft] = vs_fpm
    q_trk[slot, aircraft] = track_deg
    q_hold[slot] = False
    q_hold[slot, aircraft] = hold
    return Pilots(
        q_set=q_set,
        q_vs=q_vs,
        q_trk=q_trk,
        q_hold=q_hold,
        following=pilots.following | due,
        vs_fpm=vs,
        track_deg=trk,
    )


def release(
    pilots: Pilots,
    plan: FleetPlan,
    state: FlightState,
    nav: Commands,
    t_s: float,
    agreement: Agreement,
) -> Pilots:
    """Pilots clear of conflict (no advisory pending) resume navigation, or level off.

    Each option is taken only where the trial snapshot (these aircraft flying it,
    the others as they are) shows no cross-party conflict with the minima enlarged
    by ``agreement.resolution.margin``.
    """
    ready = pilots.following & ~pilots.q_set.any(axis=0) & state.airborne
    if not ready.any():
        return pilots
    wide = margin_agreement(agreement)
    following = pilots.following.copy()
    vs = pilots.vs_fpm.copy()
    trk = pilots.track_deg.copy()
    options = (
        (nav.vs_fpm, nav.track_deg, True),  # resume the plan
        (np.zeros_like(vs), state.track_deg, False),  # level off, keep the track
    )
    todo = ready.copy()
    for opt_vs, opt_trk, resumes in options:  # two options, not a loop over aircraft
        if not todo.any():
            break
        trial_vs = np.where(todo, opt_vs, state.vs_fpm)
        trial_trk = np.where(todo, opt_trk, state.track_deg)
        ok = _clear(plan, state, t_s, trial_vs, trial_trk, wide, todo)
        if resumes:
            following &= ~ok
        else:
            vs = np.where(ok, 0.0, vs)
            trk = np.where(ok, state.track_deg, trk)
        todo &= ~ok
    return dataclasses.replace(pilots, following=following, vs_fpm=vs, track_deg=trk)


def _clear(
    plan: FleetPlan,
    state: FlightState,
    t_s: float,
    vs_fpm: FloatArray,
    track_deg: FloatArray,
    agreement: Agreement,
    ask: BoolArray,
) -> BoolArray:
    """Of the aircraft ``ask``, those in no predicted cross-party conflict if all flew these now.

    Only the pairs of an asked aircraft and an airborne one of another party are
    judged (:func:`~deconflict.sim.pilots.trial_conflicts`).
    """
    idx = np.flatnonzero(state.airborne)
    party = plan.party[idx]
    mine = np.flatnonzero(ask[idx])
    a = np.repeat(mine, idx.size)
    b = np.tile(np.arange(idx.size), mine.size)
    keep = party[a] != party[b]
    a, b = a[keep], b[keep]
    bad = np.zeros(len(plan), dtype=bool)
    if a.size:
        trial = traffic_state(plan, state, t_s, idx)
        trk = np.mod(track_deg[idx], 360.0)
        hit = trial_conflicts(trial, trk, vs_fpm[idx], a, b, agreement)
        bad[idx[a[hit]]] = True
    return ask & ~bad


def apply(pilots: Pilots, nav: Commands) -> Commands:
    """The commands flown: the advisory's (or level-off's) where following, else navigation's."""
    f = pilots.following
    return Commands(
        track_deg=np.where(f, pilots.track_deg, nav.track_deg),
        vs_fpm=np.where(f, pilots.vs_fpm, nav.vs_fpm),
        speed_kt=nav.speed_kt,
    )
