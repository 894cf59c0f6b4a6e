"""Article extraction: the public interface (implementation in tasks/extraction/)."""

from tasks.extraction.article import (
    FLAG_HTML_TRUNCATED,
    FLAG_PAYWALL,
    FLAG_SHORT,
    FLAG_TEASER,
    FLAG_TRUNCATED,
    MAX_HTML_BYTES,
    METHOD_FEED_CONTENT,
    METHOD_FEED_SUMMARY,
    METHOD_NONE,
    METHOD_TRAFILATURA,
    MIN_TEXT_CHARS,
    Extracted,
    ExtractionInput,
    extract_article,
    fallback_result,
)
from tasks.extraction.decode import decode_html, html_rejection_reason, looks_like_html
from tasks.extraction.pool import ExtractorPool
from tasks.extraction.text import content_hash, normalise_text

__all__ = [
    "FLAG_HTML_TRUNCATED",
    "FLAG_PAYWALL",
    "FLAG_SHORT",
    "FLAG_TEASER",
    "FLAG_TRUNCATED",
    "MAX_HTML_BYTES",
    "METHOD_FEED_CONTENT",
    "METHOD_FEED_SUMMARY",
    "METHOD_NONE",
    "METHOD_TRAFILATURA",
    "MIN_TEXT_CHARS",
    "Extracted",
    "ExtractionInput",
    "ExtractorPool",
    "content_hash",
    "decode_html",
    "extract_article",
    "fallback_result",
    "html_rejection_reason",
    "looks_like_html",
    "normalise_text",
]
