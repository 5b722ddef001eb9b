"""Scenarios as data: a TOML file (and the GeoJSON files it names), validated once.

:func:`load_scenario` reads a scenario file (its schema, the table of what it may
say, is :mod:`deconflict.sim.scenario_schema`) and the zone files it names into a
:class:`Scenario`: the validated file, the protected areas as GeoJSON features, and
the hotline messages it sends (:meth:`Scenario.hotline_plan`). Any fault raises
:class:`~deconflict.errors.InputError` with one line naming the file, the field path
and the value.

>>> s = load_scenario(embedded_path("syria2015"))
>>> s.name, s.duration_s >= 7200, s.aircraft_count() >= 80
('syria2015', True, True)
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from deconflict._util import one_line_error
from deconflict.airspace.zones import Zones
from deconflict.errors import InputError
from deconflict.json_text import read_json
from deconflict.sim.scenario_schema import (
    CrossingEvent,
    DistressEvent,
    NoticeEvent,
    RequestEvent,
    ScenarioFile,
    StrayEvent,
)

#: Embedded scenarios, by name (package data under ``deconflict/sim/scenarios/``).
EMBEDDED = ("syria2015",)


@dataclass(frozen=True)
class PlannedMessage:
    """One hotline message the scenario sends: when, what, from whom, to whom.

    ``reply_to`` indexes the message it answers (a response or an ack), else -1;
    ``deadline_s`` is the request's deadline (s after ``at_s``), else None.
    """

    at_s: float
    kind: str
    sender: str
    to: str
    body: str
    deadline_s: float | None = None
    reply_to: int = -1


@dataclass(frozen=True)
class Scenario:
    """A validated scenario with its zone files read (see the module's table).

    ``zone_features`` are the protected areas' GeoJSON features, the notices'
    corridors included with their activity windows and the parties they apply to
    (property ``parties``: a protected area's ``applies_to``; a corridor applies to
    every party but its sender): the agreement's ``protected_areas`` format.
    ``source`` is the TOML file.
    """

    spec: ScenarioFile
    zone_features: tuple[dict[str, Any], ...]
    source: str

    @property
    def name(self) -> str:
        """The scenario's name."""
        return self.spec.name

    @property
    def seed(self) -> int:
        """Seed of every random draw."""
        return self.spec.seed

    @property
    def duration_s(self) -> float:
        """Simulated time, s."""
        return self.spec.duration_s

    @property
    def step_s(self) -> float:
        """Fixed step of the simulation and of the tracks, s."""
        return self.spec.step_s

    @property
    def parties(self) -> tuple[str, ...]:
        """Party names, as declared."""
        return tuple(p.name for p in self.spec.parties)

    def aircraft_count(self) -> int:
        """Aircraft of every sortie and crossing (cruise missiles included)."""
        crossings = sum(2 for e in self.spec.events if isinstance(e, CrossingEvent))
        return sum(s.count for s in self.spec.sorties) + crossings

    def zones(self) -> Zones:
        """The protected areas (and notice corridors) compiled for checking."""
        fc = {"type": "FeatureCollection", "features": list(self.zone_features)}
        return Zones.from_geojson(fc, source=self.source)

    @property
    def zone_parties(self) -> dict[str, tuple[str, ...]]:
        """Zone name → the parties it applies to, for the zones with a list (others: all)."""
        return {z.name: tuple(z.parties) for z in self.zones().zones if z.parties is not None}

    def events_of(self, kind: str) -> list[Any]:
        """The scripted events of one kind, in file order.

        ``kind``: one of :data:`~deconflict.sim.scenario_schema.EVENT_KINDS`.
        """
        return [e for e in self.spec.events if e.kind == kind]

    def hotline_plan(self) -> list[PlannedMessage]:
        """Every hotline message of the scenario, routine and scripted, in time order.

        Notices, requests (with their deadline; a response only where
        ``answer_after_s`` is set), distress calls with their acks. Messages at the
        same time keep the file's order, the messages answered first.
        """
        threads: list[tuple[PlannedMessage, list[PlannedMessage]]] = [
            (PlannedMessage(m.at_s, m.kind, m.sender, m.to, m.body, m.deadline_s), [])
            for m in self.spec.hotline
        ]
        for e in self.spec.events:
            if isinstance(e, NoticeEvent):
                threads.append((PlannedMessage(e.at_s, "notice", e.sender, e.to, e.body), []))
            elif isinstance(e, RequestEvent):
                req = PlannedMessage(e.at_s, "request", e.sender, e.to, e.body, e.deadline_s)
                replies = []
                if e.answer_after_s is not None:
                    t = e.at_s + e.answer_after_s
                    replies.append(PlannedMessage(t, "response", e.to, e.sender, e.answer))
                threads.append((req, replies))
            elif isinstance(e, DistressEvent):
                call = PlannedMessage(e.at_s, "distress", e.sender, e.to, e.body)
                t = e.at_s + e.ack_after_s
                acks = [PlannedMessage(t, "ack", p, e.sender, "received") for p in e.ack_by]
                threads.append((call, acks))
        items = [(m.at_s, 0, k, m) for k, (m, _) in enumerate(threads)]
        items += [(r.at_s, 1, k, r) for k, (_, rs) in enumerate(threads) for r in rs]
        items.sort(key=lambda x: (x[0], x[1], x[2]))
        first = {k: i for i, (_, reply, k, _) in enumerate(items) if not reply}
        return [
            dataclasses.replace(m, reply_to=first[k]) if reply else m for _, reply, k, m in items
        ]


# -- loading ----------------------------------------------------------------------------------


def embedded_path(name: str) -> Path:
    """The TOML file of an embedded scenario (:data:`EMBEDDED`), from the package data."""
    if name not in EMBEDDED:
        raise InputError(f"unknown embedded scenario {name!r}; expected one of {list(EMBEDDED)}")
    return Path(str(files("deconflict.sim").joinpath("scenarios", name, "scenario.toml")))


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file and the GeoJSON files it names.

    ``path`` may also be the name of an embedded scenario (``syria2015``). Any fault
    raises :class:`~deconflict.errors.InputError`: one line naming the file, the
    field path and the bad value.
    """
    p = Path(path)
    if not p.exists() and str(path) in EMBEDDED:
        p = embedded_path(str(path))
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{p}: no such scenario file") from None
    except OSError as err:
        raise InputError(f"{p}: cannot read scenario file: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{p}: not UTF-8 text: {err.reason} at byte {err.start}") from None
    return parse_scenario(text, p)


def parse_scenario(text: str, path: str | Path) -> Scenario:
    """Validate scenario TOML text; GeoJSON paths are relative to ``path``'s folder."""
    p = Path(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{p}: not valid TOML: {err}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise InputError(f"{p}: not valid TOML: nested too deeply") from None
    try:
        spec = ScenarioFile.model_validate(data)
    except ValidationError as err:
        raise InputError(f"{p}: {one_line_error(err, got=True)}") from None
    features: list[dict[str, Any]] = []
    scenario_parties = [q.name for q in spec.parties]
    for i, area in enumerate(spec.protected_areas):
        where = f"protected_areas[{i}].file"
        features += _zone_file(p, area.file, where, None, area.applies_to)
    for i, e in enumerate(spec.events):
        if isinstance(e, NoticeEvent) and e.corridor is not None:
            assert e.active_s is not None
            others = tuple(q for q in scenario_parties if q != e.sender)
            if not others:
                raise InputError(
                    f"{p}: events[{i}].corridor: no party but the sender {e.sender!r} "
                    "to keep out of it"
                )
            features += _zone_file(p, e.corridor, f"events[{i}].corridor", e.active_s, others)
    scenario = Scenario(spec=spec, zone_features=tuple(features), source=str(p))
    zones = scenario.zones()  # every zone compiles (names unique across files)
    names = set(zones.name.tolist())
    for i, e in enumerate(spec.events):
        if isinstance(e, StrayEvent) and e.zone not in names:
            raise InputError(
                f"{p}: events[{i}].zone: unknown zone {e.zone!r}; expected one of {sorted(names)}"
            )
    return scenario


def _zone_file(
    toml_path: Path,
    name: str,
    where: str,
    active_s: tuple[float, float] | None,
    parties: tuple[str, ...] | None,
) -> list[dict[str, Any]]:
    """The features of one GeoJSON zones file, validated.

    ``active_s`` (s) replaces every feature's activity windows, ``parties`` (where
    not None) their ``parties`` property.
    """
    path = (toml_path.parent / name).resolve()
    if not path.is_file():
        raise InputError(f"{toml_path}: {where}: no such file {name!r} (looked for {path})")
    obj = read_json(path, "zones")
    Zones.from_geojson(obj, source=str(path))  # one line naming the file and feature
    assert isinstance(obj, Mapping)
    out = []
    for feature in obj["features"]:
        f = dict(feature)
        props = dict(f.get("properties") or {})
        if active_s is not None:
            props["active"] = [[float(active_s[0]), float(active_s[1])]]
        if parties is not None:
            props["parties"] = list(parties)
        f["properties"] = props
        out.append(f)
    return out
