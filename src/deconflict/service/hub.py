"""Fan-out of alert events (and the map's pictures) to the subscribers allowed to see them."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

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

    def publish_picture(self, picture: Picture) -> None:
        """Hand each map connection the newest picture (each sees only its own aircraft).

        Nothing is encoded here: a connection encodes the frame it may see when it sends
        it (:meth:`Picture.text`, once per party), so pictures a slow map skips cost nothing.
        """
        with self._lock:
            subs = [s for s in self._subs if s.wants_picture]
        for sub in subs:
            sub.loop.call_soon_threadsafe(_offer_picture, sub, picture)


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
