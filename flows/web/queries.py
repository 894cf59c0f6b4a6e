"""Read-only queries behind the web pages and the JSON API.

Plain functions over an explicit ``Session``; the HTTP layer only parses parameters
and renders what these return. The JSON shapes come from ``storage.serialize`` so the
API and the CLI's ``--format json`` stay the same contract.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from storage.models import Alert, Article, ArticleSource, Delivery, Story, Subscriber
from storage.serialize import iso
from tasks import durations

# SQLite integers are 64-bit: a larger id in a URL is simply not found.
MAX_ID = 2**63 - 1
DEFAULT_LIMIT = 200
MAX_LIMIT = 1000



class FilterError(ValueError):
    """A query parameter a user can fix; the message names it."""


@dataclass(frozen=True)
class AlertFilter:
    topic: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_score: float | None = None
    limit: int = DEFAULT_LIMIT


def parse_moment(name: str, value: str, now: datetime, *, end_of_day: bool = False) -> datetime:
    """``30d``/``12h``/``2w`` before ``now``, or an ISO date or date-time (UTC if no zone).

    A bare date used as an upper bound (``end_of_day``) means the end of that day.
    """
    try:
        return durations.parse_moment(value, now, end_of_day=end_of_day)
    except durations.DurationError as exc:
        raise FilterError(f"{name}: {exc}") from None


def parse_alert_filter(params: dict[str, str], now: datetime) -> AlertFilter:
    """The alert filters from query parameters: topic, since, until, min_score, limit."""
    topic = (params.get("topic") or "").strip() or None
    since_text = (params.get("since") or "").strip()
    until_text = (params.get("until") or "").strip()
    since = parse_moment("since", since_text, now) if since_text else None
    until = parse_moment("until", until_text, now, end_of_day=True) if until_text else None
    if since and until and since > until:
        raise FilterError("since: must be before until")
    min_score = None
    score_text = (params.get("min_score") or "").strip()
    if score_text:
        try:
            min_score = float(score_text)
        except ValueError:
            raise FilterError(f"min_score: {score_text!r} is not a number") from None
        if min_score != min_score or min_score in (float("inf"), float("-inf")):
            raise FilterError(f"min_score: {score_text!r} is not a finite number")
    limit = DEFAULT_LIMIT
    limit_text = (params.get("limit") or "").strip()
    if limit_text:
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
            raise FilterError(f"limit: must be a whole number from 1 to {MAX_LIMIT}")
        limit = int(limit_text)
    return AlertFilter(topic=topic, since=since, until=until, min_score=min_score, limit=limit)


def find_alerts(session: Session, filters: AlertFilter) -> list[Alert]:
    """Alerts newest first (by last update), as ``newswatch alerts`` lists them."""
    query = (
        select(Alert)
        .options(selectinload(Alert.story))
        .order_by(Alert.updated_at.desc(), Alert.id.desc())
        .limit(filters.limit)
    )
    if filters.topic:
        query = query.where(Alert.topic_id == filters.topic)
    if filters.since:
        query = query.where(Alert.updated_at >= filters.since)
    if filters.until:
        query = query.where(Alert.updated_at <= filters.until)
    if filters.min_score is not None:
        query = query.where(Alert.score >= filters.min_score)
    return list(session.scalars(query))


def story_article_counts(session: Session, story_ids: list[int]) -> dict[int, int]:
    """How many articles each story holds right now (one grouped query)."""
    if not story_ids:
        return {}
    rows = session.execute(
        select(Article.story_id, func.count(Article.id))
        .where(Article.story_id.in_(story_ids))
        .group_by(Article.story_id)
    ).all()
    return {story_id: count for story_id, count in rows}


def topic_ids_with_alerts(session: Session) -> list[str]:
    return sorted(session.scalars(select(Alert.topic_id).distinct()))


# Stories -------------------------------------------------------------------------------


@dataclass
class DeliveryRow:
    delivery: Delivery
    subscriber: str
    topic: str


@dataclass
class StoryView:
    story: Story
    articles: list[Article]
    alerts: list[Alert]
    deliveries: list[DeliveryRow] = field(default_factory=list)


def get_story(session: Session, story_id: int) -> StoryView | None:
    """A story with its articles (and their feed entries), alerts and deliveries."""
    if not 0 < story_id <= MAX_ID:
        return None
    story = session.get(Story, story_id)
    if story is None:
        return None
    articles = list(
        session.scalars(
            select(Article)
            .where(Article.story_id == story_id)
            .options(selectinload(Article.sources).selectinload(ArticleSource.feed))
            .order_by(Article.id)
        )
    )
    alerts = list(
        session.scalars(
            select(Alert)
            .where(Alert.story_id == story_id)
            .options(selectinload(Alert.matches))
            .order_by(Alert.topic_id)
        )
    )
    topics = {a.id: a.topic_id for a in alerts}
    deliveries = [
        DeliveryRow(delivery=d, subscriber=name, topic=topics.get(d.alert_id or 0, ""))
        for d, name in session.execute(
            select(Delivery, Subscriber.name)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.alert_id.in_(list(topics)))
            .order_by(Delivery.created_at, Delivery.id)
        ).all()
    ] if topics else []
    return StoryView(story=story, articles=articles, alerts=alerts, deliveries=deliveries)


def delivery_json(row: DeliveryRow) -> dict[str, Any]:
    d = row.delivery
    return {
        "id": d.id,
        "alert_id": d.alert_id,
        "topic": row.topic,
        "subscriber": row.subscriber,
        "channel": d.channel,
        "kind": d.kind,
        "status": d.status,
        "attempts": d.attempts,
        "created_at": iso(d.created_at),
        "sent_at": iso(d.sent_at),
        "error": d.error,
    }


# Topics --------------------------------------------------------------------------------


def alerts_per_day(session: Session, topic_id: str, first_day: date, last_day: date) -> list[tuple[date, int]]:
    """Alerts raised per UTC day from ``first_day`` to ``last_day``, zeros included."""
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
    end = datetime(last_day.year, last_day.month, last_day.day, tzinfo=UTC) + timedelta(days=1)
    # Counted in Python: grouping by day is dialect-specific SQL, and one topic's alerts
    # over a few weeks are few.
    created = session.scalars(
        select(Alert.created_at).where(
            Alert.topic_id == topic_id, Alert.created_at >= start, Alert.created_at < end
        )
    )
    counts = Counter(moment.astimezone(UTC).date() for moment in created)
    days = (last_day - first_day).days + 1
    return [(first_day + timedelta(days=i), counts.get(first_day + timedelta(days=i), 0)) for i in range(days)]


def topic_alert_count(session: Session, topic_id: str) -> int:
    return session.scalar(select(func.count(Alert.id)).where(Alert.topic_id == topic_id)) or 0


# Feeds ---------------------------------------------------------------------------------

BROKEN_OUTCOMES = frozenset({"transient", "permanent", "rejected"})


def feed_is_broken(feed: dict[str, Any]) -> bool:
    """A feed whose last fetch failed, or that keeps failing: shown in red on /feeds."""
    return feed.get("outcome") in BROKEN_OUTCOMES or float(feed.get("failures") or 0) > 0

