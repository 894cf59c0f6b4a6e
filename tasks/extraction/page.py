"""Signals read straight from a parsed page: canonical URL, language, dates, paywall markers.

trafilatura's metadata covers most fields; these are the ones it misses or reports only
as a date without a time, and the paywall evidence it does not look for at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml.etree import XPath
from lxml.html import HtmlElement

from storage.clock import utcnow

# Phrases a paywall or registration wall shows in place of the article.
_PAYWALL_PHRASES = re.compile(
    r"subscribe to (continue|keep) reading|subscribe to read|"
    r"this (article|story|content) is (only )?(available )?(for|to) (paying |paid )?subscribers|"
    r"(for|exclusive to) subscribers only|subscribers[- ]only (article|content|story)|"
    r"to continue reading,? (please )?(subscribe|log ?in|sign ?in|register)|"
    r"(sign|log) ?in to (continue|keep) reading|register to (continue|keep) reading|"
    r"you have reached your (free )?(article|story) limit|"
    r"become a (subscriber|member) to (read|continue)|unlock (this|the full) (article|story)|"
    r"start your (free )?(trial|subscription) to (read|continue)"
)
# Every phrase above contains one of these; the regex runs only on windows around them
# (on a whole page it costs milliseconds, more than the rest of our page reading).
_PAYWALL_TRIGGERS = ("subscri", "reading", "limit", "become a", "unlock", "start your")
_PAYWALL_WINDOW = 90
# Class and id tokens of paywall containers (Piano, Poool, Zephr, Laterpay and home-made).
_PAYWALL_CLASS = re.compile(
    r"(?<![a-z])(paywall|pay-wall|paywalled|piano-?(paywall|offer|container|inline)|tp-modal|"
    r"tp-container-inner|poool-widget|zephr|laterpay|regwall|subscriber-only|subscribers-only|"
    r"premium-(content|gate|wall)|article-gate|meter-wall|locked-content)(?![a-z])",
    re.IGNORECASE,
)
_LOCKED_TIERS = frozenset({"locked", "metered", "premium", "subscriber", "subscription"})
_ARTICLE_TYPES = frozenset(
    {
        "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle",
        "opinionnewsarticle", "blogposting", "backgroundnewsarticle", "reviewnewsarticle",
        "report", "webpage", "liveblogposting",
    }
)
_DATE_META_NAMES = (
    "article:published_time", "og:published_time", "og:article:published_time",
    "datepublished", "pubdate", "publishdate", "publish-date", "publish_date",
    "dc.date.issued", "dc.date", "dcterms.created", "dcterms.issued", "sailthru.date",
    "parsely-pub-date", "date",
)
_LANG = re.compile(r"^([a-zA-Z]{2,3})(?:[-_][a-zA-Z0-9]{1,8})*$")
_EARLIEST_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class PageSignals:
    language: str | None = None
    canonical_url: str | None = None
    site_name: str | None = None
    title: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    paywall_strong: tuple[str, ...] = ()   # explicit declarations: enough on their own
    paywall_weak: tuple[str, ...] = ()     # container names: count only with a short/teaser text


def read_page_signals(tree: HtmlElement, page_url: str) -> PageSignals:
    meta = _meta_values(tree)
    ld = _json_ld_article(tree)
    strong: list[str] = []
    weak: list[str] = []
    if ld.get("free") is False:
        strong.append("JSON-LD isAccessibleForFree=false")
    tier = (meta.get("article:content_tier") or "").strip().lower()
    if tier in _LOCKED_TIERS:
        strong.append(f"article:content_tier={tier}")
    phrase = paywall_phrase(_visible_text(tree))
    if phrase:
        strong.append(f'text "{phrase}"')
    for token in _paywall_class_tokens(tree):
        weak.append(f'class/id "{token}"')
    return PageSignals(
        language=_language(tree, meta),
        canonical_url=_canonical(tree, meta, page_url),
        site_name=meta.get("og:site_name") or ld.get("publisher"),
        title=meta.get("og:title") or ld.get("headline"),
        author=ld.get("author") or meta.get("author") or meta.get("article:author"),
        published_at=ld.get("published") or _meta_date(tree, meta),
        paywall_strong=tuple(strong),
        paywall_weak=tuple(weak[:3]),
    )


def paywall_phrase(text: str) -> str | None:
    """The first paywall phrase in ``text`` ("subscribe to continue reading", ...), if any."""
    lowered = text.lower()
    for trigger in _PAYWALL_TRIGGERS:
        position = lowered.find(trigger)
        while position != -1:
            window = lowered[max(0, position - _PAYWALL_WINDOW):position + _PAYWALL_WINDOW]
            match = _PAYWALL_PHRASES.search(window)
            if match:
                return match.group(0)
            position = lowered.find(trigger, position + len(trigger))
    return None


def parse_datetime(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO 8601 or RFC 2822 text; None if absent or implausible.

    A date without a time is midnight UTC; a time without a zone is taken as UTC.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            parsed = None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    if not _EARLIEST_PLAUSIBLE <= parsed <= utcnow() + timedelta(days=2):
        return None
    return parsed


def normalise_language(value: str | None) -> str | None:
    """Primary language subtag, lower case: "en-GB" -> "en"."""
    if not value:
        return None
    match = _LANG.match(value.strip())
    return match.group(1).lower() if match else None


def absolute_http_url(href: str | None, base: str) -> str | None:
    if not href or not href.strip():
        return None
    try:
        url = urljoin(base, href.strip())
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return url


def _meta_values(tree: HtmlElement) -> dict[str, str]:
    """First value of each <meta property|name|itemprop|http-equiv>, keyed in lower case."""
    values: dict[str, str] = {}
    for element in tree.iter("meta"):
        content = element.get("content")
        if content is None:
            continue
        for attribute in ("property", "name", "itemprop", "http-equiv"):
            key = element.get(attribute)
            if key:
                values.setdefault(key.strip().lower(), content.strip())
    return values


def _canonical(tree: HtmlElement, meta: dict[str, str], page_url: str) -> str | None:
    for link in tree.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        if "canonical" in rel:
            url = absolute_http_url(link.get("href"), page_url)
            if url:
                return url
    return absolute_http_url(meta.get("og:url"), page_url)


def _language(tree: HtmlElement, meta: dict[str, str]) -> str | None:
    root = tree.getroottree().getroot()
    for candidate in (
        root.get("lang"),
        root.get("{http://www.w3.org/XML/1998/namespace}lang"),
        meta.get("content-language"),
        meta.get("og:locale"),
    ):
        language = normalise_language(candidate)
        if language:
            return language
    return None


def _meta_date(tree: HtmlElement, meta: dict[str, str]) -> datetime | None:
    for name in _DATE_META_NAMES:
        parsed = parse_datetime(meta.get(name))
        if parsed:
            return parsed
    for element in _DATE_ELEMENTS(tree):
        parsed = parse_datetime(element.get("datetime") or element.get("content"))
        if parsed:
            return parsed
    return None


# smart_strings=False: plain strings, not ones that keep a reference to their element
# (a third cheaper on real pages, where these return thousands of strings).
_BODY_TEXT = XPath(
    "//body//text()[not(parent::script or parent::style or parent::noscript)]", smart_strings=False
)
_BODY_NAMES = XPath("//body//@class | //body//@id", smart_strings=False)
_WHITESPACE = re.compile(r"\s+")
_DATE_ELEMENTS = XPath('//*[@itemprop="datePublished"] | //time[@pubdate]')
_JSON_LD = XPath('//script[@type="application/ld+json"]')


def _visible_text(tree: HtmlElement) -> str:
    """Text a reader sees in the body (no scripts or styles), joined by spaces."""
    return _WHITESPACE.sub(" ", " ".join(_BODY_TEXT(tree))).strip()


def _paywall_class_tokens(tree: HtmlElement) -> list[str]:
    names = " ".join(_BODY_NAMES(tree))
    return sorted({match.group(1).lower() for match in _PAYWALL_CLASS.finditer(names)})


def _json_ld_article(tree: HtmlElement) -> dict[str, Any]:
    """The article fields of the page's JSON-LD: headline, author, published, publisher, free."""
    found: dict[str, Any] = {}
    for script in _JSON_LD(tree):
        try:
            data = json.loads(script.text or "", strict=False)
        except (ValueError, RecursionError):
            continue
        for node in _walk_json_ld(data):
            types = node.get("@type")
            type_names = types if isinstance(types, list) else [types]
            if not any(isinstance(t, str) and t.lower() in _ARTICLE_TYPES for t in type_names):
                continue
            _merge_article_node(found, node)
    return found


