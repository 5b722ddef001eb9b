"""The broker's FastAPI application: ``create_app(settings)``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Path, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from starlette import status

from deconflict.agreement import Agreement
from deconflict.airspace.zones import Zones
from deconflict.api.auth import Admin, Party, authenticate, party_for_token, refuse_websocket
from deconflict.api.limits import install_limits, receive_text
from deconflict.api.problems import install_error_handlers
from deconflict.errors import InputError
from deconflict.hotline.relay import Relay, relay_router
from deconflict.hotline.relay_store import HotlineStore
from deconflict.hotline.setup import open_audit
from deconflict.io.agreement_file import load_agreement
from deconflict.service.batches import decode
from deconflict.service.engine import DetectionEngine
from deconflict.service.hub import Hub
from deconflict.service.operations import router as operations_router
from deconflict.service.schemas import (
    Accepted,
    AckIn,
    AckOut,
    AlertOut,
    Health,
    Intruder,
    PartyOut,
    Problem,
    TrackColumns,
    TrackIn,
    TrackOut,
)
from deconflict.service.settings import Settings
from deconflict.store.records import AlertRecord, PartyRecord, TrackBatch
from deconflict.store.repository import Repository
from deconflict.store.sql import SqlRepository

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Missing, unknown or revoked token"},
    422: {"model": Problem, "description": "Bad input; the detail names the field"},
}


def create_app(settings: Settings, repo: Repository | None = None) -> FastAPI:
    """The broker: storage from ``settings.db`` (or ``repo``), detection running in the back."""
    agreement = load_agreement(settings.agreement) if settings.agreement else Agreement()
    # Protected airspace is part of the agreement, so of its fingerprint.
    zones = Zones.from_agreement(agreement) if agreement.protected_areas else None
    hub = Hub()
    relay = Relay(name="primary", can_register_keys=True)

    def publish(records: list[AlertRecord]) -> None:
        # Stored by the engine, then signed into the record, then pushed: a crash in
        # between can cost a push (the alert is still in GET /alerts), never the record.
        audit = relay.audit
        if audit is not None:  # incidents go to the signed record as they open
            audit.append_many(
                [
                    ("alert", _alert_dict(r, None) | {"party_id": r.party_id})
                    for r in records
                    if r.event == "new"
                ]
            )
        hub.publish(records)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = repo if repo is not None else SqlRepository(settings.db)
        if isinstance(store, SqlRepository):
            relay.bind(
                HotlineStore(store.engine),
                open_audit(settings.db, settings.audit_log, settings.relay_key_file),
            )
        else:  # an in-memory repository (tests): the hotline runs on in-memory SQLite
            relay.bind(HotlineStore(_memory_hotline_engine(store)), None)
        relay.backfill_audit()
        escalations = asyncio.create_task(relay.run_escalations())
        engine = DetectionEngine(
            store,
            agreement,
            stale_after_s=settings.stale_after_s,
            detect_interval_s=settings.detect_interval_s,
            idle_interval_s=settings.idle_interval_s,
            id_secret=settings.id_secret or secrets.token_hex(16),
            publish=publish,
            zones=zones,
        )
        engine.restore()
        engine.start()
        app.state.repo = store
        app.state.engine = engine
        try:
            yield
        finally:
            escalations.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await escalations
            engine.stop()
            if relay.audit is not None:
                relay.audit.close()
            if repo is None:
                store.close()

    app = FastAPI(
        title="deconflict broker",
        version="1",
        description=(
            "Deconfliction broker between parties that do not trust each other. Every "
            "request but /health carries `Authorization: Bearer TOKEN`. A party sees its "
            "own tracks and alerts; an intruder appears only as relative geometry."
        ),
        lifespan=lifespan,
    )
    app.state.agreement = agreement
    app.state.hub = hub
    app.state.plan_secret = settings.id_secret or secrets.token_hex(16)
    app.include_router(operations_router)
    app.include_router(relay_router(relay))
    app.state.relay = relay

    install_error_handlers(app)
    install_limits(app, settings.max_body_bytes, settings.auth_max_failures, settings.auth_window_s)

    @app.get(
        "/health", operation_id="health", response_model=Health, responses={503: {"model": Problem}}
    )
    def health(request: Request) -> Health | JSONResponse:
        """200 when the database answers (no authentication)."""
        if request.app.state.repo.health():
            return Health(status="ok")
        return JSONResponse({"detail": "database unavailable"}, status_code=503)

    @app.get("/agreement", operation_id="get_agreement", responses=ERRORS)
    def get_agreement(party: Party) -> dict[str, Any]:
        """The agreement the broker runs, with its fingerprint."""
        return {**agreement.model_dump(mode="json"), "fingerprint": agreement.fingerprint}

    @app.post(
        "/agreement/ack",
        operation_id="ack_agreement",
        response_model=AckOut,
        responses={**ERRORS, 409: {"model": Problem}},
    )
    def ack_agreement(party: Party, body: AckIn, request: Request) -> AckOut | JSONResponse:
        """Acknowledge the agreement's fingerprint; required before tracks are accepted."""
        if body.fingerprint != agreement.fingerprint:
            return JSONResponse(
                {"detail": "fingerprint does not match the broker's agreement (GET /agreement)"},
                status_code=409,
            )
        request.app.state.repo.ack_agreement(party.id, body.fingerprint)
        return AckOut(acknowledged=body.fingerprint)

    @app.post(
        "/tracks",
        operation_id="post_tracks",
        response_model=Accepted,
        responses={**ERRORS, 403: {"model": Problem}},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {"type": "array", "items": TrackIn.model_json_schema()},
                                TrackColumns.model_json_schema(),
                            ]
                        }
                    },
                    "application/vnd.apache.parquet": {
                        "schema": {"type": "string", "format": "binary"}
                    },
                },
            }
        },
    )
    async def post_tracks(request: Request, party: Party) -> Accepted:
        """A batch of the party's own states; answered once committed."""
        body = await request.body()
        batch = decode(body, request.headers.get("content-type", "application/json"), party.id)
        n = await asyncio.to_thread(_accept, request, party, batch)
        return Accepted(accepted=n)

    @app.get("/tracks", operation_id="get_tracks", response_model=list[TrackOut], responses=ERRORS)
    def get_tracks(
        request: Request, party: Party, limit: Annotated[int, Query(ge=1, le=10000)] = 1000
    ) -> list[TrackOut]:
        """The latest state of each of the party's own aircraft (the admin: every party's).

        One row per aircraft: newest by ``time``, ties broken by the one received last.
        """
        repo: Repository = request.app.state.repo
        if party.is_admin:
            names = {p.id: p.name for p in repo.list_parties()}
            return _tracks_out(repo.latest_tracks(-1e300), names, limit)
        return _tracks_out(repo.latest_tracks(-1e300, party_id=party.id), None, limit)

    @app.get("/alerts", operation_id="list_alerts", response_model=list[AlertOut], responses=ERRORS)
    def list_alerts(
        request: Request,
        party: Party,
        after_id: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    ) -> list[AlertOut]:
        """The party's alert events, oldest first (the admin: every party's)."""
        repo: Repository = request.app.state.repo
        records = repo.alerts(None if party.is_admin else party.id, after_id=after_id, limit=limit)
        return _alerts_out(repo, records, party)

    @app.get(
        "/alerts/{conflict_id}",
        operation_id="get_alert",
        response_model=list[AlertOut],
        responses={**ERRORS, 404: {"model": Problem}},
    )
    def get_alert(
        request: Request,
        party: Party,
        conflict_id: Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9]+$")],
    ) -> list[AlertOut]:
        """One conflict's events as the party saw them; 404 if it is not the party's."""
        repo: Repository = request.app.state.repo
        records = repo.alerts_of_conflict(conflict_id, None if party.is_admin else party.id)
        if not records:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Not Found")
        return _alerts_out(repo, records, party)

    @app.get(
        "/parties",
        operation_id="list_parties",
        response_model=list[PartyOut],
        responses={**ERRORS, 404: {"model": Problem}},
    )
    def list_parties(request: Request, admin: Admin) -> list[PartyOut]:
        """Every party (the admin only)."""
        return [
            PartyOut(
                name=p.name,
                is_admin=p.is_admin,
                revoked=p.revoked,
                acked_fingerprint=p.acked_fingerprint,
            )
            for p in request.app.state.repo.list_parties()
        ]

    @app.websocket("/stream")
    async def stream(websocket: WebSocket) -> None:
        """Send batches (as JSON text), receive ``{"accepted": n}`` and this party's alerts.

        Authenticate with ``Authorization: Bearer TOKEN`` or ``?token=TOKEN``.
        """
        token = _ws_token(websocket)
        try:
            party = authenticate(websocket, token)
        except HTTPException as err:
            await refuse_websocket(websocket, err)
            return
        await websocket.accept()
        sub = hub.subscribe(party.id, party.is_admin)
        pusher = asyncio.create_task(_push(websocket, sub.queue))
        try:
            while True:
                try:
                    text = await receive_text(websocket)  # a binary frame: InputError
                    # Re-read the party each batch: an ack or a revocation takes effect at once.
                    party = party_for_token(websocket.app.state.repo, token)
                    batch = decode(text.encode(), "application/json", party.id)
                    n = await asyncio.to_thread(_accept, websocket, party, batch)
                    await websocket.send_json({"type": "accepted", "accepted": n})
                except InputError as err:
                    await websocket.send_json({"type": "error", "status": 422, "detail": str(err)})
                except HTTPException as err:
                    await websocket.send_json(
                        {"type": "error", "status": err.status_code, "detail": err.detail}
                    )
                    if err.status_code == status.HTTP_401_UNAUTHORIZED:
                        await websocket.close(code=status.WS_1008_POLICY_VIOLATION)
                        break
        except WebSocketDisconnect:
            pass
        finally:
            hub.unsubscribe(sub)
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pusher

    return app


