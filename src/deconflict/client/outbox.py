"""The party client's outbox: every state waits here until the broker acknowledged it.

One SQLite file, used by one client at a time (an exclusive lock), private (created
0600 before SQLite opens it; an existing one that others could read is made 0600, its
``-wal`` and ``-shm`` companions too), in WAL mode with ``synchronous=FULL``: a state
is committed and fsynced here before it is sent, and removed only once the broker
answered that it committed the batch, so a crash of the client, of the broker or of the
link loses nothing acknowledged. A state
whose batch was committed by the broker but whose answer was lost (the broker killed
in between) is sent again: delivery is at least once.

States are kept in arrival order, unique by (``id``, ``time``): the same report queued
twice (a file replayed again before the first run's states were sent) is stored once,
and a batch never holds a duplicate the broker would refuse. States the broker
refused (422: it names the field) move to a ``refused`` table, so they do not block
the ones behind them.

An outbox belongs to one (broker URL, token): its pending states are that party's, for
that broker. Once the broker accepted the token, opening the outbox for another while
states are pending is refused; an empty one (or one whose token was never accepted) is
taken over. It also keeps the id of the last alert handed to the sink (the alert
cursor), so a restarted client prints what it missed and nothing twice. Times are Unix s.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deconflict._util import make_private
from deconflict.errors import InputError

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    time REAL NOT NULL,
    state TEXT NOT NULL,
    queued_at REAL NOT NULL,
    UNIQUE (id, time)
);
CREATE TABLE IF NOT EXISTS refused (
    n INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    refused_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

#: Meta key: the id of the last alert handed to the sink.
ALERT_CURSOR = "alert_cursor"
_OWNER = "owner"
_CONFIRMED = "owner_confirmed"


@dataclass(frozen=True)
class Pending:
    """One queued state: its outbox number and the state (the broker's input columns)."""

    n: int
    state: dict[str, Any]


class Outbox:
    """The queue of one party's unacknowledged states. Thread-safe (one connection, a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        make_private(self.path, "outbox")
        self._lock_fd = _lock(self.path)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA busy_timeout = 30000")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as err:
            os.close(self._lock_fd)
            raise InputError(f"outbox {self.path}: {err}") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the file (pending states stay in it); closing twice does nothing."""
        with self._lock:
            if self._lock_fd < 0:
                return
            self._db.close()
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = -1

    def bind(self, broker_url: str, token: str) -> None:
        """Claim the outbox for (broker, token); refused if another party's states are pending.

        The states are another party's once the broker accepted that other token
        (:meth:`confirm`); states queued under a token the broker never accepted (a typo)
        are taken over. Taking over forgets the previous owner's alert cursor.
        """
        owner = _owner(broker_url, token)
        with self._lock, self._tx():
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (_OWNER,)).fetchone()
            if row is not None and row[0] == owner:
                return
            pending = self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]
            confirmed = self._db.execute(
                "SELECT 1 FROM meta WHERE key = ?", (_CONFIRMED,)
            ).fetchone()
            if row is not None and pending and confirmed:
                raise InputError(
                    f"outbox {self.path} holds {pending} unsent state(s) of another broker "
                    "or party; send them with that one first, or use another --outbox"
                )
            self._db.execute("DELETE FROM meta WHERE key IN (?, ?)", (ALERT_CURSOR, _CONFIRMED))
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (_OWNER, owner))

    def confirm(self) -> None:
        """Record that the broker accepted the owner's token (see :meth:`bind`)."""
        self.set_meta(_CONFIRMED, "1")

    def put(self, states: Sequence[dict[str, Any]]) -> int:
        """Queue checked states (see :func:`~deconflict.client.states.check_states`), committed.

        Returns how many were new: a state with the (``id``, ``time``) of one still
        pending is not queued again.
        """
        now = time.time()
        rows = [(s["id"], s["time"], json.dumps(s), now) for s in states]  # over states
        with self._lock, self._tx():
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO outbox (id, time, state, queued_at) VALUES (?, ?, ?, ?)",
                rows,
            )
            return self._db.total_changes - before

    def head(self, limit: int) -> list[Pending]:
        """The oldest ``limit`` pending states, in the order they were queued."""
        with self._lock:
            rows = self._db.execute(
                "SELECT n, state FROM outbox ORDER BY n LIMIT ?", (limit,)
            ).fetchall()
        return [Pending(int(n), json.loads(text)) for n, text in rows]

    def remove(self, ns: Sequence[int]) -> None:
        """Forget states the broker acknowledged (committed at once)."""
        with self._lock, self._tx():
            self._db.executemany("DELETE FROM outbox WHERE n = ?", [(n,) for n in ns])

    def refuse(self, ns: Sequence[int], reason: str) -> None:
        """Move states the broker refused to the ``refused`` table, with its reason."""
        now = time.time()
        with self._lock, self._tx():
            for n in ns:  # over a refused batch
                row = self._db.execute("SELECT state FROM outbox WHERE n = ?", (n,)).fetchone()
                if row is None:
                    continue
                self._db.execute(
                    "INSERT OR REPLACE INTO refused VALUES (?, ?, ?, ?)", (n, row[0], reason, now)
                )
                self._db.execute("DELETE FROM outbox WHERE n = ?", (n,))

    def pending(self) -> int:
        """How many states wait for the broker's acknowledgement."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def refused(self) -> list[tuple[dict[str, Any], str]]:
        """Every refused state with the broker's reason, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT state, reason FROM refused ORDER BY n").fetchall()
        return [(json.loads(s), str(r)) for s, r in rows]

    def get_meta(self, key: str) -> str | None:
        """A stored value (e.g. :data:`ALERT_CURSOR`), None if unset."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Store a value (committed)."""
        with self._lock, self._tx():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on an exception)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, tb: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


def _lock(path: Path) -> int:
    """Hold an exclusive lock on the outbox file (one client per outbox); the fd.

    ``flock`` locks are apart from SQLite's own (``fcntl`` byte ranges) and end with the
    process, so a killed client never leaves one behind.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise InputError(
            f"outbox {path} is in use by another client (one client per outbox: "
            "use another --outbox)"
        ) from None
    return fd


def _owner(broker_url: str, token: str) -> str:
    """What identifies an owner without storing its token: a hash of URL and token."""
    return hashlib.sha256(f"{broker_url.rstrip('/')}\n{token}".encode()).hexdigest()
