"""The evidence a message quotes: the strongest sentence, with the words that matched marked.

Stored alert evidence is a list of dicts. Newer rows are ordered strongest contribution
first and carry ``matched_words``, ``outlet`` and ``contribution``; older rows have
``words`` (the exact words found) or only ``terms`` (the query's terms, ``=US`` exact,
``meet*`` a prefix). Every field is optional here: a message never fails on old evidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from storage.evidence import strongest_item
from tasks.topics.highlight import found_words, marked_spans, word_pattern

MAX_QUOTE_CHARS = 400


@dataclass(frozen=True)
class Quote:
    """One evidence sentence, split into (text, found) pieces so each channel can mark them."""

    pieces: tuple[tuple[str, bool], ...]
    words: tuple[str, ...]  # the words found, for "matched: …" lines
    outlet: str = ""

    @property
    def text(self) -> str:
        return "".join(text for text, _ in self.pieces)


def strongest(evidence: Iterable[Any] | None) -> dict[str, Any] | None:
    """The item that contributed most to the score: the one the web list, the CSV and
    ``newswatch alerts`` quote too (storage.evidence.strongest_item)."""
    return strongest_item(list(evidence or []))


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
    for start, end in marked_spans(text, [word_pattern(w, as_term=as_term) for w in words]):
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
