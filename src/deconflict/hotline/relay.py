"""A hotline relay as HTTP and WebSocket routes: the broker's primary and the backup.

Both relays run this router over their own :class:`HotlineStore` and audit log.
Senders ``POST /hotline/messages`` (or send frames on ``/hotline/ws``) and get the
ids the relay now holds, committed; recipients read ``/hotline/ws`` (pushed) or
``GET /hotline/inbox`` (long poll) and acknowledge what they committed. Anything
unacknowledged is delivered again, so a recipient sees each message at least once
and removes duplicates itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette import status

from deconflict.api.auth import Party, authenticate, refuse_websocket, websocket_token
from deconflict.api.limits import receive_text
from deconflict.errors import InputError
from deconflict.hotline.audit import AuditLog, entries
from deconflict.hotline.relay_store import (
    Accepted,
    HotlineStore,
    KeyTakenError,
    Overdue,
    Rejected,
    key_fingerprint,
)
from deconflict.json_text import parse_json
from deconflict.store.records import PartyRecord

log = logging.getLogger(__name__)

#: Most messages in one send, and most deliveries in one push or poll.
MAX_BATCH = 1000
#: Seconds between two deadline checks.
ESCALATION_INTERVAL_S = 1.0

#: Fire-and-forget sends, referenced until done (asyncio keeps only weak references).
_BACKGROUND: set[asyncio.Task[None]] = set()


class KeyIn(BaseModel):
    """A party's Ed25519 verify key."""

    public_key: str = Field(pattern=r"^[0-9a-fA-F]{64}$")


class SendIn(BaseModel):
    """Signed messages (see ``deconflict.hotline.messages.Message``)."""

    messages: list[dict[str, Any]] = Field(max_length=MAX_BATCH)


class RejectedOut(BaseModel):
    """A refused message: its id when readable, and why."""

    id: str | None
    reason: str


class SendOut(BaseModel):
    """Ids the relay now holds (committed), refusals, and the relay's signed audit head."""

    stored: list[str]
    rejected: list[RejectedOut]
    head: dict[str, Any] | None


class Delivery(BaseModel):
    """One message for the caller; acknowledge ``d`` once it is committed."""

    d: int
    message: dict[str, Any]


class InboxOut(BaseModel):
    """Unacknowledged deliveries, oldest first."""

    deliveries: list[Delivery]


class AckIdsIn(BaseModel):
    """Delivery ids the caller committed to its inbox."""

    ids: list[Annotated[int, Field(ge=0, le=2**62)]] = Field(max_length=10 * MAX_BATCH)


class RecentOut(BaseModel):
    """A message the caller sent or received, as the relay holds it (received: Unix s)."""

    relay_id: int
    received_at: float
    message: dict[str, Any]


class ChannelOut(BaseModel):
    """Whose hotline clients hold this relay's WebSocket now.

    ``connected``: the caller's clients (a party that is not connected here is on its
    backup channel, or offline); ``since``: when that last changed (Unix s, null:
    not since the relay started); ``parties``: the admin only, every party's.
    """

    relay: str
    connected: bool
    since: float | None
    parties: dict[str, bool] | None = None


class OverdueOut(BaseModel):
    """A request whose response is overdue (times: Unix s)."""

    id: str
    sender: str
    to: str
    body: str
    sent_at: float
    due_at: float
    overdue_s: float
    escalated: bool


class Notifier:
    """Wakes the connections of parties that have new deliveries (event-loop only)."""

    def __init__(self) -> None:
        self._events: dict[int, asyncio.Event] = {}

    def notify(self, party_ids: set[int]) -> None:
        """Wake everyone waiting for these parties."""
        for pid in party_ids:
            event = self._events.pop(pid, None)
            if event is not None:
                event.set()

    async def wait(self, party_id: int, timeout_s: float) -> None:
        """Return on the party's next notification, or after ``timeout_s``."""
        event = self._events.setdefault(party_id, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout_s)


