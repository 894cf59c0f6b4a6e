"""Stories in the database: assign each new article to a story, keep the index over recent articles.

``assign_story`` is called once per newly extracted article, inside the analyse
transaction. It finds candidates with a few indexed lookups over the story index (LSH
band keys for copies, distinctive-term postings for retellings, URL keys for the same
article), lets :func:`tasks.stories.cluster.decide` choose, then records the decision:
the Story row (with the reason in its membership), the article's story, fingerprint and
duplicate link, and the article's own index entries. Nothing is loaded beyond the
candidates, so the cost per article does not grow with the archive.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select
from sqlalchemy.orm import Session

from config.settings import StoriesConfig
from storage.dialect import affected_rows
from storage.models import Article, Story, StoryIndexArticle, StoryIndexKey, StoryTermCount
from tasks.stories.cluster import Decision, IndexedArticle, decide, same_url_decision
from tasks.stories.fingerprint import TextSignature, band_keys, fingerprint64, text_signature
from tasks.stories.index_sql import IndexCursor, decode_terms
from tasks.stories.terms import DOCUMENTS_KEY, idf, index_terms, story_terms, term_key, weigh
from tasks.urls import canonical_url, story_url_key

__all__ = ["StoryAssignment", "StoryFeatures", "assign_story", "prune_story_index", "story_features", "story_members"]

# A published time further ahead of the fetch than this is a wrong clock, not news.
MAX_PUBLISHED_AHEAD = timedelta(hours=1)
# Terms used by more window articles than this select too much to be worth a lookup, and
# the rarest terms are looked up first until about this many postings are expected.
MAX_TERM_POSTINGS = 200
POSTINGS_BUDGET = 600
# Candidates compared in full: the best by shared bands and by shared term weight.
MAX_BAND_CANDIDATES = 10
MAX_TERM_CANDIDATES = 15
MAX_TITLE_LENGTH = 1000

# The index statements run through the driver (tasks.stories.index_sql); these two,
# rarer, through SQLAlchemy Core, built once so that their compiled form is cached.
_ARTICLES = Article.__table__.c
_SAME_URL = (
    select(_ARTICLES.id, _ARTICLES.story_id)
    .where(_ARTICLES.id != bindparam("article_id"), _ARTICLES.story_id.is_not(None),
           _ARTICLES.url_key.in_(bindparam("keys", expanding=True))
           | _ARTICLES.canonical_url.in_(bindparam("urls", expanding=True)))
    .order_by(_ARTICLES.id)
    .limit(1)
)
# A declarative class's __table__ is a Table (typed as the wider FromClause).
_STORIES = cast(Table, Story.__table__)
_NEW_STORY = _STORIES.insert().returning(_STORIES.c.id)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class StoryAssignment:
    story_id: int
    is_new_story: bool
    reason: str
    similarity: float | None
    duplicate_of_id: int | None


@dataclass(frozen=True)
class StoryFeatures:
    """What assignment computes from the article alone (its MinHash signature and raw
    term weights): pure CPU work that can run before the analysis lock is taken."""

    signature: TextSignature
    raw_terms: dict[str, float]


def story_features(article: Article) -> StoryFeatures:
    return StoryFeatures(text_signature(article.text), story_terms(article.title, article.text))


def assign_story(
    session: Session, article: Article, now: datetime, settings: StoriesConfig,
    features: StoryFeatures | None = None,
) -> StoryAssignment:
    """Put a newly extracted article into a story (joining one, or starting one).

    Idempotent: an article that already has a story gets its recorded assignment back.
    ``features`` are ``story_features(article)``, when computed beforehand.
    """
    if article.story_id is not None:
        return _recorded_assignment(session, article)
    if article.id is None:
        session.flush()
    # Index statements run on the session's own DBAPI connection (same transaction), so
    # they see every earlier article of this transaction.
    index = IndexCursor(session.connection())
    try:
        at = article_time(article, now)
        window = timedelta(hours=settings.window_hours)

        features = features or story_features(article)
        signature = features.signature
        bands = set(band_keys(signature))
        raw_terms = features.raw_terms
        term_keys = {term: term_key(term) for term in raw_terms}
        frequencies, documents = _document_frequencies(index, term_keys, at, window)
        vector = weigh(raw_terms, frequencies, documents)

        urls = url_hashes(article)
        decision = _same_url(session, article)
        if decision is None:
            candidates, known = _candidates(
                index, bands, vector, frequencies, documents, at, window, urls
            )
            if known is not None:
                decision = same_url_decision(known.article_id, known.story_id)
            else:
                decision = decide(
                    signature, vector, at, candidates, window=window,
                    duplicate_threshold=settings.duplicate_threshold, story_threshold=settings.story_threshold,
                )

        story_id, decision = _record(session, article, decision, now)
        article.fingerprint = fingerprint64(signature)
        _index(index, article.id, story_id, decision, signature, bands, vector, term_keys, at, urls)
    finally:
        index.close()
    return StoryAssignment(
        story_id=story_id,
        is_new_story=decision.story_id is None,
        reason=decision.reason,
        similarity=decision.similarity,
        duplicate_of_id=decision.duplicate_of_id,
    )


def article_time(article: Article, now: datetime) -> datetime:
    """When an article happened, for the window: published time, unless the clock is wrong."""
    fetched = article.fetched_at or now
    published = article.published_at
    if published is not None and published <= fetched + MAX_PUBLISHED_AHEAD:
        return published
    return fetched


def _day(moment: datetime) -> int:
    return (moment.astimezone(UTC).date() - _EPOCH.date()).days


def _seconds(moment: datetime) -> int:
    """Index time: whole UTC epoch seconds (a naive time is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int((moment - _EPOCH).total_seconds())


def _moment(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# Candidates ----------------------------------------------------------------------------


def _document_frequencies(
    index: IndexCursor, term_keys: dict[str, int], at: datetime, window: timedelta
) -> tuple[dict[str, int], int]:
    """Per term, how many articles of the window before ``at`` used it; and how many articles."""
    keys = {key: term for term, key in term_keys.items()}
    keys[DOCUMENTS_KEY] = ""
    sql = index.sql
    days = range(_day(at - window), _day(at) + 1)
    # One row per (day, term): summed here, cheaper than the database's GROUP BY.
    totals: dict[int, int] = {}
    for key, count in index.rows(sql.frequencies, (sql.keys(days), sql.keys(keys))):
        totals[key] = totals.get(key, 0) + count
    documents = totals.pop(DOCUMENTS_KEY, 0)
    return {keys[key]: total for key, total in totals.items()}, documents


def _same_url(session: Session, article: Article) -> Decision | None:
    """The same article stored under the URL this one redirected to or names as canonical.

    The article store already merged articles listed under the same canonical URL or URL
    key, so only the final URL and ``rel=canonical`` can add something; most articles
    need no query. (The reverse — an earlier article whose final URL is this one's — is
    found through the URL keys posted in the index.)
    """
    extra = [u for u in (article.final_url, article.html_canonical_url) if u]
    own_keys = {story_url_key(u) for u in (article.canonical_url, article.url) if u}
    keys = {story_url_key(u) for u in extra} - own_keys
    urls = {canonical_url(u) for u in extra} - {article.canonical_url}
    if not keys and not urls:
        return None
    session.flush()  # earlier articles' story_id must be visible to this query
    match = session.connection().execute(
        _SAME_URL, {"article_id": article.id, "keys": sorted(keys), "urls": sorted(urls)}
    ).first()
    if match is None:
        return None
    return same_url_decision(match[0], match[1])


def url_hashes(article: Article) -> set[int]:
    """Index keys of every URL an article is known by (listed, canonical, final, rel=canonical)."""
    urls = (article.canonical_url, article.url, article.final_url, article.html_canonical_url)
    return {_url_hash(story_url_key(u)) for u in urls if u}


def _url_hash(key: str) -> int:
    digest = hashlib.blake2b(b"url:" + key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _candidates(
    index: IndexCursor,
    bands: set[int],
    vector: dict[str, float],
    frequencies: dict[str, int],
    documents: int,
    at: datetime,
    window: timedelta,
    urls: set[int],
) -> tuple[list[IndexedArticle], IndexedArticle | None]:
    """Recent articles sharing a URL key, an LSH band or a distinctive term, bounded;
    and the earliest of them known by one of this article's URLs, if any."""
    term_weights: dict[int, float] = {}
    expected = 0
    for term in sorted(index_terms(vector), key=lambda t: (frequencies.get(t, 0), t)):
        frequency = frequencies.get(term, 0)
        if frequency > MAX_TERM_POSTINGS or expected + frequency > POSTINGS_BUDGET:
            break
        expected += frequency
        term_weights[term_key(term)] = idf(frequency, documents)
    keys = list(bands | set(term_weights) | urls)
    if not keys:
        return [], None
    same_url: set[int] = set()
    band_hits: Counter[int] = Counter()
    term_scores: defaultdict[int, float] = defaultdict(float)
    sql = index.sql
    second, span = _seconds(at), int(window.total_seconds())
    for key, article_id in index.rows(sql.postings, (sql.keys(keys), second - span, second + span)):
        if key in urls:
            same_url.add(article_id)
        elif key in bands:
            band_hits[article_id] += 1
        else:
            term_scores[article_id] += term_weights.get(key, 0.0)
    chosen = {a for a, _ in band_hits.most_common(MAX_BAND_CANDIDATES)} | same_url
    # What Counter.most_common does, for float weights (a Counter counts in ints).
    chosen |= {a for a, _ in heapq.nlargest(MAX_TERM_CANDIDATES, term_scores.items(), key=itemgetter(1))}
    if not chosen:
        return [], None
    candidates = [
        IndexedArticle(
            article_id=article_id,
            story_id=story_id,
            at=_moment(seconds),
            signature=TextSignature.from_bytes(bytes(signature) if signature is not None else None, shingles),
            vector=decode_terms(terms),
            duplicate_of_id=duplicate_of_id,
        )
        for article_id, story_id, seconds, signature, shingles, terms, duplicate_of_id
        in index.rows(sql.candidate_rows, (sql.keys(chosen),))
    ]
    known = [c for c in candidates if c.article_id in same_url]
    return candidates, min(known, key=lambda c: c.article_id) if known else None


# Recording -----------------------------------------------------------------------------


def _record(session: Session, article: Article, decision: Decision, now: datetime) -> tuple[int, Decision]:
    """Create or grow the story, and say in its membership why the article is there."""
    entry: dict[str, Any] = {
        "article_id": article.id,
        "reason": decision.reason,
        "similarity": decision.similarity,
        "joined_at": now.isoformat(),
    }
    if decision.duplicate_of_id is not None:
        entry["duplicate_of_id"] = decision.duplicate_of_id
    story = session.get(Story, decision.story_id) if decision.story_id is not None else None
    if decision.story_id is not None and story is None:  # gone under us (retention): start again
        decision = Decision(kind="new", reason="new story")
        entry.update(reason=decision.reason, similarity=None)
        entry.pop("duplicate_of_id", None)
    if story is None:
        # One INSERT … RETURNING: cheaper than an ORM object flushed just for its id.
        story_id = session.connection().execute(
            _NEW_STORY,
            {"title": (article.title or "")[:MAX_TITLE_LENGTH] or None, "first_seen_at": now,
             "last_seen_at": now, "article_count": 1, "membership": [entry], "created_at": now,
             "updated_at": now},
        ).scalar_one()
    else:
        story.membership = [*(story.membership or []), entry]  # reassigned: JSON is not mutable-tracked
        story.article_count = (story.article_count or 0) + 1
        story.last_seen_at = max(story.last_seen_at, now) if story.last_seen_at else now
        story.updated_at = now
        if not story.title and article.title:
            story.title = article.title[:MAX_TITLE_LENGTH]
        story_id = story.id
    article.story_id = story_id
    article.duplicate_of_id = decision.duplicate_of_id
    return story_id, decision


def _index(
    index: IndexCursor,
    article_id: int,
    story_id: int,
    decision: Decision,
    signature: TextSignature,
    bands: set[int],
    vector: dict[str, float],
    term_keys: dict[str, int],
    at: datetime,
    urls: set[int],
) -> None:
    """Post the article in the index: signature and vector; band, term and URL keys; term
    counts. Three statements, whatever the number of keys."""
    sql = index.sql
    second = _seconds(at)
    index.run(sql.insert_article, (
        article_id, story_id, decision.duplicate_of_id, second, signature.shingle_count,
        signature.to_bytes() or None, json.dumps(vector),
    ))
    keys = bands | {term_keys[t] for t in index_terms(vector)} | urls
    if keys:
        index.run(sql.insert_keys, (article_id, second, sql.keys(keys)))
    index.run(sql.count_terms, (_day(at), sql.keys({*term_keys.values(), DOCUMENTS_KEY})))


def _recorded_assignment(session: Session, article: Article) -> StoryAssignment:
    story = session.get(Story, article.story_id)
    membership = (story.membership if story is not None else None) or []
    entry = next((m for m in membership if m.get("article_id") == article.id), None)
    first = membership[0].get("article_id") if membership else None
    return StoryAssignment(
        story_id=article.story_id,  # type: ignore[arg-type]  # an analysed article has its story
        is_new_story=first == article.id,
        reason=(entry or {}).get("reason", "already assigned"),
        similarity=(entry or {}).get("similarity"),
        duplicate_of_id=article.duplicate_of_id,
    )


# Reading and upkeep --------------------------------------------------------------------


def story_members(story: Story) -> list[dict[str, Any]]:
    """The story's membership entries (article id, reason, similarity, joined at), oldest first."""
    return list(story.membership or [])


def prune_story_index(session: Session, older_than: datetime) -> int:
    """Drop index entries of articles from before ``older_than``; returns how many articles left it.

    Call it with ``now - window`` (or earlier) once per pass: articles that old can no
    longer be a candidate, and the index stays the size of one window.
    """
    cutoff = _seconds(older_than)
    session.execute(delete(StoryIndexKey).where(StoryIndexKey.at < cutoff))
    removed = session.execute(delete(StoryIndexArticle).where(StoryIndexArticle.at < cutoff))
    session.execute(delete(StoryTermCount).where(StoryTermCount.day < _day(older_than)))
    return affected_rows(removed)
