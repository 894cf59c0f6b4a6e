"""The analysis stage: cluster newly extracted articles into stories, match topics, record alerts.

It takes what it works with (database, compiled topics, settings) as arguments, so the
pass's main process and the analysis process (tasks/analysis_process.py) run the same
function, each with its own database connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from config.settings import Settings
from storage.alerts import MatchRecord, record_matches
from storage.articles import articles_to_analyse
from storage.clock import utcnow
from storage.db import Database
from storage.dialect import take_analysis_lock
from storage.models import Article
from tasks.summary import StageSummary
from tasks.topics import TopicSet
from tasks.topics.backtest import article_document

if TYPE_CHECKING:
    from tasks.stories.assign import StoryFeatures


def analyse(database: Database, topics: TopicSet, settings: Settings, *, limit: int = 200) -> StageSummary:
    """Cluster newly extracted articles into stories, match topics, record alerts.

    One batch is one transaction, serialised across workers: a story, its alerts and
    their delivery rows are written together or not at all. What depends on an article
    alone (its text signature, terms and topic matches) is computed first, from a
    snapshot, so the serialised transaction (SQLite's write lock) lasts only for the
    lookups and writes.
    """
    from tasks.stories.assign import assign_story

    summary = StageSummary()
    with database.reader() as session:
        prepared = {article.id: _prepare(article, topics) for article in articles_to_analyse(session, limit, claim=False)}
    with database.session() as session:
        take_analysis_lock(session)
        articles = articles_to_analyse(session, limit)
        for article in articles:
            ready = prepared.get(article.id)
            if ready is None or ready.basis != _basis(article):  # new, or changed since the snapshot
                ready = _prepare(article, topics)
            now = utcnow()
            joined = article.story_id is None
            assignment = assign_story(session, article, now, settings.stories, ready.story)
            summary.counts["stories_new" if assignment.is_new_story else "stories_joined"] += int(joined)
            counts = record_matches(
                session, article, ready.matches, now, settings,
                joined_story=joined, new_story=joined and assignment.is_new_story,
            )
            article.analysed_at = now
            summary.counts["articles_analysed"] += 1
            summary.counts["alerts_new"] += counts.new
            summary.counts["alerts_updated"] += counts.updated
            summary.counts["deliveries_queued"] += counts.deliveries
    return summary


@dataclass(frozen=True)
class _Prepared:
    basis: tuple[Any, ...]  # what the features were computed from
    story: StoryFeatures
    matches: list[MatchRecord]


def _basis(article: Article) -> tuple[Any, ...]:
    document = article_document(article)
    return (article.version, article.content_hash, document.title, document.language, document.sources)


def _prepare(article: Article, topics: TopicSet) -> _Prepared:
    from tasks.stories.assign import story_features

    matches = topics.match(article_document(article))
    return _Prepared(
        basis=_basis(article),
        story=story_features(article),
        matches=[MatchRecord(m.topic_id, m.score, m.version, m.evidence, m.learned, m.threshold) for m in matches],
    )
