"""``deconflict demo`` as a real process: files of the contract, losses against brute force.

A small two-party scenario (one crossing that closes to 0.3 NM when nobody acts, and a
short hotline plan with an outage of the primary channel) keeps it fast; the full Syria
run is ``make demo``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil

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

[[hotline]]
at_s = 10.0
kind = "notice"
sender = "blue"
to = "red"
body = "Blue traffic northeast of the crossing point this morning."

# Never answered: overdue at the end.
[[events]]
kind = "request"
at_s = 20.0
sender = "blue"
to = "red"
body = "Confirm your traffic levels near the crossing point."
deadline_s = 60.0

[[events]]
kind = "outage"
channel = "primary"
start_s = 100.0
end_s = 160.0

# In the outage: the call and its ack go by the backup relay.
[[events]]
kind = "distress"
at_s = 110.0
sender = "red"
to = "all"
body = "MAYDAY: R2 engine failure, descending."
ack_by = ["blue"]
ack_after_s = 20.0

# Answered within its deadline: not overdue.
[[events]]
kind = "request"
at_s = 170.0
sender = "red"
to = "blue"
body = "Confirm the crossing is clear."
deadline_s = 600.0
answer_after_s = 10.0
answer = "Clear."
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

    # The hotline: 6 planned messages (notice, 2 requests, response, distress, ack), each
    # delivered once; the distress and its ack in the outage, by the backup relay.
    hot = summary["hotline"]
    assert list(hot) == [
        "sent",
        "delivered",
        "via_backup",
        "duplicates",
        "overdue",
        "distress_ack_s",
    ]
    assert hot["sent"] == hot["delivered"] == 6
    assert hot["duplicates"] == 0
    assert hot["via_backup"] >= 1
    assert hot["overdue"] == 1
    assert hot["distress_ack_s"] >= 20.0  # acknowledged, not before its planned reaction
    assert summary["audit"]["verified"] is True
    assert summary["audit"]["entries"] >= 6
    assert "via the backup relay" in res.stdout and "audit logs" in res.stdout

    # "verified" is a verdict: a changed byte in the backup's log fails it.
    from deconflict.sim.demo_hotline import verify_audits

    on_dir = tmp_path / "out" / "on"
    log = on_dir / "backup.audit.jsonl"
    log.write_text(log.read_text().replace("MAYDAY", "MAYDAX", 1))
    relays = {
        "primary": (on_dir / "deconflict.audit.jsonl", on_dir / "deconflict.relay.key"),
        "backup": (log, on_dir / "backup.relay.key"),
    }
    tampered = verify_audits(relays, sorted(on_dir.glob("hotline-*.db")))
    assert not tampered.verified and tampered.problems[0].startswith("backup:")

    # Nothing left running: no process still has the output folder open as its home.
    left = subprocess.run(
        ["pgrep", "-f", str(tmp_path / "out")], capture_output=True, text=True, check=False
    )
    assert left.stdout.strip() == ""


def test_ctrl_c_stops_the_demo_and_every_process_it_started(tmp_path: Path) -> None:
    # Long enough (1200 steps) that the interrupt lands mid-run, whatever the machine.
    (tmp_path / "s.toml").write_text(SCENARIO.replace("duration_s = 240.0", "duration_s = 2400.0"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "deconflict", "demo", "--scenario", "s.toml", "--out", "out"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # A terminal's Ctrl-C: SIGINT with its default action (a shell's `&` would ignore it).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # the first progress line: the run is under way
        assert first.startswith("protocol on: step"), first
        children = psutil.Process(proc.pid).children(recursive=True)
        assert any("serve" in c.cmdline() for c in children)  # the broker
        assert any("backup" in c.cmdline() for c in children)  # the backup relay
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=15)
        took_s = time.monotonic() - started
        rest = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert rc == 130
    assert took_s < 6.0
    said = [line for line in rest.splitlines() if not line.startswith("protocol on: step")]
    assert said == ["interrupted (SIGINT): stopped the brokers and clients; no summary written"]
    _, alive = psutil.wait_procs(children, timeout=1.0)
    assert alive == [], [c.cmdline() for c in alive]
    assert not (tmp_path / "out" / "summary.json").exists()
    assert os.listdir(tmp_path / "out")  # it had started: the broker's folder is there


def test_the_gate_gives_the_tracks_of_a_cycle_every_step(tmp_path: Path) -> None:
    """Skipping the round trip on quiet steps changes nothing: same tracks, same summary."""
    from deconflict.sim.demo import run_demo
    from deconflict.sim.scenario import load_scenario

    (tmp_path / "s.toml").write_text(SCENARIO)
    scenario = load_scenario(str(tmp_path / "s.toml"))
    gated = run_demo(scenario, tmp_path / "gated", duration_s=200.0)
    every = run_demo(scenario, tmp_path / "every", duration_s=200.0, every_step=True)
    pd.testing.assert_frame_equal(
        pd.read_parquet(gated.tracks_path), pd.read_parquet(every.tracks_path), check_exact=True
    )
    assert gated.summary == every.summary
    assert gated.summary["protocol_off"]["losses"] >= 1  # the gate had a conflict to pass
