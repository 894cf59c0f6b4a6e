"""Rendering a message: email (plain text + HTML) and Slack (Block Kit + text fallback).

Pure functions of a :class:`MessageView`. HTML goes through Jinja2 with autoescape on;
header values and Slack text go through ``tasks.notify.text``. What a story says (title,
link, date, outlets, the strongest evidence, other sources) is worked out once here, in
:func:`story_context`, so the HTML, the plain text and Slack say the same thing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from tasks.notify.evidence import Quote, quote_of
from tasks.notify.text import one_line, safe_link
from tasks.notify.views import MessageView, SourceView, StoryView

TEMPLATES = Path(__file__).resolve().parent / "templates"
MESSAGE_ID_DOMAIN = "newswatch"
MAX_OUTLETS_NAMED = 5
PREHEADER_CHARS = 140


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
        trim_blocks=True,
        lstrip_blocks=True,
    )


def message_id(key: str, subscriber: str, channel: str = "email") -> str:
    """A stable Message-ID: the same delivery always gets the same one (resends included)."""
    digest = hashlib.sha256(f"{subscriber}\x00{channel}\x00{key}".encode()).hexdigest()[:32]
    return f"<{digest}@{MESSAGE_ID_DOMAIN}>"


def when(value: datetime | None) -> str:
    """A moment as readers see it in messages: ``28 Nov 2026, 09:00 UTC``."""
    if value is None:
        return ""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%d %b %Y, %H:%M UTC").lstrip("0")


def topic_labels(story: StoryView) -> list[str]:
    """The story's topics by name (ids only when no name is known)."""
    names = story.topic_names if len(story.topic_names) == len(story.topics) else story.topics
    return [one_line(name, 100) for name in names]


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
    if view.kind == "update":
        added = story.new_source_count
        more = f" (+{added} source{'s' if added != 1 else ''})" if added else ""
        return one_line(f"[newswatch] Update: {story.title}{more}", 180)
    return one_line(f"[newswatch] {', '.join(topic_labels(story))}: {story.title}", 180)


def intro_of(view: MessageView) -> str:
    if view.kind == "digest":
        start = f"{view.period_start:%d %b %H:%M}" if view.period_start else "the last digest"
        end = f"{view.period_end:%d %b %H:%M} UTC" if view.period_end else "now"
        count = len(view.stories)
        return (
            f"{_period_label(view)} for {one_line(view.subscriber, 80)}: {count} "
            f"stor{'y' if count == 1 else 'ies'} new or updated between {start} and {end}."
        )
    if view.kind == "update":
        return "A story you were alerted to has new sources."
    return "A new story matched your watch topics."


def _quote_of(story: StoryView) -> Quote | None:
    if story.quote is not None:
        return story.quote
    # Views built without stored evidence (tests, old callers): the snippet and its terms.
    return quote_of([{"text": story.snippet, "terms": list(story.terms)}]) if story.snippet else None


def _same_title(a: str, b: str) -> bool:
    def norm(text: str) -> str:
        return re.sub(r"\W+", " ", text).strip().casefold()

    return norm(a) == norm(b)


def _source_context(source: SourceView, story_title: str) -> dict[str, Any]:
    outlet = one_line(source.outlet, 120)
    # A feed named like the outlet adds nothing ("Harbour Times (via Harbour Times)").
    feeds = [one_line(f, 120) for f in source.feeds if f.strip().casefold() != source.outlet.strip().casefold()]
    return {
        "outlet": outlet,
        # The article's own headline only when it says something the story title does not.
        "title": "" if _same_title(source.title, story_title) or source.title == source.url
        else one_line(source.title, 300),
        "url": one_line(source.url, 2048),
        "link": safe_link(source.url),
        "published": when(source.published_at),
        "feeds": feeds,
        "is_new": source.is_new,
    }


