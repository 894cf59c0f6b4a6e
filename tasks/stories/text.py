"""Words and shingles: the shared tokenisation of the story modules."""

from __future__ import annotations

import re
import unicodedata

# Body words for shingles: the plain \w+ run, the fastest split that is good enough.
_PLAIN_WORD = re.compile(r"\w+")


def normalise(text: str) -> str:
    """NFKC, curly quotes straightened: the same text typed on another system compares equal."""
    return unicodedata.normalize("NFKC", text).replace("’", "'").replace("‘", "'")


def words(text: str) -> list[str]:
    """The words of a body, lower-cased, in order (punctuation dropped)."""
    return _PLAIN_WORD.findall(normalise(text).lower())


def shingles(tokens: list[str], size: int) -> list[str]:
    """Overlapping runs of ``size`` words; a shorter text gives one shingle of all its words."""
    if not tokens:
        return []
    if len(tokens) <= size:
        return [" ".join(tokens)]
    return list(map(" ".join, zip(*(tokens[i:] for i in range(size)), strict=False)))
