"""A party's hotline client: a primary and a backup channel, failover, exactly-once inbox.

The client chooses its channels once (:mod:`deconflict.hotline.channels`): the primary
is the broker's WebSocket, or NATS JetStream when a NATS URL is given; the backup is
the backup relay over HTTP.

Sending: every message is committed to the outbox first, then sent on the primary.
A send the primary does not confirm within ``ack_timeout_s``, or a heartbeat
unanswered for ``dead_after_s``, marks the primary down and the outbox drains through
the backup instead; the primary channel keeps reconnecting and the client switches
back once it answers again. Nothing leaves the outbox until a relay confirmed it
committed, so a message may reach both relays: that is safe, because receiving
de-duplicates.

Receiving: the client reads both channels all the time, checks each sender's
signature against the registered keys, commits arrivals to the inbox, and only then
acknowledges them to the relay. The inbox releases each message once, in its
stream's order (a stream: one sender's direct messages to us, or its broadcasts).
Released messages (but acks) are answered end to end with signed ``ack`` messages,
one per sender and batch, listing the acknowledged ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from nacl.signing import SigningKey

from deconflict.errors import InputError
from deconflict.hotline.channels.base import DEFAULT_TIMING, Channel, Link, Relayed, Timing
from deconflict.hotline.channels.http import HttpChannel
from deconflict.hotline.channels.websocket import WebSocketChannel
from deconflict.hotline.client_store import ClientStore, Draft
from deconflict.hotline.config import ClientConfig
from deconflict.hotline.keys import load_key_file, public_hex
from deconflict.hotline.messages import Message, new_message, parse_message, verify

log = logging.getLogger(__name__)

Handler = Callable[[list[Message]], Awaitable[None] | None]


@dataclass
class Stats:
    """What the client has seen (for the CLI and the benchmark)."""

    failovers: int = 0
    recoveries: int = 0
    primary_up: bool = False
    last_switch_at: float = 0.0
    sent_primary: int = 0
    sent_backup: int = 0
    received: dict[str, int] = field(default_factory=lambda: {"primary": 0, "backup": 0, "nats": 0})
    bad_signatures: int = 0
    resent: int = 0


#: Most ids one ``ack`` acknowledges (its body stays under the body limit).
ACKS_PER_MESSAGE = 250


def ack_items(released: list[Message]) -> list[tuple[str, str, str, str | None, float | None]]:
    """Signed-ack items answering ``released``: one per sender and 250 messages.

    The body lists the acknowledged ids (``{"acks": [...]}``); ``in_reply_to`` is the
    first. Acks themselves are not acknowledged.
    """
    by_sender: dict[str, list[str]] = {}
    for m in released:
        if m.kind != "ack":
            by_sender.setdefault(m.sender, []).append(m.id)
    items: list[tuple[str, str, str, str | None, float | None]] = []
    for sender, ids in by_sender.items():
        for k in range(0, len(ids), ACKS_PER_MESSAGE):
            chunk = ids[k : k + ACKS_PER_MESSAGE]
            items.append(("ack", sender, json.dumps({"acks": chunk}), chunk[0], None))
    return items


class HotlineClient:
    """One party's connection to the hotline (run inside an asyncio loop)."""

    def __init__(
        self,
        store: ClientStore,
        key: SigningKey,
        token: str,
        broker_url: str,
        backup_url: str | None = None,
        *,
        timing: Timing = DEFAULT_TIMING,
        on_message: Handler | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        auto_ack: bool = True,
        nats_url: str | None = None,
        nats_prefix: str = "hotline",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.key = key
        self.token = token
        self.broker_url = broker_url.rstrip("/")
        self.backup_url = backup_url.rstrip("/") if backup_url else None
        self.timing = timing
        self.on_message = on_message
        self.on_event = on_event
        self.auto_ack = auto_ack
        #: Each message's ``ts`` (Unix s): the wall clock, or an exercise's scenario clock.
        self.clock = clock
        self.stats = Stats()
        self.party: str | None = None
        #: The store was made for this client: :meth:`start` removes it again if it fails.
        self.new_store = False
        self._keys: dict[str, str] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._started = 0.0
        self._http = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {token}"},
            timeout=timing.http_timeout_s,
            trust_env=False,
        )
        self._link = Link(self._accept, self._primary_up, self._primary_down, self._event)
        #: The primary channel: NATS JetStream when ``nats_url`` is set, else the broker's
        #: WebSocket. Chosen here, once.
        self.primary: Channel
        if nats_url:
            from deconflict.hotline.channels.nats import NatsChannel  # nats-py only when used

            self.primary = NatsChannel(nats_url, prefix=nats_prefix, timing=timing)
        else:
            self.primary = WebSocketChannel(self.broker_url, token, timing)
        #: The backup channel: the backup relay over HTTP (None without a backup URL).
        self.backup: Channel | None = (
            HttpChannel(self.backup_url, self._http, timing) if self.backup_url else None
        )

    @classmethod
    def from_config(cls, config: ClientConfig, **kwargs: Any) -> HotlineClient:
        """A client with the settings ``config`` (keyword arguments as for the class).

        The key is loaded before the store is made, so a bad key leaves no file; a store
        made here is :attr:`new_store`.
        """
        if config.key_file is None:
            raise InputError("no signing key: the hotline signs every message (--key-file)")
        key = load_key_file(config.key_file)
        new_store = not config.store.exists()
        client = cls(
            ClientStore(config.store),
            key,
            config.token,
            config.broker_url,
            config.backup_url,
            nats_url=config.nats_url,
            **kwargs,
        )
        client.new_store = new_store
        return client

    # -- life cycle ------------------------------------------------------------------

    async def start(self, *, receive: bool = True) -> None:
        """Learn who we are, register our key, and start the channel tasks.

        ``receive=False`` does not read the backup (a one-shot sender); what arrives on the
        primary is still committed to the inbox. When that fails (a refused token, or no
        relay answering for a party never seen) a :attr:`new_store` with nothing in its
        outbox is removed again: a failed start leaves nothing behind.
        """
        try:
            await self._introduce()
        except InputError:
            if self.new_store and self.store.outbox_counts()["total"] == 0:
                self.store.delete()
            raise
        assert self.party is not None
        self._started = time.monotonic()
        self._tasks.append(asyncio.create_task(self.primary.run(self.party, self._link)))
        self._tasks.append(asyncio.create_task(self._sender_loop()))
        self._tasks.append(asyncio.create_task(self._resend_loop()))
        if receive and self.backup is not None:
            self._tasks.append(asyncio.create_task(self.backup.run(self.party, self._link)))

    async def stop(self) -> None:
        """Stop every task and close connections (the stores stay as they are).

        A cancellation can be lost when it meets a finishing ``asyncio.wait_for`` (Python
        3.11), so a task still running after 1 s is cancelled again.
        """
        pending = set(self._tasks)
        while pending:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=1.0)
        for task in self._tasks:
            if not task.cancelled() and task.exception() is not None:
                log.debug("hotline task ended: %r", task.exception())
        self._tasks.clear()
        await self._http.aclose()

    async def _introduce(self) -> None:
        """Ask who we are and register our key (the broker; the backup if it is down)."""
        me = public_hex(self.key)
        errors = []
        for base in [self.broker_url, self.backup_url]:
            if base is None:
                continue
            try:
                who = await self._http.get(f"{base}/hotline/whoami")
                if who.status_code == 401:
                    raise InputError(f"{base}: the token was refused (unknown or revoked)")
                who.raise_for_status()
                self.party = str(who.json()["party"])
                await asyncio.to_thread(self.store.bind_party, self.party, me)  # or InputError
                if base == self.broker_url:
                    mine = {"name": [self.party]}
                    keys = (await self._http.get(f"{base}/hotline/keys", params=mine)).json()
                    if keys.get(self.party) != me:
                        put = await self._http.put(f"{base}/hotline/key", json={"public_key": me})
                        if put.status_code == 409:
                            raise InputError(f"{base}: key refused: {_detail(put)}")
                        put.raise_for_status()
                return
            except httpx.HTTPError as err:
                errors.append(f"{base}: {err.__class__.__name__}")
        party = self.store.get_meta("party")
        if not party:
            raise InputError("no relay answers (" + "; ".join(errors) + ")")
        self.party = party  # both relays down: queue locally, send when one answers

    async def _refresh_keys(self, names: set[str]) -> None:
        """Fetch the verify keys of these senders (the broker, else the backup)."""
        for url in [self.broker_url, self.backup_url]:
            if url is None:
                continue
            with contextlib.suppress(httpx.HTTPError, ValueError):
                resp = await self._http.get(f"{url}/hotline/keys", params={"name": sorted(names)})
                if resp.status_code == 200:
                    self._keys.update(resp.json())
                    return

    # -- sending ---------------------------------------------------------------------

    async def send(
        self,
        kind: str,
        to: str,
        body: str,
        *,
        in_reply_to: str | None = None,
        deadline_s: float | None = None,
    ) -> Message:
        """Commit a signed message to the outbox and wake the sender; returns it."""
        return (await self.send_many([(kind, to, body, in_reply_to, deadline_s)]))[0]

    async def send_many(
        self, items: list[tuple[str, str, str, str | None, float | None]]
    ) -> list[Message]:
        """Commit several messages (kind, to, body, in_reply_to, deadline_s) at once."""
        if self.party is None:
            raise InputError("the client is not started")
        msgs = await asyncio.to_thread(self.store.enqueue_many, self._builders(items))
        self._wake.set()
        return msgs

    def _builders(self, items: list[tuple[str, str, str, str | None, float | None]]) -> list[Draft]:
        """One draft per (kind, to, body, in_reply_to, deadline_s): its stream and its signer."""
        sender = self.party
        assert sender is not None

        def builder(item: tuple[str, str, str, str | None, float | None]) -> Draft:
            kind, to, body, reply, deadline = item
            return to, lambda seq: new_message(
                self.key,
                kind=kind,
                sender=sender,
                to=to,
                seq=seq,
                body=body,
                in_reply_to=reply,
                deadline_s=deadline,
                ts=self.clock(),
            )

        return [builder(i) for i in items]

    async def wait_relayed(self, msg_id: str, timeout_s: float) -> str | None:
        """Wait until a relay holds ``msg_id``; its name ('primary'/'backup'), else None."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            row = self.store.outbox_row(msg_id)
            if row and row["relayed_via"]:
                return str(row["relayed_via"])
            refused = self.store.refusal(msg_id)
            if refused is not None:
                raise InputError(f"message refused by the relay: {refused}")
            await asyncio.sleep(0.02)
        return None

    async def wait_acked(self, msg_id: str, timeout_s: float) -> bool:
        """Wait for the recipient's signed ack of ``msg_id``; False after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            row = self.store.outbox_row(msg_id)
            if row and row["acked_at"]:
                return True
            await asyncio.sleep(0.02)
        return False

    async def _sender_loop(self) -> None:
        while True:
            batch = await asyncio.to_thread(self.store.unrelayed, 500)
            if not batch:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 0.5)
                continue
            if not self.stats.primary_up and (
                time.monotonic() - self._started < self.timing.dead_after_s
            ):  # just started: give the primary a moment to connect before using the backup
                await asyncio.sleep(0.02)
                continue
            if not await self._send_active(batch):
                await asyncio.sleep(self.timing.reconnect_s)

    async def _send_active(self, batch: list[Message]) -> bool:
        """Send on the primary when it is up, else (or if that fails) on the backup."""
        if self.stats.primary_up and await self._send_on(self.primary, batch):
            return True
        return self.backup is not None and await self._send_on(self.backup, batch)

    async def _send_on(self, channel: Channel, batch: list[Message]) -> bool:
        """Send ``batch`` on ``channel`` and settle what its relay answered."""
        relayed = await channel.send(batch)
        if relayed is None:
            return False
        await self._settle(relayed, channel.name)
        if channel is self.primary:
            self.stats.sent_primary += len(relayed.stored)
        else:
            self.stats.sent_backup += len(relayed.stored)
        return True

    async def _resend_loop(self) -> None:
        """Send stranded messages (see :meth:`ClientStore.stranded`) on the channel now up."""
        while True:
            await asyncio.sleep(0.2)
            if time.monotonic() - self._started < self.timing.dead_after_s:
                continue
            active = "primary" if self.stats.primary_up else "backup"
            if active == "backup" and self.backup is None:
                continue
            batch = await asyncio.to_thread(self.store.stranded, active, time.time())
            if batch and await self._send_active(batch):
                await asyncio.to_thread(self.store.mark_resent, [m.id for m in batch])
                self.stats.resent += len(batch)

    async def _settle(self, relayed: Relayed, via: str) -> None:
        await asyncio.to_thread(self.store.mark_relayed, relayed.stored, via)
        if relayed.rejected:
            kept = await asyncio.to_thread(self.store.refuse, relayed.rejected)
            self._event(
                {"type": "rejected", "via": via, "rejected": relayed.rejected, "gaps": kept}
            )
        if relayed.head:
            await asyncio.to_thread(self.store.save_head, via, relayed.head)

    # -- the primary channel's state ---------------------------------------------------

    def _primary_up(self) -> None:
        if not self.stats.primary_up:
            self.stats.primary_up = True
            event: dict[str, Any] = {"type": "primary_up", "channel": self.primary.label}
            now = time.time()
            if self.stats.failovers:
                self.stats.recoveries += 1
                event["down_s"] = now - self.stats.last_switch_at
            self.stats.last_switch_at = now
            self._event(event)
            self._wake.set()

    def _primary_down(self, why: str) -> None:
        if self.stats.primary_up:
            self.stats.primary_up = False
            self.stats.failovers += 1
            self.stats.last_switch_at = time.time()
            self._event(
                {"type": "primary_down", "reason": why, "backup": self.backup_url is not None}
            )
            self._wake.set()

    # -- receiving -------------------------------------------------------------------

    async def _accept(self, raw: list[dict[str, Any]], via: str) -> int:
        """Verify, commit and release arrivals; acknowledge what was released. Returns how many.

        A message that is malformed or not signed by its sender's registered key is
        dropped (and reported): a relay cannot forge or alter a party's message.
        """
        parsed: list[Message] = []
        for item in raw:
            try:
                parsed.append(parse_message(item))
            except InputError:
                self.stats.bad_signatures += 1
        unknown = {m.sender for m in parsed if m.sender not in self._keys}
        if unknown:
            await self._refresh_keys(unknown)
        keys = dict(self._keys)
        valid = await asyncio.to_thread(lambda: [verify(m, keys.get(m.sender, "")) for m in parsed])
        good = [m for m, ok in zip(parsed, valid, strict=True) if ok]
        for m, ok in zip(parsed, valid, strict=True):
            if not ok:
                self.stats.bad_signatures += 1
                self._event({"type": "bad_signature", "id": m.id, "sender": m.sender})
        self.stats.received[via] += len(good)
        answer = (lambda rel: self._builders(ack_items(rel))) if self.auto_ack else None
        released = await asyncio.to_thread(self.store.receive, good, via, answer)
        if released:
            self._wake.set()  # the acks committed with the release
            if self.on_message is not None:
                result = self.on_message(released)
                if asyncio.iscoroutine(result):
                    await result
        return len(good)

    def _event(self, event: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event({**event, "at": time.time()})


def _detail(resp: httpx.Response) -> str:
    """The one-line ``detail`` of an error response (else its status)."""
    try:
        detail = resp.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail) if isinstance(detail, str) else f"HTTP {resp.status_code}"


