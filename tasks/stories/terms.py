"""Story terms: the weighted words of a headline and lead that say which event it is.

Two outlets telling the same event in their own words share its specifics: names,
places, numbers, the distinctive nouns. Two stories on one subject share the subject's
words ("trade", "tariffs", "US", "UK") but not the specifics. So each article becomes a
vector of its headline and lead terms weighted TF-IDF style, with document frequencies
counted over the recent window (a word in every other article says little), names and
numbers boosted, and two vectors compare by cosine.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from functools import lru_cache
from itertools import islice

from tasks.stories.text import normalise

# The lead: the first words of the body, where news writing puts who, what, where, when.
LEAD_WORDS = 80
TITLE_WEIGHT = 2.0
NAME_BOOST = 1.5
NUMBER_BOOST = 1.3
# Terms kept per article vector, and terms of it posted in the inverted index.
MAX_TERMS = 40
INDEX_TERMS = 12
MIN_TERM_LENGTH = 2
# Opening lines shorter than this are bylines or datelines, not the lead.
MIN_LEAD_LINE_WORDS = 10

_STOPWORD_TEXT = """
    a about above after again against ago all almost along also although always am among an and
    another any are around as at away back be became because been before being below between
    both but by can cannot could did do does doing done down during each either else end even
    ever every few first for from further get gets got had has have having he her here hers
    herself him himself his how however i if in including into is it its itself just last
    late later least less like many may me might more most much must my myself near neither
    never new next no nor not now of off often on once one only onto or other others our ours
    ourselves out over own per perhaps put rather same say says said see seen she should since
    so some still such take than that the their theirs them themselves then there these they
    this those though three through thus to told too toward two under until up upon us very
    via was we week weeks were what when where whether which while who whom whose why will
    with within without would year years yet you your yours yourself today yesterday tomorrow
    mr mrs ms dr according added adding asked saying statement news report reported reports
    reporting reporters told telling week day days month months time times make made
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

# Spellings of the same name that would otherwise split a term.
ALIASES = {
    "u.s": "usa", "u.s.a": "usa", "u.k": "uk", "britain": "uk", "british": "uk",
}

_COUNTRY_PHRASES = (
    (re.compile(r"\bunited\s+states(?:\s+of\s+america)?\b", re.IGNORECASE), "US"),
    (re.compile(r"\bunited\s+kingdom\b", re.IGNORECASE), "UK"),
)
_TERM_WORD = re.compile(r"[^\W_]+(?:['.,\-][^\W_]+)*")
# A token followed by one of these (or by nothing) ends a sentence; "" is in every string.
_SENTENCE_END_CHARS = ".!?:;\"“”"


