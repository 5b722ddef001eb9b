"""The outcome of a run with advisories, against the same encounters flown without.

:func:`figures` sums it up (:class:`Figures`: conflicts resolved, losses induced,
advisories given); :func:`pair_table` lists it pair by pair for reading a case.
A *conflict* is defined on the run without advisories (:func:`conflict_mask`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from deconflict.sim.encounters import KINDS, EncounterPairs, Encounters
from deconflict.sim.records import AircraftRecord, Run
from deconflict.tactical.resolve import CLIMB, DESCEND, MANOEUVRES, NO_SAFE, TURN_LEFT, TURN_RIGHT

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


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
    ``returns`` count the pilots' releases (see :mod:`~deconflict.sim.pilots`);
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
