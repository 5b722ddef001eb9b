"""``deconflict audit``: verify the hotline's tamper-evident audit log, and sign its head."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from deconflict.cli.common import console, err_console, one_line_errors
from deconflict.errors import InputError
from deconflict.hotline.audit import head_text, load_head, read_head, verify_log, write_head
from deconflict.hotline.keys import load_key_file, public_hex

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)

#: Exit status when the log fails verification (bad input is 2, as everywhere).
EXIT_TAMPERED = 1

LogArg = Annotated[Path, typer.Argument(metavar="LOG", help="Audit log (JSON lines)")]
KeyOpt = Annotated[
    str | None,
    typer.Option("--key", metavar="HEX", help="The holder's public key (64 hex) to pin"),
]
KeyFileOpt = Annotated[
    Path | None,
    typer.Option("--key-file", help="A signing key file: its public key is pinned"),
]
HeadOpt = Annotated[
    list[Path] | None,
    typer.Option("--head", metavar="HEAD.json", help="A signed head a party kept (repeatable)"),
]
HolderKeyOpt = Annotated[Path, typer.Option("--key-file", help="The log holder's signing key file")]
HeadOutOpt = Annotated[
    Path | None, typer.Option("-o", "--output", help="Write the head to OUT.json instead")
]


@audit_app.command("verify")
@one_line_errors
def verify_command(
    log: LogArg,
    key: KeyOpt = None,
    key_file: KeyFileOpt = None,
    head: HeadOpt = None,
) -> None:
    """Check every entry's hash, link and signature, the signer, and any heads parties kept."""
    if key is not None and key_file is not None:
        raise InputError("give --key or --key-file, not both")
    pinned = public_hex(load_key_file(key_file)) if key_file is not None else key
    heads = [load_head(p) for p in head or []]
    report = verify_log(log, public_key=pinned, heads=heads)
    if not report.ok:
        err_console.print(f"[bold red]TAMPERED:[/] {escape(report.problem or '')}", highlight=False)
        raise typer.Exit(EXIT_TAMPERED)
    parts = [f"ok: {report.entries} entries, head {report.head_hash[:16]}"]
    if report.key_checked:
        parts.append(f"signed by the expected key {report.public_key[:16]}…")
    else:
        parts.append(
            f"signed by {report.public_key[:16]}…; key not pinned, pass --key to check who signed"
        )
    if report.heads_checked:
        parts.append(f"consistent with {report.heads_checked} party head(s)")
    console.print("; ".join(parts), highlight=False)


@audit_app.command("head")
@one_line_errors
def head_command(log: LogArg, key_file: HolderKeyOpt, output: HeadOutOpt = None) -> None:
    """Sign the log's current head (entry count and last hash) for the parties to keep.

    Reads the log without taking it over, so it works while the hotline is appending.
    """
    signed = read_head(log, load_key_file(key_file))
    if output is None:
        print(head_text(signed), end="")
        return
    try:
        write_head(output, signed)
    except OSError as err:
        raise InputError(f"head output {output}: {err.strerror}") from None
    console.print(
        f"head n={signed['n']} hash {signed['hash'][:16]} written to {output}", highlight=False
    )
