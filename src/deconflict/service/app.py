"""The broker's FastAPI application: ``create_app(settings)``, wiring only.

The routes live in :mod:`deconflict.service.routes` (one module per resource), what
they depend on in :mod:`deconflict.service.deps`, the hotline's in
:mod:`deconflict.hotline.relay`.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from deconflict.agreement import Agreement
from deconflict.airspace.zones import Zones
from deconflict.api.limits import install_limits
from deconflict.api.problems import install_error_handlers
from deconflict.hotline.relay import Relay, relay_router
from deconflict.hotline.relay_store import HotlineStore
from deconflict.hotline.setup import open_audit
from deconflict.io.agreement_file import load_agreement
from deconflict.service.engine import DetectionEngine
from deconflict.service.hub import Hub
from deconflict.service.retention import TrackPruner
from deconflict.service.routes import (
    agreement,
    alerts,
    cycle,
    health,
    operations,
    parties,
    stream,
    tracks,
)
from deconflict.service.schemas import AlertOut
from deconflict.service.settings import Settings
from deconflict.store.records import AlertRecord
from deconflict.store.repository import Repository
from deconflict.store.sql import SqlRepository

DESCRIPTION = (
    "Deconfliction broker between parties that do not trust each other. Every "
    "request but /health carries `Authorization: Bearer TOKEN`. A party sees its "
    "own tracks and alerts; an intruder appears only as relative geometry."
)


def create_app(
    settings: Settings, repo: Repository | None = None, hotline: HotlineStore | None = None
) -> FastAPI:
    """The broker: storage from ``settings.db``, detection running in the back.

    ``repo`` and ``hotline`` (given together) replace the storage opened from
    ``settings.db``: the broker's records and the hotline relay's; the caller closes
    them. The relay's audit log follows ``settings`` either way.
    """
    if (repo is None) != (hotline is None):
        raise TypeError("create_app: give repo and hotline together, or neither")
    terms = load_agreement(settings.agreement) if settings.agreement else Agreement()
    # Protected airspace is part of the agreement, so of its fingerprint.
    zones = Zones.from_agreement(terms) if terms.protected_areas else None
    hub = Hub()
    relay = Relay(name="primary", can_register_keys=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if repo is not None and hotline is not None:
            store, relay_store = repo, hotline
        else:
            store, relay_store = _open(settings.db)
        relay.bind(
            relay_store, open_audit(settings.db, settings.audit_log, settings.relay_key_file)
        )
        relay.backfill_audit()
        escalations = asyncio.create_task(relay.run_escalations())
        engine = DetectionEngine(
            store,
            terms,
            stale_after_s=settings.stale_after_s,
            detect_interval_s=settings.detect_interval_s,
            idle_interval_s=settings.idle_interval_s,
            id_secret=settings.id_secret or secrets.token_hex(16),
            publish=_publisher(relay, hub),
            zones=zones,
            data_clock=settings.lockstep,
            on_picture=hub.publish_picture,
        )
        pruner = TrackPruner(store, settings.track_retention_s)
        pruner.prune_once()  # a restart reads back only the retained history
        engine.restore()
        if not settings.lockstep:  # lockstep: cycles only on POST /cycle
            engine.start()
        pruner.start()
        app.state.repo = store
        app.state.engine = engine
        try:
            yield
        finally:
            escalations.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await escalations
            engine.stop()
            pruner.stop()
            if relay.audit is not None:
                relay.audit.close()
            if repo is None:
                store.close()

    app = FastAPI(
        title="deconflict broker", version="1", description=DESCRIPTION, lifespan=lifespan
    )
    app.state.agreement = terms
    app.state.hub = hub
    app.state.plan_secret = settings.id_secret or secrets.token_hex(16)
    app.state.relay = relay
    app.state.lockstep = settings.lockstep
    app.include_router(operations.router)
    app.include_router(relay_router(relay))
    for module in (health, agreement, tracks, alerts, parties, stream, cycle):
        app.include_router(module.router)
    install_error_handlers(app)
    install_limits(app, settings.max_body_bytes, settings.auth_max_failures, settings.auth_window_s)
    return app


def _open(url: str) -> tuple[Repository, HotlineStore]:
    """The broker's records and the hotline's, in one SQL database."""
    sql = SqlRepository(url)
    return sql, HotlineStore(sql.engine)


def _publisher(relay: Relay, hub: Hub) -> Callable[[list[AlertRecord]], None]:
    """Where the engine hands new alert events: the relay's signed record, then the streams.

    Stored by the engine, then signed into the record, then pushed: a crash in between
    can cost a push (the alert is still in GET /alerts), never the record.
    """

    def publish(records: list[AlertRecord]) -> None:
        audit = relay.audit
        if audit is not None:  # incidents go to the signed record as they open
            audit.append_many(
                [
                    ("alert", AlertOut.of(r).model_dump(mode="json") | {"party_id": r.party_id})
                    for r in records
                    if r.event == "new"
                ]
            )
        hub.publish(records)

    return publish
