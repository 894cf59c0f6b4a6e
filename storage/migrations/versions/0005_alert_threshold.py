"""alerts keep the threshold their topic version alerted from

Revision ID: 0005_alert_threshold
Revises: 0004_feedback
Create Date: 2026-12-03 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_alert_threshold"
down_revision: str | None = "0004_feedback"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Older alerts keep None: readers fall back to the topic's current threshold.
    op.add_column("alerts", sa.Column("threshold", sa.Float(), nullable=True))


def downgrade() -> None:
    # Native DROP COLUMN (SQLite 3.35+): a batch rebuild of alerts would cascade into
    # their matches and deliveries.
    op.execute("ALTER TABLE alerts DROP COLUMN threshold")
