"""Fan-out of alert events to the WebSocket subscribers allowed to see them.

A cycle's events are grouped by party once (array ops), and each connection gets its
share in one hand-over to its event loop, not one per event.
"""

from __future__ import annotations

import asyncio
import operator
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

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
        """Queue each record, in order, for its own party's connections and for admins."""
        with self._lock:
            subs = list(self._subs)
        if not subs or not records:
            return
        by_party = group_by_party(records)
        for sub in subs:
            mine = records if sub.is_admin else by_party.get(sub.party_id)
            if mine:
                sub.loop.call_soon_threadsafe(_offer_many, sub.queue, mine)

    def announce(self, frame: dict[str, Any]) -> None:
        """Queue one frame (a lockstep ``cycle``) for every connection, after what is queued."""
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.loop.call_soon_threadsafe(_offer, sub.queue, frame)


def group_by_party(records: list[AlertRecord]) -> dict[int, list[AlertRecord]]:
    """The records of each party, each list in the order given (one stable sort by party).

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class R:
    ...     party_id: int
    >>> group_by_party([R(2), R(1), R(2)])
    {1: [R(party_id=1)], 2: [R(party_id=2), R(party_id=2)]}
    """
    party = np.fromiter(
        map(operator.attrgetter("party_id"), records), dtype=np.int64, count=len(records)
    )
    order = np.argsort(party, kind="stable")
    ids, starts = np.unique(party[order], return_index=True)
    ordered = [records[i] for i in order.tolist()]
    bounds = [*starts.tolist(), len(records)]
    return {
        int(p): ordered[bounds[k] : bounds[k + 1]]  # over parties (few)
        for k, p in enumerate(ids.tolist())
    }


def _offer_many(
    queue: asyncio.Queue[AlertRecord | dict[str, Any]], records: list[AlertRecord]
) -> None:
    for record in records:
        _offer(queue, record)


def _offer(
    queue: asyncio.Queue[AlertRecord | dict[str, Any]], record: AlertRecord | dict[str, Any]
) -> None:
    if not queue.full():  # a client that never reads loses pushes, not the broker's memory
        queue.put_nowait(record)
