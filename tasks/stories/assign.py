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
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from config.settings import StoriesConfig
from storage.models import Article, Story, StoryIndexArticle, StoryIndexKey, StoryTermCount
from tasks.stories.cluster import Decision, IndexedArticle, decide, same_url_decision
from tasks.stories.fingerprint import TextSignature, band_keys, fingerprint64, text_signature
from tasks.stories.terms import DOCUMENTS_KEY, idf, index_terms, story_terms, term_key, weigh
from tasks.urls import canonical_url, story_url_key

__all__ = ["StoryAssignment", "assign_story", "prune_story_index", "story_members"]

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

# The lookups, built once: plain Core statements on the session's connection, so each
# call pays for neither statement construction nor the ORM layer (about 1 ms an article).
_ARTICLES = Article.__table__.c
_COUNTS = StoryTermCount.__table__.c
_KEYS = StoryIndexKey.__table__.c
_INDEXED = StoryIndexArticle.__table__.c
_FREQUENCIES = (
    select(_COUNTS.term_key, func.sum(_COUNTS.count))
    .where(_COUNTS.term_key.in_(bindparam("keys", expanding=True)),
           _COUNTS.day.between(bindparam("first_day"), bindparam("last_day")))
    .group_by(_COUNTS.term_key)
)
_SAME_URL = (
    select(_ARTICLES.id, _ARTICLES.story_id)
    .where(_ARTICLES.id != bindparam("article_id"), _ARTICLES.story_id.is_not(None),
           _ARTICLES.url_key.in_(bindparam("keys", expanding=True))
           | _ARTICLES.canonical_url.in_(bindparam("urls", expanding=True)))
    .order_by(_ARTICLES.id)
    .limit(1)
)
_POSTINGS = select(_KEYS.key, _KEYS.article_id).where(
    _KEYS.key.in_(bindparam("keys", expanding=True)), _KEYS.at.between(bindparam("low"), bindparam("high"))
)
_NEW_STORY = Story.__table__.insert().returning(Story.__table__.c.id)
_CANDIDATE_ROWS = select(
    _INDEXED.article_id, _INDEXED.story_id, _INDEXED.at, _INDEXED.signature, _INDEXED.shingle_count,
    _INDEXED.terms, _INDEXED.duplicate_of_id,
).where(_INDEXED.article_id.in_(bindparam("ids", expanding=True)))


@dataclass(frozen=True)
class StoryAssignment:
    story_id: int
    is_new_story: bool
    reason: str
    similarity: float | None
    duplicate_of_id: int | None


def assign_story(session: Session, article: Article, now: datetime, settings: StoriesConfig) -> StoryAssignment:
    """Put a newly extracted article into a story (joining one, or starting one).

    Idempotent: an article that already has a story gets its recorded assignment back.
    """
    if article.story_id is not None:
        return _recorded_assignment(session, article)
    if article.id is None:
        session.flush()
    # Lookups run on the connection (no ORM layer); the index rows they read are written
    # there too, so they see every earlier article of this transaction.
    connection = session.connection()
    at = article_time(article, now)
    window = timedelta(hours=settings.window_hours)

    signature = text_signature(article.text)
    raw_terms = story_terms(article.title, article.text)
    frequencies, documents = _document_frequencies(connection, raw_terms, at, window)
    vector = weigh(raw_terms, frequencies, documents)

    urls = url_hashes(article)
    decision = _same_url(session, article)
    if decision is None:
        candidates, known = _candidates(connection, signature, vector, frequencies, documents, at, window, urls)
        if known is not None:
            decision = same_url_decision(known.article_id, known.story_id)
        else:
            decision = decide(
                signature, vector, at, candidates, window=window,
                duplicate_threshold=settings.duplicate_threshold, story_threshold=settings.story_threshold,
            )

    story_id, decision = _record(session, article, decision, now)
    article.fingerprint = fingerprint64(signature)
    _index(connection, article, story_id, decision, signature, vector, raw_terms, at, urls)
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
    return (moment.astimezone(UTC).date() - datetime(1970, 1, 1, tzinfo=UTC).date()).days


# Candidates ----------------------------------------------------------------------------


