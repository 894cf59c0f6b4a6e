"""Article rows: recording feed entries, claiming work, storing extraction results.

One article per canonical URL (or per lossy URL key: AMP and mobile copies), one source
row per (feed, entry). An article is fetched once; it is fetched again only when its
feed entry changes, and then the old text is kept as a version. Work is claimed with a
lease, so a crashed pass's claims simply expire and the next pass takes them.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from storage.dialect import affected_rows, for_claim, insert_ignore
from storage.models import Article, ArticleSource, ArticleVersion

LEASE = timedelta(minutes=10)


@dataclass(frozen=True)
class EntryRecord:
    """A feed entry, ready to store: URLs already canonicalised by the caller."""

    entry_id: str
    url: str  # as listed in the feed
    canonical_url: str
    url_key: str
    title: str | None
    published_at: datetime | None
    summary: str | None
    content: str | None
    entry_hash: str


@dataclass
class EntryCounts:
    seen: int = 0
    new_articles: int = 0
    new_sources: int = 0
    changed: int = 0


@dataclass(frozen=True)
class ArticleWork:
    """A claimed article: what fetching and extracting it needs, as plain values."""

    id: int
    url: str
    canonical_url: str
    entry_title: str | None
    entry_summary: str | None
    entry_content: str | None
    attempts: int


@dataclass(frozen=True)
class ExtractionRecord:
    """What a fetch + extraction produced for one article."""

    status: str  # fetched | failed | rejected | retry
    detail: str | None = None
    http_status: int | None = None
    content_type: str | None = None
    final_url: str | None = None
    title: str | None = None
    text: str | None = None
    author: str | None = None
    site_name: str | None = None
    language: str | None = None
    published_at: datetime | None = None
    html_canonical_url: str | None = None
    extraction_method: str | None = None
    extraction_flags: tuple[str, ...] = ()
    content_hash: str | None = None
    retry_at: datetime | None = None


def record_entries(
    session: Session, feed_id: int, entries: list[EntryRecord], now: datetime, *, baseline: bool
) -> EntryCounts:
    """Store a feed's entries idempotently; returns what was new."""
    counts = EntryCounts(seen=len(entries))
    if not entries:
        return counts
    known = {
        row.entry_id: row
        for row in session.scalars(
            select(ArticleSource).where(
                ArticleSource.feed_id == feed_id,
                ArticleSource.entry_id.in_([e.entry_id for e in entries]),
            )
        )
    }
    fresh: list[EntryRecord] = []
    for entry in entries:
        source = known.get(entry.entry_id)
        if source is None:
            fresh.append(entry)
            continue
        source.last_seen_at = now
        if source.entry_hash != entry.entry_hash:
            _update_source(source, entry)
            counts.changed += 1
            _schedule_refetch(session, source.article_id, now)
    if not fresh:
        return counts

    article_ids = _article_ids(session, fresh, now, baseline=baseline, counts=counts)
    rows = [
        {
            "article_id": article_ids[e.entry_id], "feed_id": feed_id, "entry_id": e.entry_id,
            "entry_url": e.url, "entry_title": e.title, "entry_published_at": e.published_at,
            "entry_summary": e.summary, "entry_content": e.content, "entry_hash": e.entry_hash,
            "first_seen_at": now, "last_seen_at": now,
        }
        for e in fresh
    ]
    counts.new_sources = insert_ignore(session, ArticleSource.__table__, rows, ["feed_id", "entry_id"])
    if not baseline:
        # Seen by a feed that is not new: whatever it matches is news, not a baseline.
        session.execute(
            update(Article)
            .where(
                Article.id.in_(set(article_ids.values())), Article.baseline.is_(True),
                Article.analysed_at.is_(None),
            )
            .values(baseline=False)
            .execution_options(synchronize_session=False)
        )
    return counts


