"""The hotline relay's storage over SQL (SQLite or PostgreSQL), one class for both relays.

The primary relay (the broker) and the backup relay run this on their own databases.
A relay stores a message once per (sender, id), with one delivery row per recipient;
a recipient's delivery is marked only when the recipient acknowledges it, after it
committed the message to its own inbox, so anything unacknowledged is sent again
(at-least-once; the receiving client removes duplicates). Every write commits before
it returns. Times are Unix seconds.
"""

from __future__ import annotations

import hashlib
import json
import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Engine, Table, and_, func, insert, select, text, update
from sqlalchemy.orm import aliased

from deconflict.errors import InputError
from deconflict.hotline.messages import ALL, Message, parse_message, verify
from deconflict.store.engine import make_engine, write_transaction
from deconflict.store.models import (
    HotlineDelivery,
    HotlineKey,
    HotlineMessage,
    HotlineReject,
    Party,
)
from deconflict.store.records import PartyRecord

PARTIES = cast(Table, Party.__table__)
KEYS = cast(Table, HotlineKey.__table__)
MESSAGES = cast(Table, HotlineMessage.__table__)
DELIVERIES = cast(Table, HotlineDelivery.__table__)
REJECTS = cast(Table, HotlineReject.__table__)


class KeyTakenError(InputError):
    """A verify key registered to another party (a key belongs to one party)."""


def key_fingerprint(public_key_hex: str) -> str:
    """A verify key's fingerprint: the hex SHA-256 of its 32 bytes."""
    return hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()


@dataclass(frozen=True)
class Rejected:
    """A message refused by the relay, with the reason (one line)."""

    id: str | None
    reason: str


@dataclass(frozen=True)
class Accepted:
    """Outcome of one batch: ids now held (new or already held), new rows, refusals."""

    stored: list[str]
    new: list[tuple[int, Message]]
    rejected: list[Rejected]
    recipients: set[int]


@dataclass(frozen=True)
class Overdue:
    """A request whose response deadline passed without a response."""

    relay_id: int
    msg_id: str
    sender: str
    to: str
    body: str
    sent_at: float
    due_at: float
    escalated_at: float | None


