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
from storage.outcome import FAILURES
from storage.serialize import iso
from tasks import durations


class FilterError(ValueError):
    """A query parameter a user can fix; the message names it."""


def parse_moment(name: str, value: str, now: datetime, *, end_of_day: bool = False) -> datetime:
    """``30d``/``12h``/``2w`` before ``now``, or an ISO date or date-time (UTC if no zone).

    A bare date used as an upper bound (``end_of_day``) means the end of that day.
    """
    try:
        return durations.parse_moment(value, now, end_of_day=end_of_day)
    except durations.DurationError as exc:
        raise FilterError(f"{name}: {exc}") from None


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
    """Alerts per UTC day of their story's publication, ``first_day`` to ``last_day``, zeros included."""
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
    end = datetime(last_day.year, last_day.month, last_day.day, tzinfo=UTC) + timedelta(days=1)
    # Counted in Python: grouping by day is dialect-specific SQL, and one topic's alerts
    # over a few weeks are few.
    published = session.scalars(
        select(Alert.published_at).where(
            Alert.topic_id == topic_id, Alert.published_at >= start, Alert.published_at < end
        )
    )
    counts = Counter(moment.astimezone(UTC).date() for moment in published)
    days = (last_day - first_day).days + 1
    return [(first_day + timedelta(days=i), counts.get(first_day + timedelta(days=i), 0)) for i in range(days)]


def topic_alert_count(session: Session, topic_id: str) -> int:
    return session.scalar(select(func.count(Alert.id)).where(Alert.topic_id == topic_id)) or 0


# Feeds ---------------------------------------------------------------------------------

def feed_is_broken(feed: dict[str, Any]) -> bool:
    """A feed whose last fetch failed, or that keeps failing: shown in red on /feeds."""
    # The outcome read from the database is a plain string: it compares equal to its member.
    return feed.get("outcome") in FAILURES or float(feed.get("failures") or 0) > 0

