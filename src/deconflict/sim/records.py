"""What one closed-loop run records: per pair, per aircraft, and a trace of chosen aircraft.

Encounters do not interact (see :mod:`~deconflict.sim.encounters`), so every
pair that can is known in advance (:func:`~deconflict.sim.encounters.encounter_pairs`);
each step their exact windows are computed with
:func:`deconflict.tactical.detect.windows` and :class:`PairLog` records:

* **predicted conflict**: a loss of separation within the look-ahead (the
  detector's test, so the same pairs the advisories are for); the first step it
  happens gives the detection time and the time to loss then;
* **loss of separation**: horizontal distance < H **and** vertical < V at some
  moment in ``[t, t + dt)``, i.e. the straight-line window of that step starts
  before ``dt`` (so a brief loss between two samples still counts);
* **separation ratio** ``max(d / H, |dz| / V)`` at each sample (< 1: loss).

:class:`AircraftLog` records the advisories each aircraft received and how its
pilot released them (see :mod:`~deconflict.sim.pilots`); :func:`trace_rows` the
state of chosen aircraft each step. :class:`Run` holds them all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from deconflict.sim.encounters import Encounters
from deconflict.sim.kinematics import Fleet
from deconflict.sim.pilots import Issued, Released
from deconflict.tactical.detect import PairGeometry, Windows
from deconflict.tactical.resolve import CLIMB, DESCEND, MANOEUVRES, TURN_LEFT, TURN_RIGHT
from deconflict.units import m_to_nm, nm_to_m

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Columns of the per-step trace of selected aircraft (see :func:`trace_rows`).
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


class PairLog:
    """Accumulates a :class:`PairRecord` of ``n_pairs`` pairs, one sample per step.

    ``horizontal_nm``/``vertical_ft``: the minima H and V of the separation ratio.
    """

    def __init__(self, n_pairs: int, horizontal_nm: float, vertical_ft: float) -> None:
        nan = np.full(n_pairs, np.nan)
        self.h_m = nm_to_m(horizontal_nm)
        self.v_ft = vertical_ft
        self.predicted = np.zeros(n_pairs, dtype=bool)
        self.t_det, self.t_in_det, self.t_lost = nan.copy(), nan.copy(), nan.copy()
        self.lost_steps = np.zeros(n_pairs, dtype=np.int64)
        self.min_sep = np.full(n_pairs, np.inf)
        self.min_d, self.min_dz = nan.copy(), nan.copy()

    def sample(
        self, t: float, dt_s: float, win: Windows, geo: PairGeometry, cross: BoolArray
    ) -> BoolArray:
        """Record the step at ``t`` (s) of length ``dt_s``; returns the pairs predicted now.

        ``win``/``geo``: the pairs' windows and geometry now; ``cross``: whether
        each pair's parties differ (only those count as predicted).
        """
        conflict = win.conflict
        pred = conflict & cross
        new = pred & ~self.predicted
        self.t_det[new] = t
        self.t_in_det[new] = win.t_in_s[new]
        self.predicted |= pred
        lost_now = conflict & (win.t_in_s < dt_s)
        self.t_lost[lost_now & ~(self.lost_steps > 0)] = t
        self.lost_steps += lost_now
        d = np.linalg.norm(geo.r, axis=1)
        dz = np.abs(geo.dz_ft)
        sep = np.maximum(d / self.h_m, dz / self.v_ft)
        better = sep < self.min_sep
        self.min_sep[better] = sep[better]
        self.min_d[better] = m_to_nm(d[better])
        self.min_dz[better] = dz[better]
        return pred

    def record(self, dt_s: float) -> PairRecord:
        """The record so far (``dt_s``: the step, s, to turn loss steps into seconds)."""
        return PairRecord(
            predicted=self.predicted,
            t_det_s=self.t_det,
            t_in_det_s=self.t_in_det,
            lost=self.lost_steps > 0,
            t_lost_s=self.t_lost,
            lost_s=self.lost_steps * dt_s,
            min_sep=self.min_sep,
            min_d_nm=self.min_d,
            min_dz_ft=self.min_dz,
        )


#: Pairs of advised manoeuvres (before, after) that reverse the sense.
_REVERSALS = (
    (CLIMB, DESCEND),
    (DESCEND, CLIMB),
    (TURN_LEFT, TURN_RIGHT),
    (TURN_RIGHT, TURN_LEFT),
)


class AircraftLog:
    """Accumulates an :class:`AircraftRecord` of ``n`` aircraft."""

    def __init__(self, n: int) -> None:
        nan = np.full(n, np.nan)
        self.by_man = np.zeros((n, len(MANOEUVRES)), dtype=np.int64)
        self.first_t, self.first_vs, self.first_trk, self.first_tin, self.first_alt = (
            nan.copy() for _ in range(5)
        )
        self.null_vertical = np.zeros(n, dtype=np.int64)
        self.first_man = np.full(n, -1, dtype=np.int64)
        self.last_man = np.full(n, -1, dtype=np.int64)
        self.changes = np.zeros(n, dtype=np.int64)
        self.reversals = np.zeros(n, dtype=np.int64)
        self.returns = np.zeros(n, dtype=np.int64)
        self.level_offs = np.zeros(n, dtype=np.int64)

    def advised(self, t: float, issued: Issued, fleet: Fleet) -> None:
        """Record the advisories ``issued`` at ``t`` (s) to the ``fleet`` as it was then."""
        idx, man, vs = issued.idx, issued.manoeuvre, issued.target_vs_fpm
        np.add.at(self.by_man, (idx, man), 1)
        first = np.isnan(self.first_t[idx])
        fi = idx[first]
        self.first_t[fi] = t
        self.first_man[fi] = man[first]
        self.first_vs[fi] = vs[first]
        self.first_trk[fi] = issued.target_track_deg[first]
        self.first_tin[fi] = issued.t_in_s[first]
        self.first_alt[fi] = fleet.alt_ft[fi]
        vertical = (man == CLIMB) | (man == DESCEND)
        self.null_vertical[idx] += vertical & (np.abs(vs - fleet.vs_fpm[idx]) < 1.0)
        prev = self.last_man[idx]
        changed = (prev >= 0) & (prev != man)
        self.changes[idx] += changed
        rev = np.zeros(idx.size, dtype=bool)
        for p_man, n_man in _REVERSALS:  # four sense pairs, not a loop over aircraft
            rev |= (prev == p_man) & (man == n_man)
        self.reversals[idx] += rev
        self.last_man[idx] = man

    def released(self, released: Released) -> None:
        """Record the pilots' releases of one step."""
        self.returns += released.resumed
        self.level_offs += released.vertical_only

    def record(self) -> AircraftRecord:
        """The record so far."""
        return AircraftRecord(
            steps_by_manoeuvre=self.by_man,
            first_time_s=self.first_t,
            first_manoeuvre=self.first_man,
            first_target_vs_fpm=self.first_vs,
            first_target_track_deg=self.first_trk,
            first_t_in_s=self.first_tin,
            first_alt_ft=self.first_alt,
            changes=self.changes,
            reversals=self.reversals,
            returns=self.returns,
            level_offs=self.level_offs,
            null_vertical_steps=self.null_vertical,
        )


def trace_rows(
    t: float,
    fleet: Fleet,
    enc: Encounters,
    traced: IntArray,
    rows: pd.DataFrame | None,
    holding: BoolArray,
) -> pd.DataFrame:
    """One step of the ``traced`` aircraft (after this step's commands), :data:`TRACE_COLUMNS`.

    ``rows``: the advisories issued this step (None with advisories off);
    ``holding``: which aircraft hold a resolution.
    """
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
