"""``deconflict demo``: the Syria 2015 exercise end to end, through the real broker.

:func:`run_demo` writes the scenario's agreement (its protected areas included) into
the output folder, starts a broker there (:mod:`deconflict.sim.live`: SQLite in the
folder, a free port on 127.0.0.1, lockstep), registers the parties, flies the
scenario with the protocol on, then the same seed with it off (states still flow
through the broker, so its alerts are recorded; nobody acts on them), and writes the
output contract:

- ``tracks.parquet``: both runs, :data:`~deconflict.sim.exercise.TRACK_COLUMNS`;
- ``summary.json``: :func:`summary` (the fields of the issue's contract).

Every process it starts is stopped when it returns or raises (Ctrl-C included).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from deconflict._util import atomic_write
from deconflict.agreement import Agreement
from deconflict.io.agreement_file import save_agreement
from deconflict.sim.demo_hotline import (
    AuditResult,
    DemoHotline,
    backup_service,
    verify_audits,
)
from deconflict.sim.exercise import run_scenario
from deconflict.sim.live import Gate, LiveAdvisor, Service, free_port, party_tokens, services
from deconflict.sim.losses import count_losses, zone_violations
from deconflict.sim.scenario import Scenario

#: What the demo tells of its progress: (run label, steps done, steps in all).
DemoProgress = Callable[[str, int, int], None]

#: The demo's brokers drop an aircraft from their picture after this long without a
#: report (s); the host's gate keeps the same picture (:mod:`deconflict.sim.gate`).
STALE_AFTER_S = 30.0


@dataclass(frozen=True)
class DemoResult:
    """Where the files are, and what went into ``summary.json``."""

    out: Path
    tracks_path: Path
    summary_path: Path
    summary: dict[str, Any]
    runtime_s: float


def with_seed(scenario: Scenario, seed: int | None) -> Scenario:
    """The scenario with another seed (None: as it is)."""
    if seed is None:
        return scenario
    return dataclasses.replace(scenario, spec=scenario.spec.model_copy(update={"seed": seed}))


def demo_agreement(scenario: Scenario) -> Agreement:
    """The default rules with the scenario's protected areas (notice corridors included).

    Null properties are left out (TOML has no null; absent means the same).
    """
    return Agreement(protected_areas=tuple(_no_nulls(f) for f in scenario.zone_features))


def _no_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _no_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_no_nulls(v) for v in value]
    return value


def run_run(
    scenario: Scenario,
    agreement: Agreement,
    protocol_on: bool,
    broker: Service,
    tokens: dict[str, str],
    admin: str,
    out: Path,
    duration_s: float | None,
    progress: DemoProgress | None,
    every_step: bool = False,
    hotline: DemoHotline | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One run through the broker: its tracks and its block of ``summary.json``.

    ``every_step``: a cycle every step (no gate): slower, the same tracks.
    ``hotline``: played after each step, at the step's time.
    """
    label = "on" if protocol_on else "off"
    dt = scenario.step_s

    def step_done(k: int, n: int) -> None:
        if hotline is not None:
            hotline.at((k - 1) * dt)
        if progress is not None:
            progress(label, k, n)

    gate = None if every_step else Gate(agreement, STALE_AFTER_S)
    advisor = LiveAdvisor(broker.url, admin, tokens, agreement.fingerprint, out, gate)
    advisor.open()
    try:
        tracks = run_scenario(
            scenario,
            agreement,
            protocol_on,
            advisor=advisor,
            duration_s=duration_s,
            consult_off=True,
            progress=None if progress is None and hotline is None else step_done,
        )
    finally:
        advisor.close()
    alerts, reversals = advisor.alert_counts()
    losses = count_losses(tracks, agreement.horizontal_nm, agreement.vertical_ft)
    violations = zone_violations(tracks, scenario.zones(), scenario.zone_parties)
    block = {
        "losses": int(losses.losses),
        "loss_seconds": float(losses.loss_s),
        "nmac": int(losses.nmac),
        "min_h_nm": _finite(losses.min_h_nm),
        "zone_violations": len(violations),
        "alerts": alerts,
        "reversals": int(reversals),
    }
    return tracks, block


def _finite(x: float) -> float:
    """JSON has no NaN: a run where nobody came close says -1."""
    return -1.0 if math.isnan(x) else float(x)


#: Beside ``summary.json``: what a report needs that the brokers' records do not say.
RECORD_FILE = "record.json"


