"""Rendering the next message of a subscriber without sending or writing anything."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from config.settings import Settings, SubscriberConfig
from storage.deliveries import digest_key, digest_so_far, next_pending_delivery
from storage.feed_health import FEED_HEALTH_KINDS
from storage.models import Delivery
from tasks.notify.feed_health import feed_notice, feed_notice_slack, render_feed_notice_email
from tasks.notify.render import RenderedEmail, render_email, render_slack
from tasks.notify.views import message_view


class NothingToPreview(Exception):
    """Nothing is queued and no digest has anything in it yet."""


@dataclass(frozen=True)
class Preview:
    description: str
    email: RenderedEmail | None
    slack: dict[str, Any] | None


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
    view = message_view(session, delivery, config, base_url=settings.web.base_url)
    if channel == "slack":
        return Preview(description, None, render_slack(view))
    return Preview(description, render_email(view), None)
