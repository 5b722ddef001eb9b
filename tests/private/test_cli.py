"""``deconflict private``: the six steps as two users run them, each alone, over files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from deconflict import Agreement
from deconflict.cli.private_cmd import private_app
from deconflict.io.airspace_files import read_volumes as read
from deconflict.private import local_check

DATA = Path(__file__).resolve().parents[1] / "data" / "volumes"
A, B = DATA / "a.geojson", DATA / "b.geojson"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deconflict", "private", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


def invoke(*args: str):
    return CliRunner().invoke(private_app, [str(a) for a in args])


def test_offer_answer_refine_finish_end_to_end(tmp_path: Path):
    ag = tmp_path / "ag.toml"
    ag.write_text(Agreement(horizontal_nm=5, vertical_ft=1000).to_toml())
    steps = [
        ("offer", str(A), "--agreement", str(ag), "-s", "a.json", "-o", "1.bin"),
        ("answer", str(B), "1.bin", "--agreement", str(ag), "-s", "b.json", "-o", "2.bin"),
        ("refine", "2.bin", "-s", "a.json", "-o", "3.bin"),
        ("refine", "3.bin", "-s", "b.json", "-o", "4.bin"),
        ("finish", "4.bin", "-s", "a.json", "--send", "5.bin", "-o", "a-overlap.geojson"),
        ("finish", "5.bin", "-s", "b.json", "-o", "b-overlap.geojson"),
    ]
    for step in steps:
        res = run(*step, cwd=tmp_path)
        assert res.returncode == 0, (step, res.stderr)
    for state in ("a.json", "b.json"):
        assert stat.S_IMODE(os.stat(tmp_path / state).st_mode) == 0o600
    expected = local_check(read(A), read(B), Agreement())
    mine_a = json.loads((tmp_path / "a-overlap.geojson").read_text())["features"]
    mine_b = json.loads((tmp_path / "b-overlap.geojson").read_text())["features"]
    assert {f["properties"]["a_id"] for f in mine_a} == set(expected["a_id"])
    assert {f["properties"]["b_id"] for f in mine_b} == set(expected["b_id"])
    for f in mine_a:
        props = f["properties"]
        assert props["b_id"] is None and props["mode"] == "private"
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
    row = expected.iloc[0]
    assert mine_a[0]["properties"]["time_start"] == row["time_start"]
    assert mine_b[0]["properties"]["alt_lower_ft"] == row["alt_lower_ft"]
    # Only opaque bytes crossed: no id, no coordinate text in any message.
    wire = b"".join((tmp_path / f"{i}.bin").read_bytes() for i in range(1, 6))
    assert b"A-survey" not in wire and b"B-patrol" not in wire and b"48.8" not in wire


def test_errors_are_one_line(tmp_path: Path):
    res = invoke("offer", A, "-s", tmp_path / "a.json", "-o", tmp_path / "1.bin")
    assert res.exit_code == 0, res.output
    offer = (tmp_path / "1.bin").read_bytes()
    bad = tmp_path / "bad.bin"
    bad.write_bytes(offer[:-1] + bytes([offer[-1] ^ 1]))
    res = invoke("answer", B, bad, "-s", tmp_path / "b.json", "-o", tmp_path / "2.bin")
    assert res.exit_code == 2
    assert (
        res.stderr.strip() == f"error: {bad}: corrupt message (checksum mismatch); ask for it again"
    )
    assert not (tmp_path / "b.json").exists()
    ag = tmp_path / "other.toml"
    ag.write_text(Agreement(vertical_ft=2000).to_toml())
    res = invoke(
        "answer",
        B,
        tmp_path / "1.bin",
        "--agreement",
        ag,
        "-s",
        tmp_path / "b.json",
        "-o",
        tmp_path / "2.bin",
    )
    assert res.exit_code == 2 and "made under agreement" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    res = invoke("refine", tmp_path / "1.bin", "-s", tmp_path / "a.json", "-o", tmp_path / "x.bin")
    assert res.exit_code == 2 and "a 'offer' message, expected 'answer' here" in res.stderr
    res = invoke("finish", tmp_path / "1.bin", "-s", tmp_path / "nope.json")
    assert res.exit_code == 2 and "no such state file" in res.stderr
    res = invoke(
        "refine", tmp_path / "missing.bin", "-s", tmp_path / "a.json", "-o", tmp_path / "x.bin"
    )
    assert res.exit_code == 2 and "cannot read message" in res.stderr
    (tmp_path / "junk.json").write_text("{not json")
    res = invoke(
        "refine", tmp_path / "1.bin", "-s", tmp_path / "junk.json", "-o", tmp_path / "x.bin"
    )
    assert res.exit_code == 2 and "state is not valid JSON" in res.stderr
    res = invoke("finish", tmp_path / "1.bin", "-s", tmp_path / "a.json")
    assert res.exit_code == 2 and "add --send FILE" in res.stderr


def test_a_new_exchange_refuses_to_overwrite_a_state_without_force(tmp_path: Path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert invoke("offer", A, "-s", a, "-o", tmp_path / "1.bin").exit_code == 0
    assert invoke("answer", B, tmp_path / "1.bin", "-s", b, "-o", tmp_path / "2.bin").exit_code == 0
    for args, state in (
        (("offer", A, "-s", a, "-o", tmp_path / "x.bin"), a),
        (("answer", B, tmp_path / "1.bin", "-s", b, "-o", tmp_path / "x.bin"), b),
    ):
        secret = state.read_bytes()
        res = invoke(*args)
        assert res.exit_code == 2
        assert res.stderr.strip() == (
            f"error: {state} exists and holds the secret of another exchange; refusing to "
            "overwrite it: pass --force, or choose another --state"
        )
        assert state.read_bytes() == secret and not (tmp_path / "x.bin").exists()
        res = invoke(*args, "--force")
        assert res.exit_code == 0, res.output
        assert state.read_bytes() != secret  # a fresh secret
        assert stat.S_IMODE(os.stat(state).st_mode) == 0o600
        (tmp_path / "x.bin").unlink()
