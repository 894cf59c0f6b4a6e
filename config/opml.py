"""OPML 2.0, the feed-list format every feed reader imports and exports.

Reading: every outline with an ``xmlUrl`` (of any ``type``; rss and atom are the usual
ones), however deeply nested in folders. The parser is expat with every DTD refused:
an OPML file needs no DOCTYPE, and refusing it makes entity expansion (the "billion
laughs" and external-entity attacks) impossible rather than merely limited.

Writing: one outline per feed with ``text``, ``title``, ``xmlUrl`` and, when known,
``htmlUrl``; attribute values escaped by the standard library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from xml.etree.ElementTree import Element, SubElement, indent, tostring
from xml.parsers import expat

# Characters XML 1.0 cannot carry at all, escaped or not.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class OpmlError(Exception):
    """A feed list that cannot be used, said in one line with the fix."""


@dataclass(frozen=True)
class OpmlFeed:
    url: str
    name: str | None = None
    html_url: str | None = None


class _DtdRefused(Exception):
    pass


def _refuse_dtd(*_args: object) -> int:
    """Any DOCTYPE or entity declaration stops the parse (no entity is ever expanded)."""
    raise _DtdRefused


def parse_opml(data: bytes | str) -> list[OpmlFeed]:
    """The feeds of an OPML document, in document order, each URL once.

    Raises :class:`OpmlError` (without naming a file: the caller adds that) when the
    document is not well-formed XML, declares a DTD, or is not OPML.
    """
    feeds: list[OpmlFeed] = []
    seen: set[str] = set()
    root: list[str] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        if not root:
            root.append(tag)
        if tag != "outline":
            return
        url = (attrs.get("xmlUrl") or attrs.get("xmlurl") or "").strip()
        if url and url not in seen:
            seen.add(url)
            name = (attrs.get("title") or attrs.get("text") or "").strip() or None
            html_url = (attrs.get("htmlUrl") or attrs.get("htmlurl") or "").strip() or None
            feeds.append(OpmlFeed(url=url, name=name, html_url=html_url))

    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = _refuse_dtd
    try:
        parser.Parse(data, True)
    except _DtdRefused:
        raise OpmlError("declares a DOCTYPE, which OPML never needs; remove the <!DOCTYPE …> line") from None
    except expat.ExpatError as exc:
        message = expat.ErrorString(exc.code) if exc.code else str(exc)
        raise OpmlError(
            f"not well-formed XML at line {exc.lineno}, column {exc.offset + 1}: {message}; "
            "export the list again from your feed reader"
        ) from None
    if root and root[0] != "opml":
        raise OpmlError(f"the root element is <{root[0]}>, not <opml>; give an OPML file exported by a feed reader")
    return feeds


def read_feed_list(path: Path) -> list[OpmlFeed]:
    """The feeds of the OPML file at ``path``; :class:`OpmlError` naming the file otherwise."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise OpmlError(f"{path}: no such file; fix the path in feed_lists (relative to the config file)") from None
    except OSError as exc:
        raise OpmlError(f"{path}: cannot read: {exc.strerror or exc}; check the path in feed_lists") from None
    try:
        feeds = parse_opml(data)
    except OpmlError as exc:
        raise OpmlError(f"{path}: {exc}") from None
    if not feeds:
        raise OpmlError(
            f"{path}: no feeds in it (no <outline> with an xmlUrl); export the list again, "
            "or remove it from feed_lists"
        )
    return feeds


def render_opml(feeds: list[OpmlFeed], *, now: datetime, title: str = "newswatch feeds") -> str:
    """An OPML 2.0 document listing ``feeds``, with an XML declaration, created ``now``.

    The caller reads the time (storage/clock.py, newswatch's one clock): config/ sits
    below storage/ and never imports it, so it has no clock of its own."""
    opml = Element("opml", version="2.0")
    head = SubElement(opml, "head")
    SubElement(head, "title").text = title
    SubElement(head, "dateCreated").text = format_datetime(now, usegmt=True)
    body = SubElement(opml, "body")
    for feed in feeds:
        label = _NOT_XML.sub("", feed.name or feed.url)
        attrs = {"type": "rss", "text": label, "title": label, "xmlUrl": _NOT_XML.sub("", feed.url)}
        if feed.html_url:
            attrs["htmlUrl"] = _NOT_XML.sub("", feed.html_url)
        SubElement(body, "outline", attrs)
    indent(opml)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(opml, encoding="unicode") + "\n"
