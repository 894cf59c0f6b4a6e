"""Guessing the encoding of bytes that declare none (charset-normalizer).

Only for legacy text: a body that is valid UTF-8, has a byte-order mark, or declares its
charset (HTTP header, XML prolog, <meta>) is read as it says. Without the guess, such
bytes were read as windows-1252, which turns Japanese, Chinese, Korean, Cyrillic or
Greek into mojibake. Single-byte Latin text is a near-tie between windows-1252, 1250,
1257 …; there windows-1252, the web's legacy default, keeps winning, so Western feeds
read exactly as they did before.
"""

from __future__ import annotations

import codecs

import charset_normalizer

WINDOWS_1252 = "cp1252"
# charset-normalizer reads a sample of the body; a feed of a few MB costs tens of ms.
_MAX_BYTES = 1_000_000
# How much more "chaos" (charset-normalizer's mess score, 0–1) windows-1252 may show and
# still win: on a short Latin text the Latin code pages differ by a character or two.
# Text in Cyrillic, Greek or a CJK script never offers windows-1252 as a candidate at all.
_LATIN_TIE = 0.15


def detect_legacy_encoding(body: bytes) -> str | None:
    """The Python codec name the undeclared, non-UTF-8 ``body`` is most likely in, or None."""
    if not body:
        return None
    try:
        matches = charset_normalizer.from_bytes(body[:_MAX_BYTES])
    except Exception:  # a detector bug must not stop a pass: fall back as before
        return None
    if not matches:
        return None
    best = matches.best()
    if best is None:
        return None
    least_chaos = best.chaos
    for match in matches:
        if match.chaos <= least_chaos + _LATIN_TIE and WINDOWS_1252 in match.could_be_from_charset:
            return WINDOWS_1252
    try:
        return codecs.lookup(best.encoding).name
    except LookupError:
        return None
