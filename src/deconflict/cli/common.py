"""What every command shares: one-line errors, the agreement options, tables."""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from deconflict._util import clock_utc
from deconflict.agreement import Agreement
from deconflict.errors import DeconflictError
from deconflict.io.agreement_file import load_agreement
from deconflict.names import terminal_text

P = ParamSpec("P")
R = TypeVar("R")

#: Wide tables when piped (rich would otherwise wrap at 80 columns).
console = Console(width=None if sys.stdout.isatty() else 200, soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def steps_progress() -> Progress:
    """The transient progress bar of a simulated run on stderr: description, bar, steps, time."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:>5}/{task.total} steps"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


#: Exit status for input the user must fix (typer's own usage errors also use 2).
EXIT_BAD_INPUT = 2


def one_line_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn :class:`DeconflictError` (and unreadable files) into ``error: …`` and exit 2.

    As a last line of defence for a reader that missed them, an unreadable file
    (``OSError``), text that is not UTF-8, input nested too deeply (``RecursionError``)
    or too big (``MemoryError``) are one line and exit 2 too: never a traceback.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt:
            err_console.print("interrupted", highlight=False)
            raise typer.Exit(130) from None
        except Exception as err:
            line = _one_line(err)
            if line is None:
                raise
            # Printed literally (no rich markup) and escaped: a file name, an id or a value
            # in the message can neither restyle nor rewrite the terminal.
            text = Text.assemble(("error:", "bold red"), " ", terminal_text(line))
            err_console.print(text, highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None

    return wrapper


def _one_line(err: Exception) -> str | None:
    """The line to print for an error the user must fix; None for a bug (re-raised)."""
    if isinstance(err, DeconflictError):
        return str(err)
    if isinstance(err, OSError):  # a file a reader did not expect to be unreadable
        where = f"{err.filename}: " if err.filename else ""
        return f"{where}{err.strerror or err}"
    if isinstance(err, UnicodeDecodeError):
        return f"input is not UTF-8 text ({err.reason} at byte {err.start})"
    if isinstance(err, RecursionError):  # the readers refuse deep nesting before this
        return "input nested too deeply"
    if isinstance(err, MemoryError):
        return "input too large for memory"
    return None


HorizontalOpt = Annotated[
    float | None,
    typer.Option("--horizontal-nm", help="Horizontal minimum, NM [default: 5, or the agreement's]"),
]
VerticalOpt = Annotated[
    float | None,
    typer.Option("--vertical-ft", help="Vertical minimum, ft [default: 1000, or the agreement's]"),
]
LookaheadOpt = Annotated[
    float | None,
    typer.Option("--lookahead-s", help="Look-ahead, s [default: 300, or the agreement's]"),
]
AgreementOpt = Annotated[
    Path | None, typer.Option("--agreement", help="Agreement TOML file (flags override it)")
]
OutOpt = Annotated[
    Path | None, typer.Option("-o", "--output", help="Write OUT.csv or OUT.parquet instead")
]


def resolve_agreement(
    path: Path | None,
    horizontal_nm: float | None,
    vertical_ft: float | None,
    lookahead_s: float | None,
) -> Agreement:
    """The agreement from ``path`` (or the defaults) with any flags given on top."""
    base = load_agreement(path) if path is not None else Agreement()
    overrides = {
        k: v
        for k, v in {
            "horizontal_nm": horizontal_nm,
            "vertical_ft": vertical_ft,
            "lookahead_s": lookahead_s,
        }.items()
        if v is not None
    }
    if not overrides:
        return base
    return Agreement(**{**base.model_dump(), **overrides})


def emit(
    frame: pd.DataFrame, out: Path | None, title: str, formats: dict[str, str], summary: str
) -> None:
    """Write ``frame`` to ``out`` (CSV or Parquet), or print it as a table; then the summary."""
    from deconflict.io.tables import write_table

    if out is not None:
        write_table(frame, out)
        console.print(f"{summary}; written to {out}", highlight=False)
        return
    if len(frame):
        console.print(frame_table(frame, title, formats))
    console.print(summary, highlight=False)


def rules_summary(agreement: Agreement, time_buffer_s: float | None = None) -> str:
    """The minima, look-ahead (or plans' time buffer) and fingerprint prefix, for summary lines."""
    time = (
        f"{agreement.lookahead_s:g} s"
        if time_buffer_s is None
        else f"time buffer {time_buffer_s:g} s"
    )
    return (
        f"{agreement.horizontal_nm:g} NM / {agreement.vertical_ft:g} ft / "
        f"{time}; agreement {agreement.fingerprint[:12]}"
    )


def format_time(t: float) -> str:
    """Snapshot time for people: UTC clock time for Unix epoch seconds, else seconds."""
    if 1e8 < t < 1e11:  # Unix time between 1973 and 5138
        return clock_utc(t)
    return f"{t:g}"


def frame_table(frame: pd.DataFrame, title: str, formats: dict[str, str]) -> Table:
    """A rich table of ``frame`` with per-column number formats (``{:.1f}`` style)."""
    table = Table(title=title, title_justify="left", header_style="bold")
    for col in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[col])
        table.add_column(col, justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        cells = []
        for col, value in zip(frame.columns, row, strict=True):
            if col == "time":
                cells.append(format_time(float(value)))
            elif value is None or (isinstance(value, float) and math.isnan(value)):
                cells.append("")
            elif col in formats:
                cells.append(formats[col].format(value))
            else:
                cells.append(terminal_text(str(value)))  # ids: escaped
        table.add_row(*(Text(c) for c in cells))  # literal text: no rich markup in ids
    return table