class Relay:
    """One relay: its store, its audit log, who it wakes.

    Callers authenticate as everywhere (:mod:`deconflict.api.auth`), against the
    application's ``state.repo``: the broker's registry, or the backup's copy of it.
    """

    def __init__(self, *, name: str, can_register_keys: bool) -> None:
        self._store: HotlineStore | None = None
        self.audit: AuditLog | None = None
        self.name = name
        self.can_register_keys = can_register_keys
        self.notifier = Notifier()
        self.escalation_listeners: list[Callable[[list[Overdue]], None]] = []
        #: Re-reads the party registry (the backup's copy); None on the broker.
        self.refresh_registry: Callable[[], object] | None = None
        #: Open ``/hotline/ws`` connections by party name, and when that last changed.
        self.connections: dict[str, int] = {}
        self.connections_since: dict[str, float] = {}

    def connected(self, party: str, delta: int) -> None:
        """Count a ``/hotline/ws`` connection of ``party`` opening (+1) or closing (-1)."""
        before = self.connections.get(party, 0) > 0
        self.connections[party] = max(0, self.connections.get(party, 0) + delta)
        if (self.connections[party] > 0) != before:
            self.connections_since[party] = time.time()

    def bind(self, store: HotlineStore, audit: AuditLog | None) -> None:
        """Attach storage when the application starts."""
        self._store = store
        self.audit = audit

    @property
    def store(self) -> HotlineStore:
        """The relay's storage (bound at start)."""
        if self._store is None:
            raise RuntimeError("the relay is not started")
        return self._store

    def backfill_audit(self) -> int:
        """Append messages stored but not yet in the audit log (a crash between the two)."""
        if self.audit is None:
            return 0
        last = max(
            (
                int(e["data"]["relay_id"])
                for e in entries(self.audit.path)
                if e.get("type") == "message"
            ),
            default=0,
        )
        added = 0
        while True:
            rows = self.store.messages_after(last)
            if not rows:
                return added
            self.audit.append_many(
                [("message", {"relay_id": rid, "message": json.loads(m)}) for rid, m in rows]
            )
            last = rows[-1][0]
            added += len(rows)

    def accept(self, party: PartyRecord, raw: list[Any]) -> Accepted:
        """Store a batch (committed), then append it to the audit log (fsync)."""
        result = self.store.accept(party, raw)
        if self.refresh_registry is not None and any(
            r.reason.startswith(_REGISTRY_REASONS) for r in result.rejected
        ):  # a key or party newer than our copy of the registry: refresh, try those again
            self.refresh_registry()
            retry = [
                item
                for item, r in _rejected_items(raw, result)
                if r.reason.startswith(_REGISTRY_REASONS)
            ]
            again = self.store.accept(party, retry)
            keep = [r for r in result.rejected if not r.reason.startswith(_REGISTRY_REASONS)]
            result = Accepted(
                result.stored + again.stored,
                result.new + again.new,
                keep + again.rejected,
                result.recipients | again.recipients,
            )
        if self.audit is not None and (result.new or result.rejected):
            entries: list[tuple[str, dict[str, Any]]] = [
                ("message", {"relay_id": rid, "message": msg.model_dump()})
                for rid, msg in result.new
            ]
            entries += [
                ("rejected", {"party": party.name, "id": r.id, "reason": r.reason})
                for r in result.rejected
            ]
            self.audit.append_many(entries)
        return result

    def register_key(self, party: PartyRecord, public_key_hex: str) -> None:
        """Register or replace ``party``'s verify key; a change is audited (entry ``key``).

        :class:`KeyTakenError` when another party holds the key. The entry (the party, the
        old and new key fingerprints) is appended before the change commits, so no change
        goes unlogged.
        """

        def audit(old: str | None, new: str) -> None:
            if self.audit is not None:
                self.audit.append(
                    "key",
                    {
                        "party": party.name,
                        "old": key_fingerprint(old) if old is not None else None,
                        "new": key_fingerprint(new),
                    },
                )

        self.store.register_key(party.id, public_key_hex, on_change=audit)

    def head(self) -> dict[str, Any] | None:
        """The audit log's signed head (None without a log)."""
        return self.audit.head() if self.audit is not None else None

    def escalate(self, now: float) -> list[Overdue]:
        """Raise an escalation for each request newly past its deadline."""
        fresh = self.store.escalate(now)
        if fresh and self.audit is not None:
            self.audit.append_many(
                [
                    (
                        "escalation",
                        {
                            "id": o.msg_id,
                            "sender": o.sender,
                            "to": o.to,
                            "due_at": o.due_at,
                            "reason": "request unanswered past its deadline",
                        },
                    )
                    for o in fresh
                ]
            )
        return fresh

    async def run_escalations(self) -> None:
        """Check deadlines every second, forever (a background task)."""
        while True:
            await asyncio.sleep(ESCALATION_INTERVAL_S)
            try:
                fresh = await asyncio.to_thread(self.escalate, time.time())
            except Exception:  # a database hiccup must not end the deadline watch
                log.exception("deadline check failed")
                continue
            for o in fresh:
                log.warning("ESCALATION: %s owes %s a response to %s", o.to, o.sender, o.msg_id)
            for listener in self.escalation_listeners:
                listener(fresh)


