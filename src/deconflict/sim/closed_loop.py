"""Closed-loop fast-time simulation: aircraft fly their coordinated advisories.

Every ``dt_s`` (1 s) the whole fleet is one :class:`~deconflict.tactical.state.TrafficState`
snapshot. With advisories on, :func:`deconflict.tactical.advise.advise_state` is called on it
(the alert tracker passed from step to step) and the pilots respond:

Pilot model
-----------
* **Reaction delay.** An advisory issued at ``t`` is flown from ``t + reaction_s``
  (a delay line: every advisory, the first and each update, arrives
  ``reaction_s`` later; TCAS assumes 5 s for the first and 2.5 s for updates, so
  this is the conservative end).
* **Following.** ``climb``/``descend``/``turn_*``: the pilot flies the advisory's
  ``target_vs_fpm`` and ``target_track_deg`` (the latter carried along the path,
  see :mod:`~deconflict.sim.kinematics`), turning at most ``turn_rate_dps`` and
  changing vertical speed at most ``vertical_accel_fps2`` within ``max_vs_fpm``.
  ``no_safe_manoeuvre``: the pilot keeps the current command.
* **Clear of conflict, then back to the clearance.** An aircraft that has flown
  an advisory is *clear of conflict* once no advisory for it is pending (none
  issued in the last ``reaction_s``). From then on, each step, it takes the first
  of these that would leave it in no predicted conflict within the look-ahead
  with the minima enlarged by the resolution margin (6 NM / 1,200 ft by
  default), aircraft taking an option at the same step flying it in the test:

  1. resume the plan: planned track and vertical speed (done);
  2. keep the track, resume the planned vertical speed;
  3. keep the track, level off;

  else it holds its last command, and tries again the next step. There is no
  recapture of the cleared route or level: it resumes the planned heading and
  rate from where the manoeuvre left it. The margin is the hysteresis that stops
  oscillation (release needs 6 NM / 1,200 ft predicted; a new advisory comes
  below 5 NM / 1,000 ft), and the test is what a controller, or a system
  announcing "clear of conflict, resume", would check against all traffic.

  A first version held the manoeuvre until past closest approach with every
  aircraft it had been in conflict with (range increasing), as the brief
  suggested; that kept some aircraft climbing at 3,000 ft/min for two minutes
  after the threat was solved (beyond ``max_alt_ft``), because a former threat
  no longer in conflict was still converging slowly. The predicted-clear test
  covers the purpose of that rule (no return into the conflict just solved)
  without its side effects.

Measurements
------------
Encounters do not interact (see :mod:`~deconflict.sim.encounters`), so every
pair that can is known in advance (:func:`~deconflict.sim.encounters.encounter_pairs`);
each step their exact windows are computed with
:func:`deconflict.tactical.detect.windows`:

* **predicted conflict**: a loss of separation within the look-ahead (the
  detector's test, so the same pairs the advisories are for); the first step it
  happens gives the detection time and the time to loss then;
* **loss of separation**: horizontal distance < H **and** vertical < V at some
  moment in ``[t, t + dt)``, i.e. the straight-line window of that step starts
  before ``dt`` (so a brief loss between two samples still counts);
* **separation ratio** ``max(d / H, |dz| / V)`` at each sample (< 1: loss).

Two checks guard the shortcut: with advisories off the full detector runs every
step and any conflict between different encounters is counted (``stray``); with
advisories on, the aircraft given advisories must be exactly those in a
predicted conflict among the known pairs (``mismatched``). Both must be 0.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from deconflict.agreement import Agreement
from deconflict.sim.encounters import KINDS, EncounterPairs, Encounters, encounter_pairs
from deconflict.sim.kinematics import Fleet, Performance, command, step
from deconflict.tactical.advise import advise_state
from deconflict.tactical.alerts import AlertTracker
from deconflict.tactical.detect import Kinematics, detect_state, pair_geometry, windows
from deconflict.tactical.resolve import CLIMB, DESCEND, MANOEUVRES, NO_SAFE, TURN_LEFT, TURN_RIGHT
from deconflict.tactical.state import TrafficState
from deconflict.units import m_to_nm, nm_to_m

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Columns of the per-step trace of selected aircraft (see :func:`simulate`).
TRACE_COLUMNS = (
    "time",
    "id",
    "lat",
    "lon",
    "alt_ft",
    "gs_kt",
    "track_deg",
    "vs_fpm",
    "cmd_track_deg",
    "cmd_vs_fpm",
    "planned_track_deg",
    "planned_vs_fpm",
    "manoeuvre",
    "target_vs_fpm",
    "target_track_deg",
    "t_in_s",
    "holding",
)


@dataclass(frozen=True)
class PairRecord:
    """What happened to each pair of :class:`~deconflict.sim.encounters.EncounterPairs`.

    ``predicted``: ever predicted in conflict; ``t_det_s`` the first such time
    and ``t_in_det_s`` the predicted time to loss then (s; NaN if never).
    ``lost``: separation ever lost; ``t_lost_s`` first time, ``lost_s`` seconds of
    steps with a loss. ``min_sep`` smallest separation ratio ``max(d/H, |dz|/V)``
    sampled, ``min_d_nm``/``min_dz_ft`` the distances then.
    """

    predicted: BoolArray
    t_det_s: FloatArray
    t_in_det_s: FloatArray
    lost: BoolArray
    t_lost_s: FloatArray
    lost_s: FloatArray
    min_sep: FloatArray
    min_d_nm: FloatArray
    min_dz_ft: FloatArray


@dataclass(frozen=True)
class AircraftRecord:
    """Advisories each aircraft received (all zero / NaN / -1 with advisories off).

    ``steps_by_manoeuvre`` (N, 5): steps with each manoeuvre of
    :data:`~deconflict.tactical.resolve.MANOEUVRES`. ``first_*``: the first advisory
    (time s, manoeuvre code or -1, targets ft/min and deg, time to loss s, and
    the aircraft's altitude then, ft).
    ``changes``: times the advised manoeuvre changed; ``reversals``: of which
    climb ↔ descend or left ↔ right; ``returns``: times it resumed its plan;
    ``level_offs``: times it changed only its vertical speed, clear of conflict,
    unable yet to resume; ``null_vertical_steps``: steps with a climb or descend
    advisory whose target is its current vertical speed (asks for no change).
    """

    steps_by_manoeuvre: IntArray
    first_time_s: FloatArray
    first_manoeuvre: IntArray
    first_target_vs_fpm: FloatArray
    first_target_track_deg: FloatArray
    first_t_in_s: FloatArray
    first_alt_ft: FloatArray
    changes: IntArray
    reversals: IntArray
    returns: IntArray
    level_offs: IntArray
    null_vertical_steps: IntArray


@dataclass(frozen=True)
class Run:
    """One simulation: per-pair and per-aircraft records and run facts.

    ``stray``: predicted conflicts seen between aircraft of different encounters
    (advisories off; must be 0); ``mismatched``: aircraft-steps where advisories
    and predictions among encounter pairs disagreed (advisories on; must be 0).
    ``advisory_reversals``: conflicts whose held manoeuvre the advisories replaced
    (counted reversals, :attr:`deconflict.tactical.advise.Advice.reversals`, summed over steps).
    ``trace``: per-step rows of the traced aircraft (:data:`TRACE_COLUMNS`) or None.
    """

    advisories: bool
    duration_s: float
    dt_s: float
    pairs: PairRecord
    aircraft: AircraftRecord
    runtime_s: float
    stray: int
    mismatched: int
    trace: pd.DataFrame | None
    advisory_reversals: int = 0


#: Pairs of advised manoeuvres (before, after) that reverse the sense.
_REVERSALS = (
    (CLIMB, DESCEND),
    (DESCEND, CLIMB),
    (TURN_LEFT, TURN_RIGHT),
    (TURN_RIGHT, TURN_LEFT),
)


def _margin_agreement(ag: Agreement) -> Agreement:
    """The agreement with both minima enlarged by the resolution margin."""
    k = 1.0 + ag.resolution.margin
    return ag.model_copy(
        update={"horizontal_nm": ag.horizontal_nm * k, "vertical_ft": ag.vertical_ft * k}
    )


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


def _mark(n: int, a: IntArray, b: IntArray, mask: BoolArray) -> BoolArray:
    """Aircraft that appear in any pair ``(a, b)`` where ``mask`` holds."""
    out = np.zeros(n, dtype=bool)
    out[a[mask]] = True
    out[b[mask]] = True
    return out


def _codes(names: npt.NDArray[np.str_]) -> IntArray:
    """Manoeuvre names → indices into :data:`MANOEUVRES`."""
    ref = np.asarray(MANOEUVRES)
    sorter = np.argsort(ref)
    return sorter[np.searchsorted(ref, names, sorter=sorter)].astype(np.int64)


def _stays_clear(
    state: TrafficState,
    movers: BoolArray,
    track_deg: FloatArray,
    vs_fpm: FloatArray,
    pairs: EncounterPairs,
    ag: Agreement,
) -> BoolArray:
    """Aircraft that would be in no predicted conflict if ``movers`` flew these values now.

    ``movers`` take ``track_deg``/``vs_fpm`` (deg, ft/min; others keep theirs);
    conflicts are those of ``ag`` among the different-party ``pairs``.
    """
    trial = dataclasses.replace(
        state,
        track_deg=np.where(movers, track_deg, state.track_deg),
        vs_fpm=np.where(movers, vs_fpm, state.vs_fpm),
    )
    win = windows(Kinematics.from_state(trial), pairs.a, pairs.b, ag)
    return ~_mark(len(state), pairs.a, pairs.b, win.conflict & pairs.cross_party)


def _release(
    state: TrafficState,
    fleet: Fleet,
    ready: BoolArray,
    holding: BoolArray,
    pairs: EncounterPairs,
    ag: Agreement,
) -> tuple[Fleet, BoolArray, BoolArray, BoolArray]:
    """Pilots clear of conflict (``ready``) leave their resolution as far as stays clear.

    Options, in order, each taken only if no predicted conflict of ``ag`` follows
    (aircraft that took an earlier option fly it in later tests): resume the plan
    (planned track and vertical speed; the aircraft stops holding); keep the track
    and resume the planned vertical speed; keep the track and level off. Returns
    the fleet, the holding flags, who resumed the plan and who changed only
    vertically (still holding, so it resumes later).
    """
    n = len(fleet)
    trk = fleet.track_deg.copy()
    vs = fleet.vs_fpm.copy()
    moved = np.zeros(n, dtype=bool)
    off_plan = fleet.cmd_vs_fpm != fleet.planned_vs_fpm  # once back on it, never level off
    options = (
        (fleet.planned_track_deg, fleet.planned_vs_fpm, ready),
        (fleet.track_deg, fleet.planned_vs_fpm, ready & off_plan),
        (fleet.track_deg, np.zeros(n), ready & off_plan & (fleet.cmd_vs_fpm != 0.0)),
    )
    taken = []
    for opt_trk, opt_vs, eligible in options:  # three options, not a loop over aircraft
        cand = eligible & ~moved
        trial_trk = np.where(cand, opt_trk, trk)
        trial_vs = np.where(cand, opt_vs, vs)
        ok = cand & _stays_clear(state, moved | cand, trial_trk, trial_vs, pairs, ag)
        trk = np.where(ok, opt_trk, trk)
        vs = np.where(ok, opt_vs, vs)
        moved |= ok
        taken.append(ok)
    resumed = taken[0]
    vertical_only = taken[1] | taken[2]
    fleet = command(fleet, resumed, fleet.planned_track_deg, fleet.planned_vs_fpm)
    fleet = command(fleet, vertical_only, vs_fpm=vs)
    return fleet, holding & ~resumed, resumed, vertical_only


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
    ag_margin = _margin_agreement(ag)
    pairs = encounter_pairs(enc)
    ua, ub, cross = pairs.a, pairs.b, pairs.cross_party
    n, n_pairs = len(enc), len(pairs)
    H = nm_to_m(ag.horizontal_nm)
    V = ag.vertical_ft
    n_steps = round(duration_s / dt_s)
    delay = max(round(rules.reaction_s / dt_s), 1)
    traced = np.asarray(trace if trace is not None else [], dtype=np.int64)

    fleet = Fleet.flying(
        lat=enc.lat,
        lon=enc.lon,
        alt_ft=enc.alt_ft,
        gs_kt=enc.gs_kt,
        track_deg=enc.track_deg,
        vs_fpm=enc.vs_fpm,
    )
    # Pair records.
    nan_p = np.full(n_pairs, np.nan)
    predicted = np.zeros(n_pairs, dtype=bool)
    t_det, t_in_det, t_lost = nan_p.copy(), nan_p.copy(), nan_p.copy()
    lost_steps = np.zeros(n_pairs, dtype=np.int64)
    min_sep = np.full(n_pairs, np.inf)
    min_d, min_dz = nan_p.copy(), nan_p.copy()
    # Aircraft records.
    nan_a = np.full(n, np.nan)
    by_man = np.zeros((n, len(MANOEUVRES)), dtype=np.int64)
    first_t, first_vs, first_trk, first_tin, first_alt = (nan_a.copy() for _ in range(5))
    null_vertical = np.zeros(n, dtype=np.int64)
    first_man = np.full(n, -1, dtype=np.int64)
    last_man = np.full(n, -1, dtype=np.int64)
    changes = np.zeros(n, dtype=np.int64)
    reversals = np.zeros(n, dtype=np.int64)
    returns = np.zeros(n, dtype=np.int64)
    # Pilot state: the delay line of advisories and who holds a resolution.
    q_set = np.zeros((delay, n), dtype=bool)
    q_man = np.full((delay, n), -1, dtype=np.int64)
    q_vs = np.zeros((delay, n))
    q_trk = np.zeros((delay, n))  # target track minus the transport at issue time
    holding = np.zeros(n, dtype=bool)
    level_offs = np.zeros(n, dtype=np.int64)
    tracker: AlertTracker | None = None
    stray = mismatched = advisory_reversals = 0
    trace_parts: list[pd.DataFrame] = []

    started = time.perf_counter()
    for k in range(n_steps + 1):
        t = k * dt_s
        state = fleet_state(fleet, enc, t)
        kin = Kinematics.from_state(state)
        win = windows(kin, ua, ub, ag)
        geo = pair_geometry(kin, ua, ub)
        conflict = win.conflict
        pred = conflict & cross
        new = pred & ~predicted
        t_det[new] = t
        t_in_det[new] = win.t_in_s[new]
        predicted |= pred
        lost_now = conflict & (win.t_in_s < dt_s)
        t_lost[lost_now & ~(lost_steps > 0)] = t
        lost_steps += lost_now
        d = np.linalg.norm(geo.r, axis=1)
        dz = np.abs(geo.dz_ft)
        sep = np.maximum(d / H, dz / V)
        better = sep < min_sep
        min_sep[better] = sep[better]
        min_d[better] = m_to_nm(d[better])
        min_dz[better] = dz[better]
        if k == n_steps:
            break

        advised = np.zeros(n, dtype=bool)
        adv_idx = np.zeros(0, dtype=np.int64)
        adv_man = np.zeros(0, dtype=np.int64)
        rows = None
        if advisories:
            advice = advise_state(state, ag, tracker=tracker)
            tracker = advice.tracker
            advisory_reversals += advice.reversals
            rows = advice.advisories
            adv_idx = np.searchsorted(enc.id, rows["id"].to_numpy(dtype=str)).astype(np.int64)
            adv_man = _codes(rows["manoeuvre"].to_numpy(dtype=str))
            adv_vs = rows["target_vs_fpm"].to_numpy(dtype=np.float64)
            adv_trk = rows["target_track_deg"].to_numpy(dtype=np.float64)
            adv_tin = rows["t_in_s"].to_numpy(dtype=np.float64)
            advised[adv_idx] = True
            mismatched += int((advised != _mark(n, ua, ub, pred)).sum())

            # Records of advisories received.
            np.add.at(by_man, (adv_idx, adv_man), 1)
            first = np.isnan(first_t[adv_idx])
            fi = adv_idx[first]
            first_t[fi] = t
            first_man[fi] = adv_man[first]
            first_vs[fi] = adv_vs[first]
            first_trk[fi] = adv_trk[first]
            first_tin[fi] = adv_tin[first]
            first_alt[fi] = fleet.alt_ft[fi]
            vertical = (adv_man == CLIMB) | (adv_man == DESCEND)
            null_vertical[adv_idx] += vertical & (np.abs(adv_vs - fleet.vs_fpm[adv_idx]) < 1.0)
            prev = last_man[adv_idx]
            changed = (prev >= 0) & (prev != adv_man)
            changes[adv_idx] += changed
            rev = np.zeros(adv_idx.size, dtype=bool)
            for p_man, n_man in _REVERSALS:  # four sense pairs, not a loop over aircraft
                rev |= (prev == p_man) & (adv_man == n_man)
            reversals[adv_idx] += rev
            last_man[adv_idx] = adv_man

            # The delay line: fly what was issued ``delay`` steps ago, queue what is issued now.
            slot = k % delay
            due = q_set[slot]
            fly = due & (q_man[slot] != NO_SAFE)
            fleet = command(fleet, fly, q_trk[slot] + fleet.transport_deg, q_vs[slot])
            holding |= due
            q_set[slot] = advised
            q_man[slot, adv_idx] = adv_man
            q_vs[slot, adv_idx] = adv_vs
            q_trk[slot, adv_idx] = adv_trk - fleet.transport_deg[adv_idx]

            # Clear of conflict: resume the plan, or its vertical speed, or level off,
            # whichever first stays clear (with margin); else hold.
            ready = holding & ~q_set.any(axis=0)
            if ready.any():
                fleet, holding, resumed, levelled = _release(
                    state, fleet, ready, holding, pairs, ag_margin
                )
                returns += resumed
                level_offs += levelled
        else:
            found = detect_state(state, ag)
            stray += int((enc.group[found.a] != enc.group[found.b]).sum())

        if traced.size:
            trace_parts.append(_trace_rows(t, fleet, enc, traced, rows, holding))
        fleet = step(fleet, dt_s, perf)

    runtime = time.perf_counter() - started
    return Run(
        advisories=advisories,
        duration_s=n_steps * dt_s,
        dt_s=dt_s,
        pairs=PairRecord(
            predicted=predicted,
            t_det_s=t_det,
            t_in_det_s=t_in_det,
            lost=lost_steps > 0,
            t_lost_s=t_lost,
            lost_s=lost_steps * dt_s,
            min_sep=min_sep,
            min_d_nm=min_d,
            min_dz_ft=min_dz,
        ),
        aircraft=AircraftRecord(
            steps_by_manoeuvre=by_man,
            first_time_s=first_t,
            first_manoeuvre=first_man,
            first_target_vs_fpm=first_vs,
            first_target_track_deg=first_trk,
            first_t_in_s=first_tin,
            first_alt_ft=first_alt,
            changes=changes,
            reversals=reversals,
            returns=returns,
            level_offs=level_offs,
            null_vertical_steps=null_vertical,
        ),
        runtime_s=runtime,
        stray=stray,
        mismatched=mismatched,
        trace=pd.concat(trace_parts, ignore_index=True) if trace_parts else None,
        advisory_reversals=advisory_reversals,
    )


def _trace_rows(
    t: float,
    fleet: Fleet,
    enc: Encounters,
    traced: IntArray,
    rows: pd.DataFrame | None,
    holding: BoolArray,
) -> pd.DataFrame:
    """One step of the traced aircraft (after this step's commands)."""
    frame = pd.DataFrame(
        {
            "time": t,
            "id": enc.id[traced].astype(object),
            "lat": fleet.lat[traced],
            "lon": fleet.lon[traced],
            "alt_ft": fleet.alt_ft[traced],
            "gs_kt": fleet.gs_kt[traced],
            "track_deg": fleet.track_deg[traced],
            "vs_fpm": fleet.vs_fpm[traced],
            "cmd_track_deg": fleet.cmd_track_deg[traced],
            "cmd_vs_fpm": fleet.cmd_vs_fpm[traced],
            "planned_track_deg": fleet.planned_track_deg[traced],
            "planned_vs_fpm": fleet.planned_vs_fpm[traced],
            "holding": holding[traced],
        }
    )
    if rows is not None and len(rows):
        adv = rows.set_index("id")[["manoeuvre", "target_vs_fpm", "target_track_deg", "t_in_s"]]
        frame = frame.join(adv, on="id")
    else:
        for col in ("manoeuvre", "target_vs_fpm", "target_track_deg", "t_in_s"):
            frame[col] = np.nan
    return frame[list(TRACE_COLUMNS)]


# -- outcome ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """Outcome of one run, measured on the conflicts of the run without advisories.

    A *conflict* is a pair of different parties predicted in conflict at some step
    without advisories, whose predicted loss (first detection time plus time to
    loss then) comes at least ``tail_s`` before the end of the run, so that it can
    be observed (``beyond_run`` counts the others, left out); it is *early* when
    first predicted at least ``early_s`` before the loss. ``resolved_*``: share of
    those with no loss of separation in this run. ``induced``: pairs losing
    separation in this run that were never predicted in conflict, nor lost
    separation, without advisories;
    ``induced_share`` = ``induced / conflicts``. ``new_predicted``: pairs predicted
    in conflict only in this run. ``min_sep_early``: smallest separation ratio
    ``max(d/H, |dz|/V)`` over the early conflicts. Advisory counts are
    aircraft-steps (``no_safe`` the ``no_safe_manoeuvre`` ones) and aircraft
    (``*_aircraft``: advised at all, ever ``no_safe_manoeuvre``, ever told the
    opposite sense, ever told a different manoeuvre); ``level_offs`` and
    ``returns`` count the pilots' releases (see the pilot model);
    ``null_vertical_steps`` the climb/descend advisories asking for no change;
    ``advisory_reversals`` the counted reversals (a conflict's held manoeuvre replaced).
    """

    conflicts: int
    beyond_run: int
    early: int
    resolved_early: float
    resolved_all: float
    unresolved_early: int
    induced: int
    induced_share: float
    new_predicted: int
    losses: int
    min_sep_early: float
    median_min_sep_early: float
    vertical_steps: int
    turn_steps: int
    no_safe_steps: int
    advised_aircraft: int
    no_safe_aircraft: int
    reversal_aircraft: int
    changing_aircraft: int
    level_offs: int
    null_vertical_steps: int
    returns: int
    runtime_s: float
    advisory_reversals: int = 0


def conflict_mask(off: Run, pairs: EncounterPairs, tail_s: float = 60.0) -> BoolArray:
    """The pairs counted as conflicts (see :class:`Figures`), from the run without advisories."""
    loss_at = off.pairs.t_det_s + off.pairs.t_in_det_s
    return off.pairs.predicted & pairs.cross_party & (loss_at <= off.duration_s - tail_s)


def figures(
    off: Run, on: Run, pairs: EncounterPairs, early_s: float = 60.0, tail_s: float = 60.0
) -> Figures:
    """:class:`Figures` of ``on`` (use ``on=off`` for the run without advisories)."""
    cross = pairs.cross_party
    conflict = conflict_mask(off, pairs, tail_s)
    early = conflict & (off.pairs.t_in_det_s >= early_s)
    lost = on.pairs.lost & cross
    induced = lost & ~off.pairs.predicted & ~off.pairs.lost
    n_conf = int(conflict.sum())
    man = on.aircraft.steps_by_manoeuvre
    sep = on.pairs.min_sep[early]
    return Figures(
        conflicts=n_conf,
        beyond_run=int((off.pairs.predicted & cross & ~conflict).sum()),
        early=int(early.sum()),
        resolved_early=float((early & ~lost).sum() / max(int(early.sum()), 1)),
        resolved_all=float((conflict & ~lost).sum() / max(n_conf, 1)),
        unresolved_early=int((early & lost).sum()),
        induced=int(induced.sum()),
        induced_share=float(induced.sum() / max(n_conf, 1)),
        new_predicted=int((on.pairs.predicted & cross & ~off.pairs.predicted).sum()),
        losses=int(lost.sum()),
        min_sep_early=float(sep.min()) if sep.size else float("nan"),
        median_min_sep_early=float(np.median(sep)) if sep.size else float("nan"),
        vertical_steps=int(man[:, CLIMB].sum() + man[:, DESCEND].sum()),
        turn_steps=int(man[:, TURN_LEFT].sum() + man[:, TURN_RIGHT].sum()),
        no_safe_steps=int(man[:, NO_SAFE].sum()),
        advised_aircraft=int((man.sum(axis=1) > 0).sum()),
        no_safe_aircraft=int((man[:, NO_SAFE] > 0).sum()),
        reversal_aircraft=int((on.aircraft.reversals > 0).sum()),
        changing_aircraft=int((on.aircraft.changes > 0).sum()),
        level_offs=int(on.aircraft.level_offs.sum()),
        null_vertical_steps=int(on.aircraft.null_vertical_steps.sum()),
        returns=int(on.aircraft.returns.sum()),
        runtime_s=on.runtime_s,
        advisory_reversals=on.advisory_reversals,
    )


#: Columns of :func:`pair_table`.
PAIR_COLUMNS = (
    "group",
    "id_a",
    "id_b",
    "kind",
    "cross_party",
    "predicted_off",
    "t_det_off_s",
    "t_in_det_off_s",
    "lost_off",
    "predicted_on",
    "t_det_on_s",
    "lost_on",
    "t_lost_on_s",
    "lost_on_s",
    "min_sep_on",
    "min_d_on_nm",
    "min_dz_on_ft",
    "first_man_a",
    "first_man_b",
    "changes_a",
    "changes_b",
    "crossing",
    "no_safe_a",
    "no_safe_b",
    "null_vertical_a",
    "null_vertical_b",
)


def _crossing(ac: AircraftRecord, a: IntArray, b: IntArray) -> BoolArray:
    """First advisories of opposite vertical sense that make ``a`` and ``b`` cross levels."""
    a_up = ac.first_manoeuvre[a] == CLIMB
    b_up = ac.first_manoeuvre[b] == CLIMB
    opposite = (a_up & (ac.first_manoeuvre[b] == DESCEND)) | (
        b_up & (ac.first_manoeuvre[a] == DESCEND)
    )
    a_lower = ac.first_alt_ft[a] < ac.first_alt_ft[b]
    return opposite & (a_up == a_lower)


def pair_table(enc: Encounters, pairs: EncounterPairs, off: Run, on: Run) -> pd.DataFrame:
    """One row per encounter pair with both runs' outcomes (:data:`PAIR_COLUMNS`).

    ``kind`` is the planted geometry for the planted pair, ``background``
    otherwise; ``first_man_*`` the first advisory each aircraft received (any
    threat), ``changes_*`` how often its advised manoeuvre changed, ``crossing``
    whether those first advisories are opposite vertical senses that make the
    two cross each other's altitude (the one told to climb was the lower when
    advised); ``no_safe_*`` and ``null_vertical_*`` count each aircraft's
    ``no_safe_manoeuvre`` steps and climb/descend steps that asked for no change.
    """
    names = np.asarray([*MANOEUVRES, ""], dtype=object)
    kind = np.where(
        pairs.planted, np.asarray(KINDS, dtype=object)[enc.kind[pairs.group]], "background"
    )
    ac = on.aircraft
    return pd.DataFrame(
        {
            "group": pairs.group,
            "id_a": enc.id[pairs.a].astype(object),
            "id_b": enc.id[pairs.b].astype(object),
            "kind": kind,
            "cross_party": pairs.cross_party,
            "predicted_off": off.pairs.predicted,
            "t_det_off_s": off.pairs.t_det_s,
            "t_in_det_off_s": off.pairs.t_in_det_s,
            "lost_off": off.pairs.lost,
            "predicted_on": on.pairs.predicted,
            "t_det_on_s": on.pairs.t_det_s,
            "lost_on": on.pairs.lost,
            "t_lost_on_s": on.pairs.t_lost_s,
            "lost_on_s": on.pairs.lost_s,
            "min_sep_on": on.pairs.min_sep,
            "min_d_on_nm": on.pairs.min_d_nm,
            "min_dz_on_ft": on.pairs.min_dz_ft,
            "first_man_a": names[ac.first_manoeuvre[pairs.a]],
            "first_man_b": names[ac.first_manoeuvre[pairs.b]],
            "changes_a": ac.changes[pairs.a],
            "changes_b": ac.changes[pairs.b],
            "crossing": _crossing(ac, pairs.a, pairs.b),
            "no_safe_a": ac.steps_by_manoeuvre[pairs.a, NO_SAFE],
            "no_safe_b": ac.steps_by_manoeuvre[pairs.b, NO_SAFE],
            "null_vertical_a": ac.null_vertical_steps[pairs.a],
            "null_vertical_b": ac.null_vertical_steps[pairs.b],
        },
        columns=list(PAIR_COLUMNS),
    )
