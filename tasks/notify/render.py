"""Rendering a message: email (plain text + HTML) and Slack (Block Kit + text fallback).

Pure functions of a :class:`MessageView`. HTML goes through Jinja2 with autoescape on;
header values and Slack text go through ``tasks.notify.text``. What a story says (title,
link, date, outlets, the strongest evidence, other sources) is worked out once here, in
:func:`story_context`, so the HTML, the plain text and Slack say the same thing.
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

from tasks.notify.message_parts import intro_of, subject_of, topic_groups, topic_labels
from tasks.notify.text import one_line
from tasks.notify.views import MessageView

TEMPLATES = Path(__file__).resolve().parent / "templates"
MESSAGE_ID_DOMAIN = "newswatch"
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