def _document_frequencies(
    connection: Connection, raw_terms: dict[str, float], at: datetime, window: timedelta
) -> tuple[dict[str, int], int]:
    """Per term, how many articles of the window before ``at`` used it; and how many articles."""
    keys = {term_key(t): t for t in raw_terms}
    keys[DOCUMENTS_KEY] = ""
    rows = connection.execute(
        _FREQUENCIES, {"keys": list(keys), "first_day": _day(at - window), "last_day": _day(at)}
    ).all()
    frequencies: dict[str, int] = {}
    documents = 0
    for key, total in rows:
        if key == DOCUMENTS_KEY:
            documents = int(total or 0)
        else:
            frequencies[keys[key]] = int(total or 0)
    return frequencies, documents


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
    connection: Connection,
    signature: TextSignature,
    vector: dict[str, float],
    frequencies: dict[str, int],
    documents: int,
    at: datetime,
    window: timedelta,
    urls: set[int],
) -> tuple[list[IndexedArticle], IndexedArticle | None]:
    """Recent articles sharing a URL key, an LSH band or a distinctive term, bounded;
    and the earliest of them known by one of this article's URLs, if any."""
    bands = set(band_keys(signature))
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
    term_scores: Counter[int] = Counter()
    for key, article_id in connection.execute(_POSTINGS, {"keys": keys, "low": at - window, "high": at + window}):
        if key in urls:
            same_url.add(article_id)
        elif key in bands:
            band_hits[article_id] += 1
        else:
            term_scores[article_id] += term_weights.get(key, 0.0)
    chosen = {a for a, _ in band_hits.most_common(MAX_BAND_CANDIDATES)} | same_url
    chosen |= {a for a, _ in term_scores.most_common(MAX_TERM_CANDIDATES)}
    if not chosen:
        return [], None
    candidates = [
        IndexedArticle(
            article_id=row.article_id,
            story_id=row.story_id,
            at=row.at,
            signature=TextSignature.from_bytes(row.signature, row.shingle_count),
            vector=row.terms or {},
            duplicate_of_id=row.duplicate_of_id,
        )
        for row in connection.execute(_CANDIDATE_ROWS, {"ids": sorted(chosen)})
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
    connection: Connection,
    article: Article,
    story_id: int,
    decision: Decision,
    signature: TextSignature,
    vector: dict[str, float],
    raw_terms: dict[str, float],
    at: datetime,
    urls: set[int],
) -> None:
    """Post the article in the index: signature and vector; band, term and URL keys; term counts."""
    connection.execute(
        StoryIndexArticle.__table__.insert(),
        [{"article_id": article.id, "story_id": story_id, "duplicate_of_id": decision.duplicate_of_id,
          "at": at, "shingle_count": signature.shingle_count, "signature": signature.to_bytes() or None,
          "terms": vector}],
    )
    keys = set(band_keys(signature)) | {term_key(t) for t in index_terms(vector)} | urls
    if keys:
        connection.execute(
            StoryIndexKey.__table__.insert(),
            [{"key": k, "article_id": article.id, "at": at} for k in sorted(keys)],
        )
    _count_terms(connection, [term_key(t) for t in raw_terms] + [DOCUMENTS_KEY], _day(at))


def _count_terms(connection: Connection, keys: list[int], day: int) -> None:
    """Add one to each term's count for the day (an upsert: the one dialect-specific statement)."""
    rows = [{"term_key": k, "day": day, "count": 1} for k in sorted(set(keys))]
    # Sorted, so concurrent writers take row locks in the same order and cannot deadlock.
    connection.execute(_count_statement(connection.dialect.name), rows)


_COUNT_STATEMENTS: dict[str, Any] = {}


def _count_statement(dialect: str) -> Any:
    """``INSERT … ON CONFLICT (term_key, day) DO UPDATE SET count = count + 1``, built once
    per dialect so that its compiled form is cached and the rows go as one executemany."""
    if dialect not in _COUNT_STATEMENTS:
        table = StoryTermCount.__table__
        module: Any = postgresql if dialect == "postgresql" else sqlite
        statement = module.insert(table)
        _COUNT_STATEMENTS[dialect] = statement.on_conflict_do_update(
            index_elements=[table.c.term_key, table.c.day],
            set_={"count": table.c.count + statement.excluded.count},
        )
    return _COUNT_STATEMENTS[dialect]


def _recorded_assignment(session: Session, article: Article) -> StoryAssignment:
    story = session.get(Story, article.story_id)
    membership = (story.membership if story is not None else None) or []
    entry = next((m for m in membership if m.get("article_id") == article.id), None)
    first = membership[0].get("article_id") if membership else None
    return StoryAssignment(
        story_id=article.story_id,  # type: ignore[arg-type]
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
    session.execute(delete(StoryIndexKey).where(StoryIndexKey.at < older_than))
    removed = session.execute(delete(StoryIndexArticle).where(StoryIndexArticle.at < older_than))
    session.execute(delete(StoryTermCount).where(StoryTermCount.day < _day(older_than)))
    return max(removed.rowcount or 0, 0)
