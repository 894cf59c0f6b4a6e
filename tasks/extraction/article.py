"""Article extraction: trafilatura on the page, the feed entry as fallback, flags for walls.

Pure and in-process; ``extract_article`` never raises. Bounding the time it takes is the
job of ``ExtractorPool`` (tasks/extraction/pool.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lxml.html import HtmlElement

from tasks.extraction.decode import decode_html, html_rejection_reason
from tasks.extraction.page import PageSignals, parse_datetime, read_page_signals
from tasks.extraction.text import content_hash, fragment_to_text, has_teaser_ending, tidy_lines

MIN_TEXT_CHARS = 200
# Bigger pages are cut to this before parsing (and flagged "html-truncated"): real article
# pages are well under 1 MB, and trafilatura's time grows with the tree (trafilatura#704).
MAX_HTML_BYTES: int = 5 * 1024 * 1024
# Page text under this share of the feed's full content means the page was cut (wall, teaser).
TRUNCATED_RATIO = 0.5
# A page with less text than this is an empty shell (video, app), not a cut article.
_TRUNCATION_MIN_PAGE_CHARS = MIN_TEXT_CHARS // 2
# Page text this long is an article even if the page carries paywall-ish class names.
_WEAK_PAYWALL_MAX_CHARS = 1500

METHOD_TRAFILATURA = "trafilatura"
METHOD_FEED_CONTENT = "feed-content"
METHOD_FEED_SUMMARY = "feed-summary"
METHOD_NONE = "none"

FLAG_PAYWALL = "paywall"
FLAG_TEASER = "teaser"
FLAG_TRUNCATED = "truncated"
FLAG_SHORT = "short"
FLAG_HTML_TRUNCATED = "html-truncated"


@dataclass(frozen=True)
class ExtractionInput:
    url: str
    html: bytes | str | None          # None when the page could not be fetched
    charset: str | None = None        # from the HTTP Content-Type header
    entry_title: str | None = None    # from the feed entry
    entry_content: str | None = None  # the feed entry's full content (HTML or text), if any
    entry_summary: str | None = None  # the feed entry's summary (HTML or text), if any


@dataclass(frozen=True)
class Extracted:
    text: str                       # "" when nothing usable
    title: str | None
    author: str | None
    published_at: datetime | None   # timezone-aware UTC
    language: str | None            # e.g. "en"
    site_name: str | None
    canonical_url: str | None       # rel=canonical / og:url from the page, absolute
    method: str                     # "trafilatura" | "feed-content" | "feed-summary" | "none"
    flags: tuple[str, ...]          # "paywall", "teaser", "truncated", "short", "html-truncated"
    content_hash: str               # sha256 hex of the normalised text
    error: str | None = None        # why page extraction failed, in words


@dataclass
class _Page:
    """What the page itself gave: its text, trafilatura's metadata and our own signals."""

    text: str = ""
    metadata: dict[str, Any] | None = None
    signals: PageSignals | None = None
    html_truncated: bool = False
    error: str | None = None


def extract_article(
    inp: ExtractionInput, *, fast: bool = False, max_html_bytes: int | None = None
) -> Extracted:
    """Extract the article text and metadata of one page; never raises.

    ``fast`` passes trafilatura's fast mode (no fallback extractors): quicker, slightly
    different output; off by default. ``max_html_bytes`` overrides MAX_HTML_BYTES.
    """
    try:
        page = _read_page(inp, fast=fast, max_bytes=max_html_bytes or MAX_HTML_BYTES)
        return _assemble(inp, page)
    except Exception as exc:  # a bug here must cost one article, not the batch
        return fallback_result(inp, f"extraction failed: {type(exc).__name__}: {exc}")


def fallback_result(inp: ExtractionInput, error: str | None) -> Extracted:
    """Feed content / summary only, with ``error`` saying why the page was not used."""
    try:
        return _assemble(inp, _Page(error=error))
    except Exception as exc:
        return Extracted(
            text="", title=inp.entry_title, author=None, published_at=None, language=None,
            site_name=None, canonical_url=None, method=METHOD_NONE, flags=(),
            content_hash=content_hash(""), error=f"{error or 'extraction failed'}; "
            f"feed fallback failed: {type(exc).__name__}",
        )


def _read_page(inp: ExtractionInput, *, fast: bool, max_bytes: int) -> _Page:
    if inp.html is None:
        return _Page()
    html, html_truncated, rejection = _prepare_html(inp.html, inp.charset, max_bytes)
    if rejection:
        return _Page(error=rejection)
    tree = _parse(html)
    if tree is None:
        return _Page(html_truncated=html_truncated, error="not HTML (unparseable markup)")
    signals = read_page_signals(tree, inp.url)
    import trafilatura  # here, not at the top: a parent that only feeds the pool skips it

    document = trafilatura.bare_extraction(
        tree,
        url=inp.url,
        with_metadata=True,
        include_comments=False,
        fast=fast,
    )
    metadata = _as_dict(document)
    text = tidy_lines(metadata.get("text") or "") if metadata else ""
    return _Page(text=text, metadata=metadata, signals=signals, html_truncated=html_truncated)


