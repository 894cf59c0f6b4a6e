"""Deciding whether a response body is HTML, and decoding it to text without crashing."""

from __future__ import annotations

import codecs
import re

# Magic numbers of the binary formats that news links most often turn out to be.
_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "PDF document"),
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"RIFF", "RIFF media (WebP/WAV/AVI)"),
    (b"PK\x03\x04", "ZIP archive or office document"),
    (b"\x1f\x8b", "gzip data"),
    (b"\xd0\xcf\x11\xe0", "legacy office document"),
    (b"ID3", "MP3 audio"),
    (b"OggS", "Ogg media"),
    (b"\x00\x00\x00", "binary data"),
    (b"wOFF", "web font"),
    (b"wOF2", "web font"),
)

_HTML_MIME_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_NON_HTML_MIME_PREFIXES = ("image/", "audio/", "video/", "font/")
_NON_HTML_MIME_TYPES = frozenset(
    {
        "application/pdf",
        "application/json",
        "application/ld+json",
        "application/javascript",
        "text/javascript",
        "text/css",
        "application/zip",
        "application/gzip",
        "application/msword",
        "application/rss+xml",
        "application/atom+xml",
    }
)
# Tags that only occur in HTML documents; one of them near the top is enough.
_HTML_START = re.compile(
    rb"<(!doctype\s+html|html|head|body|meta|title|div|p|article|main|section|h1|script|link)[\s/>]",
    re.IGNORECASE,
)
_SNIFF_BYTES = 2048
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _mime_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def html_rejection_reason(body: bytes, content_type: str | None = None) -> str | None:
    """Why ``body`` is not an HTML page, in words; None when it looks like HTML."""
    if not body or not body.strip():
        return "not HTML (empty body)"
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Rare, but real: sniff the markup in its UTF-8 form.
        body = body[:_SNIFF_BYTES].decode("utf-16", "replace").encode("utf-8", "replace")
    head = body[:_SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n\f")
    for signature, name in _BINARY_SIGNATURES:
        if head.startswith(signature):
            return f"not HTML ({name})"
    if b"\x00" in head:
        return "not HTML (binary data)"
    mime = _mime_type(content_type)
    if mime is not None and (mime in _NON_HTML_MIME_TYPES or mime.startswith(_NON_HTML_MIME_PREFIXES)):
        return f"not HTML (Content-Type {mime})"
    has_html_tag = _HTML_START.search(head) is not None
    if head[:1] in (b"{", b"[") and not has_html_tag:
        return "not HTML (JSON)"
    if mime in _HTML_MIME_TYPES:
        return None
    # Unlabelled or mislabelled (text/plain, octet-stream, xml): trust the body.
    if has_html_tag:
        return None
    label = mime or "no Content-Type"
    return f"not HTML ({label}, no HTML markup)"


def looks_like_html(body: bytes, content_type: str | None) -> bool:
    """True when ``body`` is plausibly an HTML page (binary, PDF, images, JSON, empty: False)."""
    return html_rejection_reason(body, content_type) is None


_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE
)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9._:-]+)""")

# WHATWG: these labels mean windows-1252 on the web, which is a superset of latin-1.
_LEGACY_ALIASES = {
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "windows-1252": "cp1252",
}


def meta_charset(body: bytes) -> str | None:
    """The charset a page declares in its first bytes (<meta charset>, http-equiv, XML prolog)."""
    head = body[:4096]
    match = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    return match.group(1).decode("ascii", "replace") if match else None


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().lower()
    label = _LEGACY_ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def decode_html(body: bytes, charset: str | None = None) -> tuple[str, str]:
    """Decode a page to text; returns (text, encoding used). Never raises.

    Order: a byte-order mark; the header charset, then the page's declared charset, each
    only if the bytes really decode with it; then UTF-8; then the encoding detected from the
    bytes (tasks.charset: EUC-JP, GBK, windows-1251 …), windows-1252 (the web's legacy
    default) when Latin text makes it a tie, so a latin-1 page with a wrong or missing label
    still reads right. A single-byte label never wins over bytes that are valid non-ASCII UTF-8: a wrong
    label is far likelier than Latin text that happens to be valid UTF-8.
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body.decode(encoding, "replace"), encoding
    utf8_text: str | None
    try:
        utf8_text = body.decode("utf-8")
    except UnicodeDecodeError:
        utf8_text = None
    for label in (charset, meta_charset(body)):
        codec = _codec(label)
        if codec is None:
            continue
        if utf8_text is not None and codec != "utf-8" and not body.isascii() and _is_single_byte(codec):
            return utf8_text, "utf-8"
        try:
            return body.decode(codec), codec
        except (UnicodeDecodeError, LookupError):
            continue
    if utf8_text is not None:
        return utf8_text, "utf-8"
    if _mostly_utf8(body):
        return body.decode("utf-8", "replace"), "utf-8"
    from tasks.charset import detect_legacy_encoding

    detected = detect_legacy_encoding(body) or "cp1252"
    return body.decode(detected, "replace"), detected


def _is_single_byte(codec: str) -> bool:
    return codec.startswith(("cp12", "iso8859", "latin", "koi8", "mac-", "cp4", "cp8"))


def _mostly_utf8(body: bytes) -> bool:
    """UTF-8 with a few broken sequences (e.g. a cut multibyte character), not legacy text.

    Latin-1 bytes read as UTF-8 give errors and no valid multibyte characters; a UTF-8
    page with a stray bad byte gives many valid ones.
    """
    decoded = body.decode("utf-8", "replace")
    errors = decoded.count("\ufffd")
    valid_multibyte = sum(1 for char in decoded if char > "\x7f") - errors
    return valid_multibyte >= 2 * errors