def describe_event(event: dict[str, Any]) -> str | None:
    """A one-line status for people (``hotline: …``) for a client event; None for silence.

    Events: ``primary_up`` / ``primary_down`` (channel switches), ``rejected`` (a relay
    refused messages of ours), ``bad_signature`` (a delivered message failed its check).
    Escalations have their own line.
    """
    kind = event.get("type")
    if kind == "primary_up":
        channel = event.get("channel", "primary")
        if "down_s" in event:
            return f"hotline: back on the primary channel ({channel}) after {event['down_s']:.1f} s"
        return f"hotline: primary channel up ({channel})"
    if kind == "primary_down":
        why = event.get("reason", "")
        if event.get("backup"):
            return f"hotline: switched to backup channel ({why})"
        return (
            f"hotline: primary channel down ({why}); no backup relay: messages wait in the outbox"
        )
    if kind == "rejected":
        items = event.get("rejected", [])
        shown = "; ".join(f"{i}: {r}" for i, r in items[:3]) + ("; …" if len(items) > 3 else "")
        line = f"hotline: the {event.get('via', '')} relay refused {len(items)} message(s): {shown}"
        gaps = event.get("gaps") or []
        if gaps:
            line += (
                f" ({len(gaps)} of them had later messages numbered after them: their"
                " recipients hold those later messages back)"
            )
        return line
    if kind == "bad_signature":
        return (
            f"hotline: dropped message {event.get('id')} from {event.get('sender')}: "
            "not signed by the sender's registered key"
        )
    return None
