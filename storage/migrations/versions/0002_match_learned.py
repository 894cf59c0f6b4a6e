"""alert matches record the learned layer's part in the decision

Revision ID: 0002_match_learned
Revises: 0001
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_match_learned"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alert_matches") as batch:
        batch.add_column(sa.Column("learned", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_matches") as batch:
        batch.drop_column("learned")
