"""NATS JetStream as the hotline's primary channel, for deployments at scale.

Each message is published to ``<prefix>.to.<recipient>`` (the name hex-encoded, so any
party name is one subject token) with the header ``Nats-Msg-Id: <sender>.<id>``: the
stream drops a re-sent copy inside its duplicate window, and the publish returns only
once the stream stored it (the PubAck plays the relay's "stored"). Each party reads
two durable pull consumers, its own subject and ``<prefix>.to.all``, and acknowledges a
message explicitly only after committing it to its inbox; anything unacknowledged is
redelivered after ``ack_wait_s``. NATS does not check who published: every receiver
verifies the sender's Ed25519 signature itself, as on the other channels.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import nats
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from deconflict.hotline.channels.base import DEFAULT_TIMING, Deliver, Link, Relayed, Timing
from deconflict.hotline.messages import ALL, Message

log = logging.getLogger(__name__)

#: Subject prefix and stream name used when none is given.
DEFAULT_PREFIX = "hotline"
#: How long the stream remembers message ids to drop re-sent copies, s.
DUPLICATE_WINDOW_S = 600.0
#: How long a delivered message may stay unacknowledged before it is redelivered, s.
ACK_WAIT_S = 5.0
#: How long the stream keeps a message, s (a week).
MAX_AGE_S = 7 * 24 * 3600.0


def subject_for(prefix: str, recipient: str) -> str:
    """The subject of messages to ``recipient`` (a party name, or 'all')."""
    token = "all" if recipient == ALL else recipient.encode().hex()
    return f"{prefix}.to.{token}"


class NatsChannel:
    """JetStream as a party's primary channel: one connection at a time, made again on loss."""

    name = "nats"
    label = "NATS JetStream"

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX, timing: Timing = DEFAULT_TIMING):
        self.url = url
        self.prefix = prefix
        self.timing = timing
        self._link: Link | None = None
        self._conn: JetStreamConnection | None = None

    async def run(self, party: str, link: Link) -> None:
        """Connect, pull both consumers; after a failure wait ``reconnect_s`` and start again."""
        self._link = link
        while True:
            conn = JetStreamConnection(self.url, party, prefix=self.prefix)
            try:
                await conn.connect(lambda up: link.up() if up else link.down("nats down"))
                self._conn = conn
                await conn.receive_forever(link.deliver)
            except asyncio.CancelledError:
                await conn.close()
                raise
            except Exception as err:  # no server yet, or it went away: retry
                log.warning("nats channel failed: %r", err)
            self._conn = None
            await conn.close()
            link.down("nats unavailable")
            await asyncio.sleep(self.timing.reconnect_s)

    async def send(self, batch: list[Message]) -> Relayed | None:
        """Publish; the stream's PubAcks within ``ack_timeout_s`` confirm it."""
        conn = self._conn
        if conn is None or not conn.connected:
            return None
        try:
            ids = await asyncio.wait_for(conn.publish(batch), self.timing.ack_timeout_s)
        except (TimeoutError, ConnectionError):
            if self._link is not None:
                self._link.down("no confirmation from NATS")
            return None
        return Relayed(ids)


class JetStreamConnection:
    """One party's JetStream connection: publish with de-duplication, pull with explicit acks."""

    def __init__(self, url: str, party: str, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.url = url
        self.party = party
        self.prefix = prefix
        self.stream = prefix.upper().replace(".", "_").replace("-", "_")
        self._nc: Client | None = None
        self.connected = False

    async def connect(self, on_change: Callable[[bool], None]) -> None:
        """Connect (reconnecting forever in the background) and make sure the stream exists."""

        async def down() -> None:
            self.connected = False
            on_change(False)

        async def up() -> None:
            self.connected = True
            on_change(True)

        async def error(err: Exception) -> None:
            log.debug("nats: %s", err)

        self._nc = await nats.connect(
            self.url,
            connect_timeout=2,
            reconnect_time_wait=0.3,
            max_reconnect_attempts=-1,
            ping_interval=2,
            max_outstanding_pings=3,
            disconnected_cb=down,
            reconnected_cb=up,
            error_cb=error,
            name=f"deconflict-hotline-{self.party}",
        )
        js = self._nc.jetstream()
        config = StreamConfig(
            name=self.stream,
            subjects=[f"{self.prefix}.to.>"],
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW_S,
            max_age=MAX_AGE_S,
        )
        try:
            await js.stream_info(self.stream)
        except NotFoundError:
            await js.add_stream(config)
        self.connected = True
        on_change(True)

    async def close(self) -> None:
        """Close the connection."""
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()
        self.connected = False

    async def publish(self, batch: list[Message]) -> list[str]:
        """Publish ``batch``; returns the ids the stream holds (new or already held)."""
        if self._nc is None:
            raise ConnectionError("not connected")
        js = self._nc.jetstream()

        async def one(m: Message) -> str:
            await js.publish(
                subject_for(self.prefix, m.to),
                m.to_json().encode(),
                timeout=2.0,
                stream=self.stream,
                headers={"Nats-Msg-Id": f"{m.sender}.{m.id}"},
            )
            return m.id

        try:
            return list(await asyncio.gather(*(one(m) for m in batch)))
        except (NatsError, NatsTimeout) as err:
            raise ConnectionError(f"nats publish: {err}") from err

    async def receive_forever(self, deliver: Deliver) -> None:
        """Pull both consumers, hand each batch to ``deliver``, then acknowledge it."""
        assert self._nc is not None
        js = self._nc.jetstream()
        me = self.party.encode().hex()
        subs = []
        for subject, durable in (
            (subject_for(self.prefix, self.party), f"{self.stream}_{me}"),
            (subject_for(self.prefix, ALL), f"{self.stream}_{me}_all"),
        ):
            config = ConsumerConfig(
                durable_name=durable,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=ACK_WAIT_S,
                max_ack_pending=20_000,
            )
            subs.append(await js.pull_subscribe(subject, durable=durable, config=config))
        await asyncio.gather(*(self._pull(sub, deliver) for sub in subs))

    async def _pull(self, sub: Any, deliver: Deliver) -> None:
        while True:
            try:
                msgs = await sub.fetch(500, timeout=1.0)
            except (NatsTimeout, TimeoutError):  # nothing to fetch within the second
                continue
            except NatsError as err:
                log.debug("nats fetch: %s", err)
                await asyncio.sleep(0.3)
                continue
            raw = []
            for m in msgs:
                with contextlib.suppress(ValueError):
                    raw.append(json.loads(m.data))
            mine = [r for r in raw if isinstance(r, dict) and r.get("sender") != self.party]
            await deliver(mine, NatsChannel.name)  # committed to the inbox before the acks below
            for m in msgs:
                with contextlib.suppress(NatsError, TimeoutError):
                    await m.ack()  # a lost ack only means a redelivery, removed as a duplicate