def _walk_json_ld(data: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > 6:
        return
    if isinstance(data, list):
        for item in data:
            yield from _walk_json_ld(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        graph = data.get("@graph")
        if graph is not None:
            yield from _walk_json_ld(graph, depth + 1)


def _merge_article_node(found: dict[str, Any], node: dict[str, Any]) -> None:
    free = node.get("isAccessibleForFree")
    if isinstance(free, str):
        free = {"false": False, "true": True}.get(free.strip().lower())
    if isinstance(free, bool) and "free" not in found:
        found["free"] = free
    parts = node.get("hasPart")
    for part in parts if isinstance(parts, list) else [parts]:
        if isinstance(part, dict) and str(part.get("isAccessibleForFree")).lower() == "false":
            found["free"] = False
    if "headline" not in found and isinstance(node.get("headline"), str):
        found["headline"] = node["headline"].strip()
    if "published" not in found:
        published = parse_datetime(node.get("datePublished"))
        if published:
            found["published"] = published
    if "author" not in found:
        author = _names(node.get("author"))
        if author:
            found["author"] = author
    if "publisher" not in found:
        publisher = _names(node.get("publisher"))
        if publisher:
            found["publisher"] = publisher


def _names(value: Any) -> str | None:
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str) and name.strip():
            names.append(name.strip())
    return "; ".join(names) or None
