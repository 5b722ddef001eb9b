"""Scenarios as data: the embedded Syria 2015 scenario, and one-line errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deconflict.errors import InputError
from deconflict.sim.demo import demo_agreement
from deconflict.sim.scenario import EMBEDDED, embedded_path, load_scenario, parse_scenario
from deconflict.sim.scenario_schema import CrossingEvent

SQUARE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "BOX", "ceiling_ft": 20000},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[10.0, 10.0], [10.2, 10.0], [10.2, 10.2], [10.0, 10.2]]],
            },
        }
    ],
}

MINIMAL = """
name = "tiny"
seed = 7
duration_s = 600.0
step_s = 2.0

[[parties]]
name = "blue"

[[parties]]
name = "red"

[[bases]]
name = "alpha"
party = "blue"
lat = 10.0
lon = 9.5

[[aircraft_types]]
name = "jet"
cruise_kt = 450.0
min_kt = 150.0
max_climb_fpm = 5000.0
max_descent_fpm = 4000.0
bank_deg = 30.0
ceiling_ft = 40000.0

[[protected_areas]]
file = "box.geojson"

[[sorties]]
id = "s1"
kind = "strike"
party = "blue"
type = "jet"
count = 2
base = "alpha"
callsign = "BLUE"
route = [{ lat = 10.1, lon = 10.5, alt_ft = 20000.0 }]
"""


def write(tmp_path: Path, text: str, geojson: object = SQUARE) -> Path:
    (tmp_path / "box.geojson").write_text(
        geojson if isinstance(geojson, str) else json.dumps(geojson)
    )
    path = tmp_path / "scenario.toml"
    path.write_text(text)
    return path


def error_of(path: Path) -> str:
    with pytest.raises(InputError) as info:
        load_scenario(path)
    line = str(info.value)
    assert "\n" not in line, line
    return line


def test_embedded_syria_2015_scenario():
    s = load_scenario("syria2015")
    assert EMBEDDED == ("syria2015",)
    assert load_scenario(embedded_path("syria2015")).spec == s.spec
    assert s.parties == ("coalition", "russia")
    assert s.duration_s >= 7200 and s.step_s <= 2
    assert s.aircraft_count() >= 80
    bases = {b.name: (b.party, b.lat, b.lon) for b in s.spec.bases}
    assert bases["incirlik"] == ("coalition", 37.00, 35.43)
    assert bases["muwaffaq-salti"] == ("coalition", 32.36, 36.78)
    assert bases["hmeimim"] == ("russia", 35.40, 35.95)
    kinds = {x.kind for x in s.spec.sorties}
    assert {"strike", "cap", "tanker", "isr", "transport", "cruise_missile"} <= kinds
    missiles = sum(x.count for x in s.spec.sorties if x.kind == "cruise_missile")
    assert missiles == 26
    assert {e.kind for e in s.spec.events} == {
        "stray",
        "notice",
        "request",
        "outage",
        "distress",
        "crossing",
    }
    crossings = s.events_of("crossing")
    assert all(isinstance(e, CrossingEvent) and e.miss_nm <= 0.5 for e in crossings)
    zones = s.zones()
    assert sorted(zones.name.tolist()) == ["KALIBR-CORRIDOR", "TURKEY-BORDER"]
    assert s.zone_parties == {"TURKEY-BORDER": ("russia",), "KALIBR-CORRIDOR": ("coalition",)}
    # The zones carry the parties they apply to, so the agreement's protected areas do.
    parties = {str(z.name): z.parties for z in zones.zones}
    assert parties == {"TURKEY-BORDER": ("russia",), "KALIBR-CORRIDOR": ("coalition",)}
    areas = demo_agreement(s).protected_areas
    assert sorted(tuple(a["properties"]["parties"]) for a in areas) == [("coalition",), ("russia",)]
    corridor = list(zones.name).index("KALIBR-CORRIDOR")
    assert (zones.window_start_s[corridor], zones.window_end_s[corridor]) == (900.0, 7800.0)


def test_hotline_plan_orders_messages_and_points_replies():
    plan = load_scenario("syria2015").hotline_plan()
    assert [m.at_s for m in plan] == sorted(m.at_s for m in plan)
    unanswered = [m for m in plan if m.kind == "request" and m.sender == "coalition"]
    assert len(unanswered) == 1 and unanswered[0].deadline_s == 900.0
    i = plan.index(unanswered[0])
    assert not any(m.reply_to == i for m in plan)  # russia never answers
    distress = [m for m in plan if m.kind == "distress"]
    assert len(distress) == 1 and distress[0].to == "all"
    acks = [m for m in plan if m.kind == "ack"]
    assert [(plan[a.reply_to].kind, a.sender, a.at_s - distress[0].at_s) for a in acks] == [
        ("distress", "russia", 40.0)
    ]
    answered = [m for m in plan if m.kind == "response"]
    assert len(answered) == 1 and plan[answered[0].reply_to].kind == "request"


def test_minimal_scenario_loads(tmp_path: Path):
    s = load_scenario(write(tmp_path, MINIMAL))
    assert s.name == "tiny" and s.aircraft_count() == 2
    assert s.spec.sorties[0].aircraft_ids() == ["BLUE1", "BLUE2"]
    assert len(s.zones()) == 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("seed = 7", "seed = 7\nspeed = 3"),
            "scenario.toml: speed: Extra inputs are not permitted",
        ),
        (("count = 2", "count = 2\nsped = 1"), "sorties[0].sped: Extra inputs are not permitted"),
        (
            ("count = 2", "count = 0"),
            "sorties[0].count: Input should be greater than or equal to 1, got 0",
        ),
        (
            ("lat = 10.0", "lat = 100.0"),
            "bases[0].lat: Input should be less than or equal to 90, got 100.0",
        ),
        (
            ("cruise_kt = 450.0", "cruise_kt = true"),
            "aircraft_types[0].cruise_kt: expected a number, got bool",
        ),
        (
            ("cruise_kt = 450.0", 'cruise_kt = "fast"'),
            "aircraft_types[0].cruise_kt: expected a number, got str",
        ),
        (('kind = "strike"', 'kind = "bombing"'), "sorties[0].kind: Input should be"),
        (
            ('party = "blue"\ntype', 'party = "green"\ntype'),
            "sorties[0].party: unknown party 'green'",
        ),
        (('base = "alpha"', 'base = "bravo"'), "sorties[0].base: unknown base 'bravo'"),
        (
            ("bank_deg = 30.0", "bank_deg = 30.0\nturn_rate_dps = 3.0"),
            "give exactly one of turn_rate_dps, bank_deg",
        ),
        (
            ("step_s = 2.0", "step_s = 5.0"),
            "step_s: Input should be less than or equal to 2, got 5.0",
        ),
        (
            ('file = "box.geojson"', 'file = "nowhere.geojson"'),
            "protected_areas[0].file: no such file 'nowhere.geojson'",
        ),
        (("seed = 7", "seed = 7\n[[["), "scenario.toml: not valid TOML"),
        (
            ('file = "box.geojson"', 'file = "box.geojson"\napplies_to = []'),
            "protected_areas[0].applies_to: Tuple should have at least 1 item",
        ),
        (
            ('file = "box.geojson"', 'file = "box.geojson"\napplies_to = ["green"]'),
            "protected_areas[0].applies_to[0]: unknown party 'green'",
        ),
    ],
)
def test_bad_scenario_is_one_line(tmp_path: Path, change: tuple[str, str], expected: str):
    old, new = change
    assert old in MINIMAL
    line = error_of(write(tmp_path, MINIMAL.replace(old, new, 1)))
    assert str(tmp_path / "scenario.toml") in line
    assert expected in line


def test_events_are_checked(tmp_path: Path):
    stray = '\n[[events]]\nkind = "stray"\nsortie = "s1"\nat_s = 10.0\nlat = 10.1\nlon = 10.1\n'
    ok = load_scenario(write(tmp_path, MINIMAL + stray + 'zone = "BOX"\n'))
    assert ok.events_of("stray")[0].zone == "BOX"
    line = error_of(write(tmp_path, MINIMAL + stray + 'zone = "NOPE"\n'))
    assert "events[0].zone: unknown zone 'NOPE'; expected one of ['BOX']" in line
    line = error_of(write(tmp_path, MINIMAL + stray + 'zone = "BOX"\naircraft = 3\n'))
    assert "events[0].aircraft: 3 but sortie 's1' has 2 aircraft" in line
    line = error_of(write(tmp_path, MINIMAL + '\n[[events]]\nkind = "mayday"\nat_s = 1.0\n'))
    assert "events[0]: Input tag 'mayday' found using 'kind' does not match" in line
    outage = '\n[[events]]\nkind = "outage"\nstart_s = 50.0\nend_s = 10.0\n'
    assert "outage start_s 50 must be before end_s 10" in error_of(
        write(tmp_path, MINIMAL + outage)
    )
    crossing = (
        '\n[[events]]\nkind = "crossing"\nat_s = 500.0\nlat = 10.0\nlon = 10.0\nalt_ft = 20000.0\n'
        'aircraft = [{ party = "blue", type = "jet", id = "A", track_deg = 0.0 },'
        ' { party = "blue", type = "jet", id = "B", track_deg = 90.0 }]\n'
    )
    assert "need different parties" in error_of(write(tmp_path, MINIMAL + crossing))
    dup = crossing.replace('id = "A"', 'id = "BLUE1"').replace(
        '"blue", type = "jet", id = "B"', '"red", type = "jet", id = "B"'
    )
    assert "aircraft id 'BLUE1' is also that of sorties[0]" in error_of(
        write(tmp_path, MINIMAL + dup)
    )


@pytest.mark.parametrize(
    ("geojson", "expected"),
    [
        ("{not json", "not valid JSON"),
        ({"type": "Feature"}, "expected a GeoJSON FeatureCollection"),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "X"},
                        "geometry": {"type": "Point", "coordinates": [0, 0]},
                    }
                ],
            },
            "feature 0 ('X'): field 'geometry': type 'Point' is not a Polygon or MultiPolygon",
        ),
    ],
)
def test_bad_geojson_is_one_line_naming_the_file(tmp_path: Path, geojson: object, expected: str):
    line = error_of(write(tmp_path, MINIMAL, geojson))
    assert str(tmp_path / "box.geojson") in line
    assert expected in line


def test_missing_and_unknown_scenarios(tmp_path: Path):
    assert error_of(tmp_path / "none.toml") == f"{tmp_path / 'none.toml'}: no such scenario file"
    with pytest.raises(InputError, match=r"unknown embedded scenario 'mars'"):
        embedded_path("mars")
    with pytest.raises(InputError, match=r"x\.toml: not valid TOML: nested too deeply"):
        parse_scenario("a = " + "[" * 5000, tmp_path / "x.toml")
