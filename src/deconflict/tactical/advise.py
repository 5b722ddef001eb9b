"""The DataFrame edge of the core: validated pandas in, documented pandas out."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt
import pandas as pd

from deconflict._util import KEY_SEP
from deconflict.agreement import Agreement
from deconflict.tactical.alerts import EVENT_KINDS, LEVELS, AlertTracker, Tracked, pair_keys, track
from deconflict.tactical.detect import (
    Conflicts,
    Kinematics,
    detect_kinematics,
    detect_state,
    pair_geometry,
    windows,
)
from deconflict.tactical.resolve import (
    MANOEUVRES,
    PairAdvice,
    choose,
    other_half,
    pair_options,
    per_aircraft,
    tie_hashes,
)
from deconflict.tactical.state import TrafficState
from deconflict.units import NM

#: Columns of :func:`detect`'s result, in order.
CONFLICT_COLUMNS = (
    "time",
    "id_a",
    "id_b",
    "party_a",
    "party_b",
    "t_in_s",
    "t_out_s",
    "t_cpa_s",
    "d_cpa_nm",
    "dz_cpa_ft",
)


def as_state(states: pd.DataFrame | TrafficState) -> TrafficState:
    """Validate a DataFrame of input columns (or pass a :class:`TrafficState` through)."""
    if isinstance(states, TrafficState):
        return states
    return TrafficState.from_frame(states)


def detect(
    states: pd.DataFrame | TrafficState,
    agreement: Agreement | None = None,
    *,
    all_pairs: bool = False,
) -> pd.DataFrame:
    """Every pair predicted to lose separation within the look-ahead, per snapshot time.

    ``states`` has the columns ``time, id, [party], lat, lon, alt_ft, gs_kt,
    track_deg, vs_fpm`` (s, deg, ft, kt, deg, ft/min). The result has the columns
    :data:`CONFLICT_COLUMNS`, one row per conflicting pair per time with
    ``id_a < id_b``, sorted by time and ids. With a ``party`` column only pairs of
    different parties are reported, unless ``all_pairs``.

    >>> import pandas as pd
    >>> from deconflict import Agreement, detect
    >>> s = pd.DataFrame({"time": [0.0, 0.0], "id": ["A", "B"], "lat": [0.0, 0.2],
    ...     "lon": [0.0, 0.0], "alt_ft": [30000.0, 30000.0], "gs_kt": [400.0, 400.0],
    ...     "track_deg": [0.0, 180.0], "vs_fpm": [0.0, 0.0]})
    >>> row = detect(s, Agreement(horizontal_nm=5, vertical_ft=1000, lookahead_s=300)).iloc[0]
    >>> row.id_a, row.id_b, round(float(row.t_in_s), 1)  # 11.9 NM apart, closing at 800 kt
    ('A', 'B', 31.2)
    """
    ag = agreement if agreement is not None else Agreement()
    state = as_state(states)
    return conflicts_frame(state, detect_state(state, ag, all_pairs=all_pairs))


def conflicts_frame(state: TrafficState, c: Conflicts) -> pd.DataFrame:
    """Tabulate :class:`Conflicts` with ids, parties and NM, ordered ``id_a < id_b``."""
    swap = state.id[c.a] > state.id[c.b]
    a = np.where(swap, c.b, c.a)
    b = np.where(swap, c.a, c.b)
    party = state.party
    frame = pd.DataFrame(
        {
            "time": state.time[a],
            "id_a": state.id[a].astype(object),
            "id_b": state.id[b].astype(object),
            "party_a": party[a].astype(object) if party is not None else None,
            "party_b": party[b].astype(object) if party is not None else None,
            "t_in_s": c.t_in_s,
            "t_out_s": c.t_out_s,
            "t_cpa_s": c.t_cpa_s,
            "d_cpa_nm": c.d_cpa_m / NM,
            "dz_cpa_ft": c.dz_cpa_ft,
        },
        columns=list(CONFLICT_COLUMNS),
    )
    return frame.sort_values(["time", "id_a", "id_b"], kind="stable").reset_index(drop=True)


#: Columns of :func:`advise`'s result, in order.
ADVICE_COLUMNS = (
    "time",
    "id",
    "party",
    "conflict_id",
    "level",
    "manoeuvre",
    "target_vs_fpm",
    "target_track_deg",
    "t_in_s",
)
#: Columns of the alert events table.
EVENT_COLUMNS = ("time", "conflict_id", "id_a", "id_b", "event", "level")


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

    Columns :data:`ADVICE_COLUMNS`: ``conflict_id`` (opaque, stable over the
    snapshots of one episode; the aircraft's most urgent conflict), ``level``
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
            event_parts.append(_events_frame(float(t), step))
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
    ac = per.aircraft
    frame = pd.DataFrame(
        {
            "time": state.time[ac],
            "id": state.id[ac].astype(object),
            "party": state.party[ac].astype(object) if state.party is not None else None,
            "conflict_id": cid[per.worst_pair].astype(object),
            "level": np.asarray(LEVELS, dtype=object)[worst_level[ac]],
            "manoeuvre": np.asarray(MANOEUVRES, dtype=object)[per.manoeuvre],
            "target_vs_fpm": per.target_vs_fpm,
            "target_track_deg": per.target_track_deg,
            "t_in_s": t_in[per.worst_pair],
        },
        columns=list(ADVICE_COLUMNS),
    )
    frame = frame.sort_values(["time", "id"], kind="stable").reset_index(drop=True)
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


def _events_frame(time_s: float, step: Tracked) -> pd.DataFrame:
    ids = np.char.partition(step.events.key, KEY_SEP)
    return pd.DataFrame(
        {
            "time": time_s,
            "conflict_id": step.events.conflict_id.astype(object),
            "id_a": ids[:, 0].astype(object),
            "id_b": ids[:, 2].astype(object),
            "event": np.asarray(EVENT_KINDS, dtype=object)[step.events.kind],
            "level": np.asarray(LEVELS, dtype=object)[step.events.level],
        },
        columns=list(EVENT_COLUMNS),
    )
