"""Track retention: the broker deletes track states older than ``track_retention_s``.

The ``track_states`` table holds the live picture's recent history (what a restart
reads back, what ``GET /tracks`` shows), not the record: alerts, overlaps and the
hotline's messages are never pruned. :class:`TrackPruner` deletes, in a background
thread, every state the broker received more than the retention ago (its own clock,
``received_at``, never a party's), every :func:`prune_every_s`, so the table holds
about ``retention × states/s`` rows and a broker can run for days.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from deconflict.store.repository import Repository

log = logging.getLogger(__name__)

#: Longest interval between two prunes (s): each delete stays small (a few seconds of states).
PRUNE_EVERY_S = 2.0


def prune_every_s(retention_s: float) -> float:
    """How often to prune (s): :data:`PRUNE_EVERY_S`, or a tenth of a shorter retention.

    >>> prune_every_s(300.0), prune_every_s(5.0)
    (2.0, 0.5)
    """
    return min(PRUNE_EVERY_S, retention_s / 10.0)


class TrackPruner:
    """Deletes track states received more than ``retention_s`` ago, every so often.

    ``clock``: broker wall time (Unix s), the clock ``received_at`` is written in.
    """

    def __init__(
        self,
        repo: Repository,
        retention_s: float,
        *,
        every_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.repo = repo
        self.retention_s = retention_s
        self.every_s = prune_every_s(retention_s) if every_s is None else every_s
        self.clock = clock
        #: States deleted since the broker started.
        self.pruned = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def prune_once(self) -> int:
        """Delete what is older than the retention now; returns how many states."""
        gone = self.repo.prune_tracks(self.clock() - self.retention_s)
        self.pruned += gone
        return gone

    def start(self) -> None:
        """Prune in a background thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="track-retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                gone = self.prune_once()
            except Exception:  # keep the broker alive; the failure is logged with its trace
                log.exception("pruning track states failed")
                continue
            if gone:
                log.debug("pruned %d track states", gone)
