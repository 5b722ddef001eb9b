"""Bearer-token authentication: every request but ``/health`` names its party."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from deconflict.store.records import PartyRecord
from deconflict.store.repository import Repository
from deconflict.store.tokens import hash_token

_bearer = HTTPBearer(auto_error=False, description="The party's API token")


def unauthorized() -> HTTPException:
    """401 with the challenge a client needs."""
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="missing, unknown or revoked token",
        headers={"WWW-Authenticate": "Bearer"},
    )


def party_for_token(repo: Repository, token: str | None) -> PartyRecord:
    """The live (not revoked) party holding ``token``, else 401."""
    if not token:
        raise unauthorized()
    party = repo.party_by_token_hash(hash_token(token))
    if party is None or party.revoked:
        raise unauthorized()
    return party


def current_party(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> PartyRecord:
    """Dependency: the authenticated party."""
    return party_for_token(request.app.state.repo, creds.credentials if creds else None)


def current_admin(party: Annotated[PartyRecord, Depends(current_party)]) -> PartyRecord:
    """Dependency: the authenticated admin (a party asking gets 404: no existence leak)."""
    if not party.is_admin:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Not Found")
    return party


Party = Annotated[PartyRecord, Depends(current_party)]
Admin = Annotated[PartyRecord, Depends(current_admin)]
