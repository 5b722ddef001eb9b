"""``deconflict hotline`` (send, listen, overdue, backup) and ``deconflict keys new``.

Flags and printing only: the work is in :mod:`deconflict.hotline`. Client settings come
from flags, then ``DECONFLICT_CLIENT_*`` variables (or the older ``DECONFLICT_*`` names),
then the config file (see :mod:`deconflict.hotline.config`).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Column, Table

from deconflict.cli.common import console, err_console, format_time, one_line_errors
from deconflict.errors import InputError

hotline_app = typer.Typer(
    name="hotline",
    help="Distress calls, notices, requests and responses between parties.",
    no_args_is_help=True,
    add_completion=False,
)
keys_app = typer.Typer(
    name="keys", help="Ed25519 signing keys.", no_args_is_help=True, add_completion=False
)

BrokerOpt = Annotated[
    str | None,
    typer.Option(
        "--broker-url",
        help="Broker URL [$DECONFLICT_CLIENT_BROKER_URL, config, http://127.0.0.1:8000]",
    ),
]
BackupOpt = Annotated[
    str | None,
    typer.Option("--backup-url", help="Backup relay URL [$DECONFLICT_CLIENT_BACKUP_URL, config]"),
]
TokenOpt = Annotated[
    str | None, typer.Option("--token", help="Party token [$DECONFLICT_CLIENT_TOKEN, config]")
]
KeyOpt = Annotated[
    Path | None,
    typer.Option("--key-file", help="Signing key file [$DECONFLICT_CLIENT_KEY_FILE, config]"),
]
StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store", help="Local outbox/inbox file [$DECONFLICT_CLIENT_STORE, config, hotline.db]"
    ),
]
NatsOpt = Annotated[
    str | None,
    typer.Option(
        "--nats-url", help="NATS JetStream as the primary [$DECONFLICT_CLIENT_NATS_URL, config]"
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Config file [$DECONFLICT_CLIENT_CONFIG, ~/.config/deconflict/hotline.toml]",
    ),
]


def _client(
    broker_url: str | None,
    backup_url: str | None,
    token: str | None,
    key_file: Path | None,
    store: Path | None,
    config: Path | None,
    nats_url: str | None = None,
    **kwargs: Any,
) -> Any:
    from deconflict.hotline.client import HotlineClient
    from deconflict.hotline.config import load_config

    flags = {"broker_url": broker_url, "backup_url": backup_url, "token": token}
    flags |= {"key_file": key_file, "store": store, "nats_url": nats_url}
    return HotlineClient.from_config(load_config(flags, config), **kwargs)


def _check_send_options(
    kind: str, to: str, text: str, reply_to: str | None, deadline_s: float | None
) -> None:
    """One-line errors, in terms of the command's options, before anything is numbered."""
    from deconflict.hotline.messages import ALL, KINDS, MAX_BODY_CHARS, MAX_DEADLINE_S
    from deconflict.names import party_name_problem, terminal_text

    if kind not in KINDS:
        raise InputError(f"--kind {terminal_text(kind)!r}: expected one of {', '.join(KINDS)}")
    problem = None if to == ALL else party_name_problem(to)
    if problem is not None:
        raise InputError(f"--to {terminal_text(to)!r}: {problem}, or 'all' for every party")
    if kind in ("response", "ack") and reply_to is None:
        raise InputError(f"--kind {kind} needs --reply-to ID (the message it answers)")
    if deadline_s is not None and kind != "request":
        raise InputError("--deadline-s is for --kind request only")
    if deadline_s is not None and not 0 < deadline_s <= MAX_DEADLINE_S:
        raise InputError(f"--deadline-s {deadline_s:g}: expected more than 0 and at most 30 days")
    if len(text) > MAX_BODY_CHARS:
        raise InputError(f"the message text has {len(text)} characters; at most {MAX_BODY_CHARS}")