_REGISTRY_REASONS = ("party ", "unknown recipient")


def _rejected_items(raw: list[Any], result: Accepted) -> list[tuple[Any, Rejected]]:
    """Pair each refusal with the raw item it refers to (by id)."""
    by_id = {item.get("id"): item for item in raw if isinstance(item, dict)}
    return [(by_id[r.id], r) for r in result.rejected if r.id in by_id]


def relay_router(relay: Relay) -> APIRouter:
    """The ``/hotline`` routes of ``relay``."""
    router = APIRouter(prefix="/hotline", tags=["hotline"])

    @router.put("/key", operation_id="hotline_register_key")
    def register_key(party: Party, body: KeyIn) -> dict[str, str]:
        """Register (or replace) the caller's Ed25519 verify key."""
        if not relay.can_register_keys:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                detail="register keys with the broker; the backup copies them",
            )
        try:
            relay.register_key(party, body.public_key)
        except KeyTakenError as err:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from None
        return {"party": party.name, "public_key": body.public_key.lower()}

    @router.get("/keys", operation_id="hotline_keys")
    def keys(
        party: Party,
        name: Annotated[list[str], Query(max_length=100, description="Party names")],
    ) -> dict[str, str]:
        """The verify keys of the named live parties, so recipients check signatures.

        Only names the caller already knows (from a message, or the agreement) are
        answered: the list of parties itself is not disclosed.
        """
        known = relay.store.keys()
        return {n: known[n] for n in name if n in known}

    @router.get("/whoami", operation_id="hotline_whoami")
    def whoami(party: Party) -> dict[str, Any]:
        """The caller's party name, whether it is the admin, and this relay's name."""
        return {"party": party.name, "admin": party.is_admin, "relay": relay.name}

    @router.post("/messages", operation_id="hotline_send", response_model=SendOut)
    async def send(party: Party, body: SendIn) -> SendOut:
        """Store signed messages (committed and audited) and wake their recipients."""
        result = await asyncio.to_thread(relay.accept, party, body.messages)
        relay.notifier.notify(result.recipients)
        return _send_out(relay, result)

    @router.get("/inbox", operation_id="hotline_inbox", response_model=InboxOut)
    async def inbox(
        party: Party,
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        wait_s: Annotated[float, Query(ge=0, le=30)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_BATCH)] = 500,
    ) -> InboxOut:
        """Unacknowledged deliveries with id > ``after``; waits up to ``wait_s`` for one."""
        deadline = time.monotonic() + wait_s
        while True:
            rows = await asyncio.to_thread(relay.store.pending, party.id, after=after, limit=limit)
            left = deadline - time.monotonic()
            if rows or left <= 0:
                return InboxOut(deliveries=[_delivery(d, m) for d, m in rows])
            await relay.notifier.wait(party.id, min(left, 1.0))

    @router.post("/inbox/ack", operation_id="hotline_ack")
    async def ack(party: Party, body: AckIdsIn) -> dict[str, int]:
        """Acknowledge deliveries the caller committed; they are not sent again."""
        n = await asyncio.to_thread(relay.store.mark_delivered, party.id, body.ids)
        return {"acked": n}

    @router.get("/overdue", operation_id="hotline_overdue", response_model=list[OverdueOut])
    def overdue(party: Party) -> list[OverdueOut]:
        """Requests the caller sent or received whose response deadline has passed."""
        now = time.time()
        return [_overdue_out(o, now) for o in relay.store.overdue(now, party.name)]

    @router.get("/recent", operation_id="hotline_recent", response_model=list[RecentOut])
    def recent(
        party: Party, limit: Annotated[int, Query(ge=1, le=MAX_BATCH)] = 50
    ) -> list[RecentOut]:
        """The newest messages the caller sent or received (the admin: all), newest first.

        Read-only: acknowledged or not, nothing changes (the live map's hotline panel).
        """
        rows = relay.store.recent(None if party.is_admin else party, limit)
        return [RecentOut(relay_id=i, received_at=t, message=json.loads(m)) for i, t, m in rows]

    @router.get("/channel", operation_id="hotline_channel", response_model=ChannelOut)
    def channel(party: Party) -> ChannelOut:
        """Whether the caller's hotline clients hold this relay's WebSocket now."""
        return ChannelOut(
            relay=relay.name,
            connected=relay.connections.get(party.name, 0) > 0,
            since=relay.connections_since.get(party.name),
            parties=(
                {name: n > 0 for name, n in sorted(relay.connections.items())}
                if party.is_admin
                else None
            ),
        )

    @router.get("/head", operation_id="hotline_audit_head")
    def head(party: Party) -> dict[str, Any]:
        """The relay's signed audit-log head: keep it, to catch a rewritten log later."""
        signed = relay.head()
        if signed is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="this relay keeps no audit log")
        return signed

    @router.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        """Primary channel: send frames, receive pushed deliveries, ping/pong heartbeat.

        Frames in: ``{"type": "send", "messages": [...]}``, ``{"type": "ack", "ids": [...]}``,
        ``{"type": "ping"}``. Frames out: ``stored`` (the send's outcome), ``deliver``,
        ``pong``, ``escalation``, ``error``.
        """
        try:
            party = authenticate(websocket, websocket_token(websocket))
        except HTTPException as err:
            await refuse_websocket(websocket, err)  # 429 where over the failed-auth limit
            return
        await websocket.accept()
        relay.connected(party.name, +1)
        pusher = asyncio.create_task(_push(relay, websocket, party))
        # Pings are answered at once; sends and acks queue for one worker, in order, so a
        # large commit never delays the heartbeat.
        work: asyncio.Queue[str] = asyncio.Queue(maxsize=64)
        worker = asyncio.create_task(_work(relay, websocket, party, work))
        listener = _escalation_pusher(websocket, party)
        relay.escalation_listeners.append(listener)
        try:
            while True:
                try:
                    frame = await receive_text(websocket)
                except InputError as err:  # a binary frame
                    await websocket.send_text(_error_frame(422, str(err)))
                    continue
                if frame.startswith('{"type":"ping"') or frame.startswith('{"type": "ping"'):
                    await websocket.send_text(frame.replace("ping", "pong", 1))
                else:
                    await work.put(frame)
        except WebSocketDisconnect:
            pass
        finally:
            relay.connected(party.name, -1)
            relay.escalation_listeners.remove(listener)
            for task in (pusher, worker):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    return router


