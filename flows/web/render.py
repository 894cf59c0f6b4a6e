"""Safe rendering helpers: every piece of feed text is escaped before it reaches a page.

Highlighting never inserts feed text as HTML: the text is cut into pieces, each piece is
escaped, and only our own ``<mark>`` tags are placed between escaped pieces.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from markupsafe import Markup, escape

from storage.evidence import strongest_item
from tasks.topics.highlight import evidence_patterns, marked_spans

# Characters XML 1.0 forbids; feed text may carry them and they would break the Atom feed.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def safe_href(url: str | None) -> str | None:
    """The URL if it is an http(s) link, else None: other schemes never become links."""
    if not url:
        return None
    text = url.strip()
    if any(ord(c) < 0x20 or c.isspace() for c in text):
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return text


def xml_text(value: Any) -> str:
    """Text that is legal in an XML document (escaping is the XML writer's job)."""
    return _XML_INVALID.sub("", "" if value is None else str(value))


def when(value: datetime | None) -> str:
    """A timestamp as people read it: 2026-11-28 17:08 UTC."""
    if value is None:
        return "–"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def from_iso(value: str | None) -> datetime | None:
    """A timestamp of the JSON shapes (``…Z``) back to a datetime, for display."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def path_segment(value: Any) -> str:
    """A value made safe to sit in one URL path segment."""
    return quote(str(value), safe="")


def iso_attr(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else ""


def term_patterns(evidence: dict[str, Any]) -> list[re.Pattern[str]]:
    """Patterns for what to mark in an evidence text (tasks/topics/highlight.py: the same
    words the email and Slack mark)."""
    return evidence_patterns(evidence)


def match_window(text: str, evidence: dict[str, Any]) -> tuple[int, int] | None:
    """Where the rule matched inside the evidence text, when the offsets say so."""
    start, end, text_start = (evidence.get(k) for k in ("start", "end", "text_start"))
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end, text_start)):
        return None
    low, high = start - text_start, end - text_start
    return (low, high) if 0 <= low < high <= len(text) else None


def highlight(text: Any, evidence: dict[str, Any]) -> Markup:
    """``text`` escaped, with the evidence's matched terms wrapped in ``<mark>``.

    Only occurrences inside the span the rule matched are marked (when the offsets are
    known and hold any), so a word repeated elsewhere in the sentence stays plain.
    """
    value = "" if text is None else str(text)
    spans = marked_spans(value, term_patterns(evidence))
    window = match_window(value, evidence)
    if window:
        inside = [(s, e) for s, e in spans if s >= window[0] and e <= window[1]]
        spans = inside or spans
    out: list[str] = []
    position = 0
    for start, end in spans:
        out.append(str(escape(value[position:start])))
        out.append(f"<mark>{escape(value[start:end])}</mark>")
        position = end
    out.append(str(escape(value[position:])))
    return Markup("".join(out))


def outlet(article: Any) -> str:
    """Who published an article: the site's own name, else the first feed's name or URL."""
    from storage.serialize import outlet_name

    return outlet_name(article)


SNIPPET_CHARS = 240


def snippet(evidence: Any, limit: int = SNIPPET_CHARS) -> Markup:
    """The strongest evidence sentence (storage.evidence.strongest_item), short, words marked."""
    item = strongest_item(evidence)
    if item is None:
        return Markup("")
    text = str(item["text"])
    if len(text) > limit:
        cut = text.rfind(" ", 0, limit)
        text = text[: cut if cut > limit // 2 else limit].rstrip() + " …"
    return highlight(text, item)
