"""``deconflict serve``: run the broker under uvicorn."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from deconflict.cli.common import console, one_line_errors


@one_line_errors
def serve_command(
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="Database URL [default: $DECONFLICT_DB or sqlite:///deconflict.db]"
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on")] = 8000,
    agreement: Annotated[
        Path | None, typer.Option("--agreement", help="Agreement TOML file [default: built-in]")
    ] = None,
    zones: Annotated[
        Path | None, typer.Option("--zones", help="Protected airspace GeoJSON to watch")
    ] = None,
    stale_after_s: Annotated[
        float, typer.Option("--stale-after-s", help="Drop tracks not updated for this long (s)")
    ] = 30.0,
) -> None:
    """Run the deconfliction broker (FastAPI under uvicorn)."""
    import uvicorn

    from deconflict.service.app import create_app
    from deconflict.service.settings import Settings
    from deconflict.store.migrate import upgrade

    overrides: dict[str, object] = {"host": host, "port": port, "stale_after_s": stale_after_s}
    if db is not None:
        overrides["db"] = db
    if agreement is not None:
        overrides["agreement"] = agreement
    if zones is not None:
        overrides["zones"] = zones
    settings = Settings(**overrides)  # type: ignore[arg-type]
    upgrade(settings.db)
    app = create_app(settings)
    fingerprint = app.state.agreement.fingerprint
    console.print(
        f"broker on http://{settings.host}:{settings.port} · db {settings.db} · "
        f"agreement {fingerprint[:12]} · OpenAPI at /docs",
        highlight=False,
    )
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
