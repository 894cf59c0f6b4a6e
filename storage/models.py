"""SQLAlchemy 2 typed models: the whole schema of newswatch.

One row per thing a user can point at: a feed, an article (one per canonical URL),
a source (one per feed entry that carried an article), a story (articles about the
same event), an alert (one per topic and story) and a delivery (one per alert or
digest, subscriber and channel). Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware.

    SQLite has no time zone type; without this, values come back naive there and
    aware on PostgreSQL, and comparisons between them raise.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        from datetime import UTC

        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        from datetime import UTC

        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _creation_time(context: Any) -> datetime | None:
    created: datetime | None = context.get_current_parameters().get("created_at")
    return created


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Feed(Base):
    """A configured feed and its fetch state, readable by a person."""

    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    name: Mapped[str | None] = mapped_column(String(512))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Last outcome in words: "ok", "not modified", "HTTP 404", "timeout", ...
    status: Mapped[str] = mapped_column(String(200), default="new", server_default="new")
    # Outcome class: ok | not_modified | transient | permanent | rejected | new
    outcome: Mapped[str] = mapped_column(String(32), default="new", server_default="new")
    last_http_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    warning: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(String(1024))
    last_modified: Mapped[str | None] = mapped_column(String(256))
    body_hash: Mapped[str | None] = mapped_column(String(64))
    # Weighted consecutive failures: hard errors count 1, soft ones 0.5.
    failures: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    last_fetched_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    # The first failed fetch since the last success; NULL while the feed works.
    failing_since: Mapped[datetime | None]
    # The failing_since of the episode whose "feed down" notices were queued; cleared
    # when its "feed back" notices are (storage/feed_health.py).
    down_notice_since: Mapped[datetime | None]
    next_poll_at: Mapped[datetime | None]
    fetch_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    entries_seen: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    articles_added: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime]

    events: Mapped[list[FeedFetch]] = relationship(
        back_populates="feed", cascade="all, delete-orphan", passive_deletes=True
    )


class FeedFetch(Base):
    """One fetch of a feed: the history behind a feed's status."""

    __tablename__ = "feed_fetches"

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"), index=True)
    fetched_at: Mapped[datetime]
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(200))
    http_status: Mapped[int | None] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer, default=0)
    entries: Mapped[int] = mapped_column(Integer, default=0)
    new_entries: Mapped[int] = mapped_column(Integer, default=0)
    skipped_entries: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str | None] = mapped_column(Text)

    feed: Mapped[Feed] = relationship(back_populates="events")


