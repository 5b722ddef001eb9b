"""``deconflict plan``: strategic deconfliction of two parties' planned operation volumes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from deconflict.airspace.overlaps import areas_km2, overlap_table, overlaps
from deconflict.airspace.volumes import check_nonnegative
from deconflict.cli.common import (
    EXIT_BAD_INPUT,
    AgreementOpt,
    HorizontalOpt,
    VerticalOpt,
    console,
    err_console,
    frame_table,
    one_line_errors,
    resolve_agreement,
    rules_summary,
)
from deconflict.io.airspace_files import read_volumes, write_overlaps

plan_app = typer.Typer(
    help="Strategic deconfliction: do two parties' planned operations overlap?",
    no_args_is_help=True,
)

_VOLUMES_HELP = "volumes: GeoJSON FeatureCollection or ASTM F3548 Volume4D JSON"
AVolumesArg = Annotated[Path, typer.Argument(metavar="A", help=f"Party A's {_VOLUMES_HELP}")]
BVolumesArg = Annotated[Path, typer.Argument(metavar="B", help=f"Party B's {_VOLUMES_HELP}")]
TimeBufferOpt = Annotated[
    float,
    typer.Option("--time-buffer-s", help="Windows closer than this (s) also overlap"),
]
PrivateOpt = Annotated[
    bool,
    typer.Option("--private", help="Private set intersection: each side learns only the overlap"),
]
MessagesOpt = Annotated[
    Path | None,
    typer.Option("--messages-dir", help="With --private: write each message exchanged here"),
]
GeoJsonOutOpt = Annotated[
    Path | None, typer.Option("-o", "--output", help="Write the overlaps as GeoJSON instead")
]

PLAN_FORMATS = {"area_km2": "{:.2f}"}


@plan_app.command("check")
@one_line_errors
def check_command(
    a: AVolumesArg,
    b: BVolumesArg,
    agreement: AgreementOpt = None,
    horizontal_nm: HorizontalOpt = None,
    vertical_ft: VerticalOpt = None,
    time_buffer_s: TimeBufferOpt = 0.0,
    private: PrivateOpt = False,
    messages_dir: MessagesOpt = None,
    output: GeoJsonOutOpt = None,
) -> None:
    """Overlaps between the volumes of A and B under the separation minima."""
    if messages_dir is not None and not private:
        err_console.print("[bold red]error:[/] --messages-dir needs --private", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    check_nonnegative("time_buffer_s", time_buffer_s)
    ag = resolve_agreement(agreement, horizontal_nm, vertical_ft, None)
    va, vb = read_volumes(a), read_volumes(b)
    if private:
        try:
            from deconflict.private import local_check
        except ImportError:
            err_console.print("[bold red]error:[/] private mode not available", highlight=False)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        messages: list[bytes] = []
        result = local_check(va, vb, ag, time_buffer_s, messages)
        if messages_dir is not None:
            from deconflict.io.private_messages import write_exchange

            write_exchange(messages_dir, messages)
        mode = "private"
    else:
        found = overlaps(va, vb, ag.horizontal_nm, ag.vertical_ft, time_buffer_s)
        result = overlap_table(va, vb, found)
        mode = "exact"
    summary = (
        f"{len(result)} overlap(s) between {len(va)} volume(s) in {a.name} and "
        f"{len(vb)} in {b.name} ({mode}); " + rules_summary(ag, time_buffer_s)
    )
    if output is not None:
        write_overlaps(result, output)
        console.print(f"{summary}; written to {output}", highlight=False)
        return
    if len(result):
        console.print(frame_table(_display(result), f"Overlaps: {a.name} × {b.name}", PLAN_FORMATS))
    console.print(summary, highlight=False)


def _display(frame: pd.DataFrame) -> pd.DataFrame:
    """The table people read: ids, band, window, area."""
    band = [
        f"{lo:,.0f}–{hi:,.0f} ft"
        for lo, hi in zip(frame["alt_lower_ft"], frame["alt_upper_ft"], strict=True)
    ]
    window = [_window(s, e) for s, e in zip(frame["time_start"], frame["time_end"], strict=True)]
    return pd.DataFrame(
        {
            "a_id": frame["a_id"].astype(str),
            "b_id": frame["b_id"].astype(str),
            "band": band,
            "window": window,
            "area_km2": areas_km2(frame["geometry"].to_numpy()),
        }
    )


def _window(start: str, end: str) -> str:
    """``2026-05-01 10:00:00–11:30:00Z`` (the end's date only when it differs)."""
    s = start.removesuffix("Z").replace("T", " ")
    e = end.removesuffix("Z").replace("T", " ")
    if s[:10] == e[:10]:
        e = e[11:]
    return f"{s}–{e}Z"
