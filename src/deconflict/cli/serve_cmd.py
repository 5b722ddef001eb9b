"""``deconflict serve``: run the broker under uvicorn."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

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
        first = err.errors()[0]
        name = ".".join(str(p) for p in first["loc"])
        raise InputError(f"setting '{name}': {first['msg']}, got {first.get('input')!r}") from None


def run_server(app: Any, host: str, port: int) -> None:
    """Serve ``app`` with uvicorn until interrupted (open connections get 3 s to finish)."""
    import uvicorn

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=3)


@one_line_errors
def serve_command(
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="Database URL [default: $DECONFLICT_DB or DATA_DIR/deconflict.db]"
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Folder for the files not named otherwise: database, relay key, audit log "
            "[default: $DECONFLICT_DATA_DIR or the per-user state folder]",
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            "--host", help="Address to listen on [default: $DECONFLICT_HOST or 127.0.0.1]"
        ),
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Port [default: $DECONFLICT_PORT or 8000]")
    ] = None,
    agreement: Annotated[
        Path | None,
        typer.Option("--agreement", help="Agreement TOML file, protected areas included"),
    ] = None,
    stale_after_s: Annotated[
        float | None,
        typer.Option("--stale-after-s", help="Drop tracks not updated for this long (s) [30]"),
    ] = None,
) -> None:
    """Run the deconfliction broker (FastAPI under uvicorn)."""
    from deconflict.cli.party_cmd import open_repository
    from deconflict.hotline.setup import check_relay_key
    from deconflict.service.app import create_app
    from deconflict.service.settings import Settings

    given = {"db": db, "host": host, "port": port, "agreement": agreement}
    given["stale_after_s"] = stale_after_s
    given["data_dir"] = data_dir
    settings = settings_from(Settings, given)
    check_relay_key(settings.key_file)
    # Migrate; one line if it cannot open. Creates the data directory if the db lives there.
    open_repository(settings.db, create=True, data_dir=settings.data_dir).close()
    app = create_app(settings)
    fingerprint = app.state.agreement.fingerprint
    console.print(
        f"broker on http://{settings.host}:{settings.port} · db {settings.db} · "
        f"agreement {fingerprint[:12]} · OpenAPI at /docs",
        highlight=False,
    )
    run_server(app, settings.host, settings.port)