class Article(Base):
    """One article, however many feeds or URLs carried it (keyed by canonical URL)."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    canonical_url: Mapped[str] = mapped_column(String(2048), unique=True)
    url: Mapped[str] = mapped_column(String(2048))  # the first URL seen, as listed
    # A lossy key (AMP/mobile hosts, scheme, trailing slash) to find the same article
    # under another URL; see tasks.urls.story_url_key.
    url_key: Mapped[str | None] = mapped_column(String(2048), index=True)
    final_url: Mapped[str | None] = mapped_column(String(2048))  # after redirects
    html_canonical_url: Mapped[str | None] = mapped_column(String(2048))  # rel=canonical
    # pending | fetched | failed | rejected
    status: Mapped[str] = mapped_column(String(32), default="pending", server_default="pending")
    status_detail: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]  # a worker's claim; expired claims are retaken
    claim_token: Mapped[str | None] = mapped_column(String(200), index=True)  # host:pid:nonce (storage.articles.process_space)
    http_status: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(256))
    fetched_at: Mapped[datetime | None]
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    site_name: Mapped[str | None] = mapped_column(String(512))
    language: Mapped[str | None] = mapped_column(String(16))
    published_at: Mapped[datetime | None]
    # Where published_at came from: "feed" (the entry's date) or "page" (the article's own
    # metadata, which wins); NULL when neither gave one (storage/published.py).
    published_at_source: Mapped[str | None] = mapped_column(String(16))
    extraction_method: Mapped[str | None] = mapped_column(String(32))
    extraction_flags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    content_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    fingerprint: Mapped[int | None] = mapped_column(BigInteger)  # near-duplicate signature
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # First seen in a feed's first fetch: its alerts are a baseline, not news to send.
    baseline: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Set once the article has been clustered and matched; NULL means "to analyse".
    analysed_at: Mapped[datetime | None]
    story_id: Mapped[int | None] = mapped_column(
        ForeignKey("stories.id", ondelete="SET NULL"), index=True
    )
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    sources: Mapped[list[ArticleSource]] = relationship(
        back_populates="article", cascade="all, delete-orphan", passive_deletes=True,
        order_by="ArticleSource.id",
    )
    story: Mapped[Story | None] = relationship(back_populates="articles")

    __table_args__ = (
        Index("ix_articles_status_next_attempt", "status", "next_attempt_at"),
        Index("ix_articles_analysed_status", "analysed_at", "status"),
    )


class ArticleSource(Base):
    """One feed entry that carried an article: the provenance of every article."""

    __tablename__ = "article_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    entry_id: Mapped[str] = mapped_column(String(2048))  # GUID, or the link when absent
    entry_url: Mapped[str] = mapped_column(String(2048))  # the link as listed in the feed
    entry_title: Mapped[str | None] = mapped_column(Text)
    entry_published_at: Mapped[datetime | None]
    entry_summary: Mapped[str | None] = mapped_column(Text)
    entry_content: Mapped[str | None] = mapped_column(Text)
    entry_hash: Mapped[str] = mapped_column(String(64))  # changes when the entry is edited
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]

    article: Mapped[Article] = relationship(back_populates="sources")
    feed: Mapped[Feed] = relationship()

    __table_args__ = (UniqueConstraint("feed_id", "entry_id"),)


class ArticleVersion(Base):
    """An earlier state of an article updated in place (new headline or body)."""

    __tablename__ = "article_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    fetched_at: Mapped[datetime | None]
    replaced_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("article_id", "version"),)


class Story(Base):
    """Articles about the same event: one alert per topic is raised per story."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    article_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Why articles joined: [{"article_id", "reason", "similarity", "joined_at"}]
    membership: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    articles: Mapped[list[Article]] = relationship(back_populates="story", order_by="Article.id")


class Alert(Base):
    """One alert per (topic, story), growing as the story gains sources."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[str] = mapped_column(String(200))
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), index=True)
    title: Mapped[str | None] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    topic_version: Mapped[str | None] = mapped_column(String(64))
    # The rules' score that topic version alerts from, kept with the score it explains: a
    # later version of the topic may move its threshold, and an alert read against the new
    # one would say "below the threshold" of an alert that fired. None on older rows.
    threshold: Mapped[float | None] = mapped_column(Float)
    # Evidence across the story's matching articles, strongest contribution first, each
    # sentence once (storage/evidence.py): [{"text", "rule", "terms", "matched_words", ...}]
    evidence: Mapped[list[Any]] = mapped_column(JSON, default=list)
    article_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # True when raised by a pass that only records a baseline (nothing is sent for it).
    baseline: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # When the story was published: its earliest article's publication time, else fetch
    # time (storage/published.py); kept in step as articles join. Lists sort by it.
    # Rows written without one (by hand, in tests) take their creation time.
    published_at: Mapped[datetime] = mapped_column(default=_creation_time)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    matches: Mapped[list[AlertMatch]] = relationship(
        back_populates="alert", cascade="all, delete-orphan", passive_deletes=True,
        order_by="AlertMatch.id",
    )
    story: Mapped[Story] = relationship()

    __table_args__ = (
        UniqueConstraint("topic_id", "story_id"),
        # The alerts list's orders, each with the id that breaks ties (and pages by cursor).
        Index("ix_alerts_published_at_id", "published_at", "id"),
        Index("ix_alerts_updated_at_id", "updated_at", "id"),
    )


class AlertMatch(Base):
    """One article of a story that matched the alert's topic, with its own evidence."""

    __tablename__ = "alert_matches"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    topic_version: Mapped[str | None] = mapped_column(String(64))
    evidence: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # The learned layer's part in the decision (probability, threshold, top contributions).
    learned: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    matched_at: Mapped[datetime]

    alert: Mapped[Alert] = relationship(back_populates="matches")

    __table_args__ = (UniqueConstraint("alert_id", "article_id"),)


