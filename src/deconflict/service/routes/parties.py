"""``/parties``: every party, for the working group's admin."""

from __future__ import annotations

from fastapi import APIRouter

from deconflict.api.auth import Admin
from deconflict.service.deps import Repo
from deconflict.service.schemas import ERRORS, PartyOut, Problem

router = APIRouter()


@router.get(
    "/parties",
    operation_id="list_parties",
    response_model=list[PartyOut],
    responses={**ERRORS, 404: {"model": Problem}},
)
def list_parties(admin: Admin, repo: Repo) -> list[PartyOut]:
    """Every party (the admin only)."""
    return [PartyOut.model_validate(p, from_attributes=True) for p in repo.list_parties()]
