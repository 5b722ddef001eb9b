"""``/agreement``: the agreement the broker runs, and a party's acknowledgement of it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from deconflict.api.auth import Party
from deconflict.service.deps import Repo, TheAgreement
from deconflict.service.schemas import ERRORS, AckIn, AckOut, Problem

router = APIRouter()


@router.get("/agreement", operation_id="get_agreement", responses=ERRORS)
def get_agreement(party: Party, terms: TheAgreement) -> dict[str, Any]:
    """The agreement the broker runs, with its fingerprint."""
    return {**terms.model_dump(mode="json"), "fingerprint": terms.fingerprint}


@router.post(
    "/agreement/ack",
    operation_id="ack_agreement",
    response_model=AckOut,
    responses={**ERRORS, 409: {"model": Problem}},
)
def ack_agreement(
    party: Party, body: AckIn, repo: Repo, terms: TheAgreement
) -> AckOut | JSONResponse:
    """Acknowledge the agreement's fingerprint; required before tracks are accepted."""
    if body.fingerprint != terms.fingerprint:
        return JSONResponse(
            {"detail": "fingerprint does not match the broker's agreement (GET /agreement)"},
            status_code=409,
        )
    repo.ack_agreement(party.id, body.fingerprint)
    return AckOut(acknowledged=body.fingerprint)
