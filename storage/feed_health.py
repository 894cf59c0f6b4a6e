"""Feed health notices: one message when a feed goes down, one when it comes back.

A feed's failure *episode* starts at its first failed fetch after a success
(``feeds.failing_since``, kept by :func:`storage.feeds.record_fetch`) and ends at its next
success. Once an episode has lasted ``delivery.feed_down_after_hours``, every subscriber
with ``feed_health: true`` gets one ``feed_down`` delivery per channel; when the episode
ends, each of them gets one ``feed_up`` delivery on the channels the down notice used.

Exactly once, like alerts (storage/deliveries.py): the rows are keyed by feed and episode
(``feed_down:<feed id>:<failing_since>``, ``feed_up:<feed id>:<failing_since>``) under the
unique ``(key, subscriber_id, channel)`` and written with ``INSERT … ON CONFLICT DO
NOTHING``, so any number of polls, deliver runs or concurrent workers queue each notice
once; sending them goes through the same claim/lease/record steps as every delivery.
``feeds.down_notice_since`` remembers which episode was announced, so its end is noticed
even though ``failing_since`` is cleared by the success that ends it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.digest_calendar import aware
from config.settings import Settings, SubscriberConfig
from storage.deliveries import channels_of, sync_subscribers
from storage.dialect import insert_ignore
from storage.models import Delivery, Feed, Subscriber

FEED_DOWN = "feed_down"
FEED_UP = "feed_up"
FEED_HEALTH_KINDS = (FEED_DOWN, FEED_UP)


def notice_key(kind: str, feed_id: int, failing_since: datetime) -> str:
    """The delivery key of a notice: one per feed, failure episode and kind."""
    return f"{kind}:{feed_id}:{aware(failing_since).isoformat()}"


def down_after(settings: Settings) -> timedelta:
    return timedelta(hours=settings.delivery.feed_down_after_hours)


def is_down(feed: Feed, settings: Settings, now: datetime) -> bool:
    """Failing continuously for at least ``delivery.feed_down_after_hours``."""
    return feed.failing_since is not None and aware(feed.failing_since) + down_after(settings) <= now


@dataclass
class FeedHealthQueued:
    down: int = 0  # delivery rows added
    up: int = 0


def enqueue_feed_health(session: Session, settings: Settings, now: datetime) -> FeedHealthQueued:
    """Queue the down and up notices due now; safe to run any number of times, at once."""
    queued = FeedHealthQueued()
    watchers = [c for c in settings.subscribers if c.feed_health and channels_of(c)]
    rows = _subscriber_rows(session, settings, watchers, now)
    # Ended episodes first: a feed that came back and failed again since the last run
    # gets its up notice before the next episode's down notice replaces the marker.
    # Feed order, so concurrent runs take row locks in one order (no deadlock on PostgreSQL).
    announced = select(Feed).where(Feed.down_notice_since.is_not(None)).order_by(Feed.id)
    for feed in session.scalars(announced):
        assert feed.down_notice_since is not None  # the query selected only these
        episode = aware(feed.down_notice_since)
        if feed.failing_since is not None and aware(feed.failing_since) == episode:
            continue  # still the announced episode
        queued.up += _queue_up(session, feed, episode, {c.name for c in watchers}, now)
        feed.down_notice_since = None
    failing = select(Feed).where(Feed.active, Feed.failing_since.is_not(None)).order_by(Feed.id)
    for feed in session.scalars(failing):
        if not is_down(feed, settings, now):
            continue
        for config in watchers:
            for channel in channels_of(config):
                queued.down += _queue(session, rows[config.name], channel, FEED_DOWN, feed, now)
        feed.down_notice_since = feed.failing_since
    session.flush()
    return queued


def _subscriber_rows(
    session: Session, settings: Settings, watchers: list[SubscriberConfig], now: datetime
) -> dict[str, Subscriber]:
    names = [c.name for c in watchers]
    if not names:
        return {}
    rows = {r.name: r for r in session.scalars(select(Subscriber).where(Subscriber.name.in_(names)))}
    if len(rows) < len(names):
        sync_subscribers(session, settings, now)
        rows = {r.name: r for r in session.scalars(select(Subscriber).where(Subscriber.name.in_(names)))}
    return rows


def _queue_up(session: Session, feed: Feed, episode: datetime, watching: set[str], now: datetime) -> int:
    """The up notice, to the subscribers and channels the down notice went to (those that
    still have feed_health on)."""
    told = session.execute(
        select(Delivery.subscriber_id, Delivery.channel).where(
            Delivery.key == notice_key(FEED_DOWN, feed.id, episode)
        )
    ).all()
    added = 0
    for subscriber_id, channel in told:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is not None and subscriber.active and subscriber.name in watching:
            added += _queue(session, subscriber, channel, FEED_UP, feed, now, episode=episode)
    return added


def _queue(
    session: Session,
    subscriber: Subscriber,
    channel: str,
    kind: str,
    feed: Feed,
    now: datetime,
    *,
    episode: datetime | None = None,
) -> int:
    since = episode or aware(feed.failing_since)  # type: ignore[arg-type]  # a down feed has failing_since
    payload: dict[str, Any] = {
        "feed_id": feed.id,
        "url": feed.url,
        "name": feed.name,
        "failing_since": since.isoformat(),
        "status": feed.status,
        "last_error": feed.last_error,
        "last_success_at": _iso(feed.last_success_at),
    }
    if kind == FEED_UP:
        payload["recovered_at"] = _iso(feed.last_success_at) or now.isoformat()
    return insert_ignore(
        session,
        Delivery.__table__,
        [{
            "key": notice_key(kind, feed.id, since),
            "subscriber_id": subscriber.id,
            "channel": channel,
            "kind": kind,
            "alert_id": None,
            "status": "pending",
            "attempts": 0,
            "payload": payload,
            "created_at": now,
        }],
    )


# Reading state (for the web's feeds page and `newswatch feeds --format json`) -------------


@dataclass(frozen=True)
class FeedHealth:
    feed_id: int
    failing_since: datetime | None
    down: bool  # failing for at least delivery.feed_down_after_hours
    down_at: datetime | None  # when it counts (or counted) as down
    # One entry per notice row of the current (or last announced) episode.
    notices: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "failing_since": _iso(self.failing_since),
            "down": self.down,
            "down_at": _iso(self.down_at),
            "notices": self.notices,
        }


def feed_health(session: Session, settings: Settings, now: datetime) -> dict[int, FeedHealth]:
    """Per active feed that is failing or whose down notice awaits its up notice: since
    when, and which notices were queued or sent to whom."""
    found: dict[int, FeedHealth] = {}
    query = select(Feed).where(
        Feed.active, (Feed.failing_since.is_not(None)) | (Feed.down_notice_since.is_not(None))
    ).order_by(Feed.id)
    for feed in session.scalars(query):
        episode = feed.failing_since or feed.down_notice_since
        assert episode is not None
        keys = [notice_key(kind, feed.id, episode) for kind in FEED_HEALTH_KINDS]
        notices = [
            {
                "kind": kind, "subscriber": name, "channel": channel, "status": status,
                "sent_at": _iso(sent_at),
            }
            for kind, name, channel, status, sent_at in session.execute(
                select(Delivery.kind, Subscriber.name, Delivery.channel, Delivery.status, Delivery.sent_at)
                .join(Subscriber, Delivery.subscriber_id == Subscriber.id)
                .where(Delivery.key.in_(keys))
                .order_by(Delivery.id)
            )
        ]
        since = aware(feed.failing_since) if feed.failing_since is not None else None
        found[feed.id] = FeedHealth(
            feed_id=feed.id,
            failing_since=since,
            down=is_down(feed, settings, now),
            down_at=since + down_after(settings) if since is not None else None,
            notices=notices,
        )
    return found


def _iso(value: datetime | None) -> str | None:
    return aware(value).isoformat() if value is not None else None
