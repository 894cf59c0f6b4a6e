"""The values topics are matched on and produce: documents in, matches with evidence out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Document:
    """An article as the matcher sees it. ``source`` is the feed URL or the outlet's host
    (of the first feed that carried it); ``sources`` are those of every feed that carried
    it, which a topic's source filter weighs (tasks/topics/scoring.py, source_allowed)."""

    title: str
    body: str
    language: str | None = None
    source: str | None = None
    url: str | None = None
    sources: tuple[str, ...] = ()

    @property
    def carriers(self) -> tuple[str, ...]:
        """Every feed (URL or host) that carried the article: ``sources``, else ``source``."""
        if self.sources:
            return self.sources
        return (self.source,) if self.source else ()


@dataclass
class TopicMatch:
    """A topic that fired on a document, with the evidence for it.

    Each evidence item is a dict with at least ``text`` (the sentence), ``field``
    (title | lead | body), ``start``/``end`` (offsets of the matched words in that
    field's text), ``rule`` and ``terms``; also ``match`` (the matched words as written),
    ``text_start`` (where ``text`` begins in the field) and ``weight``.
    """

    topic_id: str
    score: float
    version: str
    evidence: list[dict[str, Any]] = field(default_factory=list)
    learned: dict[str, Any] | None = None  # the learned layer's probability and contributions
    threshold: float | None = None  # the rules' score this version alerts from


def language_code(code: str) -> str:
    """The primary language of a code as topics compare it: ``pt_BR``, ``pt-br``, ``PT`` → ``pt``."""
    return code.strip().lower().replace("_", "-").split("-")[0]
