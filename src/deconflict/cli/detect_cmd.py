"""``deconflict detect``: tactical conflicts in a file of aircraft states."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deconflict.cli.common import (
    AgreementOpt,
    HorizontalOpt,
    LookaheadOpt,
    OutOpt,
    VerticalOpt,
    console,
    frame_table,
    one_line_errors,
    resolve_agreement,
)
from deconflict.core.agreement import Agreement
from deconflict.frames import detect
from deconflict.io.states import read_states
from deconflict.io.tables import write_table

CONFLICT_FORMATS = {
    "t_in_s": "{:.1f}",
    "t_out_s": "{:.1f}",
    "t_cpa_s": "{:.1f}",
    "d_cpa_nm": "{:.2f}",
    "dz_cpa_ft": "{:.0f}",
}


def run_detect(states_path: Path, agreement: Agreement, all_pairs: bool, out: Path | None) -> None:
    """Read, detect, then write ``out`` or print a table with a one-line summary."""
    state = read_states(states_path)
    result = detect(state, agreement, all_pairs=all_pairs)
    n_times = len(set(state.time.tolist()))
    summary = (
        f"{len(result)} conflict(s) among {len(state)} state(s) at {n_times} time(s); "
        f"{agreement.horizontal_nm:g} NM / {agreement.vertical_ft:g} ft / "
        f"{agreement.lookahead_s:g} s; agreement {agreement.fingerprint[:12]}"
    )
    if out is not None:
        write_table(result, out)
        console.print(f"{summary}; written to {out}", highlight=False)
        return
    if len(result):
        console.print(frame_table(result, f"Conflicts in {states_path.name}", CONFLICT_FORMATS))
    console.print(summary, highlight=False)


@one_line_errors
def detect_command(
    states: Annotated[Path, typer.Argument(help="States: .csv, .parquet or DAIDALUS .daa")],
    horizontal_nm: HorizontalOpt = None,
    vertical_ft: VerticalOpt = None,
    lookahead_s: LookaheadOpt = None,
    agreement: AgreementOpt = None,
    all_pairs: Annotated[
        bool, typer.Option("--all-pairs", help="Also report pairs of the same party")
    ] = False,
    output: OutOpt = None,
) -> None:
    """Predict losses of separation between aircraft of different parties."""
    ag = resolve_agreement(agreement, horizontal_nm, vertical_ft, lookahead_s)
    run_detect(states, ag, all_pairs, output)