def _article_ids(
    session: Session, fresh: list[EntryRecord], now: datetime, *, baseline: bool, counts: EntryCounts
) -> dict[str, int]:
    """The article id for each fresh entry, creating articles that do not exist yet."""
    canonical = {e.canonical_url for e in fresh}
    keys = {e.url_key for e in fresh}
    found: dict[str, int] = {}
    by_key: dict[str, int] = {}
    for article_id, canonical_url, url_key in session.execute(
        select(Article.id, Article.canonical_url, Article.url_key).where(
            or_(Article.canonical_url.in_(canonical), Article.url_key.in_(keys))
        )
    ):
        found[canonical_url] = article_id
        if url_key:
            by_key.setdefault(url_key, article_id)
    new_rows: dict[str, dict[str, Any]] = {}
    for e in fresh:
        if e.canonical_url in found or e.url_key in by_key or e.canonical_url in new_rows:
            continue
        new_rows[e.canonical_url] = {
            "canonical_url": e.canonical_url, "url": e.url, "url_key": e.url_key,
            "status": "pending", "attempts": 0, "next_attempt_at": now,
            "title": e.title, "published_at": e.published_at,
            "published_at_source": "feed" if e.published_at else None, "baseline": baseline,
            "extraction_flags": [], "version": 1, "created_at": now, "updated_at": now,
        }
    if new_rows:
        counts.new_articles = insert_ignore(
            session, Article.__table__, list(new_rows.values()), ["canonical_url"]
        )
        for article_id, canonical_url in session.execute(
            select(Article.id, Article.canonical_url).where(Article.canonical_url.in_(new_rows))
        ):
            found[canonical_url] = article_id
    return {
        e.entry_id: found.get(e.canonical_url) or by_key[e.url_key]
        for e in fresh
    }


def _update_source(source: ArticleSource, entry: EntryRecord) -> None:
    source.entry_url = entry.url
    source.entry_title = entry.title
    source.entry_published_at = entry.published_at
    source.entry_summary = entry.summary
    source.entry_content = entry.content
    source.entry_hash = entry.entry_hash


def _schedule_refetch(session: Session, article_id: int, now: datetime) -> None:
    article = session.get(Article, article_id)
    if article is not None and article.status in ("fetched", "failed"):
        article.status = "pending"
        article.attempts = 0
        article.next_attempt_at = now
        article.lease_until = None


def claim_articles(session: Session, now: datetime, limit: int) -> list[ArticleWork]:
    """Claim up to ``limit`` pending articles for this worker (a lease; see module doc).

    One UPDATE takes the claim, so two workers (threads or machines) never get the same
    article: PostgreSQL skips rows another transaction holds, SQLite serialises writers.
    """
    token = f"{process_space()}:{os.getpid()}:{uuid.uuid4().hex}"
    candidates = for_claim(
        select(Article.id)
        .where(
            Article.status == "pending",
            or_(Article.next_attempt_at.is_(None), Article.next_attempt_at <= now),
            or_(Article.lease_until.is_(None), Article.lease_until < now),
        )
        .order_by(Article.id)
        .limit(limit),
        session,
    )
    session.execute(
        update(Article)
        .where(Article.id.in_(candidates.scalar_subquery()))
        .values(lease_until=now + LEASE, claim_token=token)
        .execution_options(synchronize_session=False)
    )
    articles = list(session.scalars(select(Article).where(Article.claim_token == token).order_by(Article.id)))
    if not articles:
        return []
    sources = _latest_sources(session, [a.id for a in articles])
    work: list[ArticleWork] = []
    for article in articles:
        source = sources.get(article.id)
        work.append(
            ArticleWork(
                id=article.id, url=article.url, canonical_url=article.canonical_url,
                entry_title=source.entry_title if source else article.title,
                entry_summary=source.entry_summary if source else None,
                entry_content=source.entry_content if source else None,
                attempts=article.attempts,
            )
        )
    return work


@functools.cache
def process_space() -> str:
    """Where this process's pid means something: the host name, the kernel's boot and the
    PID namespace (as Linux reports them).

    A host name alone is not enough: containers on the host network share the machine's
    host name but each has PID namespace of its own, so another container's live process
    would look dead here. Claims name this, and only claims of the same space are judged
    by their pid.
    """
    parts = [socket.gethostname()]
    with contextlib.suppress(OSError), open("/proc/sys/kernel/random/boot_id", encoding="ascii") as boot:
        parts.append(boot.read().strip()[:8])
    with contextlib.suppress(OSError):
        parts.append(os.readlink("/proc/self/ns/pid").removeprefix("pid:[").rstrip("]"))
    return "/".join(parts)


