"""Parse fetched feed bytes into entries with a stable identity.

feedparser does the parsing (it has no timeout of its own, so it only ever sees bytes
that ``tasks.http`` already fetched within bounds). Malformed feeds keep whatever
entries parse, with a warning; entries without a usable link are counted and skipped.
"""

from __future__ import annotations

import calendar
import codecs
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
# Tags of real HTML elements (and comments, CDATA): text holding one is markup, not prose.
_HTML_ELEMENT = re.compile(
    r"<!--|<!\[CDATA\[|</?(?:a|abbr|applet|article|aside|audio|b|base|basefont|bdi|bdo|big|blink|"
    r"blockquote|body|br|button|canvas|caption|center|cite|code|col|colgroup|dd|del|details|dfn|"
    r"dialog|div|dl|dt|em|embed|fieldset|figcaption|figure|font|footer|form|frame|frameset|h[1-6]|"
    r"head|header|hr|html|i|iframe|img|input|ins|kbd|label|li|link|main|mark|marquee|math|meta|"
    r"nav|noscript|object|ol|option|p|picture|pre|q|s|samp|script|section|select|small|source|"
    r"span|strike|strong|style|sub|summary|sup|svg|table|tbody|td|template|textarea|tfoot|th|"
    r"thead|time|title|tr|tt|u|ul|var|video|wbr)(?:[\s/>]|$)",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ABSOLUTE = re.compile(r"https?://[^/\s]", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["'][A-Za-z0-9._:-]+["']""")
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)


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


_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def plain_text(value: str | None, limit: int, *, is_html: bool = True) -> str | None:
    """Feed text for a person, whitespace folded and capped. HTML has its tags dropped and
    its entities decoded; plain text is kept as written ("Vector<int> and a < b")."""
    if not value:
        return None
    text = html.unescape(_TAG.sub(" ", value)) if is_html else value
    return _SPACE.sub(" ", text).strip()[:limit] or None


def _detail_text(item: Any, key: str, limit: int) -> str | None:
    """``item[key]`` as plain text. It is read as HTML when feedparser says it is HTML, or
    when it holds a real HTML element (feedparser calls "<script>…" plain text, and a feed
    must never put markup in front of a reader); "Vector<int> and a < b" stays as written."""
    value = item.get(key)
    detail = item.get(f"{key}_detail")
    kind = detail.get("type") if isinstance(detail, dict) else None
    is_html = kind is None or kind in _HTML_TYPES or bool(value and _HTML_ELEMENT.search(value))
    return plain_text(value, limit, is_html=is_html)


def usable_link(link: str | None, base: str) -> str | None:
    """An absolute http(s) link (a relative one joined to ``base``), or None (javascript:,
    data:, mailto:, empty, relative with spaces …). Spaces inside an absolute link are
    percent-encoded, as browsers do."""
    if not link or not isinstance(link, str):
        return None
    link = link.strip()
    if not link or _CONTROL.search(link):
        return None
    if " " in link:
        if not _ABSOLUTE.match(link):
            return None  # "Correct Value" is words, not a path
        link = link.replace(" ", "%20")
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


def permalink_guid(guid: str | None) -> str | None:
    """A guid used as the entry's link: only an absolute http(s) URL as written, never one
    made from words by joining them to the feed's address."""
    if not guid or not isinstance(guid, str) or not _ABSOLUTE.match(guid.strip()):
        return None
    link = guid.strip()
    return None if any(c.isspace() for c in link) else usable_link(link, link)


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
    headers = dict(headers or {})
    body, detected = _recode_undeclared(body, headers)
    try:
        parsed = feedparser.parse(
            body,
            response_headers=headers,
            sanitize_html=True,
            resolve_relative_uris=True,
        )
    except Exception as exc:  # feedparser is defensive, but a parser bug must not stop a pass
        return ParsedFeed(title=None, is_feed=False, warning=f"parse error: {exc}")
    feed_info = parsed.get("feed", {}) or {}
    raw_entries = parsed.get("entries", []) or []
    version = parsed.get("version") or ""
    bozo = parsed.get("bozo")
    problem = parsed.get("bozo_exception")
    # feedparser also flags a mismatch between the declared and the actual content type or
    # encoding; the document itself parsed, so a feed with no entries is still a feed.
    mismatch_only = bool(bozo) and isinstance(problem, feedparser.ThingsNobodyCaresAboutButMe)
    if not raw_entries and (not version or (bozo and not mismatch_only)):
        reason = "an HTML page" if looks_like_html_page(body) else "no RSS or Atom content"
        return ParsedFeed(title=None, is_feed=False, warning=f"not a feed: {reason}")

    result = ParsedFeed(title=_detail_text(feed_info, "title", MAX_TITLE_CHARS))
    warnings: list[str] = []
    if dropped_entities:
        warnings.append("XML entity declarations ignored")
    if detected:
        warnings.append(f"no encoding declared; read as {detected} (detected)")
    if bozo:
        text = str(problem or "malformed feed").splitlines()[0][:200]
        if mismatch_only:
            warnings.append(f"served with a mismatched type or encoding: {text}")
        else:
            warnings.append(f"malformed feed (kept {len(raw_entries)} entries): {text}")
    ttl = feed_info.get("ttl")
    if isinstance(ttl, str) and ttl.strip().isdigit():
        result.ttl_minutes = int(ttl.strip())

    _read_entries(raw_entries[:MAX_ENTRIES], feed_url, result)
    if len(raw_entries) > MAX_ENTRIES:
        warnings.append(f"read the first {MAX_ENTRIES} of {len(raw_entries)} entries")
    result.warning = "; ".join(warnings) or None
    return result


def _read_entries(raw_entries: list[Any], feed_url: str, result: ParsedFeed) -> None:
    """Each entry with a usable link becomes a FeedEntry of ``result``; the others, and
    repeats of an id already read, are noted in ``result.skipped``."""
    seen: set[str] = set()
    for raw in raw_entries[:MAX_ENTRIES]:
        link = _entry_link(raw, feed_url)
        title = _detail_text(raw, "title", MAX_TITLE_CHARS)
        if link is None:
            result.skipped.append(f"entry {title or raw.get('id') or '?'!r}: no usable link")
            continue
        guid = raw.get("id") or raw.get("guid")
        entry_id = str(guid).strip()[:2048] if guid and str(guid).strip() else link
        if entry_id in seen:  # duplicate GUIDs inside one feed: keep the first
            result.skipped.append(f"entry {entry_id!r}: duplicate id in this feed")
            continue
        seen.add(entry_id)
        summary = _detail_text(raw, "summary", MAX_SUMMARY_CHARS)
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


def _recode_undeclared(body: bytes, headers: dict[str, str]) -> tuple[bytes, str | None]:
    """Legacy bytes that declare no encoding, re-encoded as UTF-8 (and the encoding found).

    Declared means a byte-order mark, an XML prolog's encoding= or the HTTP charset; those,
    and bytes that are valid UTF-8, go to feedparser as they came.
    """
    head = body[:1024]
    if head.startswith(_BOMS) or _XML_ENCODING.match(head) or b"\x00" in head:
        return body, None
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if "charset=" in content_type.lower():
        return body, None
    try:
        body.decode("utf-8")
        return body, None
    except UnicodeDecodeError:
        pass
    from tasks.charset import detect_legacy_encoding

    encoding = detect_legacy_encoding(body)
    if encoding is None:
        return body, None
    if content_type:  # text/xml without a charset means us-ascii to feedparser (RFC 3023)
        for key in [k for k in headers if k.lower() == "content-type"]:
            headers[key] = f"{content_type.split(';')[0].strip()}; charset=utf-8"
    return body.decode(encoding, "replace").encode("utf-8"), encoding


def _entry_link(raw: Any, feed_url: str) -> str | None:
    """The article link of an entry: its <link> (relative ones joined to the feed's URL),
    else a guid that is a permalink and an absolute http(s) URL. feedparser puts a guid in
    ``link`` when there is no <link>; a guid like "Correct Value" is not a link."""
    link = raw.get("link")
    hrefs = {item.get("href") for item in raw.get("links") or [] if isinstance(item, dict)}
    if link and link in hrefs:
        found = usable_link(link, feed_url)
        if found:
            return found
    found = _alternate_link(raw, feed_url)
    if found:
        return found
    if raw.get("guidislink") and link and link == raw.get("id"):
        return permalink_guid(link)
    return None


def _alternate_link(raw: Any, feed_url: str) -> str | None:
    for link in raw.get("links") or []:
        if isinstance(link, dict) and link.get("rel", "alternate") == "alternate":
            found = usable_link(link.get("href"), feed_url)
            if found:
                return found
    return None
