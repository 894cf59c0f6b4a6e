"""The evidence a message quotes: the strongest sentence, with the words that matched marked.

Stored alert evidence is a list of dicts. Newer rows are ordered strongest contribution
first and carry ``matched_words``, ``outlet`` and ``contribution``; older rows have
``words`` (the exact words found) or only ``terms`` (the query's terms, ``=US`` exact,
``meet*`` a prefix). Every field is optional here: a message never fails on old evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

MAX_QUOTE_CHARS = 400
_WORD_START = re.compile(r"\w")


@dataclass(frozen=True)
class Quote:
    """One evidence sentence, split into (text, found) pieces so each channel can mark them."""

    pieces: tuple[tuple[str, bool], ...]
    words: tuple[str, ...]  # the words found, for "matched: …" lines
    outlet: str = ""

    @property
    def text(self) -> str:
        return "".join(text for text, _ in self.pieces)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def strongest(evidence: Iterable[Any] | None) -> dict[str, Any] | None:
    """The item that contributed most to the score.

    Items with a ``contribution`` (or, in older rows, a rule ``weight``) are compared by
    it; ties and items without one keep the stored order, which is strongest first.
    """
    items = [i for i in evidence or [] if isinstance(i, dict) and str(i.get("text") or "").strip()]
    if not items:
        return None

    def strength(item: dict[str, Any]) -> float:
        for key in ("contribution", "weight"):
            number = _number(item.get(key))
            if number is not None:
                return number
        return float("-inf")

    best = items[0]
    for item in items[1:]:
        if strength(item) > strength(best):
            best = item
    return best


def found_words(item: dict[str, Any]) -> tuple[tuple[str, ...], bool]:
    """The words to mark and whether they are query terms (``terms``) rather than words found."""
    for key in ("matched_words", "words"):
        words = [w.strip() for w in item.get(key) or [] if isinstance(w, str) and w.strip()]
        if words:
            return tuple(dict.fromkeys(words)), False
    terms = [t for t in item.get("terms") or [] if isinstance(t, str) and t.strip("=* ")]
    return tuple(dict.fromkeys(terms)), True


def _pattern(word: str, *, as_term: bool) -> re.Pattern[str]:
    exact = as_term and word.startswith("=")
    prefix = as_term and word.endswith("*")
    text = word.strip("=*").strip() if as_term else word
    # Spaces in a phrase match any run of whitespace; word edges only where the word
    # itself starts or ends with a word character (so "U.S." still matches).
    body = r"\s+".join(re.escape(part) for part in text.split())
    left = r"(?<!\w)" if _WORD_START.match(text[:1]) else ""
    right = r"\w*" if prefix else (r"(?!\w)" if _WORD_START.match(text[-1:]) else "")
    # Words found are exact; a query term without "=" matches in any case.
    flags = 0 if (exact or not as_term) else re.IGNORECASE
    return re.compile(left + body + right, flags)


def _spans(text: str, patterns: list[re.Pattern[str]]) -> list[tuple[int, int]]:
    spans = sorted({m.span() for p in patterns for m in p.finditer(text) if m.end() > m.start()})
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > MAX_QUOTE_CHARS:
        text = text[: MAX_QUOTE_CHARS - 1].rstrip() + "…"
    return text


def quote_of(evidence: Iterable[Any] | None) -> Quote | None:
    """The strongest evidence sentence with its found words marked, or None without evidence."""
    item = strongest(evidence)
    if item is None:
        return None
    text = _shorten(str(item["text"]))
    words, as_term = found_words(item)
    pieces: list[tuple[str, bool]] = []
    at = 0
    for start, end in _spans(text, [_pattern(w, as_term=as_term) for w in words]):
        if start > at:
            pieces.append((text[at:start], False))
        pieces.append((text[start:end], True))
        at = end
    if at < len(text):
        pieces.append((text[at:], False))
    shown = words
    if as_term:
        # Query terms ("meet*") read better as the words they matched in this sentence.
        marked = tuple(dict.fromkeys(t for t, found in pieces if found))
        shown = marked or tuple(dict.fromkeys(w.strip("=*").strip() for w in words))
    outlet = str(item.get("outlet") or "").strip()
    return Quote(pieces=tuple(pieces), words=shown, outlet=outlet)
