"""Fan-out of alert events (and the map's pictures) to the subscribers allowed to see them.

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

from deconflict.service.picture import Picture
from deconflict.store.records import AlertRecord

QUEUE_LIMIT = 10_000


class PictureDue:
    """Queue marker: the latest picture frame is waiting (:attr:`Subscriber.picture`)."""


PICTURE_DUE = PictureDue()

Pushed = AlertRecord | dict[str, Any] | PictureDue


@dataclass(eq=False)
class Subscriber:
    """One connection: its party, its role, the queue it reads, and its map feed.

    ``wants_picture``: the connection asked for the map feed. ``picture`` holds the
    latest picture not yet sent (encoded only when sent): a slow reader skips to the
    newest picture instead of queueing old ones.
    """

    party_id: int
    is_admin: bool
    queue: asyncio.Queue[Pushed]
    loop: asyncio.AbstractEventLoop
    wants_picture: bool = False
    picture: Picture | None = None
    #: The client took its last picture (flow control: one picture in flight).
    ready: bool = True

    @property
    def viewer(self) -> int | None:
        """Whose aircraft the pictures show: the party's id, None for an admin (all)."""
        return None if self.is_admin else self.party_id

    def take_picture(self) -> Picture | None:
        """The picture to send now (event loop only), or None: none, or one is in flight."""
        if not self.ready or self.picture is None:
            return None
        picture, self.picture, self.ready = self.picture, None, False
        return picture

    def ready_for_picture(self) -> None:
        """The client took the last picture: send the newest one, now if one waits."""
        self.ready = True
        if self.picture is not None:
            _offer(self.queue, PICTURE_DUE)


class Hub:
    """Thread-safe: the detection thread publishes, the event loop delivers."""

    def __init__(self) -> None:
        self._subs: set[Subscriber] = set()
        self._lock = threading.Lock()

    def subscribe(self, party_id: int, is_admin: bool, wants_picture: bool = False) -> Subscriber:
        """Register a connection of ``party_id`` on the running event loop."""
        sub = Subscriber(
            party_id,
            is_admin,
            asyncio.Queue(QUEUE_LIMIT),
            asyncio.get_running_loop(),
            wants_picture,
        )
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

    def publish_picture(self, picture: Picture) -> None:
        """Hand each map connection the newest picture (each sees only its own aircraft).

        Nothing is encoded here: a connection encodes the frame it may see when it sends
        it (:meth:`Picture.text`, once per party), so pictures a slow map skips cost nothing.
        """
        with self._lock:
            subs = [s for s in self._subs if s.wants_picture]
        for sub in subs:
            sub.loop.call_soon_threadsafe(_offer_picture, sub, picture)


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


def _offer_many(queue: asyncio.Queue[Pushed], records: list[AlertRecord]) -> None:
    for record in records:
        _offer(queue, record)


def _offer(queue: asyncio.Queue[Pushed], record: Pushed) -> None:
    if not queue.full():  # a client that never reads loses pushes, not the broker's memory
        queue.put_nowait(record)


def _offer_picture(sub: Subscriber, picture: Picture) -> None:
    due = sub.picture is not None
    sub.picture = picture  # the newest replaces one not sent yet
    if due or not sub.ready:
        return  # already announced, or sent when the client says it is ready
    if sub.queue.full():
        sub.picture = None
    else:
        sub.queue.put_nowait(PICTURE_DUE)
