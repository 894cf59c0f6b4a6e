"""feed health: since when a feed has been failing, and which down-episode was announced

``feeds.failing_since`` is the first failed fetch since the last success (NULL while the
feed works), filled in here for feeds failing now from their fetch history.
``feeds.down_notice_since`` is the ``failing_since`` of the episode whose "feed down"
notices were queued, kept until the "feed back" notices are queued.

Revision ID: 0006_feed_health
Revises: 0005_alert_threshold
Create Date: 2026-12-03 12:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0006_feed_health"
down_revision: str | None = "0005_alert_threshold"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FAILING = ("transient", "permanent", "rejected")


def upgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.add_column(sa.Column("failing_since", storage.models.UtcDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("down_notice_since", storage.models.UtcDateTime(timezone=True), nullable=True))
    # A feed failing now has failed since its first fetch after its last success.
    op.execute(
        sa.text(
            "UPDATE feeds SET failing_since = COALESCE("
            "(SELECT MIN(ff.fetched_at) FROM feed_fetches ff WHERE ff.feed_id = feeds.id "
            "AND (feeds.last_success_at IS NULL OR ff.fetched_at > feeds.last_success_at)), "
            "feeds.last_fetched_at) "
            "WHERE feeds.outcome IN ('transient', 'permanent', 'rejected')"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("down_notice_since")
        batch.drop_column("failing_since")
