"""``deconflict serve``: run the broker under uvicorn."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

from deconflict._util import one_line_error
from deconflict.cli.common import console, one_line_errors
from deconflict.errors import InputError

S = TypeVar("S")


def settings_from(cls: type[S], given: dict[str, Any]) -> S:
    """``cls`` from the flags given (None: not given), else ``DECONFLICT_*``, else defaults.

    A bad value is a one-line :class:`InputError` naming the setting.
    """
    try:
        return cls(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as err:
        raise InputError(one_line_error(err, "setting", got=True)) from None


def check_listen(host: str, port: int) -> None:
    """:class:`InputError` if ``host:port`` cannot be listened on.

    Checked before any file is made, so a relay that cannot start leaves nothing
    behind and says why in one line.
    """
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as err:
        raise InputError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind(address)
        except OSError as err:
            raise InputError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None


def run_server(app: Any, host: str, port: int) -> None:
    """Serve ``app`` with uvicorn until interrupted (open connections get 3 s to finish).

    WebSocket frames are limited to the app's ``max_body_bytes`` (bigger: close 1009).
    """
    import uvicorn

    from deconflict.api.settings import DEFAULT_MAX_BODY_BYTES

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=3,
        ws_max_size=getattr(app.state, "max_body_bytes", DEFAULT_MAX_BODY_BYTES),
        # The client address is the peer's: no X-Forwarded-For, which any local process
        # could set to dodge the failed-authentication limit.
        proxy_headers=False,
    )


@one_line_errors
def serve_command(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database URL [default: $DECONFLICT_BROKER_DB or DATA_DIR/deconflict.db]",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Folder for the files not named otherwise: database, relay key, audit log "
            "[default: $DECONFLICT_BROKER_DATA_DIR, $DECONFLICT_DATA_DIR or the per-user "
            "state folder]",
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            help="Address to listen on [default: $DECONFLICT_BROKER_HOST or 127.0.0.1]",
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", help="Port [default: $DECONFLICT_BROKER_PORT or 8000]"),
    ] = None,
    agreement: Annotated[
        Path | None,
        typer.Option("--agreement", help="Agreement TOML file, protected areas included"),
    ] = None,
    stale_after_s: Annotated[
        float | None,
        typer.Option("--stale-after-s", help="Drop tracks not updated for this long (s) [30]"),
    ] = None,
    track_retention_s: Annotated[
        float | None,
        typer.Option(
            "--track-retention-s",
            help="Delete stored track states received longer ago than this (s); alerts "
            "are kept [$DECONFLICT_BROKER_TRACK_RETENTION_S or 300]",
        ),
    ] = None,
    max_body_mib: Annotated[
        float | None,
        typer.Option(
            "--max-body-mib",
            help="Refuse request bodies and WebSocket frames over this (MiB) "
            "[$DECONFLICT_BROKER_MAX_BODY_BYTES or 32 MiB]",
        ),
    ] = None,
) -> None:
    """Run the deconfliction broker (FastAPI under uvicorn).

    Settings not given as flags come from ``DECONFLICT_BROKER_*`` variables (the older
    ``DECONFLICT_*`` names still work): see :mod:`deconflict.service.settings`.
    """
    from deconflict.api.settings import MIB
    from deconflict.hotline.setup import check_relay_files
    from deconflict.service.app import create_app
    from deconflict.service.settings import Settings
    from deconflict.store.sql import open_repository
    from deconflict.web.routes import mount_map

    given = {"db": db, "host": host, "port": port, "agreement": agreement}
    given["stale_after_s"] = stale_after_s
    given["track_retention_s"] = track_retention_s
    if max_body_mib is not None:
        given["max_body_bytes"] = int(max_body_mib * MIB)
    given["data_dir"] = data_dir
    settings = settings_from(Settings, given)
    check_listen(settings.host, settings.port)
    check_relay_files(settings.relay_key_file, settings.audit_log)
    # Migrate; one line if it cannot open. Creates the data directory if the db lives there.
    open_repository(settings.db, create=True, data_dir=settings.data_dir).close()
    app = mount_map(create_app(settings))
    fingerprint = app.state.agreement.fingerprint
    console.print(
        f"broker on http://{settings.host}:{settings.port} · db {settings.db} · "
        f"agreement {fingerprint[:12]} · OpenAPI at /docs",
        highlight=False,
    )
    run_server(app, settings.host, settings.port)
