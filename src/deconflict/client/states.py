"""The states a party client sends: dicts with the broker's input columns, checked here.

A state is a mapping with exactly :data:`STATE_COLUMNS` (``time`` s, ``id``, ``lat``
and ``lon`` deg, ``alt_ft``, ``gs_kt``, ``track_deg``, ``vs_fpm``), the fields of the
broker's :class:`~deconflict.service.schemas.TrackIn`. They are checked with the
broker's own rule (:meth:`TrafficState.from_frame`) before they enter the outbox, so a
state the broker would refuse never blocks the ones behind it.

>>> rows = check_states([{"time": 1, "id": "A1", "lat": 45, "lon": 5, "alt_ft": 30000,
...                       "gs_kt": 400, "track_deg": 370, "vs_fpm": 0}])
>>> rows[0]["track_deg"], type(rows[0]["lat"]).__name__
(10.0, 'float')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from deconflict.errors import InputError
from deconflict.tactical.state import TrafficState

#: The columns of a state, in the order the broker documents them.
STATE_COLUMNS = ("time", "id", "lat", "lon", "alt_ft", "gs_kt", "track_deg", "vs_fpm")
_NUMBERS = tuple(c for c in STATE_COLUMNS if c != "id")


def check_states(
    rows: Sequence[Mapping[str, Any]] | pd.DataFrame, where: str = "state"
) -> list[dict[str, Any]]:
    """Validate states and return them as plain dicts (floats, ids stripped, track in [0, 360)).

    A DataFrame keeps only :data:`STATE_COLUMNS` (a ``party`` or ``callsign`` column is
    dropped: the party is the authenticated one). Dicts must have exactly those keys.
    :class:`InputError` names the first bad state (``where`` N, or ``row`` N counted
    from 1) and field; the same ``id`` twice at one ``time`` is refused too.
    """
    if isinstance(rows, pd.DataFrame):
        missing = [c for c in STATE_COLUMNS if c not in rows.columns]
        if missing:
            raise InputError(f"{where}s: missing column(s) {', '.join(missing)}")
        frame = rows.loc[:, list(STATE_COLUMNS)].reset_index(drop=True)
    else:
        for k, row in enumerate(rows):  # over states: name the first with bad keys
            keys = set(row)
            if keys != set(STATE_COLUMNS):
                extra = sorted(keys - set(STATE_COLUMNS))
                missing = [c for c in STATE_COLUMNS if c not in keys]
                what = f"unknown field(s) {', '.join(extra)}" if extra else ""
                what += ("; " if what else "") + (
                    f"missing field(s) {', '.join(missing)}" if missing else ""
                )
                raise InputError(f"{where} {k + 1}: {what}")
            for col in _NUMBERS:
                value = row[col]
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise InputError(f"{where} {k + 1}, field '{col}': not a number: {value!r}")
            if not isinstance(row["id"], str):
                raise InputError(f"{where} {k + 1}, field 'id': not a string: {row['id']!r}")
        frame = pd.DataFrame(list(rows), columns=list(STATE_COLUMNS))
    if frame.empty:
        return []
    return state_rows(TrafficState.from_frame(frame, first_row=1))


def state_rows(state: TrafficState) -> list[dict[str, Any]]:
    """A checked :class:`TrafficState` as the plain dicts the outbox stores (floats, str ids)."""
    return [
        {
            "time": float(state.time[k]),
            "id": str(state.id[k]),
            "lat": float(state.lat[k]),
            "lon": float(state.lon[k]),
            "alt_ft": float(state.alt_ft[k]),
            "gs_kt": float(state.gs_kt[k]),
            "track_deg": float(state.track_deg[k]),
            "vs_fpm": float(state.vs_fpm[k]),
        }
        for k in range(len(state))  # over states
    ]
