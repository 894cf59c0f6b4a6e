"""The incremental clustering decision: join the best story, or start a new one.

Pure: the storage layer finds candidates (recent articles sharing an LSH band or a
distinctive term), this module decides and says why, in words a reader of the alert
understands. The order of evidence, strongest first:

1. the same article under another URL (found by the storage layer from URL keys);
2. a near-duplicate (syndicated copy): body containment ≥ ``duplicate_threshold``;
3. the same story told independently: headline+lead cosine ≥ ``story_threshold`` with at
   least ``MIN_SHARED_TERMS`` shared terms, within the time window;
4. otherwise a new story.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from tasks.stories.fingerprint import TextSignature, duplicate_similarity
from tasks.stories.terms import cosine

# One shared word is a coincidence; a story match needs at least this many.
MIN_SHARED_TERMS = 2
# Terms named in a reason.
REASON_TERMS = 5

DecisionKind = Literal["same_url", "duplicate", "story", "new"]


@dataclass(frozen=True)
class IndexedArticle:
    """What the index keeps of a recent article: enough to compare, nothing more."""

    article_id: int
    story_id: int
    at: datetime
    signature: TextSignature
    vector: Mapping[str, float] = field(default_factory=dict)
    duplicate_of_id: int | None = None


@dataclass(frozen=True)
class Decision:
    kind: DecisionKind
    reason: str
    story_id: int | None = None  # None: start a new story
    article_id: int | None = None  # the article that decided it
    similarity: float | None = None
    duplicate_of_id: int | None = None
    shared_terms: tuple[str, ...] = ()


def same_url_decision(article_id: int, story_id: int) -> Decision:
    return Decision(
        kind="same_url",
        reason="same canonical url",
        story_id=story_id,
        article_id=article_id,
        similarity=1.0,
        duplicate_of_id=article_id,
    )


def decide(
    signature: TextSignature,
    vector: Mapping[str, float],
    at: datetime,
    candidates: Iterable[IndexedArticle],
    *,
    window: timedelta,
    duplicate_threshold: float,
    story_threshold: float,
) -> Decision:
    """Where a new article goes, given the recent articles that might be its story."""
    best_duplicate: tuple[float, IndexedArticle] | None = None
    best_story: tuple[float, IndexedArticle, list[str]] | None = None
    for candidate in candidates:
        if abs(candidate.at - at) > window:
            continue
        copy = duplicate_similarity(signature, candidate.signature)
        if copy >= duplicate_threshold and (
            best_duplicate is None or (copy, -candidate.article_id) > (best_duplicate[0], -best_duplicate[1].article_id)
        ):
            best_duplicate = (copy, candidate)
        similarity, shared = cosine(vector, candidate.vector)
        similarity = round(similarity, 4)
        if (
            len(shared) >= MIN_SHARED_TERMS
            and similarity >= story_threshold
            and (best_story is None or (similarity, -candidate.article_id) > (best_story[0], -best_story[1].article_id))
        ):
            best_story = (similarity, candidate, shared)

    if best_duplicate is not None:
        similarity, original = best_duplicate
        root = original.duplicate_of_id or original.article_id
        return Decision(
            kind="duplicate",
            reason=f"near-duplicate of article {original.article_id} (similarity {similarity:.2f})",
            story_id=original.story_id,
            article_id=original.article_id,
            similarity=similarity,
            duplicate_of_id=root,
        )
    if best_story is not None:
        similarity, member, shared = best_story
        terms = ", ".join(shared[:REASON_TERMS])
        return Decision(
            kind="story",
            reason=f"same story as article {member.article_id} (shared terms {terms}; similarity {similarity:.2f})",
            story_id=member.story_id,
            article_id=member.article_id,
            similarity=similarity,
            shared_terms=tuple(shared),
        )
    return Decision(kind="new", reason="new story")
