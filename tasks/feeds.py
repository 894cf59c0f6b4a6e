"""Parse fetched feed bytes into entries with a stable identity.

feedparser does the parsing (it has no timeout of its own, so it only ever sees bytes
that ``tasks.http`` already fetched within bounds). Malformed feeds keep whatever
entries parse, with a warning; entries without a usable link are counted and skipped.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

# A feed entry's title longer than this is cut: some feeds put whole articles there.
MAX_TITLE_CHARS = 1000
MAX_SUMMARY_CHARS = 20_000
MAX_CONTENT_CHARS = 200_000
MAX_ENTRIES = 2000  # per fetch; a 10,000-entry feed is read up to this many, newest first

_TAG = re.compile(r"<[^>]+>")
# A DOCTYPE with an internal subset (where entities are declared), and the root element's
# start: declarations only count before it (an article about XML may quote "<!ENTITY").
_INTERNAL_SUBSET = re.compile(rb"<!DOCTYPE[^>\[]*\[.*?\]\s*>", re.DOTALL | re.IGNORECASE)
_ELEMENT_START = re.compile(rb"<[A-Za-z_]")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class FeedEntry:
    entry_id: str  # the GUID, or the link when the feed gives none
    url: str  # the link as listed (made absolute)
    title: str | None
    published_at: datetime | None
    summary: str | None
    content: str | None
    entry_hash: str  # changes when the entry's link, title or text changes


@dataclass
class ParsedFeed:
    title: str | None
    entries: list[FeedEntry] = field(default_factory=list)
    is_feed: bool = True
    warning: str | None = None  # e.g. "malformed XML (kept 12 entries): mismatched tag"
    skipped: list[str] = field(default_factory=list)  # why entries were skipped
    ttl_minutes: int | None = None


def plain_text(value: str | None, limit: int) -> str | None:
    """Feed text for a person: tags dropped, entities decoded, whitespace folded, capped."""
    if not value:
        return None
    text = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", value))).strip()
    return text[:limit] or None


def usable_link(link: str | None, base: str) -> str | None:
    """An absolute http(s) link, or None (javascript:, data:, mailto:, empty …)."""
    if not link or not isinstance(link, str):
        return None
    link = link.strip()
    if not link:
        return None
    absolute = urljoin(base, link)
    try:
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if len(absolute) > 2048:
        return None
    return absolute


def _entry_time(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, TypeError):
                continue
    return None


def _entry_content(entry: Any) -> str | None:
    contents = entry.get("content") or []
    best = max((c.get("value") or "" for c in contents if isinstance(c, dict)), key=len, default="")
    return best[:MAX_CONTENT_CHARS] or None


def _hash(*parts: str | None) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update((part or "").encode("utf-8", "replace"))
        digest.update(b"\x1f")
    return digest.hexdigest()


def looks_like_html_page(body: bytes) -> bool:
    head = body[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:512]


def parse_feed(body: bytes, feed_url: str, headers: dict[str, str] | None = None) -> ParsedFeed:
    """Parse ``body`` (fetched from ``feed_url``); never raises."""
    # expat caps entity expansion at 100x the input, not less: a 0.6 MB feed declaring one
    # entity and referencing it 200,000 times makes feedparser use ~1 GB and ~30 s. Feeds
    # never need entities of their own, so their declarations are dropped before parsing.
    def declares_entities(data: bytes) -> bool:
        root = _ELEMENT_START.search(data)
        return b"<!entity" in data[: root.start() if root else len(data)].lower()

    dropped_entities = declares_entities(body)
    if dropped_entities:
        body = _INTERNAL_SUBSET.sub(b"", body, count=1)
        if declares_entities(body):
            return ParsedFeed(title=None, is_feed=False, warning="not a feed: XML entity declarations")
    try:
        parsed = feedparser.parse(
            body,
            response_headers=headers or {},
            sanitize_html=True,
            resolve_relative_uris=True,
        )
    except Exception as exc:  # feedparser is defensive, but a parser bug must not stop a pass
        return ParsedFeed(title=None, is_feed=False, warning=f"parse error: {exc}")
    feed_info = parsed.get("feed", {}) or {}
    raw_entries = parsed.get("entries", []) or []
    version = parsed.get("version") or ""
    bozo = parsed.get("bozo")
    if not raw_entries and (not version or bozo):
        reason = "an HTML page" if looks_like_html_page(body) else "no RSS or Atom content"
        return ParsedFeed(title=None, is_feed=False, warning=f"not a feed: {reason}")

    result = ParsedFeed(title=plain_text(feed_info.get("title"), MAX_TITLE_CHARS))
    if bozo:
        problem = str(parsed.get("bozo_exception") or "malformed feed").splitlines()[0][:200]
        result.warning = f"malformed feed (kept {len(raw_entries)} entries): {problem}"
    if dropped_entities:
        result.warning = "; ".join(filter(None, ["XML entity declarations ignored", result.warning]))
    ttl = feed_info.get("ttl")
    if isinstance(ttl, str) and ttl.strip().isdigit():
        result.ttl_minutes = int(ttl.strip())

    seen: set[str] = set()
    for raw in raw_entries[:MAX_ENTRIES]:
        link = usable_link(raw.get("link"), feed_url) or _alternate_link(raw, feed_url)
        title = plain_text(raw.get("title"), MAX_TITLE_CHARS)
        if link is None:
            result.skipped.append(f"entry {title or raw.get('id') or '?'!r}: no usable link")
            continue
        guid = raw.get("id") or raw.get("guid")
        entry_id = str(guid).strip()[:2048] if guid and str(guid).strip() else link
        if entry_id in seen:  # duplicate GUIDs inside one feed: keep the first
            result.skipped.append(f"entry {entry_id!r}: duplicate id in this feed")
            continue
        seen.add(entry_id)
        summary = plain_text(raw.get("summary"), MAX_SUMMARY_CHARS)
        content = _entry_content(raw)
        result.entries.append(
            FeedEntry(
                entry_id=entry_id,
                url=link,
                title=title,
                published_at=_entry_time(raw),
                summary=summary,
                content=content,
                entry_hash=_hash(link, title, summary, content),
            )
        )
    if len(raw_entries) > MAX_ENTRIES:
        extra = f"read the first {MAX_ENTRIES} of {len(raw_entries)} entries"
        result.warning = f"{result.warning}; {extra}" if result.warning else extra
    return result


def _alternate_link(raw: Any, feed_url: str) -> str | None:
    for link in raw.get("links") or []:
        if isinstance(link, dict) and link.get("rel", "alternate") == "alternate":
            found = usable_link(link.get("href"), feed_url)
            if found:
                return found
    return None
