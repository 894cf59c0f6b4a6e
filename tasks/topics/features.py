"""What a topic's learned layer reads from a document: named, interpretable measurements.

Three kinds, each with a name that says what it measures (``topics explain`` shows them):

- ``rules.score``: the rules' score divided by the topic's ``min_score``; ``rule:NAME``:
  log(1 + the times the rule counted). What the rules already know.
- ``NAME.title``, ``NAME.lead``, ``NAME.sentences``, ``NAME.share`` for each query the
  topic names under ``features:``: whether it occurs in the headline, in the lead, in
  how many body sentences (log(1 + n)), and in what share of them. Relational questions
  ("are the UK and the US in the same sentence, and is that most of the article or one
  passing line?") are asked this way, in the topic language.
- ``word:W``: the weight of a word or word pair in the text (TF-IDF over the layer's own
  vocabulary, headline counted three times, the first 4,000 characters of the body);
  ``title:W`` for a word of the headline alone.

Changing how any of these is computed changes what a trained layer means: bump
:data:`FEATURE_SET`, and layers trained on another set refuse to load.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import TYPE_CHECKING

from tasks.topics.engine import DocumentIndex
from tasks.topics.model import Document

if TYPE_CHECKING:
    from tasks.topics.loader import Topic
    from tasks.topics.scoring import TopicScore

FEATURE_SET = 1
# A feature's standardised value is capped at this many standard deviations, so that one
# measurement far outside what training saw (a share of 1.0 in a three-sentence brief)
# cannot decide alone.
CLIP = 3.0
TITLE_REPEAT = 3
TEXT_CHARS = 4000
MEASURES = ("title", "lead", "sentences", "share")
_WORD = re.compile(r"[a-z][a-z'\-]+")


def measure(topic: Topic, index: DocumentIndex, score: TopicScore) -> dict[str, float]:
    """The named measurements of the rules and the topic's feature queries."""
    values = {"rules.score": score.rule_score / topic.min_score}
    for outcome in score.rules:
        values[f"rule:{outcome.rule.name}"] = math.log1p(outcome.count) if outcome.fired else 0.0
    sentences = max(1, len(index.fields["body"].sentence_first))
    lead_end = index.lead_end
    for name, node in topic.features.items():
        hits = index.evaluate(node).hits
        body = {index.sentence_key(h) for h in hits if h.field == "body"}
        values[f"{name}.title"] = float(any(h.field == "title" for h in hits))
        values[f"{name}.lead"] = float(any(h.field == "body" and h.first < lead_end for h in hits))
        values[f"{name}.sentences"] = math.log1p(len(body))
        values[f"{name}.share"] = len(body) / sentences
    return values


def standardised(value: float, mean: float, scale: float) -> float:
    return max(-CLIP, min(CLIP, (value - mean) / scale))


def word_counts(doc: Document) -> Counter[str]:
    """Words and word pairs of the headline (three times) and the body's beginning."""
    title_words = _WORD.findall((doc.title or "").lower())
    words = title_words * TITLE_REPEAT + _WORD.findall((doc.body or "")[:TEXT_CHARS].lower())
    counts = Counter(words)
    counts.update(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))
    counts.update(f"title:{w}" for w in title_words)
    return counts


def tfidf(counts: Counter[str], idf: dict[str, float]) -> dict[str, float]:
    """Sublinear TF-IDF of the words in the vocabulary, scaled to unit length."""
    weights = {w: (1.0 + math.log(n)) * idf[w] for w, n in counts.items() if w in idf}
    norm = math.sqrt(sum(v * v for v in weights.values()))
    return {w: v / norm for w, v in weights.items()} if norm else {}
