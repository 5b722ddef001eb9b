"""Alerts say why they happened (``cleared``: resolved, stale, left_zone).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable ``alerts.reason`` column (at most 32 characters)."""
    op.add_column("alerts", sa.Column("reason", sa.String(32), nullable=True))


def downgrade() -> None:
    """Drop ``alerts.reason``."""
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("reason")
