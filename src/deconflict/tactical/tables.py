"""The DataFrame edge of the tactical core: the contract columns, and detection over pandas.

States come in as a DataFrame (validated once, by :func:`as_state`) or as an already
validated :class:`~deconflict.tactical.state.TrafficState`; results go out as
DataFrames with the documented columns :data:`CONFLICT_COLUMNS`,
:data:`ADVICE_COLUMNS` and :data:`EVENT_COLUMNS`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from deconflict._util import KEY_SEP
from deconflict.agreement import Agreement
from deconflict.tactical.alerts import EVENT_KINDS, LEVELS, Tracked
from deconflict.tactical.detect import Conflicts, detect_state
from deconflict.tactical.resolve import MANOEUVRES, AircraftAdvice
from deconflict.tactical.state import TrafficState
from deconflict.units import m_to_nm

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
#: Columns of :func:`deconflict.advise`'s result, in order.
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
            "d_cpa_nm": m_to_nm(c.d_cpa_m),
            "dz_cpa_ft": c.dz_cpa_ft,
        },
        columns=list(CONFLICT_COLUMNS),
    )
    return frame.sort_values(["time", "id_a", "id_b"], kind="stable").reset_index(drop=True)


def advice_frame(
    state: TrafficState,
    per: AircraftAdvice,
    level: npt.NDArray[np.int64],
    conflict_id: npt.NDArray[np.str_],
    t_in_s: npt.NDArray[np.float64],
) -> pd.DataFrame:
    """Tabulate :class:`~deconflict.tactical.resolve.AircraftAdvice` (:data:`ADVICE_COLUMNS`).

    ``level`` (index into :data:`~deconflict.tactical.alerts.LEVELS`) is per aircraft
    of ``state``; ``conflict_id`` and ``t_in_s`` (s) per conflicting pair, picked by
    each aircraft's ``worst_pair``. Sorted by time and id.
    """
    ac = per.aircraft
    frame = pd.DataFrame(
        {
            "time": state.time[ac],
            "id": state.id[ac].astype(object),
            "party": state.party[ac].astype(object) if state.party is not None else None,
            "conflict_id": conflict_id[per.worst_pair].astype(object),
            "level": np.asarray(LEVELS, dtype=object)[level[ac]],
            "manoeuvre": np.asarray(MANOEUVRES, dtype=object)[per.manoeuvre],
            "target_vs_fpm": per.target_vs_fpm,
            "target_track_deg": per.target_track_deg,
            "t_in_s": t_in_s[per.worst_pair],
        },
        columns=list(ADVICE_COLUMNS),
    )
    return frame.sort_values(["time", "id"], kind="stable").reset_index(drop=True)


def events_frame(time_s: float, step: Tracked) -> pd.DataFrame:
    """Tabulate one snapshot's alert events (:data:`EVENT_COLUMNS`); ``time_s`` in s."""
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