def stem(word: str) -> str:
    """A light suffix strip so that "tariffs"/"tariff" and "sanctioned"/"sanction" meet."""
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ied"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("eed"):
        return word[:-1]
    if len(word) > 5 and word.endswith("ed"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


@lru_cache(maxsize=1 << 16)  # words repeat across articles; bounded, so memory stays flat
def _term(token: str) -> str | None:
    """The index form of one token, or None for a stopword or noise."""
    if token in ("US", "U.S", "USA"):
        return "usa"
    lowered = token.lower()
    if lowered.replace(",", "").replace(".", "").isdigit():
        number = lowered.replace(",", "")
        return number if len(number) > 1 or lowered != number else None
    lowered = ALIASES.get(lowered, lowered)
    if lowered in STOPWORDS or len(lowered) < MIN_TERM_LENGTH:
        return None
    return ALIASES.get(stem(lowered), stem(lowered))


def _scan(text: str, weight: float, counts: dict[str, float], names: set[str], spot_names: bool) -> None:
    """Add a text's terms to ``counts``; note in ``names`` those capitalised inside a sentence.

    A name's words count as single terms, not also as a "first_last" pair: a pair would
    count the same person three times, and people and institutions recur across the
    distinct stories of a subject (measured: pairs merged two central-bank stories).
    """
    for pattern, replacement in _COUNTRY_PHRASES:
        text = pattern.sub(replacement, text)
    previous_ends_sentence = True
    for match in _TERM_WORD.finditer(text):
        token = match.group(0)
        term = _term(token)
        if term is not None:
            counts[term] = counts.get(term, 0.0) + weight
            if spot_names and token[:1].isupper() and not previous_ends_sentence and not term.isdigit():
                names.add(term)
        previous_ends_sentence = text[match.end() : match.end() + 1] in _SENTENCE_END_CHARS


def lead_of(text: str | None, lead_words: int = LEAD_WORDS) -> str:
    """The first ``lead_words`` words of a body's prose, with their punctuation.

    Short opening lines (bylines, datelines, "Updated 2 hours ago", "Advertisement") are
    skipped: they name the outlet's staff, not the event, and differ between copies.
    """
    if not text:
        return ""
    lines = text.splitlines()
    start = 0
    while start < len(lines) and len(_TERM_WORD.findall(lines[start])) < MIN_LEAD_LINE_WORDS:
        start += 1
    prose = "\n".join(lines[start:]) if start < len(lines) else text
    matches = list(islice(_TERM_WORD.finditer(prose), lead_words))
    if len(matches) < lead_words:
        return prose
    return prose[: matches[-1].end()]


def story_terms(title: str | None, text: str | None, lead_words: int = LEAD_WORDS) -> dict[str, float]:
    """Raw term weights of an article's headline and lead (before document frequencies).

    Headline words count ``TITLE_WEIGHT`` times, names (capitalised inside a sentence of the
    lead) and numbers are boosted; the count is damped (1 + ln n) so repetition does not rule.
    """
    counts: dict[str, float] = {}
    names: set[str] = set()
    # Headlines are title-cased, so names are only spotted in the lead.
    _scan(normalise(title or ""), TITLE_WEIGHT, counts, names, spot_names=False)
    _scan(normalise(lead_of(text, lead_words)), 1.0, counts, names, spot_names=True)
    weights: dict[str, float] = {}
    for term, count in counts.items():
        weight = 1.0 + math.log(count) if count >= 1.0 else count
        if term in names:
            weight *= NAME_BOOST
        elif term.isdigit():
            weight *= NUMBER_BOOST
        weights[term] = weight
    return weights


def idf(document_frequency: int, documents: int) -> float:
    """Smoothed inverse document frequency over the window's articles."""
    return math.log((documents + 1.0) / (document_frequency + 1.0)) + 1.0


def weigh(
    terms: Mapping[str, float], frequencies: Mapping[str, int], documents: int, keep: int = MAX_TERMS
) -> dict[str, float]:
    """The article's unit-length TF-IDF vector over its ``keep`` heaviest terms."""
    weighted = {t: w * idf(frequencies.get(t, 0), documents) for t, w in terms.items()}
    top = sorted(weighted.items(), key=lambda item: (-item[1], item[0]))[:keep]
    norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
    return {t: round(w / norm, 5) for t, w in top}


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> tuple[float, list[str]]:
    """Cosine of two unit vectors and the shared terms, heaviest contribution first."""
    if len(b) < len(a):
        a, b = b, a
    contributions = [(a[t] * b[t], t) for t in a if t in b]
    contributions.sort(key=lambda item: (-item[0], item[1]))
    return min(1.0, sum(c for c, _ in contributions)), [t for _, t in contributions]


def index_terms(vector: Mapping[str, float], count: int = INDEX_TERMS) -> list[str]:
    """The terms of a vector posted in the inverted index: its heaviest ``count``."""
    return [t for t, _ in sorted(vector.items(), key=lambda item: (-item[1], item[0]))[:count]]


def term_key(term: str) -> int:
    """A stable signed 64-bit key for a term (the index stores keys, not strings)."""
    digest = hashlib.blake2b(b"term:" + term.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


# The document counter lives in the same frequency table under a key no term can have.
DOCUMENTS_KEY = 0
