"""``deconflict party``: add, list and revoke the parties allowed to use the broker.

Each command brings the database schema up to date first. A new party's token is
printed once, alone on the last line of standard output, and stored only as a
SHA-256 hash: capture it then (``deconflict party add blue | tail -n 1``).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from deconflict.cli.common import console, format_time, one_line_errors
from deconflict.errors import InputError
from deconflict.names import check_party_name, terminal_text

# The store (SQLAlchemy, alembic) is imported inside the commands, so that every
# other ``deconflict`` command starts without it.

party_app = typer.Typer(
    name="party",
    help="Add, list and revoke the parties allowed to use the broker.",
    no_args_is_help=True,
    add_completion=False,
)

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL [default: $DECONFLICT_BROKER_DB, else DATA_DIR/deconflict.db]",
        show_default=False,
    ),
]
NameArg = Annotated[
    str,
    typer.Argument(
        help="Party name, unique in the broker: 1-64 ASCII letters, digits, '_', '.', '-' "
        "(starting with a letter or digit); 'all' is reserved"
    ),
]


def database(db: str | None) -> str:
    """The database URL: ``--db``, else the broker's (as ``serve`` finds it).

    That is ``$DECONFLICT_BROKER_DB`` (or the older ``$DECONFLICT_DB``), else
    ``DATA_DIR/deconflict.db``: :class:`deconflict.service.settings.BrokerDatabase`.
    """
    if db:
        return db
    from deconflict.service.settings import BrokerDatabase

    return BrokerDatabase().db


@party_app.command("add")
@one_line_errors
def add_command(
    name: NameArg,
    db: DbOpt = None,
    admin: Annotated[
        bool, typer.Option("--admin", help="The working group's admin, not an operating party")
    ] = False,
) -> None:
    """Create a party and print its token, once, alone on the last line."""
    name = check_party_name(name.strip())  # the hotline's rule too; 'all' is reserved
    from deconflict.store.tokens import hash_token, new_token

    url = database(db)
    from deconflict.store.sql import open_repository, shown

    repo = open_repository(url, create=True)
    try:
        token = new_token()
        party = repo.add_party(name, hash_token(token), is_admin=admin)
    finally:
        repo.close()
    role = "admin" if party.is_admin else "party"
    console.print(
        f"created {role} {party.name!r} (id {party.id}) in {shown(url)}; "
        "its token, shown only this once:",
        highlight=False,
    )
    typer.echo(token)


@party_app.command("list")
@one_line_errors
def list_command(db: DbOpt = None) -> None:
    """List the parties: name, admin, revoked, acknowledged agreement, created."""
    url = database(db)
    from deconflict.store.sql import open_repository, shown

    repo = open_repository(url, create=False)
    try:
        parties = repo.list_parties()
    finally:
        repo.close()
    if not parties:
        console.print(f"no parties in {shown(url)}", highlight=False)
        return
    table = Table(title=f"Parties in {shown(url)}", title_justify="left", header_style="bold")
    for column in ("name", "admin", "revoked", "agreement", "created (UTC)"):
        table.add_column(column)
    for p in parties:
        table.add_row(
            Text(terminal_text(p.name)),  # literal: no rich markup, no control characters
            "yes" if p.is_admin else "",
            "revoked" if p.revoked else "",
            (p.acked_fingerprint or "")[:12],
            format_time(p.created_at),
        )
    console.print(table)
    n_revoked = sum(p.revoked for p in parties)
    console.print(f"{len(parties)} party(ies), {n_revoked} revoked", highlight=False)


@party_app.command("revoke")
@one_line_errors
def revoke_command(name: NameArg, db: DbOpt = None) -> None:
    """Revoke a party's token: the broker refuses it from now on."""
    url = database(db)
    from deconflict.store.sql import open_repository, shown

    repo = open_repository(url, create=False)
    try:
        found = repo.revoke_party(name)
    finally:
        repo.close()
    if not found:
        raise InputError(f"no party named {terminal_text(repr(name))} in {shown(url)}")
    console.print(f"revoked party {name!r} in {shown(url)}", highlight=False, markup=False)
