"""``/alerts``: a party's alert events (the admin: every party's)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from starlette import status

from deconflict.api.auth import Party
from deconflict.service.deps import Repo, party_names
from deconflict.service.schemas import ERRORS, AlertOut, Problem
from deconflict.store.records import AlertRecord, PartyRecord
from deconflict.store.repository import Repository

router = APIRouter()


def _out(repo: Repository, records: list[AlertRecord], viewer: PartyRecord) -> list[AlertOut]:
    names = party_names(repo, viewer) or {}
    return [AlertOut.of(r, names.get(r.party_id)) for r in records]


@router.get("/alerts", operation_id="list_alerts", response_model=list[AlertOut], responses=ERRORS)
def list_alerts(
    party: Party,
    repo: Repo,
    after_id: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> list[AlertOut]:
    """The party's alert events, oldest first (the admin: every party's)."""
    records = repo.alerts(None if party.is_admin else party.id, after_id=after_id, limit=limit)
    return _out(repo, records, party)


@router.get(
    "/alerts/{conflict_id}",
    operation_id="get_alert",
    response_model=list[AlertOut],
    responses={**ERRORS, 404: {"model": Problem}},
)
def get_alert(
    party: Party,
    repo: Repo,
    conflict_id: Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9]+$")],
) -> list[AlertOut]:
    """One conflict's events as the party saw them; 404 if it is not the party's."""
    records = repo.alerts_of_conflict(conflict_id, None if party.is_admin else party.id)
    if not records:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Not Found")
    return _out(repo, records, party)
