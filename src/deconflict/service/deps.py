"""What the broker's routes depend on, as ``Annotated`` aliases.

The application puts its parts on ``app.state`` when it starts
(:func:`deconflict.service.app.create_app`); a route names the part it needs by type
(``repo: Repo``). The caller is :data:`deconflict.api.auth.Party` (or ``Admin``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException
from starlette import status
from starlette.requests import HTTPConnection

from deconflict.agreement import Agreement
from deconflict.service.engine import DetectionEngine
from deconflict.service.hub import Hub
from deconflict.store.records import PartyRecord
from deconflict.store.repository import Repository


def repository(conn: HTTPConnection) -> Repository:
    """The broker's storage."""
    return conn.app.state.repo  # type: ignore[no-any-return]


def agreement(conn: HTTPConnection) -> Agreement:
    """The agreement the broker runs."""
    return conn.app.state.agreement  # type: ignore[no-any-return]


def detection(conn: HTTPConnection) -> DetectionEngine:
    """The detection engine running in the back."""
    return conn.app.state.engine  # type: ignore[no-any-return]


def hub(conn: HTTPConnection) -> Hub:
    """Where new alerts are pushed to the connected streams."""
    return conn.app.state.hub  # type: ignore[no-any-return]


def plan_secret(conn: HTTPConnection) -> str:
    """The secret mixed into opaque overlap ids."""
    return conn.app.state.plan_secret  # type: ignore[no-any-return]


Repo = Annotated[Repository, Depends(repository)]
TheAgreement = Annotated[Agreement, Depends(agreement)]
Detection = Annotated[DetectionEngine, Depends(detection)]
AlertHub = Annotated[Hub, Depends(hub)]
PlanSecret = Annotated[str, Depends(plan_secret)]


def require_acknowledged(party: PartyRecord, terms: Agreement, before: str) -> None:
    """403 unless ``party`` acknowledged ``terms`` (``before``: what it is trying to do)."""
    if party.acked_fingerprint != terms.fingerprint:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"acknowledge the agreement (POST /agreement/ack) before {before}",
        )


def party_names(repo: Repository, viewer: PartyRecord) -> dict[int, str] | None:
    """Party names by id for an admin viewer (admin views name the parties); else None."""
    return repo.party_names() if viewer.is_admin else None
