"""Planned operation volumes and each party's half of their overlaps.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: 64-bit autoincrementing key; INTEGER on SQLite, where only that aliases the rowid.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create ``plan_volumes`` and ``plan_overlaps``."""
    op.create_table(
        "plan_volumes",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("volume_id", sa.String(), nullable=False),
        sa.Column("feature", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_plan_volumes_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_volumes")),
    )
    op.create_index("ix_plan_volumes_party_id", "plan_volumes", ["party_id"])
    op.create_table(
        "plan_overlaps",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("overlap_id", sa.String(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("own_volume_id", sa.String(), nullable=False),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("alt_lower_ft", sa.Double(), nullable=False),
        sa.Column("alt_upper_ft", sa.Double(), nullable=False),
        sa.Column("time_start_s", sa.Double(), nullable=False),
        sa.Column("time_end_s", sa.Double(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_plan_overlaps_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_overlaps")),
    )
    op.create_index("ix_plan_overlaps_party_id_id", "plan_overlaps", ["party_id", "id"])


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("plan_overlaps")
    op.drop_table("plan_volumes")
