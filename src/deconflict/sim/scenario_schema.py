"""The scenario file's schema: what a scenario TOML file may say, validated by pydantic.

A scenario says who flies what, from where, when, and what happens on the way:

============== =================================================================
name, seed     the scenario's name; the seed of every random draw (numpy Generator)
duration_s     simulated time, s; ``step_s`` the fixed step of the tracks (≤ 2 s)
start_utc      optional ISO 8601 UTC time of ``t = 0`` (for people and brokers)
jitter         optional ``departure_s`` (± s) and ``altitude_ft`` (± ft) drawn per
               aircraft from the seed (sorties with ``jitter = false`` keep theirs)
parties        ``[[parties]] name``: the parties (names as the hotline spells them)
bases          ``[[bases]] name, party, lat, lon, elevation_ft``
aircraft_types ``[[aircraft_types]] name, cruise_kt, [min_kt], [max_kt],
               max_climb_fpm, max_descent_fpm, turn_rate_dps | bank_deg, ceiling_ft,
               [accel_kt_s], [follows_advisories]`` (a cruise missile does not)
sorties        ``[[sorties]] id, kind, party, type, count, [base], [start],
               departure_s, [interval_s], [route], [orbit], [return_to_base],
               callsign, [jitter]``; ``kind`` is one of :data:`SORTIE_KINDS`
protected_areas ``[[protected_areas]] file``: GeoJSON in the agreement's zone
               format (:meth:`deconflict.airspace.zones.Zones.from_geojson`), paths
               relative to the TOML file; ``active`` windows in scenario seconds
events         ``[[events]] kind = ...``: :data:`EVENT_KINDS` (see the classes)
hotline        ``[[hotline]] at_s, kind, sender, to, body, [deadline_s]``
============== =================================================================

Units are in the names (kt, ft, fpm, s, nm, deg). Unknown keys are refused, and so is
every bad value: :func:`~deconflict.sim.scenario.load_scenario` raises
:class:`~deconflict.errors.InputError` with one line naming the file, the field path
and the value.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from deconflict._util import parse_iso_utc
from deconflict.names import BROADCAST, id_problem, party_name_problem

#: What a sortie may be.
SORTIE_KINDS = ("strike", "cap", "patrol", "tanker", "isr", "transport", "cruise_missile")
#: Kinds of scripted events.
EVENT_KINDS = ("stray", "notice", "request", "outage", "distress", "crossing")
#: Sortie kinds that need an orbit (they loiter somewhere).
ORBIT_KINDS = ("cap", "patrol", "tanker", "isr")


def _number(v: Any) -> Any:
    # TOML has types: ``true`` is no number of feet, "5" is text (pydantic would take both).
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"expected a number, got {type(v).__name__}")
    return v


def _party(v: Any) -> Any:
    problem = party_name_problem(v)
    if problem is not None:
        raise ValueError(f"not a party name: {problem}")
    return v


def _ident(v: Any) -> Any:
    problem = id_problem(v)
    if problem is not None:
        raise ValueError(f"not an id: {problem}")
    return v


Num = Annotated[float, BeforeValidator(_number), Field(allow_inf_nan=False)]
Lat = Annotated[float, BeforeValidator(_number), Field(ge=-90, le=90)]
Lon = Annotated[float, BeforeValidator(_number), Field(ge=-180, le=180)]
AltFt = Annotated[float, BeforeValidator(_number), Field(ge=-2000, le=200_000)]
Seconds = Annotated[float, BeforeValidator(_number), Field(ge=0, le=30 * 86400)]
PartyName = Annotated[str, BeforeValidator(_party)]
Ident = Annotated[str, BeforeValidator(_ident)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Party(_Model):
    """A party: its name (the hotline's and the broker's)."""

    name: PartyName


class Base(_Model):
    """An airfield (or a carrier): where sorties depart and land."""

    name: Ident
    party: PartyName
    lat: Lat
    lon: Lon
    elevation_ft: AltFt = 0.0


class AircraftType(_Model):
    """Performance of one aircraft type (speeds kt, rates ft/min, turn deg/s or bank deg).

    Exactly one of ``turn_rate_dps`` (a fixed rate, e.g. 3 = standard rate x 1) and
    ``bank_deg`` (rate ``g·tan(bank)/v``, so slower aircraft turn faster) is given.
    Speeds are clamped to ``[min_kt, max_kt]`` (``max_kt`` defaults to ``cruise_kt``).
    """

    name: Ident
    cruise_kt: Annotated[Num, Field(gt=0, le=5000)]
    min_kt: Annotated[Num, Field(ge=0, le=5000)] | None = None
    max_kt: Annotated[Num, Field(gt=0, le=5000)] | None = None
    max_climb_fpm: Annotated[Num, Field(gt=0, le=100_000)]
    max_descent_fpm: Annotated[Num, Field(gt=0, le=100_000)]
    turn_rate_dps: Annotated[Num, Field(gt=0, le=60)] | None = None
    bank_deg: Annotated[Num, Field(gt=0, lt=89)] | None = None
    ceiling_ft: Annotated[Num, Field(gt=0, le=200_000)]
    accel_kt_s: Annotated[Num, Field(gt=0, le=100)] = 3.0
    follows_advisories: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> AircraftType:
        if (self.turn_rate_dps is None) == (self.bank_deg is None):
            raise ValueError(f"type {self.name!r}: give exactly one of turn_rate_dps, bank_deg")
        top = self.max_kt if self.max_kt is not None else self.cruise_kt
        low = self.min_kt if self.min_kt is not None else 0.0
        if not low <= self.cruise_kt <= top:
            raise ValueError(
                f"type {self.name!r}: cruise_kt {self.cruise_kt:g} is not within "
                f"[min_kt {low:g}, max_kt {top:g}]"
            )
        return self

    @property
    def speed_range_kt(self) -> tuple[float, float]:
        """(lowest, highest) speed, kt."""
        low = self.min_kt if self.min_kt is not None else 0.0
        return low, self.max_kt if self.max_kt is not None else self.cruise_kt


class Waypoint(_Model):
    """A point to fly to: position, altitude (ft) and optionally a speed (kt)."""

    lat: Lat
    lon: Lon
    alt_ft: AltFt
    speed_kt: Annotated[Num, Field(gt=0, le=5000)] | None = None


class Orbit(_Model):
    """A circle to loiter on for ``duration_s`` (clockwise unless said otherwise)."""

    lat: Lat
    lon: Lon
    radius_nm: Annotated[Num, Field(gt=0, le=200)]
    alt_ft: AltFt
    duration_s: Seconds
    clockwise: bool = True
    speed_kt: Annotated[Num, Field(gt=0, le=5000)] | None = None


class Sortie(_Model):
    """A flight of ``count`` aircraft of one type, departing ``interval_s`` apart.

    It departs ``base`` at ``departure_s`` (or appears in the air at ``start``), flies
    ``route``, loiters on ``orbit`` if any, then flies back to its base (or leaves
    the scenario at the end of its route when it has none, or ``return_to_base`` is
    false). Aircraft ids are ``callsign`` followed by 1, 2, ...
    """

    id: Ident
    kind: Literal["strike", "cap", "patrol", "tanker", "isr", "transport", "cruise_missile"]
    party: PartyName
    type: Ident
    count: Annotated[int, Field(ge=1, le=1000)] = 1
    base: Ident | None = None
    start: Waypoint | None = None
    departure_s: Seconds = 0.0
    interval_s: Seconds = 60.0
    route: tuple[Waypoint, ...] = ()
    orbit: Orbit | None = None
    return_to_base: bool = True
    callsign: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,40}$")]
    jitter: bool = True

    @model_validator(mode="after")
    def _shape(self) -> Sortie:
        if self.base is None and self.start is None:
            raise ValueError(f"sortie {self.id!r}: give a base or a start point")
        if self.kind in ORBIT_KINDS and self.orbit is None:
            raise ValueError(f"sortie {self.id!r}: a {self.kind} sortie needs an orbit")
        if self.kind in ("strike", "transport", "cruise_missile") and not self.route:
            raise ValueError(f"sortie {self.id!r}: a {self.kind} sortie needs a route")
        return self

    def aircraft_ids(self) -> list[str]:
        """The ids of its aircraft, in departure order."""
        return [f"{self.callsign}{k + 1}" for k in range(self.count)]


class StrayEvent(_Model):
    """At ``at_s`` aircraft ``aircraft`` of ``sortie`` flies direct to a point, then resumes.

    The point is inside protected zone ``zone``: how deep and how long the aircraft
    stays there follows from its flight.
    """

    kind: Literal["stray"]
    sortie: Ident
    aircraft: Annotated[int, Field(ge=1)] = 1
    at_s: Seconds
    lat: Lat
    lon: Lon
    zone: Ident


class NoticeEvent(_Model):
    """A notice on the hotline; its ``corridor`` zones are protected while ``active_s``."""

    kind: Literal["notice"]
    at_s: Seconds
    sender: PartyName
    to: str = BROADCAST
    body: Annotated[str, Field(min_length=1, max_length=10_000)]
    corridor: str | None = None
    active_s: tuple[Seconds, Seconds] | None = None

    @model_validator(mode="after")
    def _window(self) -> NoticeEvent:
        if (self.corridor is None) != (self.active_s is None):
            raise ValueError("a notice's corridor and active_s go together")
        if self.active_s is not None and self.active_s[0] >= self.active_s[1]:
            raise ValueError(f"active_s {list(self.active_s)}: start must be before end")
        return self


class RequestEvent(_Model):
    """A request with a deadline; answered ``answer_after_s`` later, or never (None)."""

    kind: Literal["request"]
    at_s: Seconds
    sender: PartyName
    to: PartyName
    body: Annotated[str, Field(min_length=1, max_length=10_000)]
    deadline_s: Annotated[Num, Field(gt=0, le=30 * 86400)]
    answer_after_s: Seconds | None = None
    answer: str = "acknowledged"


class OutageEvent(_Model):
    """A hotline channel (``primary``) is down from ``start_s`` to ``end_s``."""

    kind: Literal["outage"]
    channel: Literal["primary", "backup"] = "primary"
    start_s: Seconds
    end_s: Seconds

    @model_validator(mode="after")
    def _ordered(self) -> OutageEvent:
        if self.start_s >= self.end_s:
            raise ValueError(f"outage start_s {self.start_s:g} must be before end_s {self.end_s:g}")
        return self


class DistressEvent(_Model):
    """A distress call to every party, acknowledged by ``ack_by`` ``ack_after_s`` later."""

    kind: Literal["distress"]
    at_s: Seconds
    sender: PartyName
    to: str = BROADCAST
    body: Annotated[str, Field(min_length=1, max_length=10_000)]
    ack_by: tuple[PartyName, ...] = ()
    ack_after_s: Seconds = 30.0


class CrossingAircraft(_Model):
    """One of the two aircraft of a crossing: its party, type, id and track (deg)."""

    party: PartyName
    type: Ident
    id: Ident
    track_deg: Annotated[Num, Field(ge=0, lt=360)]
    alt_offset_ft: Annotated[Num, Field(ge=-5000, le=5000)] = 0.0


class CrossingEvent(_Model):
    """Two aircraft that pass ``miss_nm`` apart at ``(lat, lon, alt_ft)`` at ``at_s``.

    Both fly straight and level at cruise speed, from ``lead_s`` before the crossing
    to ``after_s`` after it: nobody acting, they close to ``miss_nm``.
    """

    kind: Literal["crossing"]
    at_s: Seconds
    lat: Lat
    lon: Lon
    alt_ft: AltFt
    miss_nm: Annotated[Num, Field(ge=0, le=50)] = 0.4
    lead_s: Annotated[Num, Field(gt=0, le=7200)] = 420.0
    after_s: Annotated[Num, Field(gt=0, le=7200)] = 300.0
    aircraft: tuple[CrossingAircraft, CrossingAircraft]

    @model_validator(mode="after")
    def _two_parties(self) -> CrossingEvent:
        a, b = self.aircraft
        if a.party == b.party:
            raise ValueError(f"crossing {a.id}/{b.id}: the two aircraft need different parties")
        if self.lead_s > self.at_s:
            raise ValueError(f"crossing {a.id}/{b.id}: lead_s {self.lead_s:g} > at_s {self.at_s:g}")
        return self


Event = Annotated[
    StrayEvent | NoticeEvent | RequestEvent | OutageEvent | DistressEvent | CrossingEvent,
    Field(discriminator="kind"),
]


class HotlineMessage(_Model):
    """Routine hotline traffic: one notice (or request, with its deadline) sent at ``at_s``."""

    at_s: Seconds
    kind: Literal["notice", "request"]
    sender: PartyName
    to: str
    body: Annotated[str, Field(min_length=1, max_length=10_000)]
    deadline_s: Annotated[Num, Field(gt=0, le=30 * 86400)] | None = None

    @model_validator(mode="after")
    def _deadline(self) -> HotlineMessage:
        if (self.kind == "request") != (self.deadline_s is not None):
            raise ValueError("a request needs a deadline_s, and only a request has one")
        return self


class ProtectedArea(_Model):
    """A GeoJSON zones file (path relative to the scenario file).

    ``applies_to``: the parties whose aircraft the zones apply to (at least one;
    default: every party), written into each feature's ``parties`` property; a host
    nation's airspace is open to its guests.
    """

    file: Annotated[str, Field(min_length=1)]
    applies_to: Annotated[tuple[PartyName, ...], Field(min_length=1)] | None = None


class Jitter(_Model):
    """Random spread drawn per aircraft from the seed: departure (± s), altitude (± ft)."""

    departure_s: Annotated[Num, Field(ge=0, le=3600)] = 0.0
    altitude_ft: Annotated[Num, Field(ge=0, le=5000)] = 0.0


class ScenarioFile(_Model):
    """The TOML file as validated (file references not yet read)."""

    name: Ident
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)]
    duration_s: Annotated[Num, Field(gt=0, le=7 * 86400)]
    step_s: Annotated[Num, Field(gt=0, le=2)] = 2.0
    start_utc: str | None = None
    description: str = ""
    jitter: Jitter = Field(default_factory=Jitter)
    parties: tuple[Party, ...] = Field(min_length=1)
    bases: tuple[Base, ...] = ()
    aircraft_types: tuple[AircraftType, ...] = Field(min_length=1)
    sorties: tuple[Sortie, ...] = ()
    protected_areas: tuple[ProtectedArea, ...] = ()
    events: tuple[Event, ...] = ()
    hotline: tuple[HotlineMessage, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> ScenarioFile:
        parties = [p.name for p in self.parties]
        _unique(parties, "parties", "name")
        _unique([b.name for b in self.bases], "bases", "name")
        _unique([t.name for t in self.aircraft_types], "aircraft_types", "name")
        _unique([s.id for s in self.sorties], "sorties", "id")
        base_party = {b.name: b.party for b in self.bases}
        types = {t.name for t in self.aircraft_types}
        for i, b in enumerate(self.bases):
            _known(b.party, parties, f"bases[{i}].party", "party")
        for i, a in enumerate(self.protected_areas):
            for k, p in enumerate(a.applies_to or ()):
                _known(p, parties, f"protected_areas[{i}].applies_to[{k}]", "party")
        ids: dict[str, str] = {}
        for i, s in enumerate(self.sorties):
            _known(s.party, parties, f"sorties[{i}].party", "party")
            _known(s.type, types, f"sorties[{i}].type", "aircraft type")
            if s.base is not None:
                _known(s.base, base_party, f"sorties[{i}].base", "base")
                if base_party[s.base] != s.party:
                    raise ValueError(
                        f"sorties[{i}].base: {s.base!r} belongs to {base_party[s.base]!r}, "
                        f"not to {s.party!r}"
                    )
            for k, aid in enumerate(s.aircraft_ids()):
                _new_id(ids, aid, f"sorties[{i}] (aircraft {k + 1})")
        for i, e in enumerate(self.events):
            where = f"events[{i}]"
            if isinstance(e, StrayEvent):
                by_id = {s.id: s for s in self.sorties}
                _known(e.sortie, by_id, f"{where}.sortie", "sortie")
                sortie = by_id[e.sortie]
                if e.aircraft > sortie.count:
                    raise ValueError(
                        f"{where}.aircraft: {e.aircraft} but sortie {e.sortie!r} has "
                        f"{sortie.count} aircraft"
                    )
            elif isinstance(e, CrossingEvent):
                for k, a in enumerate(e.aircraft):
                    _known(a.party, parties, f"{where}.aircraft[{k}].party", "party")
                    _known(a.type, types, f"{where}.aircraft[{k}].type", "aircraft type")
                    _new_id(ids, a.id, f"{where}.aircraft[{k}]")
            elif isinstance(e, NoticeEvent | RequestEvent | DistressEvent):
                _known(e.sender, parties, f"{where}.sender", "party")
                _recipient(e.to, parties, f"{where}.to")
                for k, p in enumerate(getattr(e, "ack_by", ())):
                    _known(p, parties, f"{where}.ack_by[{k}]", "party")
        for i, m in enumerate(self.hotline):
            _known(m.sender, parties, f"hotline[{i}].sender", "party")
            _recipient(m.to, parties, f"hotline[{i}].to")
        if self.start_utc is not None:
            try:
                parse_iso_utc(self.start_utc)
            except ValueError:
                raise ValueError(
                    f"start_utc: {self.start_utc!r} is not an ISO 8601 time with a UTC offset"
                ) from None
        return self


def _unique(names: list[str], table: str, field: str) -> None:
    seen: set[str] = set()
    for i, n in enumerate(names):
        if n in seen:
            raise ValueError(f"{table}[{i}].{field}: duplicate {n!r}")
        seen.add(n)


def _known(name: str, known: Any, where: str, what: str) -> None:
    if name not in known:
        raise ValueError(f"{where}: unknown {what} {name!r}; expected one of {sorted(known)}")


def _recipient(to: str, parties: list[str], where: str) -> None:
    if to != BROADCAST:
        _known(to, parties, where, f"party (or {BROADCAST!r})")


def _new_id(ids: dict[str, str], aid: str, where: str) -> None:
    if aid in ids:
        raise ValueError(f"{where}: aircraft id {aid!r} is also that of {ids[aid]}")
    ids[aid] = where
