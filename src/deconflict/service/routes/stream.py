"""``/stream``: a party's WebSocket: batches in, ``accepted`` and its alerts out."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

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
from deconflict.service.routes.tracks import accept
from deconflict.service.schemas import AlertOut
from deconflict.store.records import AlertRecord

router = APIRouter()


@router.websocket("/stream")
async def stream(
    websocket: WebSocket, repo: Repo, engine: Detection, terms: TheAgreement, hub: AlertHub
) -> None:
    """Send batches (as JSON text), receive ``{"accepted": n}`` and this party's alerts.

    Authenticate with ``Authorization: Bearer TOKEN`` or ``?token=TOKEN``.
    """
    token = websocket_token(websocket)
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


async def _push(websocket: WebSocket, queue: asyncio.Queue[AlertRecord | dict[str, Any]]) -> None:
    while True:
        record = await queue.get()
        if isinstance(record, dict):  # a lockstep ``cycle`` frame, as it is
            await websocket.send_text(json.dumps(record))
            continue
        alert = AlertOut.of(record).model_dump(mode="json")
        await websocket.send_text(json.dumps({"type": "alert", **alert}))
