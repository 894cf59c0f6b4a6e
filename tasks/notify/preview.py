"""Rendering a message without sending or writing anything: a subscriber's next one, or
any stored alert (``newswatch preview --alert ID``), whatever its delivery state."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.digest_calendar import digest_key
from config.settings import Settings, SubscriberConfig
from storage.deliveries import digest_so_far, next_pending_delivery
from storage.feed_health import FEED_HEALTH_KINDS
from storage.models import Alert, Delivery, Subscriber
from tasks.notify.feed_health import feed_notice, feed_notice_slack, render_feed_notice_email
from tasks.notify.render import RenderedEmail, render_email
from tasks.notify.slack_blocks import render_slack
from tasks.notify.topics import TopicDirectory, topic_directory, topic_name
from tasks.notify.views import MessageView, message_view

# Whom a chosen alert is shown to when no subscriber is named: every topic, any score.
ANY_READER = SubscriberConfig(name="preview")


class NothingToPreview(Exception):
    """Nothing is queued and no digest has anything in it yet."""


class NoSuchAlert(LookupError):
    """The alert id given to ``preview --alert`` is not in the database."""


@dataclass(frozen=True)
class Preview:
    description: str
    email: RenderedEmail | None
    slack: dict[str, Any] | None
    note: str | None = None  # said before the preview: e.g. this reader would never be sent it


def preview(
    session: Session, settings: Settings, config: SubscriberConfig, channel: str, now: datetime
) -> Preview:
    delivery = next_pending_delivery(session, config.name, channel)
    if delivery is not None:
        description = f"next {delivery.kind} for {config.name} ({channel}), queued {delivery.created_at:%Y-%m-%d %H:%M} UTC"
    elif config.mode == "digest":
        start, end, alerts = digest_so_far(session, settings, config, now)
        if not alerts:
            raise NothingToPreview(
                f"nothing to preview: {config.name}'s digest has no stories since {start:%Y-%m-%d %H:%M} UTC"
            )
        delivery = Delivery(
            key=digest_key(config.name, start), channel=channel, kind="digest",
            payload={
                "period_start": start.isoformat(), "period_end": end.isoformat(),
                "every": config.digest.every, "alert_ids": [a.id for a in alerts],
                "new_alert_ids": [a.id for a in alerts if a.created_at >= start],
            },
        )
        description = f"digest so far for {config.name} ({len(alerts)} alerts since {start:%Y-%m-%d %H:%M} UTC)"
    else:
        raise NothingToPreview(f"nothing to preview: no message is queued for {config.name} ({channel})")
    if delivery.kind in FEED_HEALTH_KINDS:  # a queued "feed down"/"feed back" notice
        notice = feed_notice(delivery, config.name, now, settings.web.base_url)
        if channel == "slack":
            return Preview(description, None, feed_notice_slack(notice))
        return Preview(description, render_feed_notice_email(notice), None)
    view = message_view(session, delivery, config, base_url=settings.web.base_url,
                        topics=topic_directory(settings))
    return _rendered(description, view, channel)


def _rendered(description: str, view: MessageView, channel: str) -> Preview:
    if channel == "slack":
        return Preview(description, None, render_slack(view))
    return Preview(description, render_email(view), None)


def delivery_state(session: Session, alert: Alert, subscriber: str | None, channel: str) -> str:
    """What happened to this alert's messages, in words: baseline, not queued, pending, sent …"""
    if alert.baseline:
        return "a baseline alert (present at the first pass, recorded but never delivered)"
    query = select(Delivery.status).where(Delivery.alert_id == alert.id, Delivery.channel == channel)
    if subscriber is not None:
        query = query.join(Subscriber, Subscriber.id == Delivery.subscriber_id).where(Subscriber.name == subscriber)
    statuses = sorted(set(session.scalars(query)))
    return f"its {channel} messages: {', '.join(statuses)}" if statuses else f"no {channel} message queued for it"


def preview_alert(
    session: Session,
    settings: Settings,
    alert_id: int,
    channel: str,
    config: SubscriberConfig | None = None,
    topics: TopicDirectory | None = None,
) -> Preview:
    """The message ``config`` (default: a reader of every topic) would get for this alert
    as a new story, whether it was sent, failed, is pending or is a baseline alert."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        highest = session.scalar(select(Alert.id).order_by(Alert.id.desc()).limit(1))
        known = f"alert ids go up to {highest}" if highest is not None else "there are no alerts yet"
        raise NoSuchAlert(f"no alert with id {alert_id} ({known}; list them with: newswatch alerts)")
    reader = config or ANY_READER
    topics = topic_directory(settings) if topics is None else topics
    delivery = Delivery(key=f"alert:{alert.id}", channel=channel, kind="alert", alert_id=alert.id, payload={})
    view = message_view(session, delivery, reader, base_url=settings.web.base_url, topics=topics)
    state = delivery_state(session, alert, config.name if config else None, channel)
    description = (f"alert {alert.id} ({topic_name(topics, alert.topic_id)}) as {reader.name} "
                   f"would read it ({channel}); {state}")
    return replace(_rendered(description, view, channel), note=_not_followed(config, alert, topics))


def _not_followed(config: SubscriberConfig | None, alert: Alert, topics: TopicDirectory) -> str | None:
    """The preview renders any alert; say so when the named reader would never be sent it."""
    if config is None or not config.topics or alert.topic_id in config.topics:
        return None
    return (f"note: {config.name} does not follow {alert.topic_id} ({topic_name(topics, alert.topic_id)}):"
            " they would not be sent this alert")
