"""Alerts: one per (topic, story), growing as the story gains sources.

Called in the analyse transaction right after an article joined its story, so an
alert, its evidence and its delivery rows are written together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, load_only, selectinload

from config.settings import Settings
from storage.deliveries import enqueue_for_alert  # queued in the alert's own transaction
from storage.dialect import insert_ignore
from storage.evidence import ArticleEvidence, merge_story_evidence
from storage.models import Alert, AlertMatch, Article, ArticleSource, Story
from storage.published import earliest_published
from storage.search import index_alert, index_article, index_story_articles
from storage.serialize import outlet_name


@dataclass(frozen=True)
class MatchRecord:
    """A topic that fired on an article (from ``tasks.topics``), as stored."""

    topic_id: str
    score: float
    version: str
    evidence: list[dict[str, Any]]
    # A topic with a learned layer: its probability, threshold and largest contributions.
    learned: dict[str, Any] | None = None
    threshold: float | None = None  # the rules' score this topic version alerts from


@dataclass
class AlertCounts:
    new: int = 0
    updated: int = 0
    deliveries: int = 0


def record_matches(
    session: Session,
    article: Article,
    matches: list[MatchRecord],
    now: datetime,
    settings: Settings,
    *,
    joined_story: bool = True,
    new_story: bool = False,
) -> AlertCounts:
    """Create or grow the alerts of ``article``'s story; enqueue their deliveries.

    ``new_story``: the story was started by this article in this transaction, so it has
    no alerts yet (without matches there is nothing to look up).
    """
    counts = AlertCounts()
    if article.story_id is None:
        raise ValueError(f"article {article.id} has no story yet")
    if new_story and not matches:
        return counts
    story = session.get(Story, article.story_id)
    assert story is not None
    alerts = {a.topic_id: a for a in session.scalars(select(Alert).where(Alert.story_id == story.id))}
    if not alerts and not matches:
        return counts
    published = story_published_at(session, story.id) or now
    created: set[str] = set()
    reindex: set[str] = set()  # alerts whose title or evidence changed
    for match in matches:
        alert = alerts.get(match.topic_id)
        if alert is None:
            alert = _create_alert(session, story, article, match, now, published)
            alerts[match.topic_id] = alert
            created.add(match.topic_id)
            counts.new += 1
        elif match.score > alert.score:
            alert.score = match.score
            alert.topic_version = match.version
            alert.threshold = match.threshold
        _add_match(session, alert, article, match, now)

    matched = {m.topic_id for m in matches}
    several_sources = (story.article_count or 0) > 1
    for topic_id, alert in alerts.items():
        grew = joined_story and alert.article_count != story.article_count
        if (topic_id in matched or grew) and _merge_evidence(session, alert, several_sources):
            reindex.add(topic_id)
        if alert.published_at != published:
            alert.published_at = published  # an earlier article joined, or a date was corrected
        if topic_id in created:
            counts.deliveries += enqueue_for_alert(session, alert, "new", now, settings)
            continue
        if grew:
            alert.article_count = story.article_count
            if story.title and story.title != alert.title:
                alert.title = story.title
                reindex.add(topic_id)
            alert.updated_at = now
            counts.updated += 1
            counts.deliveries += enqueue_for_alert(session, alert, "update", now, settings)
        elif topic_id in matched:
            alert.updated_at = now  # a better match or a new version of the same article
    _keep_search_in_step(session, story.id, article, [alerts[t] for t in created | reindex], bool(created))
    return counts


def story_published_at(session: Session, story_id: int) -> datetime | None:
    """The story's publication time: its earliest article's (storage/published.py)."""
    rows = session.execute(
        select(Article.published_at, Article.published_at_source, Article.fetched_at, Article.created_at)
        .where(Article.story_id == story_id)
    ).all()
    earliest = earliest_published(row._tuple() for row in rows)
    return earliest[0] if earliest else None


def _keep_search_in_step(
    session: Session, story_id: int, article: Article, changed: list[Alert], new_alert: bool
) -> None:
    """The search documents of an alerted story, in the alert's transaction."""
    index_article(session, article)  # joined, or analysed again after a new version
    for alert in changed:
        index_alert(session, alert)
    if new_alert:
        index_story_articles(session, story_id)  # the story's earlier articles, once


def _create_alert(
    session: Session, story: Story, article: Article, match: MatchRecord, now: datetime, published: datetime
) -> Alert:
    insert_ignore(
        session,
        Alert.__table__,
        [{
            "topic_id": match.topic_id, "story_id": story.id,
            "title": story.title or article.title, "score": match.score,
            "topic_version": match.version, "threshold": match.threshold, "evidence": match.evidence,
            "article_count": story.article_count or 1, "baseline": bool(article.baseline),
            "published_at": published, "created_at": now, "updated_at": now,
        }],
        ["topic_id", "story_id"],
    )
    alert = session.scalars(
        select(Alert).where(Alert.topic_id == match.topic_id, Alert.story_id == story.id)
    ).one()
    return alert


def _add_match(session: Session, alert: Alert, article: Article, match: MatchRecord, now: datetime) -> None:
    values = {
        "score": match.score, "topic_version": match.version,
        "evidence": match.evidence, "learned": match.learned,
    }
    added = insert_ignore(
        session,
        AlertMatch.__table__,
        [{"alert_id": alert.id, "article_id": article.id, **values, "matched_at": now}],
        ["alert_id", "article_id"],
    )
    if not added:  # a new version of an article that matched before: its evidence now
        session.execute(
            update(AlertMatch)
            .where(AlertMatch.alert_id == alert.id, AlertMatch.article_id == article.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def _merge_evidence(session: Session, alert: Alert, several_sources: bool) -> bool:
    """The alert's evidence from all its story's matching articles; True if it changed."""
    # This runs in analysis's serialised transaction each time a story grows: read only the
    # matches' evidence, and the few columns an outlet's name needs only when it is shown
    # (never the articles' text).
    rows = session.execute(
        select(AlertMatch.article_id, AlertMatch.evidence)
        .where(AlertMatch.alert_id == alert.id)
        .order_by(AlertMatch.id)  # ties: the article that matched first
    ).all()
    outlets: dict[int, str] = {}
    if several_sources and rows:
        found = session.scalars(
            select(Article)
            .options(load_only(Article.id, Article.site_name, Article.url),
                     selectinload(Article.sources).selectinload(ArticleSource.feed))
            .where(Article.id.in_([article_id for article_id, _ in rows]))
        )
        outlets = {article.id: outlet_name(article) for article in found}
    articles = [ArticleEvidence(article_id, outlets.get(article_id, ""), list(evidence or []))
                for article_id, evidence in rows]
    merged = merge_story_evidence(articles, several_sources=several_sources)
    if merged == (alert.evidence or []):
        return False
    alert.evidence = merged
    return True
