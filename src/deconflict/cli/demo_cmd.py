"""``deconflict demo``: the Syria 2015 exercise through a real broker (see :mod:`..sim.demo`)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from deconflict.cli.common import console, err_console, one_line_errors, steps_progress
from deconflict.sim.demo import DemoResult, run_demo, with_seed
from deconflict.sim.scenario import Scenario, load_scenario


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
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="Fly the protocol-on run in real time for the live map; print its URLs",
        ),
    ] = False,
    speed: Annotated[
        float,
        typer.Option("--speed", help="With --serve: simulated seconds per wall second", min=0.01),
    ] = 1.0,
) -> None:
    """Fly the Syria 2015 exercise through a broker, protocol on then off; write out/."""
    scenario = with_seed(load_scenario(scenario_name), seed)
    if serve:
        _serve(scenario, out, duration_s, speed)
        return
    with stop_on_signals() as got:
        try:
            result = _run_with_progress(scenario, out, duration_s)
        except KeyboardInterrupt:
            name = signal.Signals(got[0]).name if got else "SIGINT"
            err_console.print(
                f"interrupted ({name}): stopped the brokers and clients; no summary written",
                highlight=False,
            )
            raise typer.Exit(143 if got and got[0] == signal.SIGTERM else 130) from None
    console.print(summary_table(result.summary))
    reports = write_demo_reports(result.out)
    console.print(
        f"{scenario.name}: seed {scenario.seed}, {sum(result.summary['aircraft'].values())} "
        f"aircraft, {result.summary['sim_duration_s']:g} s simulated per run, "
        f"{result.runtime_s:.0f} s; wrote {result.tracks_path} and {result.summary_path}",
        highlight=False,
    )
    console.print(f"reports: {', '.join(str(p) for p in reports)}", highlight=False)


def write_demo_reports(out: Path) -> list[Path]:
    """``out/report.html`` (the working group's) and ``out/report-PARTY.html`` per party."""
    from deconflict.report import load_record, write_reports

    return write_reports(load_record(record_dir=out), out)


def _serve(scenario: Scenario, out: Path, duration_s: float | None, speed: float) -> None:
    """``--serve``: the exercise in real time ×``speed``; one map URL per party, tokens apart."""
    from deconflict.sim.demo_serve import WORKING_GROUP, ServeInfo, serve_demo

    def ready(info: ServeInfo) -> None:
        console.print(
            f"{scenario.name} in real time ×{speed:g} through the broker on {info.url}; "
            "open a map, paste its token (Ctrl-C stops):",
            highlight=False,
        )
        for party in sorted(info.tokens):
            console.print(f"  {party:<16} {info.map_url_of(party)}", highlight=False)
        console.print(f"  {'working group':<16} {info.map_url_of(WORKING_GROUP)}", highlight=False)
        console.print("tokens (each shown only here):", highlight=False)
        for party, token in sorted(info.tokens.items()):
            console.print(f"  {party:<16} {token}", highlight=False)
        console.print(f"  {'working group':<16} {info.admin_token}", highlight=False)

    with stop_on_signals() as got:
        try:
            wall_s = serve_demo(scenario, out, speed=speed, duration_s=duration_s, on_ready=ready)
        except KeyboardInterrupt:
            name = signal.Signals(got[0]).name if got else "SIGINT"
            err_console.print(f"interrupted ({name}): stopped the brokers", highlight=False)
            raise typer.Exit(143 if got and got[0] == signal.SIGTERM else 130) from None
    console.print(f"{scenario.name}: flown in {wall_s:.0f} s; the maps' broker stopped")


def _run_with_progress(scenario: Scenario, out: Path, duration_s: float | None) -> DemoResult:
    """:func:`run_demo` with a progress bar (a terminal) or a line per tenth (a log)."""
    if not err_console.is_terminal:
        said: set[tuple[str, int]] = set()

        def line(label: str, k: int, n: int) -> None:
            tenth = (10 * k) // max(n, 1)
            if (label, tenth) not in said:
                said.add((label, tenth))
                err_console.print(f"protocol {label}: step {k}/{n}", highlight=False)

        return run_demo(scenario, out, duration_s=duration_s, progress=line)
    with steps_progress() as bar:
        tasks: dict[str, Any] = {}

        def tick(label: str, k: int, n: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(f"{scenario.name}, protocol {label}", total=n)
            bar.update(tasks[label], completed=k, total=n)

        return run_demo(scenario, out, duration_s=duration_s, progress=tick)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[list[int]]:
    """Ctrl-C (SIGINT) or SIGTERM raise :class:`KeyboardInterrupt` once; the list says which.

    Later signals are only noted: the clean-up that follows (clients closed, brokers
    stopped and waited for) runs to its end, so a second Ctrl-C leaves no broker behind.
    """
    got: list[int] = []

    def handler(signum: int, frame: object) -> None:
        got.append(signum)
        if len(got) == 1:
            raise KeyboardInterrupt

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield got
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


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
    hot, audit = summary.get("hotline"), summary.get("audit")
    if hot is not None:
        ack = "-" if hot["distress_ack_s"] < 0 else f"{hot['distress_ack_s']:g} s"
        rows += [
            ("hotline sent / delivered", f"{hot['sent']} / {hot['delivered']}", "-"),
            ("  via the backup relay", str(hot["via_backup"]), "-"),
            ("  duplicates", str(hot["duplicates"]), "-"),
            ("  requests overdue", str(hot["overdue"]), "-"),
            ("  distress acknowledged after", ack, "-"),
        ]
    if audit is not None:
        verdict = "verified" if audit["verified"] else "FAILED"
        rows.append(("audit logs", f"{verdict}, {audit['entries']} entries", "-"))
    for row in rows:
        table.add_row(*row)
    return table
