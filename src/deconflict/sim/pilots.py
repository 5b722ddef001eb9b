"""The pilot model of the closed loop: how aircraft fly the advisories they receive.

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
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from deconflict.agreement import Agreement
from deconflict.sim.encounters import EncounterPairs
from deconflict.sim.kinematics import Fleet, command
from deconflict.tactical.detect import Kinematics, windows
from deconflict.tactical.resolve import NO_SAFE, manoeuvre_codes
from deconflict.tactical.state import TrafficState

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Issued:
    """The advisories issued at one step, one entry per advised aircraft.

    ``idx``: aircraft index; ``manoeuvre``: index into
    :data:`~deconflict.tactical.resolve.MANOEUVRES`; ``target_vs_fpm`` (ft/min),
    ``target_track_deg`` (deg), ``t_in_s`` (time to loss, s).
    """

    idx: IntArray
    manoeuvre: IntArray
    target_vs_fpm: FloatArray
    target_track_deg: FloatArray
    t_in_s: FloatArray

    @classmethod
    def from_advisories(cls, rows: pd.DataFrame, ids: npt.NDArray[np.str_]) -> Issued:
        """From the rows of :func:`~deconflict.tactical.advise.advise_state` (``ids`` sorted)."""
        return cls(
            idx=np.searchsorted(ids, rows["id"].to_numpy(dtype=str)).astype(np.int64),
            manoeuvre=manoeuvre_codes(rows["manoeuvre"].to_numpy(dtype=str)),
            target_vs_fpm=rows["target_vs_fpm"].to_numpy(dtype=np.float64),
            target_track_deg=rows["target_track_deg"].to_numpy(dtype=np.float64),
            t_in_s=rows["t_in_s"].to_numpy(dtype=np.float64),
        )

    def advised(self, n: int) -> BoolArray:
        """Which of ``n`` aircraft were advised."""
        out = np.zeros(n, dtype=bool)
        out[self.idx] = True
        return out


def margin_agreement(ag: Agreement) -> Agreement:
    """The agreement with both minima enlarged by the resolution margin (release test)."""
    k = 1.0 + ag.resolution.margin
    return ag.model_copy(
        update={"horizontal_nm": ag.horizontal_nm * k, "vertical_ft": ag.vertical_ft * k}
    )


def trial_conflicts(
    state: TrafficState,
    track_deg: FloatArray,
    vs_fpm: FloatArray,
    a: IntArray,
    b: IntArray,
    ag: Agreement,
) -> BoolArray:
    """The release test: pairs ``(a, b)`` in predicted conflict if all flew these now.

    Every aircraft of ``state`` flies ``track_deg`` (deg) and ``vs_fpm`` (ft/min)
    from now; the conflicts are the detector's exact windows with the minima of
    ``ag`` (for a release, :func:`margin_agreement`'s). One bool per pair. Shared
    by both pilot models (:mod:`deconflict.sim.scenario_pilots`).
    """
    trial = dataclasses.replace(state, track_deg=track_deg, vs_fpm=vs_fpm)
    return windows(Kinematics.from_state(trial), a, b, ag).conflict


@dataclass(frozen=True)
class Released:
    """Pilots released at one step: ``resumed`` their plan, or changed ``vertical_only``."""

    resumed: BoolArray
    vertical_only: BoolArray


class Pilots:
    """The pilots of a fleet of ``n``: the delay line of advisories and who holds a resolution.

    Mutable, one per run: :meth:`respond` is called once per step with the
    advisories issued then. ``delay_steps`` is the reaction delay in steps (≥ 1).
    """

    def __init__(self, n: int, delay_steps: int) -> None:
        self.delay_steps = delay_steps
        self.queued = np.zeros((delay_steps, n), dtype=bool)
        self.manoeuvre = np.full((delay_steps, n), -1, dtype=np.int64)
        self.vs_fpm = np.zeros((delay_steps, n))
        self.track_deg = np.zeros((delay_steps, n))  # target track minus the transport at issue
        self.holding = np.zeros(n, dtype=bool)

    def respond(
        self,
        k: int,
        fleet: Fleet,
        state: TrafficState,
        issued: Issued,
        pairs: EncounterPairs,
        ag_margin: Agreement,
    ) -> tuple[Fleet, Released]:
        """Step ``k``: fly what was issued ``delay_steps`` ago, queue ``issued``, release.

        ``state`` is the fleet's snapshot this step, ``ag_margin`` the agreement of the
        release test (:func:`margin_agreement`). Returns the commanded fleet and who
        was released (see the module's pilot model).
        """
        n = len(fleet)
        slot = k % self.delay_steps
        due = self.queued[slot]
        fly = due & (self.manoeuvre[slot] != NO_SAFE)
        fleet = command(fleet, fly, self.track_deg[slot] + fleet.transport_deg, self.vs_fpm[slot])
        self.holding |= due
        self.queued[slot] = issued.advised(n)
        self.manoeuvre[slot, issued.idx] = issued.manoeuvre
        self.vs_fpm[slot, issued.idx] = issued.target_vs_fpm
        self.track_deg[slot, issued.idx] = issued.target_track_deg - fleet.transport_deg[issued.idx]

        # Clear of conflict: resume the plan, or its vertical speed, or level off,
        # whichever first stays clear (with margin); else hold.
        ready = self.holding & ~self.queued.any(axis=0)
        if not ready.any():
            none = np.zeros(n, dtype=bool)
            return fleet, Released(resumed=none, vertical_only=none)
        fleet, self.holding, released = _release(
            state, fleet, ready, self.holding, pairs, ag_margin
        )
        return fleet, released


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
    trk = np.where(movers, track_deg, state.track_deg)
    vs = np.where(movers, vs_fpm, state.vs_fpm)
    hit = trial_conflicts(state, trk, vs, pairs.a, pairs.b, ag)
    return ~pairs.aircraft(len(state), hit & pairs.cross_party)


def _release(
    state: TrafficState,
    fleet: Fleet,
    ready: BoolArray,
    holding: BoolArray,
    pairs: EncounterPairs,
    ag: Agreement,
) -> tuple[Fleet, BoolArray, Released]:
    """Pilots clear of conflict (``ready``) leave their resolution as far as stays clear.

    Options, in order, each taken only if no predicted conflict of ``ag`` follows
    (aircraft that took an earlier option fly it in later tests): resume the plan
    (planned track and vertical speed; the aircraft stops holding); keep the track
    and resume the planned vertical speed; keep the track and level off. Returns
    the fleet, the holding flags, and who resumed the plan or changed only
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
    return fleet, holding & ~resumed, Released(resumed=resumed, vertical_only=vertical_only)
