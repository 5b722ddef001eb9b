"""Track states are pruned by the time the broker received them: index ``received_at``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 06:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index ``track_states.received_at`` (the broker's retention deletes by it)."""
    op.create_index("ix_track_states_received_at", "track_states", ["received_at"])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_track_states_received_at", table_name="track_states")
