"""``deconflict report``: the working group's report of a record, as one HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deconflict.cli.common import console, one_line_errors
from deconflict.errors import InputError


@one_line_errors
def report_command(
    output: Annotated[
        Path, typer.Option("-o", "--output", help="The HTML file to write", show_default=False)
    ],
    db: Annotated[
        str | None,
        typer.Option("--db", help="A broker's database URL (its audit logs are found beside it)"),
    ] = None,
    record: Annotated[
        Path | None,
        typer.Option("--record", help="The demo's output folder (out/ of deconflict demo)"),
    ] = None,
    party: Annotated[
        str | None,
        typer.Option(
            "--party",
            help="Only what this party may know (default: the working group's view of all)",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="From this time: ISO-8601 UTC or epoch seconds"),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="Until this time: ISO-8601 UTC or epoch seconds"),
    ] = None,
) -> None:
    """Write the report of a broker's record (--db) or the demo's (--record) as one HTML file."""
    from deconflict.report import write_report
    from deconflict.report.record import load_record, parse_time

    if (db is None) == (record is None):
        raise InputError("give exactly one of --db URL and --record DIR")
    if output.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"-o {output}: the report is HTML; name a .html file")
    lo = parse_time(since, "--since") if since is not None else None
    hi = parse_time(until, "--until") if until is not None else None
    rec = load_record(db=db, record_dir=record, since_unix_s=lo, until_unix_s=hi)
    path = write_report(rec, output, party)
    size_mb = path.stat().st_size / 1e6
    who = "the working group" if party is None else party
    console.print(
        f"wrote {path} ({size_mb:.1f} MB): report for {who}, {len(rec.parties)} parties, "
        f"source {rec.source}",
        highlight=False,
    )
