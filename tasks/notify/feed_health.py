"""The "feed down" and "feed back" notices, by email and Slack (queued by storage/feed_health.py).

A notice is built from its delivery row's payload alone (the feed as it was when the
notice was queued), with a small template of its own; sending, retries and the
exactly-once bookkeeping are the same as for alerts (tasks/notify/dispatch.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from storage.feed_health import FEED_DOWN, FEED_UP
from storage.models import Delivery
from tasks.notify.render import RenderedEmail, build_email, message_id
from tasks.notify.text import one_line, safe_link, slack_escape, slack_link, slack_plain_text
from tasks.notify.views import MessageView

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class FeedNotice:
    kind: str  # feed_down | feed_up
    key: str
    subscriber: str
    feed_name: str
    feed_url: str
    failing_since: datetime
    problem: str
    recovered_at: datetime | None
    now: datetime
    feeds_page: str | None

    @property
    def down(self) -> bool:
        return self.kind == FEED_DOWN


def feed_notice(delivery: Delivery, subscriber: str, now: datetime, base_url: str | None) -> FeedNotice:
    """The notice a ``feed_down``/``feed_up`` delivery stands for."""
    payload = delivery.payload or {}
    if delivery.kind not in (FEED_DOWN, FEED_UP) or not payload.get("failing_since"):
        raise LookupError(f"delivery {delivery.key}: not a feed notice")
    status, error = payload.get("status") or "", payload.get("last_error") or ""
    problem = error if not status or status in error else f"{status}: {error}" if error else status
    recovered = payload.get("recovered_at")
    return FeedNotice(
        kind=delivery.kind,
        key=delivery.key,
        subscriber=subscriber,
        feed_name=one_line(payload.get("name") or payload.get("url") or "?", 150),
        feed_url=payload.get("url") or "",
        failing_since=datetime.fromisoformat(payload["failing_since"]),
        problem=one_line(problem, 300),
        recovered_at=datetime.fromisoformat(recovered) if recovered else None,
        now=now,
        feeds_page=f"{base_url}/feeds" if base_url else None,
    )


def duration_words(seconds: float) -> str:
    """'50 minutes', '26 hours', '3 days': how long, in the unit a person would use."""
    minutes = max(int(seconds // 60), 0)
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = minutes // 60
    if hours < 72:
        return f"{hours} hours"
    return f"{hours // 24} days"


def subject_of(notice: FeedNotice) -> str:
    word = "Feed down" if notice.down else "Feed back"
    return one_line(f"[newswatch] {word}: {notice.feed_name}", 180)


def _context(notice: FeedNotice) -> dict[str, Any]:
    since = f"{notice.failing_since:%d %b %Y %H:%M} UTC"
    if notice.down:
        summary = (
            f"{notice.feed_name} has failed every fetch since {since} "
            f"({duration_words((notice.now - notice.failing_since).total_seconds())}). "
            "Nothing new is read from it, so no alerts come from it until it works again."
        )
        advice = (
            "Open the address in a browser: if the feed moved, put its new address in the "
            "config's feeds; if it is gone, remove it. newswatch keeps trying it (slowly) "
            "and sends one more message when it works again."
        )
    else:
        back = notice.recovered_at or notice.now
        summary = (
            f"{notice.feed_name} works again since {back:%d %b %Y %H:%M} UTC, after failing "
            f"from {since} ({duration_words((back - notice.failing_since).total_seconds())})."
        )
        advice = "Articles it published while down are read if the feed still lists them."
    return {
        "heading": subject_of(notice).removeprefix("[newswatch] "),
        "summary": summary,
        "advice": advice,
        "feed_name": notice.feed_name,
        "feed_url": one_line(notice.feed_url, 500),
        "feed_link": safe_link(notice.feed_url),
        "problem": notice.problem if notice.down else "",
        "feeds_page": notice.feeds_page,
        "subscriber": one_line(notice.subscriber, 80),
        "down": notice.down,
    }


@lru_cache(maxsize=2)
def _environment(html: bool) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=not html,
        lstrip_blocks=not html,
    )


def render_feed_notice_email(notice: FeedNotice) -> RenderedEmail:
    context = _context(notice)
    return RenderedEmail(
        subject=subject_of(notice),
        text=_environment(False).get_template("feed_health.txt.j2").render(context),
        html=_environment(True).get_template("feed_health.html.j2").render(context),
    )


def feed_notice_email(
    notice: FeedNotice, *, sender: str, recipients: list[str], date: datetime
) -> EmailMessage:
    """The email, with the same safe headers as alerts; "feed back" threads under "feed down"."""
    view = MessageView(kind=notice.kind, subscriber=notice.subscriber, key=notice.key, stories=())
    message = build_email(view, render_feed_notice_email(notice), sender=sender, recipients=recipients, date=date)
    if not notice.down:
        parent = message_id(notice.key.replace(FEED_UP, FEED_DOWN, 1), notice.subscriber)
        message["In-Reply-To"] = parent
        message["References"] = parent
    return message


def feed_notice_slack(notice: FeedNotice) -> dict[str, Any]:
    """An incoming-webhook payload: a header, the summary, the feed, the page link."""
    context = _context(notice)
    heading = slack_plain_text(context["heading"])
    lines = [slack_escape(context["summary"]), f"Feed: {slack_link(notice.feed_url, notice.feed_name)}"]
    if context["problem"]:
        lines.append(slack_escape(f"Last error: {context['problem']}"))
    if notice.feeds_page:
        lines.append(slack_link(notice.feeds_page, "Every feed's state in newswatch"))
    return {
        "text": slack_escape(context["heading"]),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": heading, "emoji": False}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900]}},
        ],
        "unfurl_links": False,
        "unfurl_media": False,
    }

