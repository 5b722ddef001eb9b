"""``deconflict sim``: fly a scenario in fast time with the protocol on, off, or both."""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from deconflict.cli.common import (
    AgreementOpt,
    console,
    one_line_errors,
    resolve_agreement,
    rules_summary,
    steps_progress,
)
from deconflict.errors import InputError
from deconflict.io.tables import write_table
from deconflict.sim.exercise import RunSummary, exercise
from deconflict.sim.scenario import EMBEDDED, embedded_path, load_scenario


class Protocol(StrEnum):
    """Which runs to fly."""

    on = "on"
    off = "off"
    both = "both"


@one_line_errors
def sim_command(
    scenario: Annotated[
        str | None,
        typer.Argument(help="Scenario TOML file, or the name of an embedded one (syria2015)"),
    ] = None,
    protocol: Annotated[
        Protocol, typer.Option("--protocol", help="Fly with the protocol on, off, or both")
    ] = Protocol.both,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write the tracks to OUT.parquet or OUT.csv"),
    ] = None,
    duration_s: Annotated[
        float | None,
        typer.Option("--duration-s", help="Stop after this many simulated seconds", min=1.0),
    ] = None,
    agreement: AgreementOpt = None,
    list_: Annotated[bool, typer.Option("--list", help="List the embedded scenarios")] = False,
) -> None:
    """Fly a scenario in fast time; count cross-party losses of separation per run."""
    if list_:
        for name in EMBEDDED:
            s = load_scenario(embedded_path(name))
            console.print(
                f"{name}: {s.aircraft_count()} aircraft, {s.duration_s / 3600:.1f} h; "
                f"{s.spec.description}",
                highlight=False,
            )
        return
    if scenario is None:
        raise InputError("give a SCENARIO (a TOML file or an embedded name), or --list")
    sc = load_scenario(scenario)
    ag = resolve_agreement(agreement, None, None, None)
    runs = [True, False] if protocol is Protocol.both else [protocol is Protocol.on]
    tracks: list[pd.DataFrame] = []
    summaries: dict[str, RunSummary] = {}
    with steps_progress() as bar:
        for on in runs:
            label = "on" if on else "off"
            task = bar.add_task(f"{sc.name}, protocol {label}", total=None)

            def tick(k: int, n: int, task: int = task) -> None:
                bar.update(task, completed=k, total=n)

            frame, summary = exercise(sc, ag, on, duration_s=duration_s, progress=tick)
            tracks.append(frame)
            summaries[label] = summary
    console.print(_table(sc.name, summaries))
    flown = max((sum(s.aircraft.values()) for s in summaries.values()), default=0)
    line = (
        f"{sc.name}: seed {sc.seed}, {flown} aircraft flown, step {sc.step_s:g} s; "
        + rules_summary(ag)
    )
    if output is not None:
        write_table(pd.concat(tracks, ignore_index=True), output)
        line += f"; tracks written to {output}"
    console.print(line, highlight=False)


def _table(name: str, runs: dict[str, RunSummary]) -> Table:
    table = Table(title=f"Exercise {name}", title_justify="left", header_style="bold")
    table.add_column("")
    for label in runs:
        table.add_column(f"protocol {label}", justify="right")
    rows: list[tuple[str, list[str]]] = [
        ("losses of separation", [str(r.losses.losses) for r in runs.values()]),
        ("loss seconds", [f"{r.losses.loss_s:g}" for r in runs.values()]),
        ("NMAC", [str(r.losses.nmac) for r in runs.values()]),
        ("min horizontal (NM)", [_nm(r.losses.min_h_nm) for r in runs.values()]),
        ("zone violations", [str(len(r.violations)) for r in runs.values()]),
        ("zone seconds", [f"{r.violations['seconds'].sum():g}" for r in runs.values()]),
        ("alerts raised", [_alerts(r) for r in runs.values()]),
        ("advisory reversals", [str(r.reversals) for r in runs.values()]),
        ("aircraft", [_parties(r) for r in runs.values()]),
        ("run time (s)", [f"{r.runtime_s:.1f}" for r in runs.values()]),
    ]
    for label, cells in rows:
        table.add_row(label, *cells)
    return table


def _nm(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.2f}"


def _alerts(r: RunSummary) -> str:
    return (
        " / ".join(f"{n} {lvl}" for lvl, n in r.alerts.items()) if any(r.alerts.values()) else "0"
    )


def _parties(r: RunSummary) -> str:
    return ", ".join(f"{n} {p}" for p, n in sorted(r.aircraft.items()))
