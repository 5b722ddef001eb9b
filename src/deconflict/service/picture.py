"""The live picture as the map sees it: each cycle's own aircraft, per party.

After every detection cycle the engine hands the hub a :class:`Picture` (every fresh
aircraft, dead-reckoned to the cycle's time); the hub sends each ``/stream`` connection
that asked for the map feed (subprotocol :data:`MAP_PROTOCOL`) the frame of what it may
see (:meth:`Picture.frame`): a party its own aircraft only, the admin every party's,
named. Another party's aircraft never appear in a party's frame: inside a conflict
it learns of the intruder only what the alert discloses.

A frame, columnar (one list per field, the same length), positions to 1e-5 degree:

>>> import numpy as np
>>> p = Picture(
...     cycle=7, time=100.0, at_s=1.7e9, party_id=np.array([1, 2]),
...     party=np.array(["blue", "red"]), id=np.array(["B1", "R1"]),
...     lat=np.array([35.0, 35.5]), lon=np.array([38.0, 38.5]),
...     alt_ft=np.array([20000.0, 21000.0]), gs_kt=np.array([400.0, 410.0]),
...     track_deg=np.array([90.0, 270.0]), vs_fpm=np.array([0.0, 0.0]),
... )
>>> f = p.frame(1)
>>> f["type"], f["cycle"], f["aircraft"]["id"], "party" in f["aircraft"]
('picture', 7, ['B1'], False)
>>> p.frame(None)["aircraft"]["party"]
['blue', 'red']
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

#: The WebSocket subprotocol a ``/stream`` client names to receive ``picture`` frames.
MAP_PROTOCOL = "deconflict.map"

FloatArray = npt.NDArray[np.float64]

#: Decimals each column is sent with (own aircraft: no need-to-know rounding, only size).
_DECIMALS = {
    "lat": 5,
    "lon": 5,
    "alt_ft": 0,
    "gs_kt": 0,
    "track_deg": 0,
    "vs_fpm": 0,
}


@dataclass(frozen=True)
class Picture:
    """One cycle's fresh aircraft (arrays of one length) and when the cycle ran.

    ``cycle``: the engine's cycle counter; ``time``: the cycle's time on the broker's
    clock (s; the data clock in lockstep); ``at_s``: Unix wall time when the cycle
    started (for latency measurements); ``party``: party names.
    """

    cycle: int
    time: float
    at_s: float
    party_id: npt.NDArray[np.int64]
    party: npt.NDArray[np.str_]
    id: npt.NDArray[np.str_]
    lat: FloatArray
    lon: FloatArray
    alt_ft: FloatArray
    gs_kt: FloatArray
    track_deg: FloatArray
    vs_fpm: FloatArray
    _texts: dict[int | None, str] = field(default_factory=dict, repr=False, compare=False)

    def text(self, party_id: int | None) -> str:
        """:meth:`frame` as compact JSON, encoded once per viewer (cached)."""
        if party_id not in self._texts:
            self._texts[party_id] = json.dumps(self.frame(party_id), separators=(",", ":"))
        return self._texts[party_id]

    def frame(self, party_id: int | None) -> dict[str, Any]:
        """The ``picture`` frame for ``party_id`` (its own aircraft), or ``None``: the admin's.

        The admin's frame names each aircraft's party (column ``party``).
        """
        pick = slice(None) if party_id is None else np.flatnonzero(self.party_id == party_id)
        aircraft: dict[str, list[Any]] = {"id": self.id[pick].tolist()}
        if party_id is None:
            aircraft["party"] = self.party[pick].tolist()
        for name, decimals in _DECIMALS.items():
            values = np.round(getattr(self, name)[pick], decimals)
            aircraft[name] = (values.astype(np.int64) if decimals == 0 else values).tolist()
        return {
            "type": "picture",
            "cycle": self.cycle,
            "time": self.time if np.isfinite(self.time) else None,
            "at_s": self.at_s,
            "aircraft": aircraft,
        }


def empty_picture(cycle: int, t: float, at_s: float) -> Picture:
    """A cycle with no fresh aircraft."""
    f = np.zeros(0)
    s = np.zeros(0, dtype=np.str_)
    return Picture(cycle, t, at_s, np.zeros(0, dtype=np.int64), s, s, f, f, f, f, f, f)