@hotline_app.command("send")
@one_line_errors
def send_command(
    text: Annotated[str, typer.Argument(help="The message body")],
    to: Annotated[str, typer.Option("--to", help="Recipient party, or 'all'")],
    kind: Annotated[
        str, typer.Option("--kind", help="distress | notice | request | response | ack")
    ] = "notice",
    reply_to: Annotated[
        str | None,
        typer.Option("--reply-to", help="Id of the message this answers (any unique prefix of it)"),
    ] = None,
    deadline_s: Annotated[
        float | None, typer.Option("--deadline-s", help="A request's response deadline, s")
    ] = None,
    timeout_s: Annotated[
        float, typer.Option("--timeout-s", help="Give up waiting for a relay after this long, s")
    ] = 10.0,
    wait_ack: Annotated[
        bool, typer.Option("--wait-ack", help="Also wait for the recipient's signed ack")
    ] = False,
    broker_url: BrokerOpt = None,
    backup_url: BackupOpt = None,
    token: TokenOpt = None,
    key_file: KeyOpt = None,
    store: StoreOpt = None,
    config: ConfigOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """Sign a message, commit it to the outbox, and hand it to a relay (primary, else backup)."""
    _check_send_options(kind, to, text, reply_to, deadline_s)
    client = _client(broker_url, backup_url, token, key_file, store, config, nats_url)
    try:
        answers = client.store.resolve_id(reply_to) if reply_to is not None else None
    except InputError:
        client.store.close()
        raise

    async def run() -> int:
        try:
            await client.start(receive=wait_ack)
            if to == client.party:
                raise InputError(f"--to {to}: a party cannot send to itself")
            msg = await client.send(kind, to, text, in_reply_to=answers, deadline_s=deadline_s)
            t0 = time.monotonic()
            via = await client.wait_relayed(msg.id, timeout_s)
            if via is None:
                err_console.print(
                    f"queued {msg.id} in {client.store.path}, but no relay confirmed it within "
                    f"{timeout_s:g} s; `deconflict hotline listen` keeps trying",
                    highlight=False,
                )
                return 1
            console.print(
                f"sent {kind} {msg.id} seq {msg.seq} to {to} via {via} "
                f"({(time.monotonic() - t0) * 1000:.0f} ms)",
                highlight=False,
            )
            if wait_ack:
                if await client.wait_acked(msg.id, timeout_s - (time.monotonic() - t0)):
                    console.print(f"acknowledged after {(time.monotonic() - t0) * 1000:.0f} ms")
                    return 0
                err_console.print(f"no acknowledgement within {timeout_s:g} s", highlight=False)
                return 1
            return 0
        finally:
            await client.stop()
            client.store.close()

    code = asyncio.run(run())
    if code:
        raise typer.Exit(code)


def _print_message(msg: Any, now: float) -> None:
    r"""One message on one line: every non-printable character of the body escaped.

    A newline shows as ``\n`` (and ESC as ``\x1b``, U+202E as ``\u202e``), so no
    text can start a line of its own or steer the terminal; rich markup prints as typed.
    A request shows when its response is due and how long is left (at the time shown).
    """
    from deconflict.names import terminal_text

    extra = f" re {msg.in_reply_to}" if msg.in_reply_to else ""
    due = ""
    if msg.due_at is not None:
        left = msg.due_at - now
        when = f"in {left:.0f} s" if left >= 0 else f"{-left:.0f} s overdue"
        due = f" (response due {format_time(msg.due_at)}, {when})"
    line = escape(
        f"{format_time(msg.ts)} {msg.kind.upper()} from {msg.sender} #{msg.seq} id {msg.id}"
        f"{extra}{due}: {terminal_text(msg.body)}"
    )
    console.print(f"[bold red]{line}[/]" if msg.kind == "distress" else line, highlight=False)


@hotline_app.command("listen")
@one_line_errors
def listen_command(
    jsonl: Annotated[
        Path | None,
        typer.Option("--jsonl", help="Append each delivered message to this JSON-lines file"),
    ] = None,
    count: Annotated[
        int | None,
        typer.Option("--count", help="Exit after this many deliveries (all kinds), ≥ 1"),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="Do not print messages")] = False,
    broker_url: BrokerOpt = None,
    backup_url: BackupOpt = None,
    token: TokenOpt = None,
    key_file: KeyOpt = None,
    store: StoreOpt = None,
    config: ConfigOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """Receive on both channels, print each message once in order, keep sending the outbox.

    The store keeps one read cursor: plain output and ``--jsonl`` share it, so a message
    shown by one is not shown again by the other.
    """
    from deconflict.hotline.client import describe_event
    from deconflict.hotline.listen import listen
    from deconflict.names import terminal_text

    if count is not None and count < 1:
        raise InputError(f"--count {count}: expected 1 or more (deliveries before listen exits)")

    def on_event(event: dict[str, Any]) -> None:
        if event["type"] == "escalation":
            text = (
                f"{event['to']} owes {event['sender']} a response to {event['id']} "
                f"({event['overdue_s']:.0f} s overdue): {event['body']}"
            )
            err_console.print(
                f"[bold yellow]ESCALATION[/] {escape(terminal_text(text))}", highlight=False
            )
            return
        line = describe_event(event)
        if line is not None:
            err_console.print(escape(terminal_text(line)), style="dim", highlight=False)

    def on_overdue(owed: Any) -> None:
        text = (
            f"{owed.direction}: request {owed.id} ({owed.party}) due "
            f"{format_time(owed.due_at)}: {owed.body}"
        )
        err_console.print(f"[bold yellow]OVERDUE[/] {escape(terminal_text(text))}", highlight=False)

    def show(messages: list[Any]) -> None:
        shown_at = time.time()
        for m in messages:
            _print_message(m, shown_at)

    client = _client(
        broker_url, backup_url, token, key_file, store, config, nats_url, on_event=on_event
    )

    def started() -> None:
        console.print(
            f"listening as {client.party} · primary {client.primary.url} · "
            f"backup {client.backup_url or 'none'} · store {client.store.path}",
            highlight=False,
        )

    asyncio.run(
        listen(
            client,
            jsonl=jsonl,
            count=count,
            show=None if quiet else show,
            on_started=started,
            on_overdue=on_overdue,
        )
    )


@hotline_app.command("overdue")
@one_line_errors
def overdue_command(
    remote: Annotated[
        bool,
        typer.Option("--remote", help="Ask both relays (merged) instead of the local store"),
    ] = False,
    broker_url: BrokerOpt = None,
    backup_url: BackupOpt = None,
    token: TokenOpt = None,
    key_file: KeyOpt = None,
    store: StoreOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Requests whose response deadline has passed: who owes whom.

    Read-only: the local store must exist and be this party's (the key file's);
    ``--remote`` reads no store and asks both relays, merging what they list.
    """
    from deconflict.hotline.config import load_config
    from deconflict.hotline.overdue import local_overdue, remote_overdue

    flags = {"broker_url": broker_url, "backup_url": backup_url, "token": token}
    cfg = load_config({**flags, "key_file": key_file, "store": store}, config)
    now = time.time()
    if remote:
        rows, problems = remote_overdue(cfg)
        for problem in problems:
            err_console.print(
                f"hotline: {escape(problem)}; showing the other relay's list", highlight=False
            )
    else:
        rows = local_overdue(cfg, now)
    request = Column("request", no_wrap=True, min_width=32)  # a full id, for --reply-to
    table = Table(request, "who owes", "to whom", "due", "overdue (s)", "body")
    for o in rows:
        table.add_row(
            *(_cell(v) for v in (o.id, o.owes, o.owed_to, format_time(o.due_at))),
            _cell(f"{now - o.due_at:.0f}"),
            _cell(o.body[:60]),
        )
    console.print(table if rows else "no overdue requests")


def _cell(text: str) -> str:
    """Text for a table cell: non-printable characters escaped, rich markup literal."""
    from deconflict.names import terminal_text

    return escape(terminal_text(str(text)))


@hotline_app.command("backup")
@one_line_errors
def backup_command(
    db: Annotated[
        str | None,
        typer.Option("--db", help="The backup's own database [DATA_DIR/deconflict-backup.db]"),
    ] = None,
    registry_db: Annotated[
        str | None,
        typer.Option(
            "--registry-db",
            help="The broker's database, for parties and keys [DATA_DIR/deconflict.db]",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Folder for the files not named otherwise [$DECONFLICT_DATA_DIR, state folder]",
        ),
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help="Address [127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port [8001]")] = None,
) -> None:
    """Run the backup relay: its own port, database and audit log."""
    from deconflict.cli.serve_cmd import check_listen, run_server, settings_from
    from deconflict.hotline.backup import BackupSettings, prepare_backup

    given = {"db": db, "registry_db": registry_db, "host": host, "port": port}
    settings = settings_from(BackupSettings, {**given, "data_dir": data_dir})
    check_listen(settings.host, settings.port)
    app = prepare_backup(settings)
    console.print(
        f"backup relay on http://{settings.host}:{settings.port} · db {settings.db} · "
        f"registry from {settings.registry_db}",
        highlight=False,
    )
    run_server(app, settings.host, settings.port)


@keys_app.command("new")
@one_line_errors
def keys_new_command(
    out: Annotated[Path, typer.Option("-o", "--out", help="Key file to write (mode 0600)")] = Path(
        "signing.key"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing key file")] = False,
) -> None:
    """Make an Ed25519 signing key; prints its public key (register it with the broker)."""
    from deconflict.hotline.keys import new_key_file, public_hex

    key = new_key_file(out, overwrite=force)
    console.print(f"wrote {out} (keep it secret); public key:", highlight=False)
    console.print(public_hex(key), highlight=False)


@hotline_app.command("heads")
@one_line_errors
def heads_command(
    out_dir: Annotated[
        Path, typer.Option("-o", "--out-dir", help="Write RELAY.head.json files here")
    ] = Path("."),
    store: StoreOpt = None,
) -> None:
    """Export the newest signed audit heads the relays gave us (for `audit verify --head`)."""
    from deconflict.hotline.client_store import export_heads
    from deconflict.hotline.config import store_path

    written = export_heads(store_path(store), out_dir)
    if not written:
        console.print("no heads yet: a relay returns one with each message it stores")
        return
    for target, relay, n in written:
        console.print(f"{target}: {relay} log at entry {n}", highlight=False)
