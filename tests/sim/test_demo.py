"""``deconflict demo`` as a real process: files of the contract, losses against brute force.

A small two-party scenario (one crossing that closes to 0.3 NM when nobody acts) keeps
it fast; the full Syria run is ``make demo``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd

from deconflict.sim.exercise import TRACK_COLUMNS
from tests.conftest import run_deconflict
from tests.sim.loss_reference import brute_force_losses

SCENARIO = """
name = "demo-crossing"
seed = 7
duration_s = 240.0
step_s = 2.0

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

[[events]]
kind = "crossing"
at_s = 150.0
lead_s = 140.0
lat = 35.0
lon = 38.0
alt_ft = 25000.0
miss_nm = 0.3
aircraft = [{ party = "blue", type = "jet", id = "B1", track_deg = 30.0 },
            { party = "red", type = "jet", id = "R1", track_deg = 290.0 }]
"""

RUN_KEYS = {
    "losses",
    "loss_seconds",
    "nmac",
    "min_h_nm",
    "zone_violations",
    "alerts",
    "reversals",
}


def test_demo_writes_the_contract_and_its_losses_agree_with_brute_force(
    tmp_path: Path,
) -> None:
    (tmp_path / "s.toml").write_text(SCENARIO)
    res = run_deconflict(
        "demo", "--scenario", "s.toml", "--out", "out", cwd=tmp_path, timeout_s=120.0
    )
    assert res.returncode == 0, res.stderr
    assert "summary.json" in res.stdout and "protocol off" in res.stdout

    tracks = pd.read_parquet(tmp_path / "out" / "tracks.parquet")
    assert list(tracks.columns) == list(TRACK_COLUMNS)
    assert set(tracks["run"]) == {"on", "off"}
    assert tracks.groupby("run", observed=True)["time"].apply(lambda t: t.diff().max()).max() <= 2

    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["scenario"] == "demo-crossing" and summary["seed"] == 7
    assert len(summary["agreement_fingerprint"]) == 64
    assert summary["sim_duration_s"] == 240.0
    assert summary["minima"] == {"horizontal_nm": 5.0, "vertical_ft": 1000.0}
    assert summary["aircraft"] == {"blue": 1, "red": 1}
    for label in ("on", "off"):
        block = summary[f"protocol_{label}"]
        assert set(block) == RUN_KEYS
        ref = brute_force_losses(tracks[tracks["run"] == label], 5.0, 1000.0)
        assert block["losses"] == ref.losses, label
        assert block["nmac"] == ref.nmac, label
    off, on = summary["protocol_off"], summary["protocol_on"]
    assert off["losses"] >= 1
    assert sum(off["alerts"].values()) >= 1  # the broker recorded what nobody acted on
    assert on["nmac"] == 0
    assert on["losses"] <= off["losses"]

    # Nothing left running: no process still has the output folder open as its home.
    left = subprocess.run(
        ["pgrep", "-f", str(tmp_path / "out")], capture_output=True, text=True, check=False
    )
    assert left.stdout.strip() == ""
