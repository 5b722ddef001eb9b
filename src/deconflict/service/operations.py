"""Strategic deconfliction through the broker: ``POST /operations`` and its overlaps.

A party submits its planned operation volumes; the broker checks them exactly
against every other party's stored volumes and answers each side with only the
overlap — region, altitude band, time window — and an opaque id shared by the two
halves: never the other side's volume, id or identity.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from typing import Annotated, Any

import numpy as np
import shapely
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from starlette import status

from deconflict._util import KEY_SEP, iso_utc
from deconflict.agreement import Agreement
from deconflict.airspace.overlaps import overlaps
from deconflict.airspace.volume4d import parse_volumes as parse
from deconflict.airspace.volumes import Volume, Volumes
from deconflict.api.auth import current_party
from deconflict.errors import InputError
from deconflict.json_text import parse_json
from deconflict.store.records import OverlapRecord, PartyRecord, PlanVolumeRecord
from deconflict.store.repository import Repository
from deconflict.tactical.hashing import hash_strings, hex_ids

router = APIRouter()
Party = Annotated[PartyRecord, Depends(current_party)]
MAX_VOLUMES = 10_000


class OverlapOut(BaseModel):
    """One overlap as the receiving party may see it."""

    overlap_id: str
    own_volume_id: str
    region: dict[str, Any] = Field(description="GeoJSON geometry of the overlap (lon/lat)")
    alt_lower_ft: float
    alt_upper_ft: float
    time_start: str = Field(description="ISO 8601 UTC")
    time_end: str = Field(description="ISO 8601 UTC")
    party: str | None = Field(None, description="receiving party (admin views only)")


class OperationsAccepted(BaseModel):
    """Volumes stored, and the overlaps they have with other parties' plans."""

    accepted: int
    overlaps: list[OverlapOut]


def _feature(v: Volume) -> str:
    """A stored volume as a GeoJSON Feature (text) that :func:`parse` reads back."""
    return json.dumps(
        {
            "type": "Feature",
            "geometry": shapely.geometry.mapping(v.geometry),
            "properties": {
                "id": v.id,
                "alt_lower_ft": v.alt_lower_ft,
                "alt_upper_ft": v.alt_upper_ft,
                "time_start": iso_utc(v.time_start_s),
                "time_end": iso_utc(v.time_end_s),
            },
        }
    )


def _stored_volumes(records: list[PlanVolumeRecord]) -> dict[int, Volumes]:
    by_party: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_party[r.party_id].append(json.loads(r.feature))
    return {
        pid: parse({"type": "FeatureCollection", "features": feats}, source=f"stored plan {pid}")
        for pid, feats in by_party.items()
    }


def _out(r: OverlapRecord, party: str | None = None) -> OverlapOut:
    return OverlapOut(
        overlap_id=r.overlap_id,
        own_volume_id=r.own_volume_id,
        region=json.loads(r.region),
        alt_lower_ft=r.alt_lower_ft,
        alt_upper_ft=r.alt_upper_ft,
        time_start=iso_utc(r.time_start_s),
        time_end=iso_utc(r.time_end_s),
        party=party,
    )


def submit(
    repo: Repository, agreement: Agreement, secret: str, party: PartyRecord, mine: Volumes
) -> list[OverlapRecord]:
    """Check ``mine`` against every other party's plan, store both, return this party's halves."""
    now = time.time()
    halves: list[OverlapRecord] = []
    for other, theirs in _stored_volumes(repo.plan_volumes(exclude_party_id=party.id)).items():
        found = overlaps(mine, theirs, agreement.horizontal_nm, agreement.vertical_ft)
        if not len(found):
            continue
        mine_ids = np.array([mine.items[i].id for i in found.a_index], dtype=np.str_)
        their_ids = np.array([theirs.items[i].id for i in found.b_index], dtype=np.str_)
        keys = np.char.add(
            np.char.add(f"{party.id}{KEY_SEP}", mine_ids),
            np.char.add(f"{KEY_SEP}{other}{KEY_SEP}", their_ids),
        )
        ids = hex_ids(hash_strings(keys, key=secret + agreement.fingerprint), "O")
        for k in range(len(found)):  # over overlaps found (few)
            region = json.dumps(shapely.geometry.mapping(found.geometry[k]))
            common = (
                region,
                float(found.alt_lower_ft[k]),
                float(found.alt_upper_ft[k]),
                float(found.time_start_s[k]),
                float(found.time_end_s[k]),
                now,
            )
            halves.append(OverlapRecord(0, str(ids[k]), party.id, str(mine_ids[k]), *common))
            halves.append(OverlapRecord(0, str(ids[k]), other, str(their_ids[k]), *common))
    repo.add_plan_volumes([PlanVolumeRecord(party.id, v.id, _feature(v), now) for v in mine.items])
    stored = repo.add_overlaps(halves)
    return [h for h in stored if h.party_id == party.id]


@router.post(
    "/operations",
    operation_id="post_operations",
    response_model=OperationsAccepted,
    responses={401: {}, 403: {}, 422: {}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "description": "GeoJSON FeatureCollection of volumes (properties id, "
                        "alt_lower_ft, alt_upper_ft, time_start, time_end; Polygon, "
                        "MultiPolygon or Point with radius_m) or ASTM F3548 Volume4D JSON",
                        "type": ["object", "array"],
                    }
                }
            },
        }
    },
)
async def post_operations(request: Request, party: Party) -> OperationsAccepted:
    """Submit planned volumes; get back only the overlaps with other parties' plans."""
    agreement: Agreement = request.app.state.agreement
    if party.acked_fingerprint != agreement.fingerprint:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="acknowledge the agreement (POST /agreement/ack) before submitting plans",
        )
    obj = parse_json(await request.body(), "body")
    mine = parse(obj, source="body")
    if len(mine) > MAX_VOLUMES:
        raise InputError(f"body: {len(mine)} volumes; at most {MAX_VOLUMES} per request")
    halves = await asyncio.to_thread(
        submit, request.app.state.repo, agreement, request.app.state.plan_secret, party, mine
    )
    return OperationsAccepted(accepted=len(mine), overlaps=[_out(h) for h in halves])


@router.get(
    "/operations/overlaps",
    operation_id="list_overlaps",
    response_model=list[OverlapOut],
    responses={401: {}},
)
def list_overlaps(request: Request, party: Party) -> list[OverlapOut]:
    """The party's halves of every overlap found so far (the admin: every party's)."""
    repo: Repository = request.app.state.repo
    if party.is_admin:
        names = {p.id: p.name for p in repo.list_parties()}
        return [_out(r, names.get(r.party_id)) for r in repo.overlaps(None)]
    return [_out(r) for r in repo.overlaps(party.id)]
