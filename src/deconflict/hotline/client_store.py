"""A party's own hotline store: outbox, inbox and seen audit heads, in one SQLite file.

The file holds message text, so it is private: created 0600 before SQLite opens it (SQLite
gives its ``-wal`` and ``-shm`` companions the same mode), and an existing store that
others could read is made private when opened. A store belongs to one party: the first
party to use it is recorded, and any other is refused (its sequence numbers and inbox are
that party's alone).

SQLite in WAL mode with ``synchronous=FULL``: a message is in the outbox (committed,
fsynced) before anything is sent, and in the inbox before the relay is told it
arrived, so a crash at any moment loses nothing. The inbox keys messages by
(sender, id), so copies arriving twice, or over both channels, are stored once; and
it releases each stream's messages to the application strictly in sequence order,
holding back any that arrive ahead of a gap. A **stream** is (sender, recipient field):
a sender numbers its direct messages to each party from 1, and its broadcasts (``all``)
from 1, so a message to one party never leaves a gap in what another party sees. The
local file is a
client's private state, so it uses :mod:`sqlite3` directly rather than the broker's
SQLAlchemy layer. Times are Unix seconds.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from deconflict._util import make_private
from deconflict.errors import InputError
from deconflict.hotline.audit import write_head
from deconflict.hotline.messages import Message, parse_message

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    n INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at REAL NOT NULL,
    due_at REAL,
    relayed_at REAL,
    relayed_via TEXT,
    rejected TEXT,
    acked_at REAL,
    answered_at REAL,
    resent_at REAL,
    UNIQUE (recipient, seq)
);
CREATE INDEX IF NOT EXISTS ix_outbox_pending ON outbox (relayed_at, rejected, n);
CREATE INDEX IF NOT EXISTS ix_outbox_created_at ON outbox (created_at);
CREATE TABLE IF NOT EXISTS refused (
    id TEXT PRIMARY KEY,
    recipient TEXT NOT NULL,
    seq INTEGER NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    refused_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS inbox (
    sender TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    in_reply_to TEXT,
    message TEXT NOT NULL,
    received_at REAL NOT NULL,
    via TEXT NOT NULL,
    delivered_no INTEGER UNIQUE,
    stream TEXT,
    PRIMARY KEY (sender, id)
);
CREATE INDEX IF NOT EXISTS ix_inbox_stream_seq ON inbox (sender, stream, seq);
CREATE TABLE IF NOT EXISTS stream_seq (
    sender TEXT NOT NULL,
    stream TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (sender, stream)
);
CREATE TABLE IF NOT EXISTS heads (relay TEXT PRIMARY KEY, n INTEGER NOT NULL, head TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

#: A message to be numbered: its recipient field (its stream), and how to build it for a seq.
Draft = tuple[str, Callable[[int], Message]]


#: The meta key of the read cursor that ``hotline listen`` shares across its output forms.
CURSOR_KEY = "printed"

#: How far back (s) stranded messages are looked for and sent again.
RESEND_WINDOW_S = 600.0


@dataclass(frozen=True)
class OwedRequest:
    """A request past its deadline with no response (``direction``: who owes whom)."""

    id: str
    direction: str  # "they owe us" | "we owe them"
    party: str
    body: str
    due_at: float


def acknowledged_ids(ack: Message) -> list[str]:
    """The ids an ``ack`` acknowledges: ``{"acks": [...]}`` in its body, else ``in_reply_to``."""
    try:
        ids = json.loads(ack.body)["acks"]
        if isinstance(ids, list) and all(isinstance(i, str) for i in ids):
            return ids
    except (ValueError, KeyError, TypeError):
        pass
    return [ack.in_reply_to] if ack.in_reply_to else []


class ClientStore:
    """Outbox and inbox of one party. Thread-safe (one connection behind a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        make_private(path, "hotline store")
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA busy_timeout = 30000")
            _create_or_upgrade(self._db)
        except sqlite3.DatabaseError as err:
            raise InputError(f"hotline store {path}: {err}") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the file (closing twice is harmless)."""
        with self._lock:
            self._db.close()

    def delete(self) -> None:
        """Close the store and remove its file, with its ``-wal`` and ``-shm`` companions."""
        self.close()
        for part in ("", "-wal", "-shm"):
            Path(f"{self.path}{part}").unlink(missing_ok=True)

    def _tx(self) -> _Transaction:
        return _Transaction(self)

    # -- outbox ----------------------------------------------------------------------

    def enqueue(self, draft: Draft) -> Message:
        """Commit a new message built for the next number of its stream; returns it."""
        return self.enqueue_many([draft])[0]

    def enqueue_many(self, drafts: Iterable[Draft]) -> list[Message]:
        """Commit several new messages in one transaction, each numbered in its stream.

        A draft is (recipient field, builder): the stream is (us, that recipient), and
        the builder gets the stream's next number (1 for the first message of a stream).
        A builder that raises (a bad field) rolls the whole batch back: no number is used.
        """
        with self._tx() as db:
            return _enqueue(db, drafts)

    def unrelayed(self, limit: int = 500) -> list[Message]:
        """Messages no relay has confirmed yet, in the order they were committed."""
        with self._lock:
            rows = self._db.execute(
                "SELECT message FROM outbox WHERE relayed_at IS NULL AND rejected IS NULL"
                " ORDER BY n LIMIT ?",
                (limit,),
            ).fetchall()
        return [parse_message(r[0]) for r in rows]

    def mark_relayed(self, ids: list[str], via: str) -> None:
        """Record that relay ``via`` holds these messages (committed there)."""
        now = time.time()
        with self._tx() as db:
            db.executemany(
                "UPDATE outbox SET relayed_at = ?, relayed_via = ?"
                " WHERE id = ? AND relayed_at IS NULL",
                [(now, via, i) for i in ids],
            )

    def stranded(
        self, active: str, now: float, *, after_s: float = 10.0, limit: int = 500
    ) -> list[Message]:
        """Messages a relay holds that may never arrive, to send once more on ``active``.

        A relay confirms that it stored a message, not that the recipient got it. If
        the relay then dies, what it still holds is stranded, and the recipient's inbox
        holds every later message of ours behind that gap. So a message relayed by the
        other channel and not acknowledged end to end is sent again on ``active``:
        at once when the primary is down (``active == "backup"``), after ``after_s``
        when the backup carried it. Acks are never acknowledged: they are re-sent on
        the same rule. Only the last :data:`RESEND_WINDOW_S` are considered, once each.
        """
        if active == "backup":
            other, cutoff = "relayed_via IN ('primary', 'nats')", now
        else:
            other, cutoff = "relayed_via = 'backup'", now - after_s
        with self._lock:
            rows = self._db.execute(
                f"SELECT message FROM outbox WHERE {other} AND resent_at IS NULL"
                " AND acked_at IS NULL AND relayed_at <= ? AND created_at > ?"
                " ORDER BY n LIMIT ?",
                (cutoff, now - RESEND_WINDOW_S, limit),
            ).fetchall()
        return [parse_message(r[0]) for r in rows]

    def mark_resent(self, ids: list[str]) -> None:
        """Record that these messages were sent again on the other channel."""
        now = time.time()
        with self._tx() as db:
            db.executemany("UPDATE outbox SET resent_at = ? WHERE id = ?", [(now, i) for i in ids])

    def mark_rejected(self, rejected: list[tuple[str, str]]) -> None:
        """Record refusals (id, reason); a refused message is not sent again."""
        with self._tx() as db:
            db.executemany(
                "UPDATE outbox SET rejected = ? WHERE id = ?", [(r, i) for i, r in rejected]
            )

    def refuse(self, rejected: list[tuple[str, str]]) -> list[str]:
        """Settle a relay's refusals (id, reason); returns the ids that keep their number.

        A refused message is never sent again. When no relay ever stored it and it is
        the newest of its stream, it leaves the outbox (kept, with the reason, in
        ``refused``) and its number goes to the next message of that stream, so the
        recipient sees no gap. Otherwise later messages were numbered after it: it stays
        in the outbox marked refused, and the recipient holds those later messages
        back behind the gap; its id is returned so the caller can say so.
        """
        now = time.time()
        kept: list[str] = []
        with self._tx() as db:
            rows = []
            for msg_id, reason in rejected:
                row = db.execute(
                    "SELECT seq, recipient, message, relayed_at FROM outbox WHERE id = ?",
                    (msg_id,),
                ).fetchone()
                if row is not None:
                    rows.append((msg_id, reason, *row))
            for msg_id, reason, seq, recipient, text, relayed_at in sorted(
                rows, key=lambda r: -r[2]
            ):  # the newest first, so a run of refusals at a stream's end all give way
                later = db.execute(
                    "SELECT 1 FROM outbox WHERE recipient = ? AND seq > ? LIMIT 1",
                    (recipient, seq),
                ).fetchone()
                if relayed_at is None and later is None:
                    db.execute(
                        "INSERT OR REPLACE INTO refused (id, recipient, seq, reason, message,"
                        " refused_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (msg_id, recipient, seq, reason, text, now),
                    )
                    db.execute("DELETE FROM outbox WHERE id = ?", (msg_id,))
                else:
                    db.execute("UPDATE outbox SET rejected = ? WHERE id = ?", (reason, msg_id))
                    kept.append(msg_id)
        return kept

    def refusal(self, msg_id: str) -> str | None:
        """Why a relay refused message ``msg_id`` (None: not refused)."""
        with self._lock:
            row = self._db.execute(
                "SELECT reason FROM refused WHERE id = ?"
                " UNION ALL SELECT rejected FROM outbox WHERE id = ? AND rejected IS NOT NULL",
                (msg_id, msg_id),
            ).fetchone()
        return str(row[0]) if row else None

    def outbox_counts(self) -> dict[str, int]:
        """How many messages are queued, relayed, acknowledged and refused."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*), COUNT(relayed_at), COUNT(acked_at), COUNT(rejected) FROM outbox"
            ).fetchone()
            gone = self._db.execute("SELECT COUNT(*) FROM refused").fetchone()[0]
        return {"total": row[0], "relayed": row[1], "acked": row[2], "rejected": row[3] + gone}

    def outbox_row(self, msg_id: str) -> dict[str, object] | None:
        """One outbox entry's state, or None."""
        with self._lock:
            cur = self._db.execute("SELECT * FROM outbox WHERE id = ?", (msg_id,))
            row = cur.fetchone()
            names = [c[0] for c in cur.description]
        return dict(zip(names, row, strict=True)) if row else None

    # -- inbox -----------------------------------------------------------------------

    def receive(
        self,
        messages: list[Message],
        via: str,
        answer: Callable[[list[Message]], Iterable[Draft]] | None = None,
    ) -> list[Message]:
        """Commit arrivals; returns those now released to the application, in order.

        Duplicates (same sender and id) are ignored. Each stream (sender, recipient
        field) is released in its sequence order: a message ahead of a gap waits until
        the gap fills; streams never wait for each other. ``answer`` builds messages
        (acks) for what is released; they are committed to the outbox in the same
        transaction, so a crash cannot release without acking.
        """
        if not messages:
            return []
        now = time.time()
        with self._tx() as db:
            streams: set[tuple[str, str]] = set()
            for m in messages:
                cur = db.execute(
                    "INSERT OR IGNORE INTO inbox (sender, id, seq, kind, in_reply_to, message,"
                    " received_at, via, stream) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (m.sender, m.id, m.seq, m.kind, m.in_reply_to, m.to_json(), now, via, m.to),
                )
                if cur.rowcount:
                    streams.add((m.sender, m.to))
            if not streams:
                return []
            known = {(m.sender, m.id): m for m in messages}
            names = sorted({sender for sender, _ in streams})
            marks = ",".join("?" * len(names))
            expected = {
                (sender, stream): seq
                for sender, stream, seq in db.execute(
                    f"SELECT sender, stream, seq FROM stream_seq WHERE sender IN ({marks})", names
                )
            }
            waiting = db.execute(
                "SELECT sender, stream, id, seq, message FROM inbox WHERE delivered_no IS NULL"
                f" AND sender IN ({marks}) ORDER BY sender, stream, seq, received_at",
                names,
            ).fetchall()
            by_stream: dict[tuple[str, str], list[Message]] = {}
            for sender, stream, msg_id, seq, text in waiting:
                key = (sender, stream)
                want = expected.get(key, 1)
                if key not in streams or seq != want:  # a gap, or a number already released
                    continue
                msg = known.get((sender, msg_id)) or parse_message(text)
                by_stream.setdefault(key, []).append(msg)
                expected[key] = want + 1
            # streams interleave by send time; each keeps its own order
            released = list(heapq.merge(*by_stream.values(), key=lambda m: m.ts))
            _release(db, released, now)
            db.executemany(
                "INSERT INTO stream_seq (sender, stream, seq) VALUES (?, ?, ?)"
                " ON CONFLICT (sender, stream) DO UPDATE SET seq = excluded.seq",
                [(sender, stream, expected.get((sender, stream), 1)) for sender, stream in streams],
            )
            if answer is not None and released:
                _enqueue(db, answer(released))
        return released

    def delivered(self, after_no: int = 0, limit: int = 100_000) -> list[tuple[int, Message]]:
        """Messages released to the application after number ``after_no``, in release order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT delivered_no, message FROM inbox WHERE delivered_no > ?"
                " ORDER BY delivered_no LIMIT ?",
                (after_no, limit),
            ).fetchall()
        return [(int(n), parse_message(m)) for n, m in rows]

    def held_back(self) -> int:
        """Messages received but waiting for an earlier one of their stream."""
        with self._lock:
            return int(
                self._db.execute(
                    "SELECT COUNT(*) FROM inbox WHERE delivered_no IS NULL"
                ).fetchone()[0]
            )

    # -- cursors, heads, deadlines ---------------------------------------------------

    def get_meta(self, key: str, default: str = "") -> str:
        """A stored setting (e.g. the application's read cursor)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        """Store a setting (committed)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def cursor(self) -> int:
        """The application's read cursor: the last delivery number it was shown (0: none)."""
        return int(self.get_meta(CURSOR_KEY, "0"))

    def advance_cursor(self, delivered_no: int) -> None:
        """Move the read cursor forward to ``delivered_no`` (never back; committed)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE"
                " SET value = excluded.value"
                " WHERE CAST(meta.value AS INTEGER) < CAST(excluded.value AS INTEGER)",
                (CURSOR_KEY, str(int(delivered_no))),
            )

    def last_delivered(self) -> int:
        """The highest delivery number released so far (0: none)."""
        with self._lock:
            row = self._db.execute("SELECT COALESCE(MAX(delivered_no), 0) FROM inbox").fetchone()
        return int(row[0])

    def bind_party(self, party: str, public_key: str | None = None) -> None:
        """Record that this store is ``party``'s; :class:`InputError` if it is another's.

        Sequence numbers, the inbox and the read cursor belong to one party: a store
        used by a second party would number its messages after the first's, and show
        neither party everything meant for it. ``public_key`` (hex), when given, is
        recorded as the party's current key, so that commands that work offline can
        tell the store's party from the key file (a new key of the same party replaces it).
        """
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'party'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta (key, value) VALUES ('party', ?)", (party,))
            elif row[0] != party:
                raise InputError(
                    f"hotline store {self.path} belongs to party {row[0]!r}, not {party!r};"
                    " use a store of your own (--store)"
                )
            if public_key is not None:
                db.execute(
                    "INSERT INTO meta (key, value) VALUES ('public_key', ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (public_key,),
                )

    def resolve_id(self, prefix: str) -> str:
        """The id of the one message in this store (inbox or outbox) starting with ``prefix``.

        :class:`InputError` naming the candidates when several match, and when none does.
        """
        want = prefix.strip().lower()
        if not want or len(want) > 32 or any(c not in "0123456789abcdef" for c in want):
            raise InputError(f"message id {prefix!r}: expected 1 to 32 hex digits (an id prefix)")
        with self._lock:
            rows = self._db.execute(
                "SELECT id, kind, sender FROM inbox WHERE substr(id, 1, ?) = ?"
                " UNION SELECT id, kind, NULL FROM outbox WHERE substr(id, 1, ?) = ?"
                " ORDER BY id LIMIT 6",
                (len(want), want, len(want), want),
            ).fetchall()
        ids = sorted({r[0] for r in rows})
        if len(ids) == 1:
            return str(ids[0])
        if not ids:
            raise InputError(f"no message in {self.path} has an id starting with {want!r}")
        shown = ", ".join(f"{i} ({k} {'from ' + s if s else 'sent'})" for i, k, s in rows[:5])
        more = " and more" if len(rows) > 5 else ""
        raise InputError(f"message id {want!r} is ambiguous: {shown}{more}")

    def save_head(self, relay: str, head: dict[str, object]) -> None:
        """Keep the newest signed audit head seen from ``relay``."""
        n = int(head.get("n", 0))  # type: ignore[call-overload]
        with self._tx() as db:
            db.execute(
                "INSERT INTO heads (relay, n, head) VALUES (?, ?, ?) ON CONFLICT (relay)"
                " DO UPDATE SET n = excluded.n, head = excluded.head WHERE excluded.n >= heads.n",
                (relay, n, json.dumps(head)),
            )

    def heads(self) -> dict[str, dict[str, object]]:
        """The newest signed audit head seen from each relay."""
        with self._lock:
            rows = self._db.execute("SELECT relay, head FROM heads").fetchall()
        return {r: json.loads(h) for r, h in rows}

    def owed(self, now: float) -> list[OwedRequest]:
        """Requests past their deadline: ours unanswered, and theirs we have not answered."""
        with self._lock:
            ours = self._db.execute(
                "SELECT id, recipient, message, due_at FROM outbox WHERE kind = 'request'"
                " AND due_at < ? AND answered_at IS NULL AND rejected IS NULL ORDER BY due_at",
                (now,),
            ).fetchall()
            theirs = self._db.execute(
                "SELECT i.id, i.sender, i.message FROM inbox i WHERE i.kind = 'request'"
                " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.kind = 'response'"
                " AND json_extract(o.message, '$.in_reply_to') = i.id)",
            ).fetchall()
        out = [
            OwedRequest(i, "they owe us", to, json.loads(m)["body"], float(due))
            for i, to, m, due in ours
        ]
        for i, sender, m in theirs:
            msg = json.loads(m)
            if msg.get("deadline_s") is None:  # no deadline: never overdue
                continue
            due = float(msg["ts"]) + float(msg["deadline_s"])
            if due < now:
                out.append(OwedRequest(i, "we owe them", sender, msg["body"], due))
        return out


def export_heads(store: Path, out_dir: Path) -> list[tuple[Path, str, int]]:
    """Write the newest signed audit head seen from each relay to ``out_dir/RELAY.head.json``.

    Reads the existing store at ``store`` (:class:`InputError` if there is none);
    returns (file, relay, entry count) for each head written, none when there are none.
    """
    if not store.exists():
        raise InputError(f"hotline store {store} does not exist")
    local = ClientStore(store)
    try:
        heads = local.heads()
    finally:
        local.close()
    if heads:
        out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for relay, head in sorted(heads.items()):
        target = out_dir / f"{relay}.head.json"
        write_head(target, head)
        written.append((target, relay, int(head["n"])))  # type: ignore[call-overload]
    return written


def _enqueue(db: sqlite3.Connection, drafts: Iterable[Draft]) -> list[Message]:
    """Insert new outbox messages, each numbered after the last of its stream (caller's tx)."""
    out: list[Message] = []
    now = time.time()
    last: dict[str, int] = {}
    for to, build in drafts:
        if to not in last:
            last[to] = db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM outbox WHERE recipient = ?", (to,)
            ).fetchone()[0]
        last[to] += 1
        msg = build(last[to])
        if msg.to != to or msg.seq != last[to]:
            raise ValueError(f"draft for {to!r} #{last[to]} built {msg.to!r} #{msg.seq}")
        db.execute(
            "INSERT INTO outbox (seq, id, kind, recipient, message, created_at, due_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (msg.seq, msg.id, msg.kind, msg.to, msg.to_json(), now, msg.due_at),
        )
        out.append(msg)
    return out


def _release(db: sqlite3.Connection, released: list[Message], now: float) -> None:
    """Number released messages for the application; mark what their acks and responses settle."""
    counter = db.execute("SELECT COALESCE(MAX(delivered_no), 0) FROM inbox").fetchone()[0]
    db.executemany(
        "UPDATE inbox SET delivered_no = ? WHERE sender = ? AND id = ?",
        [(counter + k, m.sender, m.id) for k, m in enumerate(released, start=1)],
    )
    acked: list[tuple[float, str]] = []
    answered: list[tuple[float, str]] = []
    for m in released:
        if m.kind == "ack":
            acked += [(now, i) for i in acknowledged_ids(m)]
        elif m.kind == "response" and m.in_reply_to:
            answered.append((now, m.in_reply_to))
    db.executemany("UPDATE outbox SET acked_at = COALESCE(acked_at, ?) WHERE id = ?", acked)
    db.executemany(
        "UPDATE outbox SET answered_at = COALESCE(answered_at, ?) WHERE id = ?", answered
    )


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    """The columns of ``table`` (empty when it does not exist)."""
    return [str(r[1]) for r in db.execute(f"PRAGMA table_info({table})")]


def _create_or_upgrade(db: sqlite3.Connection) -> None:
    """Create the tables, or upgrade a store made before per-stream numbering, in one tx.

    Before, a sender numbered all its messages in one sequence and a receiver expected
    each sender's numbers unbroken, so a message to a third party held back everything
    after it. The upgrade keeps every row: the outbox keeps its numbers (each stream
    continues after its highest), inbox rows learn their stream, messages held back
    under the old rule are released (in their sender's order: their gaps were numbers
    sent to others), and each stream then expects the number after its highest released.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        outbox = _columns(db, "outbox")
        old_outbox = bool(outbox) and "n" not in outbox
        if old_outbox:  # seq was the primary key: rebuild the table
            db.execute("ALTER TABLE outbox RENAME TO outbox_v1")
            db.execute("DROP INDEX IF EXISTS ix_outbox_unrelayed")
            db.execute("DROP INDEX IF EXISTS ix_outbox_created_at")
        inbox = _columns(db, "inbox")
        if inbox and "stream" not in inbox:
            db.execute("ALTER TABLE inbox ADD COLUMN stream TEXT")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        if old_outbox:
            keep = [c for c in _columns(db, "outbox") if c != "n" and c in outbox]
            cols = ", ".join(keep)
            db.execute(f"INSERT INTO outbox (n, {cols}) SELECT seq, {cols} FROM outbox_v1")
            db.execute("DROP TABLE outbox_v1")
        db.execute("UPDATE inbox SET stream = json_extract(message, '$.to') WHERE stream IS NULL")
        if _columns(db, "next_seq"):  # the old per-sender expectations
            held = db.execute(
                "SELECT message FROM inbox WHERE delivered_no IS NULL"
                " ORDER BY sender, seq, received_at"
            ).fetchall()
            _release(db, [parse_message(r[0]) for r in held], time.time())
            db.execute(
                "INSERT OR REPLACE INTO stream_seq (sender, stream, seq)"
                " SELECT sender, stream, MAX(seq) + 1 FROM inbox GROUP BY sender, stream"
            )
            db.execute("DROP TABLE next_seq")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


class _Transaction:
    """``with store._tx() as db``: BEGIN IMMEDIATE … COMMIT (ROLLBACK on error), locked."""

    def __init__(self, store: ClientStore) -> None:
        self._store = store

    def __enter__(self) -> sqlite3.Connection:
        self._store._lock.acquire()
        self._store._db.execute("BEGIN IMMEDIATE")
        return self._store._db

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            self._store._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._store._lock.release()
