"""``deconflict zones``: predicted and actual entries into protected airspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deconflict.airspace.entries import entry_table, zone_entries
from deconflict.airspace.zones import Zones
from deconflict.cli.common import (
    AgreementOpt,
    LookaheadOpt,
    OutOpt,
    emit,
    one_line_errors,
    resolve_agreement,
    rules_summary,
)
from deconflict.cli.detect_cmd import StatesArg
from deconflict.errors import InputError
from deconflict.io.airspace_files import read_zones
from deconflict.io.states import read_states

ZONE_FORMATS = {"t_entry_s": "{:.1f}"}


@one_line_errors
def zones_command(
    states: StatesArg,
    zones: Annotated[
        Path | None,
        typer.Option("--zones", help="Protected airspace GeoJSON [default: the agreement's]"),
    ] = None,
    lookahead_s: LookaheadOpt = None,
    agreement: AgreementOpt = None,
    output: OutOpt = None,
) -> None:
    """Aircraft inside (violation) or predicted to enter (predicted) protected airspace."""
    ag = resolve_agreement(agreement, None, None, lookahead_s)
    if zones is not None:
        zone_set = read_zones(zones)
    elif ag.protected_areas:
        zone_set = Zones.from_agreement(ag)
    else:
        raise InputError("no zones: give --zones FILE or protected_areas in the --agreement")
    state = read_states(states)
    result = entry_table(state, zone_set, zone_entries(state, zone_set, ag.lookahead_s))
    n_violation = int((result["status"] == "violation").sum())
    summary = (
        f"{n_violation} violation(s), {len(result) - n_violation} predicted entry(ies) "
        f"for {len(state)} state(s) and {len(zone_set)} zone(s); " + rules_summary(ag)
    )
    title = f"Protected airspace: {zones.name if zones else 'agreement'}"
    emit(result, output, title, ZONE_FORMATS, summary)
