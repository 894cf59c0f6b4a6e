"""An Atom 1.0 feed of one topic's alerts, written with an XML writer (never by string pasting)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from flows.web.render import safe_href, xml_text
from storage.models import Alert

ATOM_NS = "http://www.w3.org/2005/Atom"
MAX_RELATED = 20
# Stable entry and feed ids: the same alert keeps its id however the app is reached.
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/newswatch/newswatch")


def atom_id(kind: str, key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_ID_NAMESPACE, f'{kind}:{key}')}"


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def evidence_summary(alert: Alert, limit: int = 3) -> str:
    """The first few evidence sentences, as plain text."""
    texts = [
        str(e.get("text") or "").strip()
        for e in (alert.evidence or [])
        if isinstance(e, dict) and e.get("text")
    ]
    return "\n\n".join(texts[:limit]) or "(no evidence recorded)"


def topic_atom(
    *,
    topic_id: str,
    topic_name: str,
    alerts: list[Alert],
    self_url: str,
    topic_url: str,
    story_url: Callable[[Alert], str],
    now: datetime,
    related_urls: Callable[[Alert], list[str]] = lambda alert: [],
) -> bytes:
    """The feed document: one entry per alert, newest first.

    Each entry links to its story page (``alternate``) and to the story's original
    articles (``related``, http(s) links only, at most MAX_RELATED).
    """
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            element.text = xml_text(text)
        return element

    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(feed, "id", atom_id("topic", topic_id))
    sub(feed, "title", f"newswatch: {topic_name}", type="text")
    sub(feed, "subtitle", f"Alerts for the watch topic {topic_id}", type="text")
    updated = max((a.updated_at for a in alerts), default=now)
    sub(feed, "updated", _rfc3339(updated))
    sub(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    sub(feed, "link", rel="alternate", type="text/html", href=topic_url)
    author = sub(feed, "author")
    sub(author, "name", "newswatch")
    sub(feed, "generator", "newswatch")
    for alert in alerts:
        entry = sub(feed, "entry")
        sub(entry, "id", atom_id("alert", str(alert.id)))
        sub(entry, "title", alert.title or (alert.story.title if alert.story else None) or f"Alert {alert.id}", type="text")
        sub(entry, "updated", _rfc3339(alert.updated_at))
        sub(entry, "published", _rfc3339(alert.published_at))  # the story's publication
        sub(entry, "link", rel="alternate", type="text/html", href=story_url(alert))
        for url in [u for u in map(safe_href, related_urls(alert)) if u][:MAX_RELATED]:
            sub(entry, "link", rel="related", type="text/html", href=xml_text(url))
        sub(entry, "category", term=xml_text(alert.topic_id))
        sub(entry, "summary", evidence_summary(alert), type="text")
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body