def record_facts(scenario: Scenario, hotline_epoch_s: float | None) -> dict[str, Any]:
    """``record.json``: what a report needs beside the brokers' records.

    The scenario, its ``start_utc`` (UTC of ``t = 0``), the Unix time of the hotline
    messages' scenario time 0 (their ``ts`` minus it is scenario time; null without a
    hotline) and each aircraft's type (id → type name).
    """
    from deconflict.sim.scenario_schema import CrossingEvent

    spec = scenario.spec
    types = {aid: s.type for s in spec.sorties for aid in s.aircraft_ids()}
    for e in spec.events:
        if isinstance(e, CrossingEvent):
            types.update({a.id: a.type for a in e.aircraft})
    return {
        "scenario": scenario.name,
        "start_utc": spec.start_utc,
        "hotline_epoch_s": hotline_epoch_s,
        "aircraft_types": dict(sorted(types.items())),
    }


def broker_service(db_url: str, data: Path, agreement_path: Path) -> Service:
    """``deconflict serve`` in lockstep on a free port, its files in ``data``."""
    port = free_port()
    return Service(
        [
            "serve",
            "--db",
            db_url,
            "--data-dir",
            str(data),
            "--port",
            str(port),
            "--agreement",
            str(agreement_path),
        ],
        f"http://127.0.0.1:{port}",
        data / "broker.log",
        env={
            "DECONFLICT_BROKER_LOCKSTEP": "1",
            "DECONFLICT_BROKER_STALE_AFTER_S": str(STALE_AFTER_S),
        },
    )


def run_demo(
    scenario: Scenario,
    out: Path,
    *,
    duration_s: float | None = None,
    progress: DemoProgress | None = None,
    every_step: bool = False,
) -> DemoResult:
    """Both runs through a broker started in ``out``; the files written there.

    ``every_step``: ask the broker for a cycle every step, not only where the gate
    (:mod:`deconflict.sim.gate`) finds something could happen (the same tracks, slower).
    """
    import time

    started = time.perf_counter()
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    agreement = demo_agreement(scenario)
    agreement_path = out / "agreement.toml"
    save_agreement(agreement, agreement_path)
    runs: dict[str, dict[str, Any]] = {}
    frames = []
    hotline_block: dict[str, Any] = {}
    audit = AuditResult(False, 0)
    epoch: float | None = None
    for on in (True, False):
        # Each run its own broker (data folder out/on, out/off): the same start for both.
        label = "on" if on else "off"
        data = out / label
        data.mkdir(exist_ok=True)
        for stale in [*data.glob("*.db*"), *data.glob("*.audit.jsonl")]:
            stale.unlink()  # a fresh exercise: no parties, alerts or hotline of the last
        db_url = f"sqlite:///{data / 'deconflict.db'}"
        broker = broker_service(db_url, data, agreement_path)
        # The hotline (backup relay, party clients, the plan) in the protocol-on run.
        relays = (broker, backup_service(db_url, data)) if on else (broker,)
        with services(*relays, cwd=data):
            tokens, admin = party_tokens(db_url, list(scenario.parties))
            hotline = None
            if on:
                hotline = DemoHotline.for_scenario(
                    scenario, tokens, broker.url, relays[1].url, data
                )
            try:
                if hotline is not None:
                    epoch = hotline.epoch
                    hotline.open()
                frame, block = run_run(
                    scenario,
                    agreement,
                    on,
                    broker,
                    tokens,
                    admin,
                    data,
                    duration_s,
                    progress,
                    every_step,
                    hotline,
                )
                if hotline is not None:
                    last_s = float(frame["time"].max()) if len(frame) else 0.0
                    hotline_block = hotline.finish(last_s).block()
            finally:
                if hotline is not None:
                    hotline.close()
        if on:
            audit = verify_audits(
                {
                    "primary": (data / "deconflict.audit.jsonl", data / "deconflict.relay.key"),
                    "backup": (data / "backup.audit.jsonl", data / "backup.relay.key"),
                },
                sorted(data.glob("hotline-*.db")),
            )
        frames.append(frame)
        runs[f"protocol_{label}"] = block
    tracks = pd.concat(frames, ignore_index=True)
    tracks_path = out / "tracks.parquet"
    tracks.to_parquet(tracks_path, index=False)
    flown = tracks[tracks["run"] == "on"].drop_duplicates("id")["party"].value_counts()
    total = scenario.duration_s if duration_s is None else min(duration_s, scenario.duration_s)
    summary: dict[str, Any] = {
        "scenario": scenario.name,
        "seed": int(scenario.seed),
        "agreement_fingerprint": agreement.fingerprint,
        "sim_duration_s": float(total),
        "minima": {
            "horizontal_nm": float(agreement.horizontal_nm),
            "vertical_ft": float(agreement.vertical_ft),
        },
        "aircraft": {str(p): int(n) for p, n in sorted(flown.items())},
        **runs,
        "hotline": hotline_block,
        "audit": audit.block(),
    }
    summary_path = out / "summary.json"
    atomic_write(summary_path, json.dumps(summary, indent=2) + "\n")
    atomic_write(out / RECORD_FILE, json.dumps(record_facts(scenario, epoch), indent=2) + "\n")
    return DemoResult(out, tracks_path, summary_path, summary, time.perf_counter() - started)