def story_context(story: StoryView) -> dict[str, Any]:
    """Everything a story shows, with every string made safe for one line."""
    page = safe_link(story.page_url) if story.page_url else None
    first = safe_link(story.url) if story.url else None
    link = page or first or next((safe_link(s.url) for s in story.sources if safe_link(s.url)), None)
    title = one_line(story.title, 300)
    # The title already opens one article when there is no story page: list only the others.
    others = [s for s in story.sources if page or safe_link(s.url) != link]
    quote = _quote_of(story)
    outlets = [one_line(o, 120) for o in (story.outlets or tuple(s.outlet for s in story.sources))]
    outlets = list(dict.fromkeys(outlets))
    return {
        "story_id": story.story_id,
        "title": title,
        "link": link,
        "page": page,
        "status": story.status,
        "topics": topic_labels(story),
        "published": when(story.published_at or story.first_seen_at),
        "outlets": outlets[:MAX_OUTLETS_NAMED],
        "more_outlets": max(len(outlets) - MAX_OUTLETS_NAMED, 0),
        "quote": [{"text": text, "found": found} for text, found in quote.pieces] if quote else [],
        "quote_text": quote.text if quote else "",
        "quote_outlet": one_line(quote.outlet, 120) if quote else "",
        "words": [one_line(w, 60) for w in quote.words] if quote else [],
        "score": story.score,
        "score_words": one_line(story.score_words or f"score {story.score:.1f}", 120),
        "sources": [_source_context(s, story.title) for s in others],
        "sources_heading": "Sources" if page else "Also reported by",
        "source_count": story.source_count,
        "more": max(story.source_count - len(story.sources), 0),
    }


def topic_groups(view: MessageView) -> list[dict[str, Any]]:
    """The stories by topic (a story under its strongest topic), topics in name order."""
    groups: dict[str, dict[str, Any]] = {}
    for story in view.stories:
        key = story.primary_topic if story.primary_topic in story.topics else (story.topics or ("",))[0]
        names = dict(zip(story.topics, topic_labels(story), strict=True))
        group = groups.setdefault(key, {"name": names.get(key, key) or "Other", "stories": []})
        context = story_context(story)
        # Under its topic's heading a story names only its other topics.
        context["other_topics"] = [name for t, name in names.items() if t != key]
        group["stories"].append(context)
    ordered = sorted(groups.values(), key=lambda g: str(g["name"]).casefold())
    for number, group in enumerate(ordered, start=1):
        group["anchor"] = f"topic-{number}"
    return ordered


def preheader_of(view: MessageView, groups: list[dict[str, Any]]) -> str:
    """The line mail clients show after the subject in the inbox."""
    if view.kind == "digest":
        text = "; ".join(f"{g['name']}: {len(g['stories'])}" for g in groups)
    else:
        story = groups[0]["stories"][0]
        added = list(dict.fromkeys(s["outlet"] for s in story["sources"] if s["is_new"]))
        facts = [f"New: {', '.join(added)}"] if added else [story["published"], ", ".join(story["outlets"])]
        text = " · ".join(f for f in facts if f)
        if story["quote_text"]:
            text = f"{text} — {story['quote_text']}"
    return one_line(text, PREHEADER_CHARS)


def footer_of(view: MessageView) -> str:
    topics = sorted({name for story in view.stories for name in topic_labels(story)}, key=str.casefold)
    return (f"Sent by newswatch to {one_line(view.subscriber, 80)} for "
            f"{', '.join(topics) or 'your watch topics'}.")


def render_email(view: MessageView) -> RenderedEmail:
    groups = topic_groups(view)
    context = {
        "heading": subject_of(view),
        "intro": intro_of(view),
        "preheader": preheader_of(view, groups),
        "digest": view.kind == "digest",
        "groups": groups,
        "footer": footer_of(view),
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
    """A multipart/alternative message with safe headers and a stable Message-ID.

    Internal identifiers (the delivery key, the story ids) travel in ``X-Newswatch-*``
    headers, for support and filters, never in the body a reader sees.
    """
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
    message["X-Newswatch-Stories"] = one_line(" ".join(str(s.story_id) for s in view.stories), 900)
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
