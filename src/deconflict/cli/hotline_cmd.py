"""``deconflict hotline`` (send, listen, overdue, backup) and ``deconflict keys new``.

Client settings come from flags, then ``DECONFLICT_*`` variables, then the config file
(see :mod:`deconflict.hotline.config`).
"""

from __future__ import annotations

import asyncio
import json
import os
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
        "--broker-url", help="Broker URL [$DECONFLICT_BROKER_URL, config, http://127.0.0.1:8000]"
    ),
]
BackupOpt = Annotated[
    str | None,
    typer.Option("--backup-url", help="Backup relay URL [$DECONFLICT_BACKUP_URL, config]"),
]
TokenOpt = Annotated[
    str | None, typer.Option("--token", help="Party token [$DECONFLICT_TOKEN, config]")
]
KeyOpt = Annotated[
    Path | None, typer.Option("--key-file", help="Signing key file [$DECONFLICT_KEY_FILE, config]")
]
StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", help="Local outbox/inbox file [$DECONFLICT_STORE, config, hotline.db]"),
]
NatsOpt = Annotated[
    str | None,
    typer.Option("--nats-url", help="NATS JetStream as the primary [$DECONFLICT_NATS_URL, config]"),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", help="Config file [$DECONFLICT_CONFIG, ~/.config/deconflict/hotline.toml]"
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
    from deconflict.hotline.client_store import ClientStore
    from deconflict.hotline.config import load_config
    from deconflict.hotline.keys import load_key_file

    cfg = load_config(
        {
            "broker_url": broker_url,
            "backup_url": backup_url,
            "token": token,
            "key_file": key_file,
            "store": store,
            "nats_url": nats_url,
        },
        config,
    )
    key = load_key_file(cfg.key_file)  # before the store is made: a bad key leaves no file
    return HotlineClient(
        ClientStore(cfg.store),
        key,
        cfg.token,
        cfg.broker_url,
        cfg.backup_url,
        nats_url=cfg.nats_url,
        **kwargs,
    )


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
    client = _client(broker_url, backup_url, token, key_file, store, config, nats_url)
    try:
        answers = client.store.resolve_id(reply_to) if reply_to is not None else None
    except InputError:
        client.store.close()
        raise

    async def run() -> int:
        try:
            await client.start(receive=wait_ack)
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
                while time.monotonic() - t0 < timeout_s:
                    row = client.store.outbox_row(msg.id)
                    if row and row["acked_at"]:
                        console.print(f"acknowledged after {(time.monotonic() - t0) * 1000:.0f} ms")
                        return 0
                    await asyncio.sleep(0.02)
                err_console.print(f"no acknowledgement within {timeout_s:g} s", highlight=False)
                return 1
            return 0
        finally:
            await client.stop()
            client.store.close()

    code = asyncio.run(run())
    if code:
        raise typer.Exit(code)


def _print_message(msg: Any) -> None:
    extra = f" re {msg.in_reply_to}" if msg.in_reply_to else ""
    due = f" (response due in {msg.deadline_s:g} s)" if msg.deadline_s else ""
    line = escape(
        f"{format_time(msg.ts)} {msg.kind.upper()} from {msg.sender} #{msg.seq} id {msg.id}"
        f"{extra}{due}: {msg.body}"
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
        int | None, typer.Option("--count", help="Exit after this many deliveries (all kinds)")
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

    def on_event(event: dict[str, Any]) -> None:
        if event["type"] == "escalation":
            err_console.print(
                f"[bold yellow]ESCALATION[/] {event['to']} owes {event['sender']} a response to "
                f"{event['id']} ({event['overdue_s']:.0f} s overdue): {escape(event['body'])}",
                highlight=False,
            )
            return
        line = describe_event(event)
        if line is not None:
            err_console.print(escape(line), style="dim", highlight=False)

    client = _client(
        broker_url, backup_url, token, key_file, store, config, nats_url, on_event=on_event
    )

    async def run() -> None:
        out = None
        try:
            cursor = client.store.cursor()
            if jsonl:
                cursor = max(cursor, _jsonl_cursor(jsonl, client.store.last_delivered()))
            seen = 0
            warned: set[str] = set()
            await client.start()
            console.print(
                f"listening as {client.party} · primary {client.nats_url or client.broker_url} · "
                f"backup {client.backup_url or 'none'} · store {client.store.path}",
                highlight=False,
            )
            out = jsonl.open("a") if jsonl else None
            while count is None or seen < count:
                limit = 5000 if count is None else min(5000, count - seen)
                rows = await asyncio.to_thread(client.store.delivered, cursor, limit)
                if rows:
                    if out is not None:
                        out.write(
                            "".join(json.dumps({"n": n, **m.model_dump()}) + "\n" for n, m in rows)
                        )
                        out.flush()
                        os.fsync(out.fileno())
                    if not quiet:
                        for _, m in rows:
                            _print_message(m)
                    cursor = rows[-1][0]
                    seen += len(rows)
                    await asyncio.to_thread(client.store.advance_cursor, cursor)
                    continue
                for owed in client.store.owed(time.time()):
                    if owed.id not in warned:
                        warned.add(owed.id)
                        err_console.print(
                            f"[bold yellow]OVERDUE[/] {owed.direction}: request {owed.id} "
                            f"({owed.party}) due {format_time(owed.due_at)}: {escape(owed.body)}",
                            highlight=False,
                        )
                await asyncio.sleep(0.05)
            # let the acks of the last messages leave before exiting
            deadline = time.monotonic() + 5
            while client.store.unrelayed(1) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            if out is not None:
                out.close()
            await client.stop()
            client.store.close()

    asyncio.run(run())


def _jsonl_cursor(path: Path, last_delivered: int) -> int:
    """The last delivery number written to ``path`` (0 if none).

    The file is written and fsynced before the store's cursor moves, so after a crash
    between the two it is ahead of the cursor and wins. A file ahead of every delivery
    in the store (``last_delivered``) was written from another store: an error.
    """
    if not path.exists():
        return 0
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):  # a line torn by a crash: drop it, it is re-written
        data = data[: data.rfind(b"\n") + 1]
        path.write_bytes(data)
    lines = data.splitlines()
    try:
        written = int(json.loads(lines[-1])["n"]) if lines else 0
    except (ValueError, KeyError, TypeError, RecursionError):
        raise InputError(f"{path}: the last line is not a delivery written by listen") from None
    if written > last_delivered:
        raise InputError(
            f"{path} ends at delivery {written}, but this store has released only "
            f"{last_delivered}: it was written from another store"
        )
    return written


@hotline_app.command("overdue")
@one_line_errors
def overdue_command(
    remote: Annotated[
        bool, typer.Option("--remote", help="Ask the broker (else the backup) instead of the store")
    ] = False,
    broker_url: BrokerOpt = None,
    backup_url: BackupOpt = None,
    token: TokenOpt = None,
    key_file: KeyOpt = None,
    store: StoreOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Requests whose response deadline has passed: who owes whom."""
    import httpx

    from deconflict.hotline.client_store import ClientStore
    from deconflict.hotline.config import load_config

    flags = {"broker_url": broker_url, "backup_url": backup_url, "token": token}
    cfg = load_config({**flags, "key_file": key_file, "store": store}, config)
    local = ClientStore(cfg.store)
    request = Column("request", no_wrap=True, min_width=32)  # a full id, for --reply-to
    table = Table(request, "who owes", "to whom", "due", "overdue (s)", "body")
    now = time.time()
    rows: list[tuple[str, str, str, float, str]] = []
    try:
        if remote:
            got = None
            for base in [cfg.broker_url, cfg.backup_url]:
                if base is None:
                    continue
                try:
                    resp = httpx.get(
                        f"{base}/hotline/overdue",
                        headers={"Authorization": f"Bearer {cfg.token}"},
                        timeout=5,
                        trust_env=False,
                    )
                    resp.raise_for_status()
                    got = resp.json()
                    break
                except httpx.HTTPError:
                    continue
            if got is None:
                raise InputError("no relay answers; run without --remote to read the local store")
            rows = [(o["id"], o["to"], o["sender"], o["due_at"], o["body"]) for o in got]
        else:
            me = local.get_meta("party", "us")
            for o in local.owed(now):
                owes, owed_to = (o.party, me) if o.direction == "they owe us" else (me, o.party)
                rows.append((o.id, owes, owed_to, o.due_at, o.body))
    finally:
        local.close()
    for rid, owes, owed_to, due, body in rows:
        table.add_row(rid, owes, owed_to, format_time(due), f"{now - due:.0f}", escape(body[:60]))
    console.print(table if rows else "no overdue requests")


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
    from deconflict.datadir import prepare_for
    from deconflict.hotline.backup import BackupSettings, create_backup_app
    from deconflict.hotline.setup import check_relay_files
    from deconflict.store.sql import SqlRepository

    given = {"db": db, "registry_db": registry_db, "host": host, "port": port}
    settings = settings_from(BackupSettings, {**given, "data_dir": data_dir})
    check_listen(settings.host, settings.port)
    check_relay_files(settings.relay_key_file, settings.audit_log)
    prepare_for(settings.db, settings.data_dir)
    SqlRepository(settings.db, migrate=True).close()
    app = create_backup_app(settings)
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
    from deconflict.hotline.client_store import ClientStore

    path = store or Path(os.environ.get("DECONFLICT_STORE", "hotline.db"))
    if not path.exists():
        raise InputError(f"hotline store {path} does not exist")
    local = ClientStore(path)
    try:
        heads = local.heads()
    finally:
        local.close()
    if not heads:
        console.print("no heads yet: a relay returns one with each message it stores")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    for relay, head in sorted(heads.items()):
        target = out_dir / f"{relay}.head.json"
        target.write_text(json.dumps(head, indent=2) + "\n")
        console.print(f"{target}: {relay} log at entry {head['n']}", highlight=False)
