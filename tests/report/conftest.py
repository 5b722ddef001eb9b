"""A small real record, made once per session: a two-party exercise through real brokers.

A crossing whose aircraft appear too close for the protocol to keep them apart (a loss
of separation in the protocol-on run as well as the off run), a protected box over the
crossing point closed to red (a zone violation), and a hotline plan with an outage of
the primary, a distress call acknowledged, a request answered and one left overdue.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deconflict.report.record import Record, load_record
from deconflict.sim.demo import run_demo
from deconflict.sim.scenario import load_scenario

SCENARIO = """
name = "report-crossing"
seed = 11
duration_s = 120.0
step_s = 2.0
start_utc = "2026-05-01T10:00:00Z"

[[parties]]
name = "blue"

[[parties]]
name = "red"

[[aircraft_types]]
name = "jet"
cruise_kt = 450.0
min_kt = 150.0
max_climb_fpm = 6000.0
max_descent_fpm = 6000.0
bank_deg = 45.0
ceiling_ft = 45000.0

[[protected_areas]]
file = "box.geojson"
applies_to = ["red"]

[[events]]
kind = "crossing"
at_s = 60.0
lead_s = 24.0
lat = 35.0
lon = 38.0
alt_ft = 25000.0
miss_nm = 0.2
aircraft = [{ party = "blue", type = "jet", id = "BLUE01", track_deg = 30.0 },
            { party = "red", type = "jet", id = "RED07", track_deg = 290.0 }]

[[hotline]]
at_s = 6.0
kind = "notice"
sender = "blue"
to = "red"
body = "Blue traffic near the crossing point this morning."

[[events]]
kind = "request"
at_s = 10.0
sender = "blue"
to = "red"
body = "Confirm your traffic levels near the crossing point."
deadline_s = 30.0

[[events]]
kind = "outage"
channel = "primary"
start_s = 70.0
end_s = 96.0

[[events]]
kind = "distress"
at_s = 76.0
sender = "red"
to = "all"
body = "MAYDAY: engine failure, descending."
ack_by = ["blue"]
ack_after_s = 12.0

[[events]]
kind = "request"
at_s = 98.0
sender = "red"
to = "blue"
body = "Confirm the crossing is clear."
deadline_s = 600.0
answer_after_s = 6.0
answer = "Clear."
"""

BOX = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "BOX-R", "floor_ft": 0, "ceiling_ft": 40000},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[37.95, 34.95], [38.05, 34.95], [38.05, 35.05], [37.95, 35.05], [37.95, 34.95]]
                ],
            },
        }
    ],
}


@pytest.fixture(scope="session")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's output folder of the small exercise (both runs, hotline, audit logs)."""
    base = tmp_path_factory.mktemp("report-record")
    (base / "s.toml").write_text(SCENARIO)
    (base / "box.geojson").write_text(json.dumps(BOX))
    run_demo(load_scenario(base / "s.toml"), base / "out")
    return base / "out"


@pytest.fixture(scope="session")
def record(demo_out: Path) -> Record:
    """The small exercise's record."""
    return load_record(record_dir=demo_out)