def _memory_hotline_engine(repo: Repository) -> Any:
    """An in-memory SQLite with the schema and the memory repository's parties copied in."""
    from sqlalchemy import insert

    from deconflict.store.engine import make_engine
    from deconflict.store.migrate import upgrade_engine
    from deconflict.store.models import Party

    engine = make_engine("sqlite://")
    upgrade_engine(engine)
    with engine.begin() as conn:
        for p in repo.list_parties():
            conn.execute(
                insert(Party.__table__).values(
                    id=p.id,
                    name=p.name,
                    is_admin=p.is_admin,
                    token_hash=f"memory-{p.id}",
                    created_at=p.created_at,
                )
            )
    return engine


def _accept(conn: Request | WebSocket, party: PartyRecord, batch: TrackBatch) -> int:
    """Store a batch (committed) and hand it to detection; 403 before the agreement is acked."""
    agreement: Agreement = conn.app.state.agreement
    repo: Repository = conn.app.state.repo
    if party.acked_fingerprint != agreement.fingerprint:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="acknowledge the agreement (POST /agreement/ack) before sending tracks",
        )
    n = repo.add_tracks(batch)
    conn.app.state.engine.ingest(batch)
    return n


def _ws_token(websocket: WebSocket) -> str | None:
    auth = websocket.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return websocket.query_params.get("token")


