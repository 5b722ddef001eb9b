"""``deconflict detect`` and ``deconflict advise``: conflicts and advisories from a states file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deconflict.agreement import Agreement
from deconflict.cli.common import (
    AgreementOpt,
    HorizontalOpt,
    LookaheadOpt,
    OutOpt,
    VerticalOpt,
    emit,
    one_line_errors,
    resolve_agreement,
    rules_summary,
)
from deconflict.io.states import read_states
from deconflict.tactical.advise import advise
from deconflict.tactical.tables import detect

StatesArg = Annotated[Path, typer.Argument(help="States: .csv, .parquet or DAIDALUS .daa")]
AllPairsOpt = Annotated[
    bool, typer.Option("--all-pairs", help="Also report pairs of the same party")
]

CONFLICT_FORMATS = {
    "t_in_s": "{:.1f}",
    "t_out_s": "{:.1f}",
    "t_cpa_s": "{:.1f}",
    "d_cpa_nm": "{:.2f}",
    "dz_cpa_ft": "{:.0f}",
}
ADVICE_FORMATS = {"target_vs_fpm": "{:.0f}", "target_track_deg": "{:.1f}", "t_in_s": "{:.1f}"}


def run_detect(states_path: Path, agreement: Agreement, all_pairs: bool, out: Path | None) -> None:
    """Read, detect, then write ``out`` or print a table with a one-line summary."""
    state = read_states(states_path)
    result = detect(state, agreement, all_pairs=all_pairs)
    n_times = len(set(state.time.tolist()))
    summary = (
        f"{len(result)} conflict(s) among {len(state)} state(s) at {n_times} time(s); "
        + rules_summary(agreement)
    )
    emit(result, out, f"Conflicts in {states_path.name}", CONFLICT_FORMATS, summary)


@one_line_errors
def detect_command(
    states: StatesArg,
    horizontal_nm: HorizontalOpt = None,
    vertical_ft: VerticalOpt = None,
    lookahead_s: LookaheadOpt = None,
    agreement: AgreementOpt = None,
    all_pairs: AllPairsOpt = False,
    output: OutOpt = None,
) -> None:
    """Predict losses of separation between aircraft of different parties."""
    ag = resolve_agreement(agreement, horizontal_nm, vertical_ft, lookahead_s)
    run_detect(states, ag, all_pairs, output)


@one_line_errors
def advise_command(
    states: StatesArg,
    horizontal_nm: HorizontalOpt = None,
    vertical_ft: VerticalOpt = None,
    lookahead_s: LookaheadOpt = None,
    agreement: AgreementOpt = None,
    all_pairs: AllPairsOpt = False,
    output: OutOpt = None,
) -> None:
    """Alert levels and coordinated advisories, one row per aircraft in conflict."""
    ag = resolve_agreement(agreement, horizontal_nm, vertical_ft, lookahead_s)
    state = read_states(states)
    result = advise(state, ag, all_pairs=all_pairs)
    summary = (
        f"{len(result)} advisory(ies) for {len(state)} state(s); "
        + ", ".join(f"{k} {v}" for k, v in result["manoeuvre"].value_counts().items())
        + ("; " if len(result) else "")
        + rules_summary(ag)
    )
    emit(result, output, f"Advisories for {states.name}", ADVICE_FORMATS, summary)
