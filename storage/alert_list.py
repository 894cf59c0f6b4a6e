"""The alerts list: filters, search, sort and cursor pages, one query for the web, API and CLI.

Pages are cut by a cursor (the sort value and id of the last alert shown), not by an
offset: an alert inserted while someone pages through never shifts the next page, so
nothing is shown twice or skipped. Alerts whose sort value changes meanwhile (an update
moves an alert in the ``updated`` order) may, as in any keyset list.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, load_only, selectinload

from storage.models import Alert
from storage.search import SearchQuery, search_conditions

# Ids are Integer columns: 32-bit on PostgreSQL, which refuses a larger value outright
# (SQLite's are 64-bit, but no id gets near this). A larger id is no row's.
MAX_ID = 2**31 - 1
MAX_CURSOR_CHARS = 200

# Sort orders, newest (or highest) first; the id breaks ties.
SORTS: dict[str, Any] = {
    "published": Alert.published_at,
    "updated": Alert.updated_at,
    "score": Alert.score,
}
DEFAULT_SORT = "published"


class CursorError(ValueError):
    """A cursor this list did not hand out (or for another sort order)."""


@dataclass(frozen=True)
class Cursor:
    sort: str
    value: datetime | float
    id: int

    def encode(self) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime) else repr(float(self.value))
        raw = json.dumps([self.sort, value, self.id], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, sort: str) -> Cursor:
    """The cursor in ``text`` for a list in ``sort`` order; CursorError if it is not one."""
    if len(text) > MAX_CURSOR_CHARS:
        raise CursorError("too long")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        cursor_sort, value, alert_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise CursorError("not a cursor from this list") from None
    if not isinstance(cursor_sort, str) or cursor_sort not in SORTS or not isinstance(value, str):
        raise CursorError("not a cursor from this list")
    if cursor_sort != sort:
        raise CursorError(f"made for sort={cursor_sort}, not sort={sort}")
    if not isinstance(alert_id, int) or isinstance(alert_id, bool) or not 0 < alert_id <= MAX_ID:
        raise CursorError("not a cursor from this list")
    parsed: datetime | float
    try:
        if sort == "score":
            parsed = float(value)
            if not math.isfinite(parsed):
                raise ValueError
        else:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                raise ValueError
            parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise CursorError("not a cursor from this list") from None
    return Cursor(sort=sort, value=parsed, id=alert_id)


@dataclass(frozen=True)
class AlertQuery:
    """What to list. Empty ``topics``: every topic. ``limit``: alerts per page."""

    topics: tuple[str, ...] = ()
    since: datetime | None = None  # publication time, inclusive
    until: datetime | None = None
    min_score: float | None = None
    search: SearchQuery | None = None
    sort: str = DEFAULT_SORT
    limit: int = 200
    cursor: Cursor | None = None


@dataclass(frozen=True)
class AlertPage:
    alerts: list[Alert]
    next_cursor: Cursor | None  # None on the last page


def _filtered(session: Session, query: AlertQuery, statement: Select[Any]) -> Select[Any]:
    if query.topics:
        statement = statement.where(Alert.topic_id.in_(query.topics))
    if query.since is not None:
        statement = statement.where(Alert.published_at >= query.since)
    if query.until is not None:
        statement = statement.where(Alert.published_at <= query.until)
    if query.min_score is not None:
        statement = statement.where(Alert.score >= query.min_score)
    if query.search is not None:
        dialect = session.get_bind().dialect.name
        statement = statement.where(*search_conditions(dialect, query.search))
    return statement


def find_alerts(session: Session, query: AlertQuery) -> AlertPage:
    """One page of alerts in ``query.sort`` order, highest first, after ``query.cursor``."""
    column = SORTS[query.sort]
    statement = _filtered(session, query, select(Alert).options(selectinload(Alert.story)))
    if query.cursor is not None:
        after = query.cursor
        statement = statement.where(
            or_(column < after.value, and_(column == after.value, Alert.id < after.id))
        )
    statement = statement.order_by(column.desc(), Alert.id.desc()).limit(query.limit + 1)
    found = list(session.scalars(statement))
    alerts = found[: query.limit]
    next_cursor = None
    if len(found) > query.limit and alerts:
        last = alerts[-1]
        next_cursor = Cursor(sort=query.sort, value=getattr(last, column.key), id=last.id)
    return AlertPage(alerts=alerts, next_cursor=next_cursor)


def count_alerts(session: Session, query: AlertQuery) -> int:
    """How many alerts match the filters and search (all pages)."""
    return session.scalar(_filtered(session, query, select(func.count(Alert.id)))) or 0


def iter_alerts(session: Session, query: AlertQuery, page_size: int = 500) -> Iterator[list[Alert]]:
    """Every matching alert (from ``query.cursor`` on), a page at a time, in sort order."""
    current = replace(query, limit=page_size)
    while True:
        page = find_alerts(session, current)
        if page.alerts:
            yield page.alerts
        if page.next_cursor is None:
            return
        current = replace(current, cursor=page.next_cursor)


# What the list shows of each alert's story ----------------------------------------------


@dataclass(frozen=True)
class StoryFacts:
    """A story as one row of the alerts list shows it, loaded without article texts."""

    article_count: int
    outlets: list[str]  # distinct, in publication order
    published_at_source: str  # feed | page | fetched: of its earliest article
    first_url: str | None  # its earliest article, as listed in the feed


def story_facts(session: Session, story_ids: list[int]) -> dict[int, StoryFacts]:
    """``StoryFacts`` for many stories in two or three queries (no article texts)."""
    from storage.models import Article, ArticleSource, Feed
    from storage.serialize import article_published, outlet_names

    facts: dict[int, StoryFacts] = {}
    unique = sorted(set(story_ids))
    for start in range(0, len(unique), 500):
        articles = session.scalars(
            select(Article)
            .where(Article.story_id.in_(unique[start : start + 500]))
            .options(
                load_only(
                    Article.id, Article.story_id, Article.url, Article.site_name, Article.published_at,
                    Article.published_at_source, Article.fetched_at, Article.created_at,
                ),
                selectinload(Article.sources)
                .load_only(ArticleSource.article_id, ArticleSource.feed_id, ArticleSource.entry_url)
                .selectinload(ArticleSource.feed)
                .load_only(Feed.name, Feed.url),
            )
        )
        by_story: dict[int, list[Article]] = {}
        for article in articles:
            by_story.setdefault(article.story_id or 0, []).append(article)
        for story_id, group in by_story.items():
            earliest = min(group, key=lambda a: (article_published(a)[0], a.id))
            facts[story_id] = StoryFacts(
                article_count=len(group),
                outlets=outlet_names(group),
                published_at_source=article_published(earliest)[1],
                first_url=earliest.sources[0].entry_url if earliest.sources else earliest.url,
            )
    return facts
