"""``deconflict replay``: real losses of separation in recorded traffic, apart from artefacts."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from deconflict.cli.common import (
    AgreementOpt,
    HorizontalOpt,
    LookaheadOpt,
    OutOpt,
    VerticalOpt,
    console,
    err_console,
    format_time,
    frame_table,
    one_line_errors,
    resolve_agreement,
    rules_summary,
)
from deconflict.cli.detect_cmd import AllPairsOpt
from deconflict.errors import InputError
from deconflict.io.tables import write_table
from deconflict.replay.episodes import KINDS
from deconflict.replay.parallel import Replay, connect, replay

TracksArg = Annotated[
    list[Path],
    typer.Argument(
        help="Position reports: .csv or .parquet, detect's columns or the traffic library's"
    ),
]
StepOpt = Annotated[
    float, typer.Option("--step-s", help="Grid step, s: every flight is compared every step")
]
DaskOpt = Annotated[
    str | None,
    typer.Option(
        "--dask-address",
        help="Run on this Dask scheduler (tcp://HOST:PORT) [default: local processes]",
    ),
]
EPISODE_FORMATS = {"h_nm_closest": "{:.2f}", "v_ft_closest": "{:.0f}", "warned_s": "{:.0f}"}
TIME_COLUMNS = ("t_start", "t_end", "t_closest")


def _display(episodes: pd.DataFrame) -> pd.DataFrame:
    """Episode times as UTC clock times (epoch seconds stay in files)."""
    shown = episodes.copy()
    for col in TIME_COLUMNS:
        shown[col] = [format_time(float(t)) for t in shown[col]]
    return shown


def summary_table(result: Replay) -> Table:
    """Episodes by kind and dropped reports by reason."""
    table = Table(title="Summary", title_justify="left", header_style="bold")
    table.add_column("what")
    table.add_column("count", justify="right")
    for kind, n in result.by_kind().items():
        table.add_row(f"episodes: {kind}", str(n))
    table.add_row("reports read", str(result.reports))
    for reason, n in sorted(result.dropped.items()):
        table.add_row(f"dropped: {reason}", str(n))
    return table


@one_line_errors
def replay_command(
    tracks: TracksArg,
    horizontal_nm: HorizontalOpt = None,
    vertical_ft: VerticalOpt = None,
    lookahead_s: LookaheadOpt = None,
    agreement: AgreementOpt = None,
    step_s: StepOpt = 5.0,
    all_pairs: AllPairsOpt = False,
    output: OutOpt = None,
    dask_address: DaskOpt = None,
) -> None:
    """Episodes of actual loss of separation in recorded traffic, with how early they were warned.

    Kinds: loss, level_adjacent, same_aircraft, formation. The table lists losses; -o has all.
    """
    ag = resolve_agreement(agreement, horizontal_nm, vertical_ft, lookahead_s)
    if not step_s > 0 or step_s != step_s or step_s == float("inf"):
        raise InputError(f"--step-s must be a positive number of seconds, got {step_s:g}")
    if output is not None and output.suffix.lower() not in (".csv", ".parquet"):
        raise InputError(f"{output}: unknown output type; expected .csv or .parquet")
    with ExitStack() as stack:
        client = stack.enter_context(connect(dask_address)) if dask_address else "local"
        bar = stack.enter_context(
            Progress(
                TextColumn("replay"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} windows"),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
            )
        )
        task = bar.add_task("replay", total=None)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = replay(
            tracks, ag, step_s=step_s, all_pairs=all_pairs, client=client, on_window=tick
        )
    episodes = result.episodes
    kinds = result.by_kind()
    counted = ", ".join(f"{k} {kinds[k]}" for k in KINDS)
    line = (
        f"{len(episodes)} episode(s) ({counted}) in {result.reports} report(s), "
        f"step {step_s:g} s; " + rules_summary(ag)
    )
    if output is not None:
        write_table(episodes, output)
        console.print(summary_table(result))
        console.print(f"{line}; written to {output}", highlight=False)
        return
    losses = episodes[episodes["kind"] == "loss"]
    if len(losses):
        title = f"Losses of separation in {', '.join(p.name for p in tracks)}"
        console.print(frame_table(_display(losses), title, EPISODE_FORMATS))
    console.print(summary_table(result))
    console.print(line, highlight=False)
