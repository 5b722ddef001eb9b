"""``deconflict plan check`` as a user runs it: a real subprocess (options: in process)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deconflict.cli.main import app
from tests.cli.test_detect_cli import run

DATA = Path(__file__).resolve().parents[1] / "data" / "volumes"
A, B, B4D = DATA / "a.geojson", DATA / "b.geojson", DATA / "b_volume4d.json"


def check(*args: str):
    return run("plan", "check", *args)


def check_in_process(*args: str):
    """The same command in this process (faster; for option handling)."""
    return CliRunner().invoke(app, ["plan", "check", *args])


def test_table_and_summary():
    res = check(str(A), str(B))
    assert res.returncode == 0, res.stderr
    for text in ("a_id", "band", "window", "area_km2", "A-survey", "B-patrol", "1,500–2,000 ft"):
        assert text in res.stdout, text
    assert "2026-05-01 11:30:00–12:00:00Z" in res.stdout
    assert "1 overlap(s) between 3 volume(s) in a.geojson and 3 in b.geojson (exact)" in res.stdout
    assert "5 NM / 1000 ft / time buffer 0 s" in res.stdout


def test_geojson_output_with_time_buffer_and_volume4d(tmp_path: Path):
    out = tmp_path / "overlaps.geojson"
    res = check(str(A), str(B4D), "--time-buffer-s", "600", "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert "2 overlap(s)" in res.stdout and f"written to {out}" in res.stdout
    fc = json.loads(out.read_text())
    assert fc["type"] == "FeatureCollection"
    props = [f["properties"] for f in fc["features"]]
    assert [(p["a_id"], p["b_id"]) for p in props] == [
        ("A-survey", "B-patrol"),
        ("A-orbit", "B-late"),
    ]
    assert props[1] == {
        "a_id": "A-orbit",
        "b_id": "B-late",
        "alt_lower_ft": 4500.0,
        "alt_upper_ft": 6500.0,
        "time_start": "2026-05-01T14:55:00Z",
        "time_end": "2026-05-01T15:05:00Z",
        "mode": "exact",
    }
    assert all(f["geometry"]["type"] == "Polygon" for f in fc["features"])
    assert [p.name for p in tmp_path.iterdir()] == ["overlaps.geojson"]  # no temporary left


def test_agreement_file_and_flags(tmp_path: Path):
    ag = tmp_path / "ag.toml"
    ag.write_text("horizontal_nm = 1.0\nvertical_ft = 1000.0\n")
    res = check_in_process(str(A), str(B), "--agreement", str(ag), "--vertical-ft", "2000")
    assert res.exit_code == 0, res.output
    assert "0 overlap(s)" in res.stdout and "1 NM / 2000 ft" in res.stdout


@pytest.mark.parametrize(
    ("b_file", "message"),
    [
        ("bowtie.geojson", "feature 1 ('BOWTIE'): field 'geometry': invalid polygon: self-inter"),
        ("end_before_start.geojson", "feature 0 ('BACKWARDS'): field 'time_end'"),
    ],
)
def test_bad_files_are_one_line(b_file: str, message: str):
    res = check(str(A), str(DATA / b_file))
    assert res.returncode == 2
    assert message in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["<kml/>"], "not valid JSON"),
        ([str(DATA / "missing.geojson")], "cannot read volumes file"),
        ([str(B), "--time-buffer-s", "-5"], "time_buffer_s: -5.0 is not a finite number >= 0"),
        ([str(B), "--messages-dir", "."], "--messages-dir needs --private"),
    ],
)
def test_bad_input_in_process(tmp_path: Path, args: list[str], message: str):
    if args[0] == "<kml/>":
        bad = tmp_path / "b.geojson"
        bad.write_text("<kml/>")
        args = [str(bad)]
    res = check_in_process(str(A), *args)
    assert res.exit_code == 2
    assert message in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_private_mode_or_its_absence():
    res = check(str(A), str(B), "--private")
    if importlib.util.find_spec("deconflict.private") is None:
        assert res.returncode == 2
        assert res.stderr.strip() == "error: private mode not available"
    else:
        assert res.returncode in (0, 2), res.stderr
        if res.returncode == 0:
            assert "(private)" in res.stdout
        else:
            assert "private mode not available" in res.stderr