def _prepare_html(
    html: bytes | str, charset: str | None, max_bytes: int
) -> tuple[str, bool, str | None]:
    """(decoded HTML capped at max_bytes, whether it was cut, rejection reason)."""
    if isinstance(html, str):
        rejection = html_rejection_reason(html[:2048].encode("utf-8", "replace"), None)
        truncated = len(html) > max_bytes
        return (html[:max_bytes] if truncated else html), truncated, rejection
    rejection = html_rejection_reason(html, None)
    if rejection:
        return "", False, rejection
    truncated = len(html) > max_bytes
    if truncated:
        html = html[:max_bytes]
        last_tag = html.rfind(b"<")  # do not end inside a tag
        html = html[:last_tag] if last_tag > max_bytes // 2 else html
    text, _encoding = decode_html(html, charset)
    return text, truncated, None


def _parse(html: str) -> HtmlElement | None:
    if not html.strip():
        return None
    from trafilatura.utils import load_html  # lazily, as above

    try:
        return load_html(html)
    except Exception:  # lxml raises a handful of types on garbage
        return None


def _as_dict(document: Any) -> dict[str, Any] | None:
    """trafilatura 2.x returns a Document (or a dict with as_dict=True); None on failure."""
    if document is None:
        return None
    if isinstance(document, dict):
        return document
    if hasattr(document, "as_dict"):
        as_dict: dict[str, Any] = document.as_dict()
        return as_dict
    return dict(vars(document))


def _assemble(inp: ExtractionInput, page: _Page) -> Extracted:
    content_text = fragment_to_text(inp.entry_content)
    summary_text = fragment_to_text(inp.entry_summary)
    method, text = _choose_text(page.text, content_text, summary_text)
    flags = _flags(page, method, text, content_text)
    error = page.error
    if method == METHOD_NONE and error is None:
        error = "no text in the page or the feed entry"
    meta = page.metadata or {}
    signals = page.signals or PageSignals()
    canonical = signals.canonical_url
    if canonical is None and meta.get("url") and meta.get("url") != inp.url:
        canonical = meta["url"]
    return Extracted(
        text=text,
        title=_clean(meta.get("title")) or _clean(signals.title) or _clean(inp.entry_title),
        author=_clean(meta.get("author")) or _clean(signals.author),
        published_at=signals.published_at or parse_datetime(meta.get("date")),
        language=_clean(meta.get("language")) or signals.language,
        site_name=_clean(meta.get("sitename")) or _clean(signals.site_name),
        canonical_url=canonical,
        method=method,
        flags=flags,
        content_hash=content_hash(text),
        error=error,
    )


def _choose_text(page_text: str, content_text: str, summary_text: str) -> tuple[str, str]:
    """(method, text): the page if long enough, else the feed's content, else its summary.

    A page much shorter than the feed's own full content (a wall or a teaser) loses to it.
    When nothing reaches MIN_TEXT_CHARS, the longest non-empty text is kept (flagged short).
    """
    page_cut = (
        len(content_text) >= MIN_TEXT_CHARS and len(page_text) < TRUNCATED_RATIO * len(content_text)
    )
    candidates = [
        (METHOD_TRAFILATURA, page_text),
        (METHOD_FEED_CONTENT, content_text),
        (METHOD_FEED_SUMMARY, summary_text),
    ]
    if page_cut:
        candidates.append(candidates.pop(0))
    for method, text in candidates:
        if len(text) >= MIN_TEXT_CHARS:
            return method, text
    best_method, best_text = METHOD_NONE, ""
    for method, text in candidates:
        if len(text) > len(best_text):
            best_method, best_text = method, text
    return best_method, best_text


def _flags(page: _Page, method: str, text: str, content_text: str) -> tuple[str, ...]:
    flags: list[str] = []
    signals = page.signals or PageSignals()
    page_teaser = bool(page.text) and has_teaser_ending(page.text)
    truncated = (
        len(page.text) >= _TRUNCATION_MIN_PAGE_CHARS
        and len(content_text) >= MIN_TEXT_CHARS
        and len(page.text) < TRUNCATED_RATIO * len(content_text)
    )
    looks_cut = page_teaser or truncated or len(page.text) < _WEAK_PAYWALL_MAX_CHARS
    if signals.paywall_strong or (signals.paywall_weak and looks_cut):
        flags.append(FLAG_PAYWALL)
    if page_teaser or (text and has_teaser_ending(text)):
        flags.append(FLAG_TEASER)
    if truncated:
        flags.append(FLAG_TRUNCATED)
    if text and len(text) < MIN_TEXT_CHARS:
        flags.append(FLAG_SHORT)
    if page.html_truncated:
        flags.append(FLAG_HTML_TRUNCATED)
    return tuple(flags)


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value or None
