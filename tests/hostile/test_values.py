"""Corpus findings about values: ids with control characters (one 422 on both databases),
out-of-range values and CSV field counts (issue 11 items 8, 12, 13)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.hostile.cases import TRACK
from tests.hostile.conftest import Deployment, start_broker
from typer.testing import CliRunner

from deconflict.cli.main import app

HEADER = "time,id,lat,lon,alt_ft,gs_kt,track_deg,vs_fpm,party\n"


@pytest.mark.parametrize("bad_id", ["B\x00", "\x1b[31mB1", "\u202eB1"])
def test_ids_with_control_characters_are_422(deployment: Deployment, bad_id: str):
    r = deployment.blue.post("/tracks", json=[{**TRACK, "id": bad_id}])
    assert r.status_code == 422, r.text


def test_a_nul_id_is_422_on_postgresql(pg_url: str, tmp_path: Path):
    d = start_broker(tmp_path, db=pg_url)
    try:
        r = d.blue.post("/tracks", json=[{**TRACK, "id": "B\x00"}])
        assert r.status_code == 422, r.text
    finally:
        d.broker.stop()


@pytest.mark.parametrize(("column", "value"), [("lon", 200.0), ("track_deg", 720.0)])
def test_out_of_range_values_are_refused_or_normalised(
    deployment: Deployment, column: str, value: float
):
    r = deployment.blue.post("/tracks", json=[{**TRACK, "id": f"R-{column}", column: value}])
    if r.status_code == 200:
        stored = {t["id"]: t for t in deployment.blue.get("/tracks").json()}[f"R-{column}"]
        assert stored[column] != value  # normalised, not stored as given
    else:
        assert r.status_code == 422


def test_a_csv_id_with_control_characters_is_refused(tmp_path: Path):
    f = tmp_path / "s.csv"
    f.write_text(
        HEADER + "0,\x1b[31mB1,48,2,30000,450,90,0,blue\n0,R1,48,2.01,30000,450,270,0,red\n"
    )
    res = CliRunner().invoke(app, ["detect", str(f)])
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1


def test_a_csv_row_with_a_field_too_many_names_the_field_counts(tmp_path: Path):
    f = tmp_path / "s.csv"
    f.write_text(HEADER + "0,B1,48,2,30000,450,90,0,blue,EXTRA\n")
    res = CliRunner().invoke(app, ["detect", str(f)])
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "10 fields" in res.stderr and "9" in res.stderr
