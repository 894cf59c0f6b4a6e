"""An alert's evidence: the sentences of its story's matching articles, merged.

Each article's match carries its own evidence, strongest contribution first (the topic's
scoring puts it so). The alert shows the story's: every article's items together, again
strongest first, each sentence once — a syndicated copy quoting the same sentence, or a
sentence two rules found, is not repeated. When the story has several sources each item
names the outlet and article it came from, so a reader can tell who said it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_ALERT_EVIDENCE = 12  # enough to explain a story, short enough for an email


@dataclass(frozen=True)
class ArticleEvidence:
    """One matching article of a story: who published it and its match's evidence."""

    article_id: int
    outlet: str
    evidence: list[dict[str, Any]]


def matched_words(item: dict[str, Any]) -> list[str]:
    """The words the text actually had (``interfere``, not the pattern ``interfer*``).

    Items stored before ``matched_words`` existed carry the same content as ``words``.
    """
    found = item.get("matched_words")
    if not isinstance(found, list):
        found = item.get("words")
    return [w for w in found or [] if isinstance(w, str)]


def with_matched_words(item: dict[str, Any]) -> dict[str, Any]:
    """The item with ``matched_words`` filled in (a copy when it lacked them)."""
    if isinstance(item.get("matched_words"), list):
        return item
    return {**item, "matched_words": matched_words(item)}


def readable_evidence(evidence: Any) -> list[dict[str, Any]]:
    """Stored evidence as readers get it: items only, each with ``matched_words``."""
    return [with_matched_words(item) for item in evidence or [] if isinstance(item, dict)]


def sentence_key(item: dict[str, Any]) -> str:
    """What makes two items the same sentence: their text, spacing and case aside."""
    return " ".join(str(item.get("text") or "").split()).casefold()


def _strength(item: dict[str, Any]) -> float:
    for key in ("contribution", "weight"):  # items stored before contributions: the rule's weight
        value = item.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return 0.0


def strongest_item(evidence: Any) -> dict[str, Any] | None:
    """The evidence item that contributed most, the one every reader is shown first.

    Compared by ``contribution`` (older rows: the rule's ``weight``); ties keep the stored
    order, which is strongest first for evidence merged since contributions were kept. The
    web list, the CSV, ``newswatch alerts`` and the messages all quote this one item.
    """
    best: dict[str, Any] | None = None
    for item in evidence or []:
        if not isinstance(item, dict) or not str(item.get("text") or "").strip():
            continue
        if best is None or _strength(item) > _strength(best):
            best = item
    return best


def merge_story_evidence(
    articles: list[ArticleEvidence], *, several_sources: bool, limit: int = MAX_ALERT_EVIDENCE
) -> list[dict[str, Any]]:
    """The story's evidence, strongest contribution first, each sentence once.

    Ties keep the order of ``articles`` (the caller's: earliest first) and, within an
    article, its own order. ``several_sources`` adds ``outlet`` and ``article_id``.
    """
    ranked: list[tuple[float, int, int, dict[str, Any], ArticleEvidence]] = []
    for position, article in enumerate(articles):
        for order, item in enumerate(readable_evidence(article.evidence)):
            ranked.append((-_strength(item), position, order, item, article))
    ranked.sort(key=lambda entry: entry[:3])
    merged: list[dict[str, Any]] = []
    quoted: set[str] = set()
    for _, _, _, item, article in ranked:
        key = sentence_key(item)
        if not key or key in quoted:
            continue
        quoted.add(key)
        entry = {k: v for k, v in item.items() if k not in ("outlet", "article_id")}
        if several_sources:
            entry["outlet"] = article.outlet
            entry["article_id"] = article.article_id
        merged.append(entry)
        if len(merged) >= limit:
            break
    return merged
