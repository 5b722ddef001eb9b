"""An incremental SBS-1 (BaseStation) decoder: feed it lines, get aircraft states.

SBS-1 is the comma-separated text ``dump1090`` and most ADS-B receivers serve on TCP
port 30003, one message a line, 22 fields::

    MSG,3,1,1,4CA2D1,1,2015/10/07,10:15:32.123,2015/10/07,10:15:32.140,,35000,,,36.51,36.82,,,0,,0,0

Field 1 is the transmission type; 4 the aircraft's 24-bit ICAO address (hex, the
**hex ident**, by which aircraft are keyed; ``~`` marks a non-ICAO address); 10 the
callsign; 11 the altitude (ft); 12 the ground speed (kt); 13 the track (deg true);
14-15 latitude and longitude (deg); 16 the vertical rate (ft/min); 21 on the ground.
Used: ``MSG,1`` (callsign), ``MSG,3`` (airborne position: altitude, lat, lon) and
``MSG,4`` (airborne velocity: ground speed, track, vertical rate). Other lines
(``MSG,2`` surface positions, ``MSG,5``-``8``, ``SEL``, ``ID``, ``AIR``, ``STA``,
``CLK``) are counted as ignored; a line that cannot be read (too few fields, a bad
number, a position out of range, a bad hex ident) is counted as malformed and
skipped, never raised.

A state is emitted on an ``MSG,3`` position (with altitude) of an aircraft whose
velocity is known: from an ``MSG,4`` heard in the last ``velocity_max_age_s``, else
derived from its previous position (at least ``derive_min_dt_s`` earlier). At most
one state per aircraft per ``min_interval_s``. Times are the receipt times the
caller passes (s): receivers write local clock times of unknown zone, and the
broker places every batch on its own clock anyway.

Pure: no I/O, no clock; :class:`SbsDecoder` keeps the per-aircraft state.

>>> d = SbsDecoder()
>>> d.feed("MSG,4,1,1,4CA2D1,1,,,,,,,450,90.0,,,-640,,,,,0", t_s=100.0)
[]
>>> [state] = d.feed("MSG,3,1,1,4CA2D1,1,,,,,,35000,,,36.5,36.8,,,,,,0", t_s=100.5)
>>> state["id"], state["alt_ft"], state["gs_kt"], state["track_deg"], state["vs_fpm"]
('4CA2D1', 35000.0, 450.0, 90.0, -640.0)
>>> d.feed("garbage", t_s=101.0), d.stats.malformed
([], 1)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from deconflict.geo import enu_from_geodetic
from deconflict.tactical.state import BOUNDS
from deconflict.units import mps_to_kt

#: Fields of an SBS-1 line (the last ones are often left off by some feeders).
MIN_FIELDS = 11
#: Longest line read (a real one is under 200 characters).
MAX_LINE_CHARS = 1000
#: Message types that are counted as ignored (not used, not malformed).
KNOWN_TYPES = ("SEL", "ID", "AIR", "STA", "CLK")
_HEX = re.compile(r"^~?[0-9A-F]{6}$")


@dataclass
class SbsStats:
    """What a decoder has seen, by line."""

    lines: int = 0
    #: ``MSG,1``, ``MSG,3`` and ``MSG,4`` lines read.
    used: int = 0
    #: Lines of other types, or with nothing usable (e.g. a position with no lat/lon).
    ignored: int = 0
    #: Lines that could not be read (skipped).
    malformed: int = 0
    #: States emitted.
    states: int = 0


@dataclass
class _Aircraft:
    """What one hex ident last reported (times are receipt times, s)."""

    callsign: str = ""
    t_pos_s: float = -math.inf
    lat: float = math.nan
    lon: float = math.nan
    alt_ft: float = math.nan
    t_vel_s: float = -math.inf
    gs_kt: float = math.nan
    track_deg: float = math.nan
    vs_fpm: float = math.nan
    t_emit_s: float = -math.inf
    t_seen_s: float = -math.inf


class SbsDecoder:
    """Feed SBS-1 lines with their receipt times; get the states they complete."""

    def __init__(
        self,
        *,
        min_interval_s: float = 1.0,
        velocity_max_age_s: float = 30.0,
        derive_min_dt_s: float = 1.0,
        derive_max_dt_s: float = 60.0,
        forget_after_s: float = 300.0,
    ) -> None:
        self.min_interval_s = min_interval_s
        self.velocity_max_age_s = velocity_max_age_s
        self.derive_min_dt_s = derive_min_dt_s
        self.derive_max_dt_s = derive_max_dt_s
        self.forget_after_s = forget_after_s
        self.stats = SbsStats()
        self.aircraft: dict[str, _Aircraft] = {}
        self._last_prune_s = -math.inf

    def callsign(self, hex_ident: str) -> str | None:
        """The callsign heard for an aircraft (``MSG,1``), if any."""
        ac = self.aircraft.get(hex_ident)
        return ac.callsign or None if ac else None

    def feed_lines(self, lines: Iterable[str], t_s: float) -> list[dict[str, Any]]:
        """:meth:`feed` every line, all received at ``t_s``; the states in order."""
        out: list[dict[str, Any]] = []
        for line in lines:  # over lines of one read (an incremental decoder)
            out.extend(self.feed(line, t_s))
        return out

    def feed(self, line: str, t_s: float) -> list[dict[str, Any]]:
        """Decode one line received at ``t_s`` (s); the state it completes, if any.

        States are dicts with the input columns ``time``, ``id`` (the hex ident),
        ``lat``, ``lon``, ``alt_ft``, ``gs_kt``, ``track_deg``, ``vs_fpm``.
        """
        self.stats.lines += 1
        self._prune(t_s)
        line = line.strip()
        if not line:
            self.stats.ignored += 1
            return []
        if len(line) > MAX_LINE_CHARS:
            self.stats.malformed += 1
            return []
        f = line.split(",")
        if f[0] != "MSG":
            if f[0] in KNOWN_TYPES:
                self.stats.ignored += 1
            else:
                self.stats.malformed += 1
            return []
        if len(f) < MIN_FIELDS or f[1].strip() not in ("1", "2", "3", "4", "5", "6", "7", "8"):
            self.stats.malformed += 1
            return []
        kind = f[1].strip()
        if kind not in ("1", "3", "4"):
            self.stats.ignored += 1
            return []
        hex_ident = f[4].strip().upper()
        if not _HEX.match(hex_ident):
            self.stats.malformed += 1
            return []
        try:
            if kind == "1":
                return self._callsign(hex_ident, f, t_s)
            if kind == "3":
                return self._position(hex_ident, f, t_s)
            return self._velocity(hex_ident, f, t_s)
        except _MalformedError:
            self.stats.malformed += 1
            return []

    # -- per message type ------------------------------------------------------------

    def _callsign(self, hex_ident: str, f: list[str], t_s: float) -> list[dict[str, Any]]:
        sign = f[10].strip()
        if not sign or not sign.isprintable() or len(sign) > 8:
            raise _MalformedError
        ac = self._get(hex_ident, t_s)
        ac.callsign = sign
        self.stats.used += 1
        return []

    def _velocity(self, hex_ident: str, f: list[str], t_s: float) -> list[dict[str, Any]]:
        gs_kt = _number(f, 12, "gs_kt")
        track_deg = _number(f, 13, "track_deg")
        vs_fpm = _number(f, 16, "vs_fpm")
        if gs_kt is None or track_deg is None:
            self.stats.ignored += 1
            return []
        ac = self._get(hex_ident, t_s)
        ac.t_vel_s = t_s
        ac.gs_kt, ac.track_deg = gs_kt, track_deg % 360.0
        ac.vs_fpm = vs_fpm if vs_fpm is not None else math.nan
        self.stats.used += 1
        return []

    def _position(self, hex_ident: str, f: list[str], t_s: float) -> list[dict[str, Any]]:
        alt_ft = _number(f, 11, "alt_ft")
        lat = _number(f, 14, "lat")
        lon = _number(f, 15, "lon")
        if alt_ft is None or lat is None or lon is None:
            self.stats.ignored += 1  # e.g. an altitude-only frame before the position decodes
            return []
        ac = self._get(hex_ident, t_s)
        self.stats.used += 1
        previous = (ac.t_pos_s, ac.lat, ac.lon, ac.alt_ft)
        ac.t_pos_s, ac.lat, ac.lon, ac.alt_ft = t_s, lat, lon, alt_ft
        velocity = self._velocity_now(ac, previous, t_s)
        if velocity is None or t_s - ac.t_emit_s < self.min_interval_s:
            return []
        gs_kt, track_deg, vs_fpm = velocity
        if not BOUNDS["gs_kt"][0] <= gs_kt <= BOUNDS["gs_kt"][1]:
            return []  # a derived speed from a position jump: wait for the next one
        ac.t_emit_s = t_s
        self.stats.states += 1
        return [
            {
                "time": t_s,
                "id": hex_ident,
                "lat": lat,
                "lon": lon,
                "alt_ft": alt_ft,
                "gs_kt": gs_kt,
                "track_deg": track_deg,
                "vs_fpm": vs_fpm,
            }
        ]

    def _velocity_now(
        self, ac: _Aircraft, previous: tuple[float, float, float, float], t_s: float
    ) -> tuple[float, float, float] | None:
        """(gs_kt, track_deg, vs_fpm) from a recent MSG,4, else from the last two positions."""
        t0, lat0, lon0, alt0 = previous
        dt_s = t_s - t0
        derivable = self.derive_min_dt_s <= dt_s <= self.derive_max_dt_s
        vs_derived = (ac.alt_ft - alt0) / dt_s * 60.0 if derivable else 0.0  # ft/s → ft/min
        if t_s - ac.t_vel_s <= self.velocity_max_age_s:
            vs = ac.vs_fpm if not math.isnan(ac.vs_fpm) else vs_derived
            return ac.gs_kt, ac.track_deg, vs
        if not derivable:
            return None
        east_m, north_m, _ = enu_from_geodetic(ac.lat, ac.lon, 0.0, lat0, lon0)
        gs_kt = float(mps_to_kt(math.hypot(east_m, north_m) / dt_s))
        track_deg = math.degrees(math.atan2(east_m, north_m)) % 360.0
        return gs_kt, track_deg, vs_derived

    # -- bookkeeping -----------------------------------------------------------------

    def _get(self, hex_ident: str, t_s: float) -> _Aircraft:
        ac = self.aircraft.get(hex_ident)
        if ac is None:
            ac = self.aircraft[hex_ident] = _Aircraft()
        ac.t_seen_s = t_s
        return ac

    def _prune(self, t_s: float) -> None:
        """Forget aircraft not heard for ``forget_after_s`` (checked every 10 s)."""
        if t_s - self._last_prune_s < 10.0:
            return
        self._last_prune_s = t_s
        old = [k for k, ac in self.aircraft.items() if t_s - ac.t_seen_s > self.forget_after_s]
        for k in old:  # over aircraft gone quiet
            del self.aircraft[k]


class _MalformedError(Exception):
    """A field that is present but unreadable."""


def _number(f: list[str], i: int, col: str) -> float | None:
    """Field ``i`` as a finite float within the bounds of ``col``; None when empty."""
    if i >= len(f) or not f[i].strip():
        return None
    try:
        value = float(f[i])
    except ValueError:
        raise _MalformedError from None
    lo, hi = BOUNDS[col]
    if not math.isfinite(value) or not lo <= value <= hi:
        raise _MalformedError
    return value
