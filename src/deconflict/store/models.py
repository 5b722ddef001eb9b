"""SQLAlchemy 2 declarative models of the broker's tables.

The tables; times are Unix seconds as double-precision floats (the records carry
floats, so nothing is lost converting to and from datetimes):

``parties``
    Parties and admins: unique name, SHA-256 hash of the bearer token (the token
    itself is never stored), revocation time and the fingerprint of the agreement
    the party acknowledged.
``track_states``
    History of reported states in the ``detect`` input units, appended as they come
    and pruned by the broker once older than its retention (``received_at``, the
    broker's clock): the live picture, not the record. Indexed by ``time`` (the
    recent window every snapshot reads), by ``(party_id, id)`` (a party's own newest
    states) and by ``received_at`` (what the retention deletes; appended in order, so
    cheap). Deliberately no index on ``aircraft_id``: no query needs one, and keeping
    it costs half the ingest rate (random inserts).
``alerts``
    Append-only alert events as one party sees them: its own aircraft and the
    intruder only as relative geometry, and the ``reason`` of the event (e.g. why
    it cleared). Indexed by ``(party_id, id)`` (a party's feed after a cursor) and
    ``conflict_id``.

Text columns are unbounded (``VARCHAR`` without a length): lengths are checked where
input enters, at the API, not by the database.

The schema is created and evolved only by the alembic revisions in
:mod:`deconflict.store.migrations`; a test checks that they match these models.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Deterministic constraint names, so later migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: A 64-bit autoincrementing key (plain INTEGER on SQLite, where only that is a rowid alias).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base holding the broker's metadata."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Party(Base):
    """A party (or the working group's admin) with its hashed bearer token."""

    __tablename__ = "parties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String, unique=True)
    is_admin: Mapped[bool] = mapped_column(default=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    revoked_at: Mapped[float | None] = mapped_column(Double)
    acked_fingerprint: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[float] = mapped_column(Double)


class TrackState(Base):
    """One reported aircraft state (history, pruned after the broker's retention)."""

    __tablename__ = "track_states"
    __table_args__ = (
        Index("ix_track_states_party_id_id", "party_id", "id"),
        Index("ix_track_states_time", "time"),
        Index("ix_track_states_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    aircraft_id: Mapped[str] = mapped_column(String)
    time: Mapped[float] = mapped_column(Double)  # s
    lat: Mapped[float] = mapped_column(Double)  # deg
    lon: Mapped[float] = mapped_column(Double)  # deg
    alt_ft: Mapped[float] = mapped_column(Double)
    gs_kt: Mapped[float] = mapped_column(Double)
    track_deg: Mapped[float] = mapped_column(Double)
    vs_fpm: Mapped[float] = mapped_column(Double)
    received_at: Mapped[float] = mapped_column(Double)  # broker wall time, Unix s


class Alert(Base):
    """One alert event as one party sees it."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_party_id_id", "party_id", "id"),
        Index("ix_alerts_conflict_id", "conflict_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conflict_id: Mapped[str] = mapped_column(String)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    own_id: Mapped[str] = mapped_column(String)
    event: Mapped[str] = mapped_column(String)
    level: Mapped[str] = mapped_column(String)
    manoeuvre: Mapped[str] = mapped_column(String)
    target_vs_fpm: Mapped[float | None] = mapped_column(Double)
    target_track_deg: Mapped[float | None] = mapped_column(Double)
    t_in_s: Mapped[float | None] = mapped_column(Double)
    time: Mapped[float] = mapped_column(Double)  # snapshot time, s
    created_at: Mapped[float] = mapped_column(Double)  # broker wall time, Unix s
    intruder_range_nm: Mapped[float | None] = mapped_column(Double)
    intruder_bearing_deg: Mapped[float | None] = mapped_column(Double)
    intruder_rel_alt_ft: Mapped[float | None] = mapped_column(Double)
    intruder_closure_kt: Mapped[float | None] = mapped_column(Double)
    zone: Mapped[str | None] = mapped_column(String)  # protected zone alerts only
    reason: Mapped[str | None] = mapped_column(String(32))  # e.g. cleared: resolved | stale


class PlanVolume(Base):
    """One planned operation volume, as its submitted GeoJSON feature."""

    __tablename__ = "plan_volumes"
    __table_args__ = (Index("ix_plan_volumes_party_id", "party_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    volume_id: Mapped[str] = mapped_column(String)
    feature: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Double)


class PlanOverlap(Base):
    """One party's half of an overlap between two parties' planned volumes."""

    __tablename__ = "plan_overlaps"
    __table_args__ = (Index("ix_plan_overlaps_party_id_id", "party_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    overlap_id: Mapped[str] = mapped_column(String)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    own_volume_id: Mapped[str] = mapped_column(String)
    region: Mapped[str] = mapped_column(Text)
    alt_lower_ft: Mapped[float] = mapped_column(Double)
    alt_upper_ft: Mapped[float] = mapped_column(Double)
    time_start_s: Mapped[float] = mapped_column(Double)
    time_end_s: Mapped[float] = mapped_column(Double)
    created_at: Mapped[float] = mapped_column(Double)


class HotlineKey(Base):
    """A party's registered Ed25519 verify key for the hotline."""

    __tablename__ = "hotline_keys"

    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(64))
    registered_at: Mapped[float] = mapped_column(Double)


class HotlineMessage(Base):
    """A signed hotline message a relay accepted, stored as sent (``message`` JSON)."""

    __tablename__ = "hotline_messages"
    __table_args__ = (
        UniqueConstraint("sender_party_id", "msg_id"),
        Index("ix_hotline_messages_kind_due_at", "kind", "due_at"),
        Index("ix_hotline_messages_in_reply_to", "in_reply_to"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sender_party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    msg_id: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String)
    recipient: Mapped[str] = mapped_column(String)
    in_reply_to: Mapped[str | None] = mapped_column(String(32))
    due_at: Mapped[float | None] = mapped_column(Double)  # requests: response due, Unix s
    escalated_at: Mapped[float | None] = mapped_column(Double)
    message: Mapped[str] = mapped_column(Text)
    received_at: Mapped[float] = mapped_column(Double)


class HotlineDelivery(Base):
    """One recipient's copy of a message; ``delivered_at`` once the recipient acknowledged."""

    __tablename__ = "hotline_deliveries"
    __table_args__ = (
        Index("ix_hotline_deliveries_party_id_delivered_at", "party_id", "delivered_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("hotline_messages.id"))
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    delivered_at: Mapped[float | None] = mapped_column(Double)


class HotlineReject(Base):
    """A message a relay refused (bad signature, wrong sender, malformed), kept as evidence."""

    __tablename__ = "hotline_rejects"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"))
    reason: Mapped[str] = mapped_column(String)
    raw: Mapped[str] = mapped_column(Text)
    received_at: Mapped[float] = mapped_column(Double)
