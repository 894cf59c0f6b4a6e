"""What the feeds page says about feed health: which feeds are down, since when, who was told.

The state comes from storage/feed_health.py, the same rows that send the notices.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from config.settings import Settings
from storage.feed_health import feed_health
from tasks.notify.feed_health import duration_words

_WORD = {"feed_down": "down notice", "feed_up": "back notice"}


def describe_notices(notices: list[dict[str, Any]]) -> list[str]:
    """One phrase per notice kind and state: "down notice sent to ops (email, slack)"."""
    grouped: dict[tuple[str, str], dict[str, list[str]]] = {}
    for notice in notices:
        state = {"sent": "sent to", "failed": "failed for"}.get(notice["status"], "queued for")
        by_subscriber = grouped.setdefault((notice["kind"], state), {})
        by_subscriber.setdefault(notice["subscriber"], []).append(notice["channel"])
    return [
        f"{_WORD.get(kind, kind)} {state} "
        + ", ".join(f"{name} ({', '.join(channels)})" for name, channels in subscribers.items())
        for (kind, state), subscribers in grouped.items()
    ]


def feed_health_context(session: Session, settings: Settings, now: Any) -> dict[str, Any]:
    """Template context for feed_health.html."""
    found = feed_health(session, settings, now)
    health = {}
    for feed_id, state in found.items():
        entry = state.as_dict()
        entry["told"] = describe_notices(state.notices)
        since = state.failing_since
        entry["failing_for"] = duration_words((now - since).total_seconds()) if since else None
        health[feed_id] = entry
    return {
        "health": health,
        "health_watchers": [s.name for s in settings.subscribers if s.feed_health],
        "down_after_hours": settings.delivery.feed_down_after_hours,
    }
