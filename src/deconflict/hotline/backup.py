"""The backup relay: its own process, port, database and audit log.

It serves the same ``/hotline`` routes as the broker's primary relay, but it shares
nothing with the broker at run time: it authenticates parties and checks signatures
against its own copy of the broker's registry (hashed tokens, revocations, keys),
refreshed from the broker's database every few seconds while that database answers,
so it keeps working when the broker is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pydantic import Field, ValidationInfo, field_validator

from deconflict.api.limits import install_limits
from deconflict.api.problems import install_error_handlers
from deconflict.api.settings import RelaySettings, role_config
from deconflict.datadir import BACKUP, BROKER, default_db_url, prepare_for
from deconflict.hotline.relay import Relay, relay_router
from deconflict.hotline.relay_store import HotlineStore
from deconflict.hotline.setup import check_relay_files, open_audit
from deconflict.store.sql import SqlRepository

log = logging.getLogger(__name__)


class BackupSettings(RelaySettings):
    """Backup relay settings: flags, then ``DECONFLICT_BACKUP_*`` variables, then defaults.

    The data directory also comes from ``$DECONFLICT_DATA_DIR``, as the broker's does;
    the signing key from ``DECONFLICT_BACKUP_KEY_FILE`` (or ``…_RELAY_KEY_FILE``).
    """

    model_config = role_config("BACKUP", old_prefix="DECONFLICT_BACKUP_")
    stem = BACKUP

    #: The broker's database, read for the registry (parties, tokens, keys)
    #: [default: DATA_DIR/deconflict.db, the broker's default].
    registry_db: str = Field("", validate_default=True)
    host: str = "127.0.0.1"
    port: int = Field(8001, ge=0, le=65535)
    #: Seconds between two registry refreshes.
    sync_interval_s: float = Field(2.0, gt=0, le=3600)

    @field_validator("registry_db", mode="before")
    @classmethod
    def _broker_db(cls, value: Any, info: ValidationInfo) -> Any:
        if value or "data_dir" not in info.data:
            return value
        return default_db_url(info.data["data_dir"], BROKER)


def create_backup_app(settings: BackupSettings) -> FastAPI:
    """The backup relay's application."""
    relay = Relay(name="backup", can_register_keys=False)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        repo = SqlRepository(settings.db, migrate=True)
        store = HotlineStore(repo.engine)
        registry = HotlineStore(settings.registry_db)
        audit = open_audit(
            settings.db, settings.audit_log, settings.relay_key_file, settings.data_dir, BACKUP
        )
        relay.bind(store, audit)
        app.state.repo = repo
        relay.refresh_registry = lambda: store.copy_registry_from(registry)
        try:
            store.copy_registry_from(registry)
        except Exception as err:  # the broker's database may be down: serve the last copy
            log.warning("registry copy failed (%s); serving the last copy", err)
        relay.backfill_audit()
        tasks = [
            asyncio.create_task(relay.run_escalations()),
            asyncio.create_task(_sync_registry(store, registry, settings.sync_interval_s)),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if relay.audit is not None:
                relay.audit.close()
            registry.close()
            repo.close()

    app = FastAPI(
        title="deconflict backup relay",
        version="1",
        description="The hotline's backup channel: same /hotline routes as the broker.",
        lifespan=lifespan,
    )
    app.include_router(relay_router(relay))
    app.state.relay = relay

    install_error_handlers(app)
    install_limits(app, settings.max_body_bytes, settings.auth_max_failures, settings.auth_window_s)

    @app.get("/health", operation_id="health")
    def health() -> dict[str, str]:
        """200 while the backup runs (no authentication)."""
        return {"status": "ok"}

    return app


async def _sync_registry(store: HotlineStore, registry: HotlineStore, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(store.copy_registry_from, registry)
        except Exception as err:  # keep serving the last copy while the broker's db is away
            log.debug("registry refresh failed: %s", err)


def prepare_backup(settings: BackupSettings) -> FastAPI:
    """Before start-up: check the relay's files, make the data folder, migrate; the app.

    A bad relay key or a busy audit log is an :class:`InputError` before anything listens.
    """
    check_relay_files(settings.relay_key_file, settings.audit_log)
    prepare_for(settings.db, settings.data_dir)
    SqlRepository(settings.db, migrate=True).close()
    return create_backup_app(settings)
