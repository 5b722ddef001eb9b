"""``/operations``: strategic deconfliction of planned volumes (:mod:`..plans`)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from deconflict.api.auth import Party
from deconflict.service.deps import (
    PlanSecret,
    Repo,
    TheAgreement,
    party_names,
    require_acknowledged,
)
from deconflict.service.plans import read_plan, submit
from deconflict.service.schemas import OperationsAccepted, OverlapOut

router = APIRouter()


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
async def post_operations(
    request: Request, party: Party, repo: Repo, terms: TheAgreement, secret: PlanSecret
) -> OperationsAccepted:
    """Submit planned volumes; get back only the overlaps with other parties' plans."""
    require_acknowledged(party, terms, "submitting plans")
    mine = read_plan(await request.body())
    halves = await asyncio.to_thread(submit, repo, terms, secret, party, mine)
    return OperationsAccepted(accepted=len(mine), overlaps=[OverlapOut.of(h) for h in halves])


@router.get(
    "/operations/overlaps",
    operation_id="list_overlaps",
    response_model=list[OverlapOut],
    responses={401: {}},
)
def list_overlaps(party: Party, repo: Repo) -> list[OverlapOut]:
    """The party's halves of every overlap found so far (the admin: every party's)."""
    names = party_names(repo, party)
    if names is not None:
        return [OverlapOut.of(r, names.get(r.party_id)) for r in repo.overlaps(None)]
    return [OverlapOut.of(r) for r in repo.overlaps(party.id)]
