"""Plain-text helpers: feed HTML to text, normalisation, hashing, teaser endings."""

from __future__ import annotations

import hashlib
import html
import re

import lxml.html
from lxml import etree

# Feed content larger than this is cut before parsing: no real article is that long.
MAX_FEED_HTML_CHARS = 1_000_000

_BLOCK_TAGS = frozenset(
    {
        "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
        "blockquote", "pre", "table", "tr", "section", "article", "header", "footer",
        "figure", "figcaption", "dd", "dt", "hr", "aside",
    }
)
_DROP_TAGS = ("script", "style", "noscript", "template", "iframe", "svg", "form", "button")
_TAG_LIKE = re.compile(r"<[a-zA-Z/!][^>]*>")
_WHITESPACE = re.compile(r"\s+")
_SPACES = re.compile(r"[ \t\f\v\u00a0\u200b]+")

# A text that ends like this is a lead-in, not the article.
_TEASER_ENDING = re.compile(
    r"(\u2026|\.\.\.|\[\s*(\u2026|\.\.\.)\s*\]|\(\s*(\u2026|\.\.\.)\s*\)"
    r"|read more|continue reading|read the full (story|article)|read full (story|article)"
    r"|weiterlesen|lire la suite|leer m[aá]s)\W*$",
    re.IGNORECASE,
)


def normalise_text(text: str) -> str:
    """Whitespace collapsed to single spaces, case kept: the form that is hashed."""
    return _WHITESPACE.sub(" ", text).strip()


def content_hash(text: str) -> str:
    """sha256 hex of the normalised text."""
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


def tidy_lines(text: str) -> str:
    """Collapse runs of spaces within lines and drop blank lines."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def looks_like_markup(text: str) -> bool:
    return _TAG_LIKE.search(text) is not None


def fragment_to_text(fragment: str | None) -> str:
    """Text of a feed entry's content or summary, which may be HTML or plain text."""
    if not fragment or not fragment.strip():
        return ""
    fragment = fragment[:MAX_FEED_HTML_CHARS]
    if not looks_like_markup(fragment):
        return tidy_lines(html.unescape(fragment))
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return tidy_lines(html.unescape(_TAG_LIKE.sub(" ", fragment)))
    return element_text(root)


def element_text(root: lxml.html.HtmlElement) -> str:
    """Readable text of an element: scripts dropped, one line per block element."""
    for element in list(root.iter(*_DROP_TAGS)):
        if element.getparent() is not None:
            element.drop_tree()
    for element in root.iter(etree.Element):
        if element.tag in _BLOCK_TAGS:
            element.tail = "\n" + (element.tail or "")
            if element.tag == "br":
                continue
            element.text = "\n" + (element.text or "")
    return tidy_lines(root.text_content())


def has_teaser_ending(text: str) -> bool:
    """True when the text stops with an ellipsis or a "Read more"-style link."""
    return _TEASER_ENDING.search(text[-200:]) is not None