async def _work(
    relay: Relay, websocket: WebSocket, party: PartyRecord, work: asyncio.Queue[str]
) -> None:
    while True:
        frame = await work.get()
        try:
            await _handle_frame(relay, websocket, party, frame)
        except (WebSocketDisconnect, RuntimeError):
            return  # the connection is gone; the reader ends the handler
        except Exception:  # never leave a live connection without its worker
            log.exception("hotline frame failed")


async def _handle_frame(relay: Relay, websocket: WebSocket, party: PartyRecord, frame: str) -> None:
    try:
        data = parse_json(frame, "frame")  # nesting deeper than MAX_DEPTH: InputError
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "ping":
            await websocket.send_text(json.dumps({"type": "pong", "t": data.get("t")}))
        elif kind == "ack":
            ids = [int(i) for i in data.get("ids", [])][: 10 * MAX_BATCH]
            await asyncio.to_thread(relay.store.mark_delivered, party.id, ids)
        elif kind == "send":
            messages = data.get("messages")
            if not isinstance(messages, list) or len(messages) > MAX_BATCH:
                raise InputError(f"messages: expected a list of at most {MAX_BATCH}")
            result = await asyncio.to_thread(relay.accept, party, messages)
            relay.notifier.notify(result.recipients)
            out = _send_out(relay, result).model_dump()
            await websocket.send_text(json.dumps({"type": "stored", **out}))
        else:
            raise InputError("type: expected 'send', 'ack' or 'ping'")
    except (ValueError, TypeError, InputError) as err:
        detail = str(err).splitlines()[0] if str(err) else "bad frame"
        await websocket.send_text(_error_frame(422, detail))
    except SQLAlchemyError as err:  # the connection survives a database hiccup
        log.warning("hotline frame failed: %s", err)
        await websocket.send_text(
            json.dumps({"type": "error", "status": 503, "detail": "database unavailable"})
        )


