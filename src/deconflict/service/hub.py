"""Fan-out of alert events to the WebSocket subscribers allowed to see them."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

from deconflict.store.records import AlertRecord

QUEUE_LIMIT = 10_000


@dataclass(eq=False)
class Subscriber:
    """One connection: its party, its role and the queue it reads."""

    party_id: int
    is_admin: bool
    queue: asyncio.Queue[AlertRecord | dict[str, Any]]
    loop: asyncio.AbstractEventLoop


class Hub:
    """Thread-safe: the detection thread publishes, the event loop delivers."""

    def __init__(self) -> None:
        self._subs: set[Subscriber] = set()
        self._lock = threading.Lock()

    def subscribe(self, party_id: int, is_admin: bool) -> Subscriber:
        """Register a connection of ``party_id`` on the running event loop."""
        sub = Subscriber(party_id, is_admin, asyncio.Queue(QUEUE_LIMIT), asyncio.get_running_loop())
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        """Forget a closed connection."""
        with self._lock:
            self._subs.discard(sub)

    def publish(self, records: list[AlertRecord]) -> None:
        """Queue each record for its own party's connections and for admins."""
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            mine = [r for r in records if sub.is_admin or r.party_id == sub.party_id]
            for r in mine:
                sub.loop.call_soon_threadsafe(_offer, sub.queue, r)

    def announce(self, frame: dict[str, Any]) -> None:
        """Queue one frame (a lockstep ``cycle``) for every connection, after what is queued."""
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.loop.call_soon_threadsafe(_offer, sub.queue, frame)


def _offer(
    queue: asyncio.Queue[AlertRecord | dict[str, Any]], record: AlertRecord | dict[str, Any]
) -> None:
    if not queue.full():  # a client that never reads loses pushes, not the broker's memory
        queue.put_nowait(record)
