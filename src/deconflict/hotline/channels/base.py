"""What every hotline channel offers its client: a small transport protocol.

httpx's transports are the model: the client holds channels and calls the same few
methods on each, never asking which kind it holds. A channel carries signed messages
between one party and one relay: :meth:`Channel.send` hands a batch over and returns
what the relay confirmed it holds; :meth:`Channel.run` keeps the channel connected and
hands what arrives to its :class:`Link`, reporting up and down as it goes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from deconflict.hotline.messages import Message


@dataclass(frozen=True)
class Timing:
    """Failover timing, s."""

    heartbeat_s: float = 0.2
    dead_after_s: float = 0.8
    ack_timeout_s: float = 2.0
    reconnect_s: float = 0.3
    poll_wait_s: float = 10.0
    http_timeout_s: float = 5.0


#: The timing used unless another is given.
DEFAULT_TIMING = Timing()


@dataclass(frozen=True)
class Relayed:
    """A relay's answer to a send: what it holds now, what it refused, its audit head.

    ``stored``: the ids it holds (committed); ``rejected``: (id, reason) pairs;
    ``head``: its signed audit head (None when it keeps no log, or sent none).
    """

    stored: list[str]
    rejected: list[tuple[str, str]] = field(default_factory=list)
    head: dict[str, Any] | None = None

    @classmethod
    def from_reply(cls, reply: Mapping[str, Any]) -> Relayed:
        """From a relay's ``stored`` reply (``POST /hotline/messages``, or the frame)."""
        rejected = [(r["id"], r["reason"]) for r in reply.get("rejected", []) if r.get("id")]
        return cls(list(reply.get("stored", [])), rejected, reply.get("head") or None)


#: Verify, commit and release raw messages that arrived on channel ``via``; returns how
#: many were good. The channel acknowledges them to its relay only after this returns.
Deliver = Callable[[list[dict[str, Any]], str], Awaitable[int]]


@dataclass(frozen=True)
class Link:
    """What a channel reports to the client that owns it."""

    deliver: Deliver
    #: The channel answers (a heartbeat, a reconnection); called again and again.
    up: Callable[[], None]
    #: The channel stopped answering, with a reason for people.
    down: Callable[[str], None]
    #: Something the relay said that is not a delivery (an escalation, an error frame).
    event: Callable[[dict[str, Any]], None]


class Channel(Protocol):
    """One way between a party and a relay."""

    #: What the outbox records as ``relayed_via`` and the stats count under:
    #: ``primary`` (broker WebSocket), ``nats`` or ``backup``.
    name: str
    #: The channel for people (``broker WebSocket``, ``NATS JetStream``, …).
    label: str
    #: The address it reaches, for people.
    url: str

    async def send(self, batch: list[Message]) -> Relayed | None:
        """Hand ``batch`` to the relay; what it confirmed, else None (send it elsewhere).

        None when the channel is not connected, or the relay did not confirm in time.
        """
        ...

    async def run(self, party: str, link: Link) -> None:
        """Stay connected as ``party`` and hand arrivals to ``link``, forever (a task)."""
        ...
