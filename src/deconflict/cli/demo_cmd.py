"""``deconflict demo``: the Syria 2015 exercise through a real broker (see :mod:`..sim.demo`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from deconflict.cli.common import console, err_console, one_line_errors
from deconflict.sim.demo import run_demo, with_seed
from deconflict.sim.scenario import load_scenario


@one_line_errors
def demo_command(
    out: Annotated[
        Path, typer.Option("--out", help="Folder for tracks.parquet, summary.json, brokers")
    ] = Path("out"),
    duration_s: Annotated[
        float | None,
        typer.Option("--duration-s", help="Stop after this many simulated seconds", min=1.0),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed [the scenario's]")] = None,
    scenario_name: Annotated[
        str,
        typer.Option("--scenario", help="Scenario TOML file, or an embedded name"),
    ] = "syria2015",
) -> None:
    """Fly the Syria 2015 exercise through a broker, protocol on then off; write out/."""
    scenario = with_seed(load_scenario(scenario_name), seed)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:>5}/{task.total} steps"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def tick(label: str, k: int, n: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(f"{scenario.name}, protocol {label}", total=n)
            bar.update(tasks[label], completed=k, total=n)

        result = run_demo(scenario, out, duration_s=duration_s, progress=tick)
    console.print(summary_table(result.summary))
    console.print(
        f"{scenario.name}: seed {scenario.seed}, {sum(result.summary['aircraft'].values())} "
        f"aircraft, {result.summary['sim_duration_s']:g} s simulated per run, "
        f"{result.runtime_s:.0f} s; wrote {result.tracks_path} and {result.summary_path}",
        highlight=False,
    )


def summary_table(summary: dict[str, Any]) -> Table:
    """Protocol on against off, from ``summary.json``'s fields."""
    table = Table(title=f"Exercise {summary['scenario']}", title_justify="left")
    table.add_column("")
    table.add_column("protocol on", justify="right")
    table.add_column("protocol off", justify="right")
    on, off = summary["protocol_on"], summary["protocol_off"]

    def alerts(block: dict[str, Any]) -> str:
        return " / ".join(f"{n} {lvl}" for lvl, n in sorted(block["alerts"].items())) or "0"

    def min_h(block: dict[str, Any]) -> str:
        return "-" if block["min_h_nm"] < 0 else f"{block['min_h_nm']:.2f}"

    rows = [
        ("losses of separation", str(on["losses"]), str(off["losses"])),
        ("loss seconds", f"{on['loss_seconds']:g}", f"{off['loss_seconds']:g}"),
        ("NMAC", str(on["nmac"]), str(off["nmac"])),
        ("min horizontal (NM)", min_h(on), min_h(off)),
        ("zone violations", str(on["zone_violations"]), str(off["zone_violations"])),
        ("alerts raised", alerts(on), alerts(off)),
        ("advisory reversals", str(on["reversals"]), str(off["reversals"])),
    ]
    for row in rows:
        table.add_row(*row)
    return table
