"""The ``deconflict detect`` command as a user runs it: a real subprocess."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest

from deconflict.tactical.tables import CONFLICT_COLUMNS
from tests.conftest import HEADON, run_deconflict

HEADER = "time,id,party,lat,lon,alt_ft,gs_kt,track_deg,vs_fpm\n"
CONFLICTING = HEADER + "0,A,blue,0,0,30000,250,0,0\n0,B,red,0.3,0,30000,250,180,0\n"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_deconflict(*args)


def test_detect_prints_a_table(tmp_path: Path):
    f = tmp_path / "s.csv"
    f.write_text(CONFLICTING)
    res = run("detect", str(f))
    assert res.returncode == 0, res.stderr
    assert "id_a" in res.stdout and "t_in_s" in res.stdout
    assert "1 conflict(s) among 2 state(s)" in res.stdout


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_detect_writes_output_files(tmp_path: Path, suffix: str):
    f = tmp_path / "s.csv"
    f.write_text(CONFLICTING)
    out = tmp_path / f"out{suffix}"
    res = run("detect", str(f), "--horizontal-nm", "3", "--lookahead-s", "200", "-o", str(out))
    assert res.returncode == 0, res.stderr
    frame = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert list(frame.columns) == list(CONFLICT_COLUMNS)
    assert frame.loc[0, "id_a"] == "A" and frame.loc[0, "party_b"] == "red"
    # 0.3° ≈ 18 NM apart at 500 kt: 3 NM minimum reached after ~108 s.
    assert 100 < frame.loc[0, "t_in_s"] < 115


def test_parquet_input_and_all_pairs(tmp_path: Path):
    frame = pd.read_csv(pd.io.common.StringIO(CONFLICTING)).assign(party="same")
    f = tmp_path / "s.parquet"
    frame.to_parquet(f)
    assert "0 conflict(s)" in run("detect", str(f)).stdout
    assert "1 conflict(s)" in run("detect", str(f), "--all-pairs").stdout


def test_agreement_file_and_flag_override(tmp_path: Path):
    f = tmp_path / "s.csv"
    f.write_text(CONFLICTING)
    ag = tmp_path / "ag.toml"
    ag.write_text(
        "horizontal_nm = 3.0\nlookahead_s = 60.0\n[alerts]\ncaution_s = 50.0\nwarning_s = 20.0\n"
    )
    assert "0 conflict(s)" in run("detect", str(f), "--agreement", str(ag)).stdout
    res = run("detect", str(f), "--agreement", str(ag), "--lookahead-s", "150")
    assert "1 conflict(s)" in res.stdout, res.stderr


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "s.csv",
            HEADER.replace(",vs_fpm", "") + "0,A,b,0,0,1,1,1\n",
            "missing column(s) 'vs_fpm'",
        ),
        ("s.csv", HEADER + "0,A,b,0,0,1,1,1,1\n0,B,b,0,zero,1,1,1,1\n", "line 3, column 'lon'"),
        (
            "s.csv",
            HEADER + "0,A,b,0,0,1,1,1,1\n0,B,b,0,0,1,1,1,\n",
            "line 3, column 'vs_fpm': missing",
        ),
        ("s.csv", HEADER + "0,A,b,91,0,1,1,1,1\n", "line 2, column 'lat': 91 is above"),
        ("s.csv", HEADER + "0,A,b,0,0,1,-5,1,1\n", "line 2, column 'gs_kt': -5 is below"),
        ("s.csv", HEADER + "0,A,b,0,0,1,1,1,1\n0,A,c,0,0,1,1,1,1\n", "duplicate id 'A'"),
        ("s.csv", "", "file is empty"),
        ("s.csv", HEADER, "no rows"),
        ("s.json", "{}", "unknown file type '.json'"),
        ("s.parquet", "not parquet", "cannot read as parquet"),
        ("s.daa", "NAME, lat\n", "names line, a units line and data rows"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(tmp_path: Path, name: str, content: str, message: str):
    f = tmp_path / name
    f.write_text(content)
    res = run("detect", str(f))
    assert res.returncode == 2
    assert message in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "Traceback" not in res.stderr


def test_missing_file_and_bad_option(tmp_path: Path):
    res = run("detect", str(tmp_path / "none.csv"))
    assert res.returncode == 2 and "no such file" in res.stderr
    f = tmp_path / "s.csv"
    f.write_text(CONFLICTING)
    res = run("detect", str(f), "--horizontal-nm", "-1")
    assert res.returncode == 2 and "horizontal_nm" in res.stderr
    assert "Traceback" not in res.stderr
    res = run("detect", str(f), "-o", str(tmp_path / "out.xlsx"))
    assert res.returncode == 2 and "expected .csv or .parquet" in res.stderr


def test_daidalus_file():
    if not HEADON.exists():
        pytest.skip(f"DAIDALUS encounter not found at {HEADON} (../shared is absent)")
    res = run("detect", str(HEADON))
    assert res.returncode == 0, res.stderr
    assert "HEADB" in res.stdout and "107.8" in res.stdout
