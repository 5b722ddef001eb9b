"""``deconflict client``: stream the party's own states to the broker, print its alerts."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from deconflict.cli.common import err_console, one_line_errors
from deconflict.errors import InputError
from deconflict.names import terminal_text

if TYPE_CHECKING:
    from deconflict.client.outbox import Outbox
    from deconflict.client.sinks import JsonLines
    from deconflict.hotline.config import ClientConfig

HELP = (
    "Stream this party's own states to the broker; print the alerts it sends back.\n\n"
    "INPUT is a CSV or Parquet states file (columns time, id, lat, lon, alt_ft, gs_kt, "
    "track_deg, vs_fpm; a party or callsign column is ignored), replayed one time step at "
    "a time at real time (--speed N: N times faster; --as-fast-as-possible), or - for JSON "
    "lines on stdin (one state a line). Or --sbs HOST:PORT reads a live SBS-1 / BaseStation "
    "feed (dump1090's port 30003), keyed by the aircraft's hex ident.\n\n"
    "States wait in the outbox (a private SQLite file) until the broker acknowledged them, "
    "so none is lost while the broker is unreachable; the client reconnects with backoff "
    "and says so on stderr. Alerts and advisories are JSON lines on stdout (or appended to "
    "-o FILE). A file or stdin run ends once everything is acknowledged (and --linger-s "
    "later); an SBS-1 feed runs until interrupted."
)


def _status(line: str) -> None:
    """One status line on stderr, printed literally."""
    err_console.print(Text(f"client: {terminal_text(line)}"), highlight=False, soft_wrap=True)


@one_line_errors
def client_command(
    input_: Annotated[
        str | None,
        typer.Argument(
            metavar="[INPUT]", help="States file (.csv, .parquet), or - for JSON lines on stdin"
        ),
    ] = None,
    sbs: Annotated[
        str | None,
        typer.Option("--sbs", metavar="HOST:PORT", help="Read a live SBS-1 feed over TCP"),
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option("--speed", help="Replay a file N times faster than real time [default: 1]"),
    ] = None,
    as_fast_as_possible: Annotated[
        bool, typer.Option("--as-fast-as-possible", help="Replay a file without waiting")
    ] = False,
    broker_url: Annotated[
        str | None,
        typer.Option(
            "--broker-url",
            help="Broker URL (default: $DECONFLICT_CLIENT_BROKER_URL, else http://127.0.0.1:8000)",
            show_default=False,
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help="This party's token (default: $DECONFLICT_CLIENT_TOKEN)",
            show_default=False,
        ),
    ] = None,
    outbox: Annotated[
        Path | None,
        typer.Option(
            "--outbox",
            help="Outbox file (default: $DECONFLICT_CLIENT_OUTBOX, else ./client-outbox.db)",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Append alerts (JSON lines) to this file"),
    ] = None,
    agreement: Annotated[
        str | None,
        typer.Option(
            "--agreement",
            metavar="FINGERPRINT|FILE",
            help="Acknowledge the broker's agreement if it is this one (fingerprint, or "
            "its first 12+ hex digits, or the agreement .toml file); refuse to send if not",
        ),
    ] = None,
    linger_s: Annotated[
        float,
        typer.Option("--linger-s", help="After a file or stdin: keep receiving alerts, s"),
    ] = 3.0,
) -> None:
    """Stream this party's own states to the broker; print the alerts it sends back."""
    from deconflict.client.outbox import Outbox
    from deconflict.client.sbs import SbsDecoder
    from deconflict.client.sinks import JsonLines
    from deconflict.client.sources import file_replay, json_lines, parse_host_port, sbs_feed
    from deconflict.hotline.config import load_config

    if (input_ is None) == (sbs is None):
        raise InputError("give one input: a states FILE, - for stdin, or --sbs HOST:PORT")
    if speed is not None and as_fast_as_possible:
        raise InputError("--speed and --as-fast-as-possible: choose one")
    if (speed is not None or as_fast_as_possible) and (sbs is not None or input_ == "-"):
        raise InputError("--speed and --as-fast-as-possible apply to a file only")
    if speed is not None and not speed > 0:
        raise InputError(f"--speed: must be > 0, got {speed:g}")
    if linger_s < 0:
        raise InputError(f"--linger-s: must be ≥ 0, got {linger_s:g}")
    settings = load_config(
        {"broker_url": broker_url, "token": token, "outbox": outbox}, need_key=False
    )

    decoder = SbsDecoder()
    source: AsyncIterator[Any]
    if sbs is not None:
        host, port = parse_host_port(sbs)
        source = sbs_feed(host, port, decoder=decoder, report=_status)
    elif input_ == "-":
        source = json_lines(sys.stdin, report=lambda line: _status(f"stdin {line}; skipped"))
    else:
        assert input_ is not None
        path = Path(input_)
        source = file_replay(path, speed=None if as_fast_as_possible else (speed or 1.0))

    box = Outbox(settings.outbox)
    try:
        sink = JsonLines(output) if output is not None else JsonLines(sys.stdout)
        try:
            code = asyncio.run(_main(settings, box, source, sink, agreement, linger_s, sbs is None))
        finally:
            sink.close()
    finally:
        if sbs is not None:
            s = decoder.stats
            _status(
                f"SBS-1: {s.lines} line(s), {s.malformed} malformed (skipped), {s.states} state(s)"
            )
        left = box.pending()
        if left:
            _status(f"{left} state(s) left in the outbox {box.path}; sent on the next run")
        box.close()
    if code:
        raise typer.Exit(code)


async def _main(
    settings: ClientConfig,
    box: Outbox,
    source: AsyncIterator[Any],
    sink: JsonLines,
    agreement: str | None,
    linger_s: float,
    finite: bool,
) -> int:
    """Run the client until the source is sent (or a signal); the exit status."""
    from deconflict.client.party import PartyClient

    client = PartyClient(
        settings, on_alert=sink, on_status=_status, agreement=agreement, outbox=box
    )
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    got: list[int] = []

    def interrupt(sig: int) -> None:
        got.append(sig)
        task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupt, sig)
    try:
        await client.run(source, linger_s=linger_s if finite else 0.0)
    except asyncio.CancelledError:
        if not got:
            raise
        _status("interrupted")
        return 130 if got[0] == signal.SIGINT else 143
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    s = client.stats
    refused = f", {s.refused} refused by the broker" if s.refused else ""
    _status(f"done: {s.acknowledged} state(s) acknowledged{refused}, {s.alerts} alert(s)")
    return 0
