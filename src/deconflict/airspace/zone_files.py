"""Protected airspace at the edge: zone files in, a DataFrame of violations out.

>>> import pandas as pd
>>> from deconflict import Agreement
>>> fc = {"type": "FeatureCollection", "features": [{"type": "Feature",
...     "properties": {"name": "NFZ", "floor_ft": 0, "ceiling_ft": 20000},
...     "geometry": {"type": "Polygon", "coordinates": [[[0.2, -0.1], [0.4, -0.1],
...                                                      [0.4, 0.1], [0.2, 0.1], [0.2, -0.1]]]}}]}
>>> s = pd.DataFrame({"time": [0.0], "id": ["A"], "lat": [0.0], "lon": [0.0],
...     "alt_ft": [15000.0], "gs_kt": [600.0], "track_deg": [90.0], "vs_fpm": [0.0]})
>>> row = check(s, fc, Agreement(lookahead_s=300)).iloc[0]
>>> row.zone, row.status, round(float(row.t_entry_s), 1)  # 12.0 NM east at 600 kt
('NFZ', 'predicted', 72.1)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from deconflict.agreement import Agreement
from deconflict.airspace.zones import Zone, ZoneEntries, Zones, check_state
from deconflict.errors import InputError
from deconflict.json_text import read_json
from deconflict.tactical.state import TrafficState
from deconflict.tactical.tables import as_state

__all__ = ["ZONE_COLUMNS", "Zone", "Zones", "as_zones", "check", "check_frame", "read"]

#: Columns of :func:`check`'s result, in order.
ZONE_COLUMNS = ("time", "id", "party", "zone", "status", "t_entry_s")


def read(path: str | os.PathLike[str]) -> Zones:
    """Read a GeoJSON zones file (see :meth:`Zones.from_geojson` for the format).

    Raises :class:`~deconflict.errors.InputError` with one line naming the file and,
    for a bad zone, the feature (index and name) and the field.
    """
    obj = read_json(path, "zones")
    return Zones.from_geojson(obj, source=str(path))


def as_zones(zones: Zones | str | os.PathLike[str] | Mapping[str, Any]) -> Zones:
    """Pass :class:`Zones` through, read a GeoJSON file path, or parse a GeoJSON mapping."""
    if isinstance(zones, Zones):
        return zones
    if isinstance(zones, Mapping):
        return Zones.from_geojson(zones)
    if isinstance(zones, str | os.PathLike):
        return read(zones)
    raise InputError(
        f"zones: expected Zones, a GeoJSON file path or a GeoJSON mapping, "
        f"got {type(zones).__name__}"
    )


def check(
    states: pd.DataFrame | TrafficState,
    zones: Zones | str | os.PathLike[str] | Mapping[str, Any],
    agreement: Agreement,
) -> pd.DataFrame:
    """Aircraft inside a protected zone now, or predicted to enter it within the look-ahead.

    ``states`` has the detector's input columns ``time, id, [party], lat, lon,
    alt_ft, gs_kt, track_deg, vs_fpm`` (s, deg, ft, kt, deg, ft/min). Each aircraft
    flies straight on as in :func:`deconflict.detect`, for ``agreement.lookahead_s``.
    The result has the columns :data:`ZONE_COLUMNS`, one row per (time, aircraft,
    zone) sorted by time, id and zone:

    ========== ==============================================================
    time       the state's snapshot time, s
    id, party  the aircraft (party None when the states have none)
    zone       the zone's name
    status     ``violation``: in the zone now (t_entry_s = 0); ``predicted``:
               enters it within the look-ahead
    t_entry_s  first time in the zone, s after ``time``
    ========== ==============================================================

    In the zone means horizontally in the closed polygon, altitude in the closed
    band ``[floor_ft, ceiling_ft]``, at a time in one of its activity windows.
    """
    state = as_state(states)
    compiled = as_zones(zones)
    return check_frame(state, compiled, check_state(state, compiled, agreement.lookahead_s))


def check_frame(state: TrafficState, zones: Zones, entries: ZoneEntries) -> pd.DataFrame:
    """Tabulate :class:`~deconflict.airspace.zones.ZoneEntries` (columns :data:`ZONE_COLUMNS`)."""
    a = entries.aircraft
    frame = pd.DataFrame(
        {
            "time": state.time[a],
            "id": state.id[a].astype(object),
            "party": state.party[a].astype(object) if state.party is not None else None,
            "zone": zones.name[entries.zone].astype(object),
            "status": np.where(entries.violation, "violation", "predicted").astype(object),
            "t_entry_s": entries.t_entry_s,
        },
        columns=list(ZONE_COLUMNS),
    )
    return frame.sort_values(["time", "id", "zone"], kind="stable").reset_index(drop=True)