async def _push(websocket: WebSocket, queue: asyncio.Queue[AlertRecord]) -> None:
    while True:
        record = await queue.get()
        await websocket.send_text(json.dumps({"type": "alert", **_alert_dict(record, None)}))


def _alert_dict(r: AlertRecord, party_name: str | None) -> dict[str, Any]:
    return {
        "id": r.id,
        "conflict_id": r.conflict_id,
        "own_id": r.own_id,
        "event": r.event,
        "level": r.level,
        "manoeuvre": r.manoeuvre,
        "target_vs_fpm": r.target_vs_fpm,
        "target_track_deg": r.target_track_deg,
        "t_in_s": r.t_in_s,
        "time": r.time,
        "created_at": r.created_at,
        "intruder": {
            "range_nm": r.intruder_range_nm,
            "bearing_deg": r.intruder_bearing_deg,
            "rel_alt_ft": r.intruder_rel_alt_ft,
            "closure_kt": r.intruder_closure_kt,
        },
        "party": party_name,
        "zone": r.zone,
        "reason": r.reason,
    }


def _alerts_out(
    repo: Repository, records: list[AlertRecord], viewer: PartyRecord
) -> list[AlertOut]:
    names = {p.id: p.name for p in repo.list_parties()} if viewer.is_admin else {}
    return [
        AlertOut.model_validate(
            {
                **_alert_dict(r, names.get(r.party_id)),
                "intruder": Intruder.model_validate(_alert_dict(r, None)["intruder"]),
            }
        )
        for r in records
    ]


def _tracks_out(batch: TrackBatch, names: dict[int, str] | None, limit: int) -> list[TrackOut]:
    out = []
    for k in range(min(len(batch), limit)):
        out.append(
            TrackOut(
                time=float(batch.time[k]),
                id=str(batch.id[k]),
                lat=float(batch.lat[k]),
                lon=float(batch.lon[k]),
                alt_ft=float(batch.alt_ft[k]),
                gs_kt=float(batch.gs_kt[k]),
                track_deg=float(batch.track_deg[k]),
                vs_fpm=float(batch.vs_fpm[k]),
                party=names.get(int(batch.party_id[k])) if names is not None else None,
            )
        )
    return out
