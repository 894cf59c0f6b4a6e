"""alert search, publication times

Adds what the alerts list needs: ``alerts.published_at`` (the story's publication time,
filled in here for existing alerts), ``articles.published_at_source`` (feed or page),
and full-text search (``search_documents``, indexed by FTS5 on SQLite and by a GIN index
on PostgreSQL), built here for existing alerts.

Revision ID: 0003_alert_search
Revises: 0002_match_learned
Create Date: 2026-12-03 08:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models
from storage import search
from storage.published import earliest_published

revision: str = "0003_alert_search"
down_revision: str | None = "0002_match_learned"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables as this revision knows them (the models may grow later).
articles = sa.table(
    "articles",
    sa.column("id", sa.Integer()),
    sa.column("story_id", sa.Integer()),
    sa.column("title", sa.Text()),
    sa.column("text", sa.Text()),
    sa.column("published_at", storage.models.UtcDateTime()),
    sa.column("published_at_source", sa.String()),
    sa.column("fetched_at", storage.models.UtcDateTime()),
    sa.column("created_at", storage.models.UtcDateTime()),
)
article_sources = sa.table(
    "article_sources",
    sa.column("article_id", sa.Integer()),
    sa.column("entry_published_at", storage.models.UtcDateTime()),
)
alerts = sa.table(
    "alerts",
    sa.column("id", sa.Integer()),
    sa.column("story_id", sa.Integer()),
    sa.column("title", sa.Text()),
    sa.column("evidence", sa.JSON()),
    sa.column("published_at", storage.models.UtcDateTime()),
    sa.column("created_at", storage.models.UtcDateTime()),
)
documents = sa.table(
    "search_documents",
    sa.column("story_id", sa.Integer()),
    sa.column("alert_id", sa.Integer()),
    sa.column("article_id", sa.Integer()),
    sa.column("body", sa.Text()),
)


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"

    op.add_column("articles", sa.Column("published_at_source", sa.String(length=16), nullable=True))
    # An article's date was the feed entry's, unless its page gave another.
    from_feed = sa.exists().where(
        article_sources.c.article_id == articles.c.id,
        article_sources.c.entry_published_at == articles.c.published_at,
    )
    op.execute(
        articles.update()
        .where(articles.c.published_at.is_not(None))
        .values(published_at_source=sa.case((from_feed, "feed"), else_="page"))
    )

    # NOT NULL needs a default for the rows already there; each gets its real value below.
    # (SQLite cannot drop a column default without rebuilding the table, which would
    # cascade-delete the alerts' matches and deliveries; there the unused default stays.)
    epoch = "'1970-01-01 00:00:00.000000'" if sqlite else "'1970-01-01 00:00:00+00'"
    op.add_column(
        "alerts",
        sa.Column("published_at", storage.models.UtcDateTime(timezone=True), nullable=False,
                  server_default=sa.text(epoch)),
    )
    _fill_published_at(bind)
    if not sqlite:
        op.alter_column("alerts", "published_at", server_default=None)
    op.create_index("ix_alerts_published_at_id", "alerts", ["published_at", "id"], unique=False)
    op.create_index("ix_alerts_updated_at_id", "alerts", ["updated_at", "id"], unique=False)

    op.create_table(
        "search_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name=op.f("fk_search_documents_alert_id_alerts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], name=op.f("fk_search_documents_article_id_articles"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"], name=op.f("fk_search_documents_story_id_stories"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_documents")),
    )
    op.create_index(op.f("ix_search_documents_alert_id"), "search_documents", ["alert_id"], unique=False)
    op.create_index(op.f("ix_search_documents_article_id"), "search_documents", ["article_id"], unique=False)
    op.create_index(op.f("ix_search_documents_story_id"), "search_documents", ["story_id"], unique=False)
    for statement in search.SQLITE_DDL if sqlite else search.POSTGRES_DDL:
        op.execute(statement)
    _index_existing_alerts(bind)


def _fill_published_at(bind: sa.Connection) -> None:
    """Each alert's story publication time (its creation time for a story left without articles)."""
    op.execute(alerts.update().values(published_at=alerts.c.created_at))
    alerted = sa.select(alerts.c.story_id)
    rows: dict[int, list[tuple[object, ...]]] = {}
    for story_id, *times in bind.execute(
        sa.select(articles.c.story_id, articles.c.published_at, articles.c.published_at_source,
                  articles.c.fetched_at, articles.c.created_at)
        .where(articles.c.story_id.in_(alerted))
    ):
        rows.setdefault(story_id, []).append(tuple(times))
    updates = [
        {"story": story_id, "published": earliest[0]}
        for story_id, times in rows.items()
        if (earliest := earliest_published(times)) is not None  # type: ignore[arg-type]  # rows of its four times
    ]
    if updates:
        bind.execute(
            alerts.update().where(alerts.c.story_id == sa.bindparam("story"))
            .values(published_at=sa.bindparam("published")),
            updates,
        )


def _index_existing_alerts(bind: sa.Connection) -> None:
    stories: set[int] = set()
    for alert_id, story_id, title, evidence in bind.execute(
        sa.select(alerts.c.id, alerts.c.story_id, alerts.c.title, alerts.c.evidence)
    ):
        texts = [title or ""] + [str(e.get("text") or "") for e in evidence or [] if isinstance(e, dict)]
        _insert(bind, [
            {"story_id": story_id, "alert_id": alert_id, "article_id": None, "body": body}
            for body in search.document_bodies(*texts)
        ])
        stories.add(story_id)
    for story_id in sorted(stories):  # a story at a time: article texts can be long
        for article_id, title, text in bind.execute(
            sa.select(articles.c.id, articles.c.title, articles.c.text).where(articles.c.story_id == story_id)
        ).all():
            _insert(bind, [
                {"story_id": story_id, "alert_id": None, "article_id": article_id, "body": body}
                for body in search.document_bodies(title, text)
            ])


def _insert(bind: sa.Connection, rows: list[dict[str, object]]) -> None:
    if rows:
        bind.execute(documents.insert(), rows)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in search.SQLITE_DROP if sqlite else search.POSTGRES_DROP:
        op.execute(statement)
    op.drop_index(op.f("ix_search_documents_story_id"), table_name="search_documents")
    op.drop_index(op.f("ix_search_documents_article_id"), table_name="search_documents")
    op.drop_index(op.f("ix_search_documents_alert_id"), table_name="search_documents")
    op.drop_table("search_documents")
    op.drop_index("ix_alerts_updated_at_id", table_name="alerts")
    op.drop_index("ix_alerts_published_at_id", table_name="alerts")
    # Native DROP COLUMN (SQLite 3.35+): a batch rebuild of these tables would cascade.
    op.execute("ALTER TABLE alerts DROP COLUMN published_at")
    op.execute("ALTER TABLE articles DROP COLUMN published_at_source")
