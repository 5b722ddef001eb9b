"""The DataFrame edge of the core: validated pandas in, documented pandas out."""

from __future__ import annotations

import numpy as np
import pandas as pd

from deconflict.core.agreement import Agreement
from deconflict.core.detect import Conflicts, detect_state
from deconflict.core.state import TrafficState
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
