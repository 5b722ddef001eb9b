"""The hotline relay: registered keys, messages, per-recipient deliveries, rejects.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: 64-bit autoincrementing key; INTEGER on SQLite, where only that aliases the rowid.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fk_party(table: str, column: str = "party_id") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["parties.id"], name=op.f(f"fk_{table}_{column}_parties")
    )


def upgrade() -> None:
    """Create the four hotline tables."""
    op.create_table(
        "hotline_keys",
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("registered_at", sa.Double(), nullable=False),
        _fk_party("hotline_keys"),
        sa.PrimaryKeyConstraint("party_id", name=op.f("pk_hotline_keys")),
    )
    op.create_table(
        "hotline_messages",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("sender_party_id", sa.Integer(), nullable=False),
        sa.Column("msg_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("recipient", sa.String(), nullable=False),
        sa.Column("in_reply_to", sa.String(32), nullable=True),
        sa.Column("due_at", sa.Double(), nullable=True),
        sa.Column("escalated_at", sa.Double(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("received_at", sa.Double(), nullable=False),
        _fk_party("hotline_messages", "sender_party_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_messages")),
        sa.UniqueConstraint(
            "sender_party_id", "msg_id", name=op.f("uq_hotline_messages_sender_party_id_msg_id")
        ),
    )
    op.create_index("ix_hotline_messages_kind_due_at", "hotline_messages", ["kind", "due_at"])
    op.create_index("ix_hotline_messages_in_reply_to", "hotline_messages", ["in_reply_to"])
    op.create_table(
        "hotline_deliveries",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("delivered_at", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["hotline_messages.id"],
            name=op.f("fk_hotline_deliveries_message_id_hotline_messages"),
        ),
        _fk_party("hotline_deliveries"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_deliveries")),
    )
    op.create_index(
        "ix_hotline_deliveries_party_id_delivered_at",
        "hotline_deliveries",
        ["party_id", "delivered_at"],
    )
    op.create_table(
        "hotline_rejects",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("received_at", sa.Double(), nullable=False),
        _fk_party("hotline_rejects"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_rejects")),
    )


def downgrade() -> None:
    """Drop the hotline tables."""
    op.drop_table("hotline_rejects")
    op.drop_table("hotline_deliveries")
    op.drop_table("hotline_messages")
    op.drop_table("hotline_keys")