async def _push(relay: Relay, websocket: WebSocket, party: PartyRecord) -> None:
    """Send every unacknowledged delivery once per connection, as they arrive."""
    sent = 0
    while True:
        rows = await asyncio.to_thread(relay.store.pending, party.id, after=sent, limit=500)
        if rows:
            deliveries = [{"d": d, "message": json.loads(m)} for d, m in rows]
            await websocket.send_text(json.dumps({"type": "deliver", "deliveries": deliveries}))
            sent = rows[-1][0]
        else:
            await relay.notifier.wait(party.id, 1.0)


def _escalation_pusher(websocket: WebSocket, party: PartyRecord) -> Callable[[list[Overdue]], None]:
    loop = asyncio.get_running_loop()

    def listener(fresh: list[Overdue]) -> None:
        mine = [o for o in fresh if party.name in (o.sender, o.to) or o.to == "all"]
        for o in mine:
            frame = {"type": "escalation", **_overdue_out(o, time.time()).model_dump()}
            task = loop.create_task(_send_quietly(websocket, frame))
            _BACKGROUND.add(task)
            task.add_done_callback(_BACKGROUND.discard)

    return listener


async def _send_quietly(websocket: WebSocket, frame: dict[str, Any]) -> None:
    with contextlib.suppress(Exception):
        await websocket.send_text(json.dumps(frame))


def _error_frame(status_code: int, detail: str) -> str:
    return json.dumps({"type": "error", "status": status_code, "detail": detail})


def _send_out(relay: Relay, result: Accepted) -> SendOut:
    return SendOut(
        stored=result.stored,
        rejected=[RejectedOut(id=r.id, reason=r.reason) for r in result.rejected],
        head=relay.head(),
    )


def _delivery(d: int, message: str) -> Delivery:
    return Delivery(d=d, message=json.loads(message))


def _overdue_out(o: Overdue, now: float) -> OverdueOut:
    return OverdueOut(
        id=o.msg_id,
        sender=o.sender,
        to=o.to,
        body=o.body,
        sent_at=o.sent_at,
        due_at=o.due_at,
        overdue_s=max(0.0, now - o.due_at),
        escalated=o.escalated_at is not None,
    )