class HotlineStore:
    """Keys, messages and deliveries of one relay. Thread-safe (pooled connections)."""

    def __init__(self, engine: Engine | str) -> None:
        self._engine = make_engine(engine) if isinstance(engine, str) else engine

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine."""
        return self._engine

    def close(self) -> None:
        """Release connections."""
        self._engine.dispose()

    # -- keys and parties ------------------------------------------------------------

    def register_key(
        self,
        party_id: int,
        public_key_hex: str,
        *,
        on_change: Callable[[str | None, str], object] | None = None,
    ) -> str | None:
        """Set (or replace) the party's Ed25519 verify key (64 hex digits); returns the old one.

        A key belongs to one party: :class:`KeyTakenError` when another party (live or revoked)
        registered it. ``on_change(old, new)`` runs inside the write transaction when the
        key changes (``old`` None for a first key), so a change is never committed
        without what it does (the relay's audit entry); an exception there undoes it.
        """
        try:
            raw = bytes.fromhex(public_key_hex)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise InputError("public_key: expected 64 hex digits (an Ed25519 verify key)")
        new = raw.hex()
        now = _time.time()
        with write_transaction(self._engine) as conn:
            if conn.dialect.name == "postgresql":  # SQLite's BEGIN IMMEDIATE serialises already
                conn.execute(text("LOCK TABLE hotline_keys IN SHARE ROW EXCLUSIVE MODE"))
            owners = conn.execute(
                select(KEYS.c.party_id).where(
                    func.lower(KEYS.c.public_key) == new, KEYS.c.party_id != party_id
                )
            ).all()
            if owners:
                raise KeyTakenError("public_key: this key is registered to another party")
            old = conn.execute(
                select(KEYS.c.public_key).where(KEYS.c.party_id == party_id)
            ).scalar_one_or_none()
            if old is not None and old.lower() == new:
                return old.lower()
            if old is None:
                conn.execute(
                    insert(KEYS).values(party_id=party_id, public_key=new, registered_at=now)
                )
            else:
                conn.execute(
                    update(KEYS)
                    .where(KEYS.c.party_id == party_id)
                    .values(public_key=new, registered_at=now)
                )
            if on_change is not None:
                on_change(old.lower() if old is not None else None, new)
        return old.lower() if old is not None else None

    def keys(self) -> dict[str, str]:
        """Registered verify keys of live parties, by party name."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(PARTIES.c.name, KEYS.c.public_key)
                .join(KEYS, KEYS.c.party_id == PARTIES.c.id)
                .where(PARTIES.c.revoked_at.is_(None))
            ).all()
        return {r.name: r.public_key for r in rows}

    def _live_parties(self, conn: Any) -> dict[str, int]:
        rows = conn.execute(
            select(PARTIES.c.name, PARTIES.c.id).where(
                PARTIES.c.revoked_at.is_(None), PARTIES.c.is_admin.is_(False)
            )
        ).all()
        return {r.name: int(r.id) for r in rows}

    def copy_registry_from(self, source: HotlineStore) -> int:
        """Copy parties (hashed tokens, revocations) and keys from ``source``; returns parties.

        The backup relay keeps this copy of the broker's registry, so it authenticates
        parties and checks signatures while the broker is down.
        """
        with source.engine.connect() as conn:
            parties = [r._asdict() for r in conn.execute(select(PARTIES)).all()]
            keys = [r._asdict() for r in conn.execute(select(KEYS)).all()]
        with write_transaction(self._engine) as conn:
            have = set(conn.execute(select(PARTIES.c.id)).scalars())
            for row in parties:
                if row["id"] in have:
                    conn.execute(update(PARTIES).where(PARTIES.c.id == row["id"]).values(row))
                else:
                    conn.execute(insert(PARTIES).values(row))
            have_keys = set(conn.execute(select(KEYS.c.party_id)).scalars())
            for row in keys:
                if row["party_id"] in have_keys:
                    conn.execute(update(KEYS).where(KEYS.c.party_id == row["party_id"]).values(row))
                else:
                    conn.execute(insert(KEYS).values(row))
        return len(parties)

    # -- messages --------------------------------------------------------------------

    def accept(self, party: PartyRecord, raw: list[Any]) -> Accepted:
        """Verify and store a batch a party sent, in one transaction.

        A message is refused (and recorded in ``hotline_rejects``) when it is malformed,
        names another sender, is not signed by the sender's registered key, or is
        addressed to an unknown party. A message already held (same sender and id) is
        reported stored again but not stored twice.
        """
        now = _time.time()
        stored: list[str] = []
        new: list[tuple[int, Message]] = []
        rejected: list[Rejected] = []
        recipients: set[int] = set()
        with write_transaction(self._engine) as conn:
            key = conn.execute(
                select(KEYS.c.public_key).where(KEYS.c.party_id == party.id)
            ).scalar_one_or_none()
            live = self._live_parties(conn)
            ok: list[Message] = []
            reject_rows: list[dict[str, Any]] = []
            for item in raw:
                msg, reason = _check(item, party, key, live)
                if msg is None:
                    rid = item.get("id") if isinstance(item, dict) else None
                    rejected.append(Rejected(rid if isinstance(rid, str) else None, reason))
                    text = item if isinstance(item, str) else json.dumps(item, default=str)
                    reject_rows.append(
                        {
                            "party_id": party.id,
                            "reason": reason,
                            "raw": text[:20000],
                            "received_at": now,
                        }
                    )
                else:
                    ok.append(msg)
            if reject_rows:
                conn.execute(insert(REJECTS), reject_rows)
            held = set()
            if ok:
                held = set(
                    conn.execute(
                        select(MESSAGES.c.msg_id).where(
                            MESSAGES.c.sender_party_id == party.id,
                            MESSAGES.c.msg_id.in_([m.id for m in ok]),
                        )
                    ).scalars()
                )
            fresh: list[Message] = []
            for msg in ok:
                stored.append(msg.id)
                if msg.id not in held:
                    held.add(msg.id)
                    fresh.append(msg)
            if fresh:
                # one multi-row INSERT … RETURNING (SQLAlchemy "insertmanyvalues")
                ids = (
                    conn.execute(
                        insert(MESSAGES).returning(MESSAGES.c.id, sort_by_parameter_order=True),
                        [
                            {
                                "sender_party_id": party.id,
                                "msg_id": msg.id,
                                "seq": msg.seq,
                                "kind": msg.kind,
                                "recipient": msg.to,
                                "in_reply_to": msg.in_reply_to,
                                "due_at": msg.due_at,
                                "escalated_at": None,
                                "message": msg.to_json(),
                                "received_at": now,
                            }
                            for msg in fresh
                        ],
                    )
                    .scalars()
                    .all()
                )
                everyone = [pid for pid in live.values() if pid != party.id]
                deliveries = []
                for relay_id, msg in zip(ids, fresh, strict=True):
                    targets = everyone if msg.to == ALL else [live[msg.to]]
                    deliveries += [
                        {"message_id": relay_id, "party_id": pid, "delivered_at": None}
                        for pid in targets
                    ]
                    recipients.update(targets)
                    new.append((int(relay_id), msg))
                if deliveries:
                    conn.execute(insert(DELIVERIES), deliveries)
        return Accepted(stored, new, rejected, recipients)

    def pending(self, party_id: int, *, after: int = 0, limit: int = 500) -> list[tuple[int, str]]:
        """Unacknowledged deliveries to a party with id > ``after``: (delivery id, message JSON)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(DELIVERIES.c.id, MESSAGES.c.message)
                .join(MESSAGES, MESSAGES.c.id == DELIVERIES.c.message_id)
                .where(
                    DELIVERIES.c.party_id == party_id,
                    DELIVERIES.c.delivered_at.is_(None),
                    DELIVERIES.c.id > after,
                )
                .order_by(DELIVERIES.c.id)
                .limit(limit)
            ).all()
        return [(int(r.id), r.message) for r in rows]

    def mark_delivered(self, party_id: int, delivery_ids: list[int]) -> int:
        """Record that the party holds these deliveries; returns how many were open."""
        if not delivery_ids:
            return 0
        with write_transaction(self._engine) as conn:
            return int(
                conn.execute(
                    update(DELIVERIES)
                    .where(
                        DELIVERIES.c.party_id == party_id,
                        DELIVERIES.c.id.in_(delivery_ids),
                        DELIVERIES.c.delivered_at.is_(None),
                    )
                    .values(delivered_at=_time.time())
                ).rowcount
            )

    def messages_after(self, relay_id: int, limit: int = 1000) -> list[tuple[int, str]]:
        """Stored messages with relay id > ``relay_id`` (audit back-fill), oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(MESSAGES.c.id, MESSAGES.c.message)
                .where(MESSAGES.c.id > relay_id)
                .order_by(MESSAGES.c.id)
                .limit(limit)
            ).all()
        return [(int(r.id), r.message) for r in rows]

    def recent(self, party: PartyRecord | None, limit: int = 50) -> list[tuple[int, float, str]]:
        """The newest messages ``party`` sent or received (None: all), newest first.

        Rows of (relay id, received at, message JSON), whether acknowledged or not:
        what a party's live map shows, never what it has to commit.
        """
        query = select(MESSAGES.c.id, MESSAGES.c.received_at, MESSAGES.c.message)
        if party is not None:
            query = query.where(
                (MESSAGES.c.sender_party_id == party.id)
                | MESSAGES.c.recipient.in_([party.name, ALL])
            )
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(MESSAGES.c.id.desc()).limit(limit)).all()
        return [(int(r.id), float(r.received_at), r.message) for r in rows]

    def count_messages(self) -> int:
        """How many messages the relay holds."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(MESSAGES)).scalar_one())

    def rejects(self) -> list[dict[str, Any]]:
        """Refused messages, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(REJECTS).order_by(REJECTS.c.id)).all()
        return [r._asdict() for r in rows]

    # -- deadlines -------------------------------------------------------------------

    def overdue(
        self, now: float, party_name: str | None = None, *, unescalated: bool = False
    ) -> list[Overdue]:
        """Requests past their deadline with no response from their recipient.

        ``party_name`` limits the list to requests that party sent or received;
        ``unescalated`` to those not escalated yet.
        """
        sender = aliased(PARTIES)
        reply = aliased(MESSAGES)
        answered = (
            select(reply.c.id)
            .where(
                reply.c.in_reply_to == MESSAGES.c.msg_id,
                reply.c.kind == "response",
                reply.c.sender_party_id != MESSAGES.c.sender_party_id,
            )
            .exists()
        )
        query = (
            select(
                MESSAGES.c.id,
                MESSAGES.c.msg_id,
                sender.c.name,
                MESSAGES.c.recipient,
                MESSAGES.c.message,
                MESSAGES.c.due_at,
                MESSAGES.c.escalated_at,
            )
            .join(sender, sender.c.id == MESSAGES.c.sender_party_id)
            .where(and_(MESSAGES.c.kind == "request", MESSAGES.c.due_at < now, ~answered))
            .order_by(MESSAGES.c.due_at)
        )
        if unescalated:
            query = query.where(MESSAGES.c.escalated_at.is_(None))
        if party_name is not None:
            query = query.where(
                (sender.c.name == party_name)
                | (MESSAGES.c.recipient == party_name)
                | (MESSAGES.c.recipient == ALL)
            )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        out = []
        for r in rows:
            msg = json.loads(r.message)
            out.append(
                Overdue(
                    int(r.id),
                    r.msg_id,
                    r.name,
                    r.recipient,
                    msg["body"],
                    float(msg["ts"]),
                    float(r.due_at),
                    r.escalated_at,
                )
            )
        return out

    def escalate(self, now: float) -> list[Overdue]:
        """Mark newly overdue requests escalated; returns them (each only once)."""
        fresh = self.overdue(now, unescalated=True)
        if fresh:
            with write_transaction(self._engine) as conn:
                conn.execute(
                    update(MESSAGES)
                    .where(MESSAGES.c.id.in_([o.relay_id for o in fresh]))
                    .values(escalated_at=now)
                )
        return fresh


def _check(
    item: Any, party: PartyRecord, key: str | None, live: dict[str, int]
) -> tuple[Message | None, str]:
    try:
        msg = parse_message(item)
    except InputError as err:
        return None, str(err)
    if msg.sender != party.name:
        return None, f"sender {msg.sender!r} is not the authenticated party {party.name!r}"
    if key is None:
        return None, f"party {party.name!r} has no registered key (PUT /hotline/key)"
    if not verify(msg, key):
        return None, "bad signature"
    if msg.to != ALL and msg.to not in live:
        return None, f"unknown recipient {msg.to!r}"
    return msg, ""
