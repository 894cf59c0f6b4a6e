"""Rendering a message: email (plain text + HTML) and Slack (Block Kit + text fallback).

Pure functions of a :class:`MessageView`. HTML goes through Jinja2 with autoescape on;
header values and Slack text go through ``tasks.notify.text``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from tasks.notify.text import one_line, safe_link, slack_escape, slack_link
from tasks.notify.views import MessageView, StoryView

TEMPLATES = Path(__file__).resolve().parent / "templates"
MESSAGE_ID_DOMAIN = "newswatch"
SLACK_MAX_STORIES = 15  # Block Kit allows 50 blocks; three per story plus a header
SLACK_SECTION_LIMIT = 2900  # a section's text may hold 3000 characters


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


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


def message_id(key: str, subscriber: str, channel: str = "email") -> str:
    """A stable Message-ID: the same delivery always gets the same one (resends included)."""
    digest = hashlib.sha256(f"{subscriber}\x00{channel}\x00{key}".encode()).hexdigest()[:32]
    return f"<{digest}@{MESSAGE_ID_DOMAIN}>"


def _period_label(view: MessageView) -> str:
    every = {"hourly": "Hourly", "daily": "Daily", "weekly": "Weekly"}.get(view.every or "", "")
    if view.period_end is None:
        return f"{every} digest".strip()
    return f"{every} digest, {view.period_end:%d %b %Y %H:%M} UTC".strip()


def subject_of(view: MessageView) -> str:
    if view.kind == "digest":
        count = len(view.stories)
        text = f"[newswatch] {_period_label(view)}: {count} stor{'y' if count == 1 else 'ies'}"
        return one_line(text, 180)
    story = view.stories[0]
    topics = ", ".join(story.topics)
    if view.kind == "update":
        added = story.new_source_count
        more = f" (+{added} source{'s' if added != 1 else ''})" if added else ""
        return one_line(f"[newswatch] Update: {story.title}{more}", 180)
    return one_line(f"[newswatch] {topics}: {story.title}", 180)


def _intro(view: MessageView) -> str:
    if view.kind == "digest":
        start = f"{view.period_start:%d %b %H:%M}" if view.period_start else "the last digest"
        end = f"{view.period_end:%d %b %H:%M} UTC" if view.period_end else "now"
        return (
            f"{_period_label(view)} for {one_line(view.subscriber, 80)}: "
            f"{len(view.stories)} stories new or updated between {start} and {end}."
        )
    if view.kind == "update":
        return "A story you were alerted to has new sources."
    return "A new story matched your watch topics."


def _story_context(story: StoryView) -> dict[str, Any]:
    sources = [
        {
            "title": one_line(source.title, 300),
            "url": one_line(source.url, 2048),
            "link": safe_link(source.url),
            "outlet": one_line(source.outlet, 120),
            "feeds": [one_line(name, 120) for name in source.feeds],
            "is_new": source.is_new,
        }
        for source in story.sources
    ]
    page = safe_link(story.page_url) if story.page_url else None
    return {
        "title": one_line(story.title, 300),
        # The story page (evidence and every source) when web.base_url is set, else the first article.
        "link": page or (safe_link(story.url) if story.url else (sources[0]["link"] if sources else None)),
        "page": page,
        "topics": [one_line(t, 100) for t in story.topics],
        "score": story.score,
        "snippet": one_line(story.snippet, 500),
        "terms": [one_line(t, 60) for t in story.terms],
        "sources": sources,
        "source_count": story.source_count,
        "more": max(story.source_count - len(story.sources), 0),
        "status": story.status,
    }


def render_email(view: MessageView) -> RenderedEmail:
    context = {
        "heading": subject_of(view),
        "intro": _intro(view),
        "stories": [_story_context(story) for story in view.stories],
        "footer": f"Sent by newswatch to {one_line(view.subscriber, 80)}. Delivery {one_line(view.key, 120)}.",
    }
    text = _environment(False).get_template("message.txt.j2").render(context)
    html = _environment(True).get_template("message.html.j2").render(context)
    return RenderedEmail(subject=subject_of(view), text=text, html=html)


def build_email(
    view: MessageView,
    rendered: RenderedEmail,
    *,
    sender: str,
    recipients: list[str],
    date: Any,
) -> EmailMessage:
    """A multipart/alternative message with safe headers and a stable Message-ID."""
    message = EmailMessage(policy=SMTP)
    message["Subject"] = one_line(rendered.subject, 180)
    message["From"] = _address_header(sender)
    message["To"] = ", ".join(_address_header(r) for r in recipients)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id(view.key, view.subscriber)
    if view.kind == "update" and view.thread_key:
        parent = message_id(view.thread_key, view.subscriber)
        message["In-Reply-To"] = parent
        message["References"] = parent
    message["Auto-Submitted"] = "auto-generated"
    message["X-Newswatch-Delivery"] = one_line(view.key, 200)
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def _address_header(value: str) -> str:
    """One address, re-serialised so nothing but a name and an address survives."""
    [(name, address)] = getaddresses([one_line(value, 300)])[:1] or [("", "")]
    if "@" not in address:
        raise ValueError(f"not an email address: {one_line(value, 80)!r}")
    local, _, domain = address.rpartition("@")
    return str(Address(display_name=one_line(name, 100), username=local, domain=domain))


def render_slack(view: MessageView) -> dict[str, Any]:
    """An incoming-webhook payload: Block Kit blocks plus a plain ``text`` fallback."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _header_text(view), "emoji": False}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(_intro(view))}]},
    ]
    for story in view.stories[:SLACK_MAX_STORIES]:
        blocks.append({"type": "divider"})
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _story_mrkdwn(story)}})
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _sources_mrkdwn(story)}]})
    hidden = len(view.stories) - SLACK_MAX_STORIES
    if hidden > 0:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"… and {hidden} more stories (see the email digest)"}]}
        )
    return {
        "text": slack_escape(_fallback_text(view)),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


def _header_text(view: MessageView) -> str:
    # plain_text is not parsed for mentions or links; defuse them anyway, in case a
    # client does: angle brackets become look-alikes, @ gets a word joiner.
    subject = subject_of(view).removeprefix("[newswatch] ")
    inert = subject.replace("<", "\u2039").replace(">", "\u203a").replace("@", "@\u2060")
    return one_line(inert, 150)


def _story_mrkdwn(story: StoryView) -> str:
    link = story.page_url or story.url or (story.sources[0].url if story.sources else "")
    title = slack_link(link, story.title) if link else slack_escape(one_line(story.title, 300))
    updated = " _(updated)_" if story.status == "updated" else ""
    lines = [
        f"*{title}*{updated}",
        slack_escape(
            f"Topic: {', '.join(story.topics)} · score {story.score:.1f} · "
            f"{story.source_count} source{'s' if story.source_count != 1 else ''}"
        ),
    ]
    if story.snippet:
        lines.append("> " + slack_escape(one_line(story.snippet, 500)))
    if story.page_url:
        lines.append(slack_link(story.page_url, "Evidence and all sources in newswatch"))
    return _cap("\n".join(lines))


def _sources_mrkdwn(story: StoryView) -> str:
    parts = []
    for source in story.sources:
        mark = "*new* " if source.is_new else ""
        parts.append(f"{mark}{slack_link(source.url, source.outlet)}")
    more = story.source_count - len(story.sources)
    text = "Sources: " + " · ".join(parts) + (f" · and {more} more" if more > 0 else "")
    return _cap(text)


def _fallback_text(view: MessageView) -> str:
    if view.kind == "digest":
        titles = "; ".join(one_line(s.title, 80) for s in view.stories[:5])
        return one_line(f"{subject_of(view).removeprefix('[newswatch] ')}: {titles}", 400)
    return subject_of(view).removeprefix("[newswatch] ")


def _cap(text: str) -> str:
    return text if len(text) <= SLACK_SECTION_LIMIT else text[: SLACK_SECTION_LIMIT - 1] + "…"
