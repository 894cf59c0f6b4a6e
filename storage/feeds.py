"""Feed rows: syncing them from the config, choosing which are due, recording each fetch.

Failures are weighted (hard 1, soft 0.5: ``Outcome.failure_weight``) and back off
*linearly*, capped; a broken feed slows down but is never dropped, because feeds come back
from the dead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from config.settings import FeedConfig
from storage.dialect import insert_ignore
from storage.models import Feed, FeedFetch
from storage.outcome import Outcome


@dataclass(frozen=True)
class FeedToPoll:
    """What a fetch task needs to know about a feed: plain values, no session."""

    id: int
    url: str
    name: str | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    first_fetch: bool


@dataclass(frozen=True)
class FetchRecord:
    """The outcome of one feed fetch, as the storage layer records it."""

    outcome: Outcome  # its value given as a string is accepted (and checked)
    status: str  # words for a person
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    bytes: int = 0
    entries: int = 0
    new_entries: int = 0
    skipped_entries: int = 0
    warning: str | None = None
    detail: str | None = None
    retry_after_seconds: float | None = None
    ttl_minutes: int | None = None
    soft_failure: bool = False
    duration_ms: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome", Outcome(self.outcome))


def sync_feeds(session: Session, feeds: list[FeedConfig], now: datetime) -> list[Feed]:
    """Make the feed table match the config: add new feeds, reactivate, deactivate removed."""
    wanted = {f.url: f for f in feeds}
    # Idempotent: several workers starting a pass at once may all add the same feeds.
    insert_ignore(
        session, Feed.__table__,
        [{"url": url, "name": c.name, "active": True, "created_at": now} for url, c in wanted.items()],
        ["url"],
    )
    existing = {f.url: f for f in session.scalars(select(Feed))}
    for url, config in wanted.items():
        feed = existing[url]
        feed.active = True
        if config.name and feed.name != config.name:
            feed.name = config.name
    for url, feed in existing.items():
        if url not in wanted and feed.active:
            feed.active = False
    session.flush()
    return list(session.scalars(select(Feed).where(Feed.active).order_by(Feed.id)))


def due_feeds(session: Session, now: datetime, *, force: bool = False) -> list[FeedToPoll]:
    """Active feeds to poll in this pass.

    Healthy feeds are polled every pass (the schedule sets the pace, and a conditional
    GET makes an unchanged feed cost one request); failing feeds wait for their backoff.
    ``force`` polls every active feed.
    """
    query = select(Feed).where(Feed.active).order_by(Feed.id)
    if not force:
        query = query.where(
            or_(Feed.failures <= 0, Feed.next_poll_at.is_(None), Feed.next_poll_at <= now)
        )
    return [
        FeedToPoll(
            id=f.id, url=f.url, name=f.name, etag=f.etag, last_modified=f.last_modified,
            body_hash=f.body_hash, first_fetch=f.fetch_count == 0,
        )
        for f in session.scalars(query)
    ]


def next_poll_time(
    now: datetime,
    failures: float,
    *,
    interval: timedelta,
    max_backoff: timedelta,
    retry_after_seconds: float | None = None,
    ttl_minutes: int | None = None,
) -> datetime:
    """Linear backoff: interval × (1 + failures), capped; Retry-After and <ttl> lengthen it."""
    delay = interval * (1 + failures) if failures else interval
    if ttl_minutes and not failures:
        delay = max(delay, min(timedelta(minutes=ttl_minutes), max_backoff))
    delay = min(delay, max_backoff)
    if retry_after_seconds:
        delay = max(delay, timedelta(seconds=min(retry_after_seconds, 7 * 86400)))
    return now + delay


def record_fetch(
    session: Session,
    feed_id: int,
    record: FetchRecord,
    now: datetime,
    *,
    interval: timedelta,
    max_backoff: timedelta,
) -> Feed:
    """Update the feed's state and append the fetch to its history."""
    feed = session.get(Feed, feed_id)
    if feed is None:
        raise LookupError(f"feed {feed_id} does not exist")
    if record.outcome.succeeded:
        feed.failures = 0.0
        feed.last_success_at = now
        feed.failing_since = None
        feed.last_error = None
        if record.outcome is Outcome.OK:
            feed.etag = record.etag
            feed.last_modified = record.last_modified
            if record.body_hash:
                feed.body_hash = record.body_hash
            # Only a parsed body says anything about the feed's entries: an unchanged poll
            # keeps the last warning ("entry 'x': no usable link") until the feed changes.
            feed.warning = record.warning
    else:
        feed.failures = (feed.failures or 0.0) + record.outcome.failure_weight(record.soft_failure)
        if feed.failing_since is None:
            feed.failing_since = now
        feed.last_error = record.detail or record.status
    feed.status = record.status
    feed.outcome = record.outcome
    feed.last_http_status = record.http_status
    feed.last_fetched_at = now
    feed.fetch_count = (feed.fetch_count or 0) + 1
    feed.entries_seen = (feed.entries_seen or 0) + record.entries
    feed.articles_added = (feed.articles_added or 0) + record.new_entries
    feed.next_poll_at = next_poll_time(
        now, feed.failures, interval=interval, max_backoff=max_backoff,
        retry_after_seconds=record.retry_after_seconds, ttl_minutes=record.ttl_minutes,
    )
    session.add(
        FeedFetch(
            feed_id=feed.id, fetched_at=now, duration_ms=record.duration_ms,
            outcome=record.outcome, status=record.status, http_status=record.http_status,
            bytes=record.bytes, entries=record.entries, new_entries=record.new_entries,
            skipped_entries=record.skipped_entries, detail=record.detail or record.warning,
        )
    )
    return feed

