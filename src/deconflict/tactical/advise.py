"""Advisories over arrays: detection, alert tracking and coordinated manoeuvres per snapshot.

:func:`advise_state` is the orchestration the broker engine and the simulator call on
a validated :class:`~deconflict.tactical.state.TrafficState`; :func:`advise` is its
DataFrame form (the public :func:`deconflict.advise`). The result tables' columns are
declared in :mod:`deconflict.tactical.tables`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt
import pandas as pd

from deconflict.agreement import Agreement
from deconflict.tactical.alerts import LEVELS, AlertTracker, pair_keys, track
from deconflict.tactical.detect import Kinematics, detect_kinematics, pair_geometry, windows
from deconflict.tactical.resolve import (
    PairAdvice,
    choose,
    other_half,
    pair_options,
    per_aircraft,
    tie_hashes,
)
from deconflict.tactical.state import TrafficState
from deconflict.tactical.tables import EVENT_COLUMNS, advice_frame, as_state, events_frame


@dataclass(frozen=True)
class Advice:
    """What :func:`advise_state` returns: advisories, alert events, and the tracker to keep."""

    advisories: pd.DataFrame
    events: pd.DataFrame
    tracker: AlertTracker
    #: Conflicting pairs: ``a``/``b`` index the states; ``conflict_id``, ``level``, ``t_in_s``,
    #: ``reversed`` (the pair's held manoeuvre was replaced now: a counted reversal).
    pairs: pd.DataFrame

    @property
    def reversals(self) -> int:
        """Number of advisory reversals in these snapshots (see :func:`advise_state`)."""
        return int(self.pairs["reversed"].sum())


def advise(
    states: pd.DataFrame | TrafficState,
    agreement: Agreement | None = None,
    *,
    all_pairs: bool = False,
) -> pd.DataFrame:
    """One coordinated advisory per aircraft in conflict, per snapshot time.

    Columns :data:`~deconflict.tactical.tables.ADVICE_COLUMNS`: ``conflict_id``
    (opaque, stable over the snapshots of one episode; the aircraft's most urgent
    conflict), ``level``
    (``advisory`` | ``caution`` | ``warning``, with hysteresis over the snapshots),
    ``manoeuvre`` (``climb`` | ``descend`` | ``turn_left`` | ``turn_right`` |
    ``no_safe_manoeuvre``), ``target_vs_fpm`` and ``target_track_deg`` (what to fly;
    the current value where the manoeuvre does not change it), ``t_in_s`` (time to
    the aircraft's first predicted loss of separation).
    """
    ag = agreement if agreement is not None else Agreement()
    return advise_state(as_state(states), ag, all_pairs=all_pairs).advisories


def advise_state(
    state: TrafficState,
    agreement: Agreement,
    *,
    all_pairs: bool = False,
    tracker: AlertTracker | None = None,
    salt: str = "",
    reported_id: npt.NDArray[np.str_] | None = None,
) -> Advice:
    """Detection, alert tracking and advisories over the snapshots of ``state``, in time order.

    Pass the returned ``tracker`` to the next call to keep conflict ids, levels and
    issued senses across calls (a live feed): a conflict keeps its manoeuvre while
    that still restores the minima, and a replacement is a counted reversal
    (``pairs.reversed``). ``salt`` is mixed into the opaque conflict ids. The
    vertical tie-break uses the aircraft ids as reported and the party names
    (``state.party``); where ``state.id`` is an internal key (the broker's), give
    the reported ids as ``reported_id``.
    """
    ag = agreement
    kin = Kinematics.from_state(state)
    conflicts = detect_kinematics(kin, ag, party=None if all_pairs else state.party)
    a, b = conflicts.a, conflicts.b
    keys = pair_keys(state.id[a], state.id[b])
    snap = kin.snap[a]
    order = np.lexsort((keys, snap))
    a, b, keys, snap = a[order], b[order], keys[order], snap[order]
    t_in = conflicts.t_in_s[order]

    win = windows(kin, a, b, ag)
    geometry = pair_geometry(kin, a, b)
    ids = reported_id if reported_id is not None else state.id
    party = state.party if state.party is not None else np.full(len(state), "", dtype=np.str_)
    tie_a, tie_b = tie_hashes(ids, party, a, b, ag.fingerprint)
    # Senses can be held only from a previous snapshot: this call's or the tracker's.
    held = kin.times.size > 1 or (tracker is not None and bool((tracker.sense >= 0).any()))
    options = pair_options(kin, state.track_deg, a, b, geometry, win, tie_a, tie_b, ag, held=held)
    a_first = state.id[a] <= state.id[b]  # the tracker's sense is that of the key's first id

    level = np.zeros(a.size, dtype=np.int64)
    cid = np.zeros(a.size, dtype="<U17")
    event_parts: list[pd.DataFrame] = []
    advice_parts: list[PairAdvice] = []
    current = tracker if tracker is not None else AlertTracker.empty()
    bounds = np.searchsorted(snap, np.arange(kin.times.size + 1))
    for k, t in enumerate(kin.times):
        lo, hi = bounds[k], bounds[k + 1]
        held = current.held_sense(keys[lo:hi])
        first = a_first[lo:hi]
        chosen = choose(options, np.where(first, held, other_half(held)), slice(lo, hi))
        sense = np.where(first, chosen.man_a, chosen.man_b)
        step = track(
            current,
            float(t),
            keys[lo:hi],
            t_in[lo:hi],
            ag.alerts,
            salt + ag.fingerprint,
            sense=sense,
        )
        current = step.tracker
        level[lo:hi] = step.level
        cid[lo:hi] = step.conflict_id
        advice_parts.append(chosen)
        if step.events.key.size:
            event_parts.append(events_frame(float(t), step))
    if not advice_parts:
        advice_parts.append(choose(options, np.zeros(0, dtype=np.int64), slice(0, 0)))
    advice = PairAdvice(
        **{
            f.name: np.concatenate([getattr(p, f.name) for p in advice_parts])
            for f in fields(PairAdvice)
        }
    )

    per = per_aircraft(advice, t_in, state.track_deg)
    worst_level = np.zeros(len(state), dtype=np.int64)
    np.maximum.at(worst_level, a, level)
    np.maximum.at(worst_level, b, level)
    frame = advice_frame(state, per, worst_level, cid, t_in)
    events = (
        pd.concat(event_parts, ignore_index=True)
        if event_parts
        else pd.DataFrame(columns=list(EVENT_COLUMNS))
    )
    pairs = pd.DataFrame(
        {
            "a": a,
            "b": b,
            "conflict_id": cid.astype(object),
            "level": np.asarray(LEVELS, dtype=object)[level],
            "t_in_s": t_in,
            "reversed": advice.reversed,
        }
    )
    return Advice(advisories=frame, events=events, tracker=current, pairs=pairs)
