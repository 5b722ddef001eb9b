"""``deconflict advise`` and ``deconflict zones`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from deconflict import Agreement
from deconflict.airspace.entries import ZONE_COLUMNS
from deconflict.tactical.tables import ADVICE_COLUMNS
from tests.cli.test_detect_cli import CONFLICTING, run
from tests.conftest import HEADON

ZONES = Path(__file__).resolve().parents[1] / "data" / "zones"
SQUARE = """{"type": "FeatureCollection", "features": [{"type": "Feature",
 "properties": {"name": "BORDER", "owner": "third state", "floor_ft": 0, "ceiling_ft": 40000},
 "geometry": {"type": "Polygon", "coordinates": [[[0.2, -0.1], [0.4, -0.1], [0.4, 0.1],
 [0.2, 0.1], [0.2, -0.1]]]}}]}"""


def test_advise_table_and_file(tmp_path: Path):
    f = tmp_path / "s.csv"
    f.write_text(CONFLICTING)
    res = run("advise", str(f))
    assert res.returncode == 0, res.stderr
    assert "climb" in res.stdout and "descend" in res.stdout
    out = tmp_path / "adv.csv"
    assert run("advise", str(f), "-o", str(out)).returncode == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == list(ADVICE_COLUMNS)
    assert sorted(frame.manoeuvre) == ["climb", "descend"]
    assert frame.conflict_id.nunique() == 1


def test_advise_reads_daidalus():
    if not HEADON.exists():
        pytest.skip(f"DAIDALUS encounter not found at {HEADON} (../shared is absent)")
    res = run("advise", str(HEADON))
    assert res.returncode == 0, res.stderr
    assert "HEADB" in res.stdout and "HEADR" in res.stdout


def test_zones_predicted_and_violation(tmp_path: Path):
    zones = tmp_path / "z.geojson"
    zones.write_text(SQUARE)
    states = tmp_path / "s.csv"
    states.write_text(
        "time,id,lat,lon,alt_ft,gs_kt,track_deg,vs_fpm\n"
        "0,EAST,0,0,15000,600,90,0\n"
        "0,INSIDE,0,0.3,15000,300,0,0\n"
        "0,ABOVE,0,0,45000,600,90,0\n"
    )
    out = tmp_path / "z.parquet"
    res = run("zones", str(states), "--zones", str(zones), "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert "1 violation(s), 1 predicted entry(ies)" in res.stdout
    frame = pd.read_parquet(out)
    assert list(frame.columns) == list(ZONE_COLUMNS)
    got = dict(zip(frame.id, frame.status, strict=True))
    assert got == {"EAST": "predicted", "INSIDE": "violation"}


RED_ONLY = SQUARE.replace('"owner": "third state"', '"parties": ["red"]')
PARTY_STATES = (
    "time,id,party,lat,lon,alt_ft,gs_kt,track_deg,vs_fpm\n"
    "0,R-IN,red,0,0.3,15000,300,0,0\n"
    "0,B-IN,blue,0.05,0.3,15000,300,0,0\n"
    "0,R-EAST,red,0,0,15000,600,90,0\n"
    "0,B-EAST,blue,0,0,16000,600,90,0\n"
)


@pytest.mark.parametrize("source", ["--zones", "--agreement"])
def test_zones_for_some_parties_only(tmp_path: Path, source: str):
    states = tmp_path / "s.csv"
    states.write_text(PARTY_STATES)
    if source == "--zones":
        where = tmp_path / "z.geojson"
        where.write_text(RED_ONLY)
    else:
        area = json.loads(RED_ONLY)["features"][0]
        where = tmp_path / "agreement.toml"
        where.write_text(Agreement(protected_areas=(area,)).to_toml())
    out = tmp_path / "z.csv"
    res = run("zones", str(states), source, str(where), "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert "1 violation(s), 1 predicted entry(ies)" in res.stdout
    frame = pd.read_csv(out)
    got = sorted(zip(frame.id, frame.party, frame.status, strict=True))
    assert got == [("R-EAST", "red", "predicted"), ("R-IN", "red", "violation")]


def test_zones_bad_parties_are_one_line(tmp_path: Path):
    states = tmp_path / "s.csv"
    states.write_text(PARTY_STATES)
    zones = tmp_path / "z.geojson"
    zones.write_text(RED_ONLY.replace('["red"]', "[]"))
    res = run("zones", str(states), "--zones", str(zones))
    assert res.returncode == 2, res.stderr
    assert "feature 0 ('BORDER'): field 'parties': empty list" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("bowtie.geojson", "self-intersection"),
        ("floor_above_ceiling.geojson", "floor"),
        ("not_a_collection.geojson", "FeatureCollection"),
    ],
)
def test_bad_zone_files_are_one_line(tmp_path: Path, fixture: str, message: str):
    states = tmp_path / "s.csv"
    states.write_text(CONFLICTING)
    res = run("zones", str(states), "--zones", str(ZONES / fixture))
    assert res.returncode == 2
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr


def test_zones_not_json(tmp_path: Path):
    states = tmp_path / "s.csv"
    states.write_text(CONFLICTING)
    zones = tmp_path / "z.geojson"
    zones.write_text("<kml/>")
    res = run("zones", str(states), "--zones", str(zones))
    assert res.returncode == 2 and "not valid JSON" in res.stderr