def release_dead_claims(session: Session, is_alive: Callable[[int], bool]) -> int:
    """Release claims held by processes of this host that no longer run (a crashed pass).

    Claims of other hosts (or other containers: see :func:`process_space`) wait for their
    lease to expire: we cannot see their processes.
    """
    host = process_space()
    tokens = session.scalars(select(Article.claim_token).where(Article.claim_token.is_not(None)).distinct())
    pids = {token: _claimant(token, host) for token in tokens if token}
    dead = [token for token, pid in pids.items() if pid is not None and not is_alive(pid)]
    if not dead:
        return 0
    result = session.execute(
        update(Article).where(Article.claim_token.in_(dead))
        .values(lease_until=None, claim_token=None)
        .execution_options(synchronize_session=False)
    )
    return affected_rows(result)


def _claimant(token: str, host: str) -> int | None:
    """The pid in a ``host:pid:nonce`` claim token, when the claim is this host's (``host``
    as :func:`process_space` names it)."""
    claim, _, _nonce = token.rpartition(":")
    claim_host, _, pid = claim.rpartition(":")
    return int(pid) if claim_host == host and pid.isdigit() else None


def _latest_sources(session: Session, article_ids: list[int]) -> dict[int, ArticleSource]:
    latest: dict[int, ArticleSource] = {}
    for source in session.scalars(
        select(ArticleSource).where(ArticleSource.article_id.in_(article_ids)).order_by(ArticleSource.id)
    ):
        previous = latest.get(source.article_id)
        # Prefer the entry with the fullest content for the feed fallback.
        if previous is None or len(source.entry_content or "") >= len(previous.entry_content or ""):
            latest[source.article_id] = source
    return latest


def store_result(session: Session, article_id: int, record: ExtractionRecord, now: datetime) -> Article:
    """Record one article's fetch and extraction outcome, keeping a version of old text."""
    article = session.get(Article, article_id)
    if article is None:
        raise LookupError(f"article {article_id} does not exist")
    article.lease_until = None
    article.claim_token = None
    article.attempts = (article.attempts or 0) + 1
    article.updated_at = now
    article.status_detail = record.detail
    if record.http_status is not None:
        article.http_status = record.http_status
    if record.content_type:
        article.content_type = record.content_type
    if record.final_url:
        article.final_url = record.final_url
    if record.status == "retry":
        article.status = "pending"
        article.next_attempt_at = record.retry_at or now + timedelta(minutes=5)
        return article
    article.status = record.status
    article.next_attempt_at = None
    if record.status != "fetched":
        return article

    if article.text and article.content_hash and article.content_hash != record.content_hash:
        session.add(
            ArticleVersion(
                article_id=article.id, version=article.version, title=article.title,
                text=article.text, content_hash=article.content_hash,
                fetched_at=article.fetched_at, replaced_at=now,
            )
        )
        article.version = (article.version or 1) + 1
        article.analysed_at = None  # an update in place is analysed again
    elif article.content_hash == record.content_hash and article.analysed_at is not None:
        pass  # the same text again: nothing to analyse
    else:
        article.analysed_at = None
    article.fetched_at = now
    article.title = record.title or article.title
    article.text = record.text
    article.author = record.author
    article.site_name = record.site_name
    article.language = record.language
    if record.published_at is not None:  # the page's own date wins over the feed's
        article.published_at = record.published_at
        article.published_at_source = "page"
    article.html_canonical_url = record.html_canonical_url
    article.extraction_method = record.extraction_method
    article.extraction_flags = list(record.extraction_flags)
    article.content_hash = record.content_hash
    return article


def any_to_analyse(session: Session) -> bool:
    """Whether some fetched article awaits analysis (one indexed lookup)."""
    return session.scalar(
        select(Article.id).where(Article.status == "fetched", Article.analysed_at.is_(None)).limit(1)
    ) is not None


def articles_to_analyse(session: Session, limit: int, *, claim: bool = True) -> list[Article]:
    """Fetched articles not yet clustered and matched, in publication order.

    Stories grow in the order events were reported, and the same articles give the same
    stories whichever feed happened to answer first. ``claim=False`` only reads them
    (row locks are for the transaction that analyses them).
    """
    query = (
        select(Article)
        .options(selectinload(Article.sources).joinedload(ArticleSource.feed))
        .where(Article.status == "fetched", Article.analysed_at.is_(None))
        .order_by(func.coalesce(Article.published_at, Article.created_at), Article.canonical_url)
        .limit(limit)
    )
    return list(session.scalars(for_claim(query, session) if claim else query))
