"""Which words of an evidence sentence to mark, the same for every reader.

The story page (``<mark>``), the email and the Slack message all mark what a topic found
in a quoted sentence: the exact words that matched (``matched_words``; ``words`` on older
evidence) when recorded, else the query's terms (``=US`` a case-sensitive exact word,
``meet*`` a prefix). Only spans are computed here; each channel escapes and marks them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_WORD_START = re.compile(r"\w")


def found_words(item: dict[str, Any]) -> tuple[tuple[str, ...], bool]:
    """The words to mark and whether they are query terms (``terms``) rather than words found."""
    for key in ("matched_words", "words"):
        words = [w.strip() for w in item.get(key) or [] if isinstance(w, str) and w.strip()]
        if words:
            return tuple(dict.fromkeys(words)), False
    terms = [t for t in item.get("terms") or [] if isinstance(t, str) and t.strip("=* ")]
    return tuple(dict.fromkeys(terms)), True


def word_pattern(word: str, *, as_term: bool) -> re.Pattern[str]:
    """A pattern for one word found (exact) or one query term (``=`` exact, ``*`` prefix)."""
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


def evidence_patterns(item: dict[str, Any]) -> list[re.Pattern[str]]:
    """Patterns for what to mark in an evidence item's text."""
    words, as_term = found_words(item)
    return [word_pattern(w, as_term=as_term) for w in words]


def marked_spans(text: str, patterns: Iterable[re.Pattern[str]]) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) spans of ``text`` matched by any pattern, in order."""
    spans = sorted({m.span() for p in patterns for m in p.finditer(text) if m.end() > m.start()})
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
