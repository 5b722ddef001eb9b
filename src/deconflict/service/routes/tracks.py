"""``/tracks``: a party sends its own states and reads back their latest."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request

from deconflict.agreement import Agreement
from deconflict.api.auth import Party
from deconflict.service.batches import decode
from deconflict.service.deps import Detection, Repo, TheAgreement, party_names, require_acknowledged
from deconflict.service.engine import DetectionEngine
from deconflict.service.schemas import ERRORS, Accepted, Problem, TrackColumns, TrackIn, TrackOut
from deconflict.store.records import PartyRecord, TrackBatch
from deconflict.store.repository import Repository

router = APIRouter()


def accept(
    repo: Repository,
    engine: DetectionEngine,
    terms: Agreement,
    party: PartyRecord,
    batch: TrackBatch,
) -> int:
    """Store a batch (committed) and hand it to detection; 403 before the agreement is acked.

    The one way states come in, over HTTP and over the stream.
    """
    require_acknowledged(party, terms, "sending tracks")
    n = repo.add_tracks(batch)
    engine.ingest(batch)
    return n


@router.post(
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
async def post_tracks(
    request: Request, party: Party, repo: Repo, engine: Detection, terms: TheAgreement
) -> Accepted:
    """A batch of the party's own states; answered once committed."""
    body = await request.body()
    batch = decode(body, request.headers.get("content-type", "application/json"), party.id)
    n = await asyncio.to_thread(accept, repo, engine, terms, party, batch)
    return Accepted(accepted=n)


@router.get("/tracks", operation_id="get_tracks", response_model=list[TrackOut], responses=ERRORS)
def get_tracks(
    party: Party, repo: Repo, limit: Annotated[int, Query(ge=1, le=10000)] = 1000
) -> list[TrackOut]:
    """The latest state of each of the party's own aircraft (the admin: every party's).

    One row per aircraft: newest by ``time``, ties broken by the one received last.
    """
    own = None if party.is_admin else party.id
    return TrackOut.rows(repo.latest_tracks(-1e300, party_id=own), limit, party_names(repo, party))
