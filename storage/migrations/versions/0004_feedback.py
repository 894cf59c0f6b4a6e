"""feedback on alerts

Adds ``feedback``: one row per verdict a person gave on an alert (relevant or
not-relevant), with the topic and its version as judged; a person's earlier verdict
on the same alert is kept, marked superseded.

Revision ID: 0004_feedback
Revises: 0003_alert_search
Create Date: 2026-12-03 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0004_feedback"
down_revision: str | None = "0003_alert_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("topic_id", sa.String(length=200), nullable=False),
        sa.Column("topic_version", sa.String(length=64), nullable=True),
        sa.Column("created_at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name=op.f("fk_feedback_alert_id_alerts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    op.create_index("ix_feedback_alert_id_by", "feedback", ["alert_id", "by"], unique=False)
    op.create_index(op.f("ix_feedback_topic_id"), "feedback", ["topic_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_feedback_topic_id"), table_name="feedback")
    op.drop_index("ix_feedback_alert_id_by", table_name="feedback")
    op.drop_table("feedback")
