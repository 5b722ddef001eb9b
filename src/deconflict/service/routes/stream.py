"""``/stream``: a party's WebSocket: batches in, ``accepted`` and its alerts out.

A connection that names the subprotocol :data:`~deconflict.service.picture.MAP_PROTOCOL`
(the live map) also receives a ``picture`` frame after every detection cycle: its own
aircraft (the admin: everyone's), encoded when sent. Flow control: after a picture it
gets the next only once it sent ``{"type":"ready"}`` (the page took it), and then the
newest: a slow page skips pictures, it never falls behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect
from starlette import status

from deconflict.api.auth import (
    authenticate,
    party_for_token,
    refuse_websocket,
    websocket_token,
)
from deconflict.api.limits import receive_text
from deconflict.errors import InputError
from deconflict.service.batches import decode
from deconflict.service.deps import AlertHub, Detection, Repo, TheAgreement
from deconflict.service.hub import PictureDue, Pushed, Subscriber
from deconflict.service.picture import MAP_PROTOCOL
from deconflict.service.routes.tracks import accept
from deconflict.service.schemas import AlertOut
from deconflict.store.repository import Repository

router = APIRouter()

#: What a map connection sends when it is ready for the next picture.
READY = '{"type":"ready"}'


@router.websocket("/stream")
async def stream(
    websocket: WebSocket, repo: Repo, engine: Detection, terms: TheAgreement, hub: AlertHub
) -> None:
    """Send batches (as JSON text), receive ``{"accepted": n}`` and this party's alerts.

    Authenticate with ``Authorization: Bearer TOKEN``, a ``bearer.TOKEN`` subprotocol
    or ``?token=TOKEN``. Name the subprotocol ``deconflict.map`` for ``picture`` frames.
    """
    token = websocket_token(websocket)
    try:
        party = authenticate(websocket, token)
    except HTTPException as err:
        await refuse_websocket(websocket, err)
        return
    wants_picture = MAP_PROTOCOL in (websocket.scope.get("subprotocols") or ())
    await websocket.accept(subprotocol=MAP_PROTOCOL if wants_picture else None)
    sub = hub.subscribe(party.id, party.is_admin, wants_picture)
    pusher = asyncio.create_task(_push(websocket, sub, repo))
    try:
        while True:
            try:
                text = await receive_text(websocket)  # a binary frame: InputError
                if wants_picture and text.strip() == READY:
                    sub.ready_for_picture()  # the map took the last picture: send the next
                    continue
                # Re-read the party each batch: an ack or a revocation takes effect at once.
                party = party_for_token(repo, token)
                batch = decode(text.encode(), "application/json", party.id)
                n = await asyncio.to_thread(accept, repo, engine, terms, party, batch)
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


async def _push(websocket: WebSocket, sub: Subscriber, repo: Repository) -> None:
    names: dict[int, str] = {}
    while True:
        item: Pushed = await sub.queue.get()
        if isinstance(item, PictureDue):  # the newest picture frame, already encoded
            picture = sub.take_picture()
            if picture is not None:
                text = await asyncio.to_thread(picture.text, sub.viewer)
                await websocket.send_text(text)
            continue
        if isinstance(item, dict):  # a lockstep ``cycle`` frame, as it is
            await websocket.send_text(json.dumps(item))
            continue
        party = None
        if sub.is_admin:  # admin views name the parties
            if item.party_id not in names:
                names = await asyncio.to_thread(repo.party_names)
            party = names.get(item.party_id)
        alert = AlertOut.of(item, party).model_dump(mode="json")
        await websocket.send_text(json.dumps({"type": "alert", **alert}))