class Feedback(Base):
    """A person's verdict on an alert: was it relevant to its topic?

    A later verdict by the same person on the same alert supersedes theirs (its
    ``superseded_at`` is set) rather than replacing the row, so the history stays. The
    topic's id and version are copied from the alert as it stood when the verdict was
    given: precision and retraining need what was judged, not what the topic became.
    """

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    verdict: Mapped[str] = mapped_column(String(16))  # relevant | not-relevant
    by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    topic_id: Mapped[str] = mapped_column(String(200), index=True)
    topic_version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    superseded_at: Mapped[datetime | None]  # NULL: this person's current verdict

    __table_args__ = (Index("ix_feedback_alert_id_by", "alert_id", "by"),)


class SearchDocument(Base):
    """Searchable text of an alert (title and evidence) or of an article of an alerted story.

    Written beside the alert in the same transaction (storage/search.py) and indexed by the
    database's own engine: an FTS5 table kept in step by triggers on SQLite, a generated
    ``to_tsvector('simple', body)`` column with a GIN index on PostgreSQL (both made by the
    migration, outside these models). ``body`` holds normalised words (case-folded,
    punctuation removed), in pieces of at most a few thousand words, so both engines
    see the same words and return the same alerts.
    """

    __tablename__ = "search_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), index=True)
    # Exactly one of the two: an alert's own text, or an article's (shared by its story's alerts).
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)


class Subscriber(Base):
    """A subscriber from the config, stored so deliveries and state survive restarts."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    mode: Mapped[str] = mapped_column(String(16), default="immediate")
    topics: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # False once the subscriber is gone from the config: kept for its delivery history.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Alerts created before this moment are a baseline: nothing is sent for them.
    baseline_at: Mapped[datetime | None]
    last_digest_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Delivery(Base):
    """One message to send: (alert or digest, subscriber, channel), sent exactly once."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A stable key: "alert:<id>:v<n>" for an immediate alert or update, "digest:<sub>:<period>".
    key: Mapped[str] = mapped_column(String(300))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))  # email | slack
    kind: Mapped[str] = mapped_column(String(16))  # alert | update | digest
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    # pending | sending | sent | failed
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    not_before: Mapped[datetime | None]  # debounce: an update waits until then
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    response: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("key", "subscriber_id", "channel"),
        Index("ix_deliveries_status_next_attempt", "status", "next_attempt_at"),
    )


# --- story index --------------------------------------------------------------------------
# Owned by the stories module (tasks/stories/assign.py, docs/stories.md). New tables only: a
# bounded index over *recent* articles (the story window), pruned by prune_story_index, so
# clustering a new article costs a few indexed lookups however large the archive grows.


class StoryIndexArticle(Base):
    """What clustering keeps of a recent article: its body signature and term vector."""

    __tablename__ = "story_index_articles"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), index=True)
    duplicate_of_id: Mapped[int | None] = mapped_column(Integer)  # the original, for copies
    # The article's time (published or fetched) in UTC epoch seconds: integers cost
    # nothing to write, compare or read on either database (no datetime conversion).
    at: Mapped[int] = mapped_column(BigInteger, index=True)
    shingle_count: Mapped[int] = mapped_column(Integer, default=0)
    signature: Mapped[bytes | None] = mapped_column(LargeBinary)  # MinHash, 128 x uint32
    terms: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # unit TF-IDF vector


class StoryIndexKey(Base):
    """One posting: an LSH band key or a distinctive-term key of a recent article."""

    __tablename__ = "story_index_keys"
    # SQLite: rows stored in primary-key order, so a key lookup reads ``at`` from the same
    # B-tree (no table lookup per posting) and an insert touches two B-trees, not three.
    __table_args__ = {"sqlite_with_rowid": False}

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # No foreign key, on purpose: with one, deleting an index article must find its
    # postings by article_id, a full scan of this table per article (pruning 1,500 of
    # 3,000 articles took 15 s). Postings go by their own ``at`` when the index is pruned;
    # one left behind by a deleted article until then matches no candidate row.
    article_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[int] = mapped_column(BigInteger, index=True)  # the article's time, UTC epoch seconds


class StoryTermCount(Base):
    """How many recent articles used a term, per UTC day (document frequencies for IDF)."""

    __tablename__ = "story_term_counts"
    # Day first: a day's counts sit together, so the upserts of today's articles and the
    # lookups of the window's few days touch a small, cached part of the table, and
    # pruning old days needs no second index. WITHOUT ROWID on SQLite, as above.
    __table_args__ = {"sqlite_with_rowid": False}

    day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    term_key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer, default=0)


# --- end of story index -------------------------------------------------------------------
