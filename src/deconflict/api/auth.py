"""Bearer-token authentication: every request but ``/health`` names its party.

Failed authentications are limited per client address (:class:`FailedAuthLimiter`):
after ``max_failures`` failures in one window an address gets 429 with
``Retry-After`` until the window ends, for HTTP and WebSocket alike, except for a
token that already succeeded from that address (a party is not locked out by a
guesser that shares its address).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request, WebSocket, status
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from deconflict.store.records import PartyRecord
from deconflict.store.repository import Repository
from deconflict.store.tokens import hash_token

_bearer = HTTPBearer(auto_error=False, description="The party's API token")

#: Tokens remembered per address as having succeeded there (they pass a block).
_GOOD_PER_ADDRESS = 8


def unauthorized() -> HTTPException:
    """401 with the challenge a client needs."""
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="missing, unknown or revoked token",
        headers={"WWW-Authenticate": "Bearer"},
    )


#: A browser cannot set headers on a WebSocket: it names its token as a subprotocol
#: ``bearer.TOKEN`` beside the protocol it speaks (the server never echoes the token).
BEARER_PROTOCOL_PREFIX = "bearer."


def websocket_token(websocket: WebSocket) -> str | None:
    """The token a WebSocket names.

    ``Authorization: Bearer …``, else a ``bearer.TOKEN`` subprotocol (what a browser
    page can send without putting the token in a URL), else the ``?token=`` parameter.
    """
    auth = websocket.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    for protocol in websocket.scope.get("subprotocols") or ():
        if protocol.startswith(BEARER_PROTOCOL_PREFIX):
            return protocol.removeprefix(BEARER_PROTOCOL_PREFIX)
    return websocket.query_params.get("token")


def party_for_token(repo: Repository, token: str | None) -> PartyRecord:
    """The live (not revoked) party holding ``token``, else 401 (no rate limit).

    Requests authenticate through :func:`authenticate`, which limits failures.
    """
    if not token:
        raise unauthorized()
    party = repo.party_by_token_hash(hash_token(token))
    if party is None or party.revoked:
        raise unauthorized()
    return party


@dataclass
class _Address:
    window_start: float
    failures: int = 0
    good: list[str] = field(default_factory=list)  # token hashes, most recent last


class FailedAuthLimiter:
    """Failed authentications per client address in fixed windows; in memory, thread-safe.

    At most ``max_addresses`` addresses are remembered (least recently seen evicted
    first), so memory stays bounded whatever the number of callers.
    """

    def __init__(
        self,
        max_failures: int = 20,
        window_s: float = 60.0,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_addresses = max_addresses
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, _Address] = OrderedDict()

    def _entry(self, address: str, now: float) -> _Address:
        entry = self._seen.get(address)
        if entry is None:
            entry = self._seen[address] = _Address(now)
            while len(self._seen) > self.max_addresses:
                self._seen.popitem(last=False)
        elif now - entry.window_start >= self.window_s:
            entry.window_start, entry.failures = now, 0
        self._seen.move_to_end(address)
        return entry

    def retry_after_s(self, address: str, token_hash: str | None) -> int | None:
        """Seconds until ``address`` may try again, or None when it may try now."""
        with self._lock:
            now = self._clock()
            entry = self._entry(address, now)
            if entry.failures < self.max_failures or token_hash in entry.good:
                return None
            return max(1, math.ceil(entry.window_start + self.window_s - now))

    def failed(self, address: str) -> None:
        """Count one failed authentication from ``address``."""
        with self._lock:
            self._entry(address, self._clock()).failures += 1

    def succeeded(self, address: str, token_hash: str) -> None:
        """Remember that ``token_hash`` authenticated from ``address`` (it passes a block)."""
        with self._lock:
            good = self._entry(address, self._clock()).good
            if token_hash in good:
                good.remove(token_hash)
            good.append(token_hash)
            del good[:-_GOOD_PER_ADDRESS]

    def __len__(self) -> int:
        return len(self._seen)


def too_many_failures(retry_after_s: int) -> HTTPException:
    """429 with ``Retry-After`` (s)."""
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        detail=f"too many failed authentications from this address; retry in {retry_after_s} s",
        headers={"Retry-After": str(retry_after_s)},
    )


def authenticate(conn: HTTPConnection, token: str | None) -> PartyRecord:
    """:func:`party_for_token` behind the application's failed-authentication limit.

    401 for a bad token (counted against the client's address), 429 once the address
    is over the limit (the token is then not even looked up, unless it succeeded
    from that address before).
    """
    limiter: FailedAuthLimiter | None = getattr(conn.app.state, "auth_limiter", None)
    repo: Repository = conn.app.state.repo
    if limiter is None:
        return party_for_token(repo, token)
    address = conn.client.host if conn.client is not None else "unknown"
    token_hash = hash_token(token) if token else None
    wait_s = limiter.retry_after_s(address, token_hash)
    if wait_s is not None:
        raise too_many_failures(wait_s)
    try:
        party = party_for_token(repo, token)
    except HTTPException:
        limiter.failed(address)
        raise
    assert token_hash is not None
    limiter.succeeded(address, token_hash)
    return party


async def refuse_websocket(websocket: WebSocket, err: HTTPException) -> None:
    """Refuse a WebSocket handshake.

    Over the failed-auth limit: the HTTP answer itself (429 with ``Retry-After``) where
    the server can send one; otherwise close with 1008 (policy violation).
    """
    if err.status_code == status.HTTP_429_TOO_MANY_REQUESTS and "websocket.http.response" in (
        websocket.scope.get("extensions") or {}
    ):
        response = JSONResponse({"detail": err.detail}, err.status_code, headers=err.headers)
        await websocket.send_denial_response(response)
        return
    reason = "unauthorized" if err.status_code == status.HTTP_401_UNAUTHORIZED else "rate limited"
    await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason=reason)


def current_party(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> PartyRecord:
    """Dependency: the authenticated party."""
    return authenticate(request, creds.credentials if creds else None)


def current_admin(party: Annotated[PartyRecord, Depends(current_party)]) -> PartyRecord:
    """Dependency: the authenticated admin (a party asking gets 404: no existence leak)."""
    if not party.is_admin:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Not Found")
    return party


Party = Annotated[PartyRecord, Depends(current_party)]
Admin = Annotated[PartyRecord, Depends(current_admin)]
