"""Initial schema: parties, track_states (append-only history) and alerts.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: 64-bit autoincrementing key; INTEGER on SQLite, where only that aliases the rowid.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the three tables and their indexes."""
    op.create_table(
        "parties",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", sa.Double(), nullable=True),
        sa.Column("acked_fingerprint", sa.String(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parties")),
        sa.UniqueConstraint("name", name=op.f("uq_parties_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_parties_token_hash")),
    )
    op.create_table(
        "track_states",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("aircraft_id", sa.String(), nullable=False),
        sa.Column("time", sa.Double(), nullable=False),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("alt_ft", sa.Double(), nullable=False),
        sa.Column("gs_kt", sa.Double(), nullable=False),
        sa.Column("track_deg", sa.Double(), nullable=False),
        sa.Column("vs_fpm", sa.Double(), nullable=False),
        sa.Column("received_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_track_states_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_track_states")),
    )
    op.create_index("ix_track_states_party_id_id", "track_states", ["party_id", "id"])
    op.create_index("ix_track_states_time", "track_states", ["time"])
    op.create_table(
        "alerts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("conflict_id", sa.String(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("own_id", sa.String(), nullable=False),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("level", sa.String(), nullable=False),
        sa.Column("manoeuvre", sa.String(), nullable=False),
        sa.Column("target_vs_fpm", sa.Double(), nullable=True),
        sa.Column("target_track_deg", sa.Double(), nullable=True),
        sa.Column("t_in_s", sa.Double(), nullable=True),
        sa.Column("time", sa.Double(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("intruder_range_nm", sa.Double(), nullable=True),
        sa.Column("intruder_bearing_deg", sa.Double(), nullable=True),
        sa.Column("intruder_rel_alt_ft", sa.Double(), nullable=True),
        sa.Column("intruder_closure_kt", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_alerts_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index("ix_alerts_party_id_id", "alerts", ["party_id", "id"])
    op.create_index("ix_alerts_conflict_id", "alerts", ["conflict_id"])


def downgrade() -> None:
    """Drop everything the upgrade created."""
    op.drop_table("alerts")
    op.drop_table("track_states")
    op.drop_table("parties")
