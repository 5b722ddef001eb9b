"""Alerts name the protected zone they are about (None for aircraft conflicts).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable ``alerts.zone`` column."""
    op.add_column("alerts", sa.Column("zone", sa.String(), nullable=True))


def downgrade() -> None:
    """Drop ``alerts.zone``."""
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("zone")
