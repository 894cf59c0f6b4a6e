"""A dry run of one topic over stored articles: what would have alerted, nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from storage.models import Article, ArticleSource
from tasks.topics.matcher import TopicSet
from tasks.topics.model import Document

BATCH = 200


@dataclass
class BacktestHit:
    article_id: int
    story_id: int | None
    title: str
    url: str
    published_at: datetime | None
    score: float
    evidence: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "article_id": self.article_id,
            "story_id": self.story_id,
            "title": self.title,
            "url": self.url,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "score": self.score,
            "evidence": self.evidence,
        }


@dataclass
class BacktestReport:
    topic_id: str
    version: str
    since: datetime | None
    scanned: int = 0
    hits: list[BacktestHit] = field(default_factory=list)

    @property
    def stories(self) -> int:
        """Alerts are one per story: articles without a story count on their own."""
        return len({h.story_id if h.story_id is not None else f"a{h.article_id}" for h in self.hits})

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic_id,
            "version": self.version,
            "since": self.since.isoformat() if self.since else None,
            "articles_scanned": self.scanned,
            "articles_matched": len(self.hits),
            "alerts": self.stories,
            "matches": [h.to_dict() for h in self.hits],
        }


def article_document(article: Article) -> Document:
    """A stored article as topics see it, with the feed URL of every source that carried it
    (in the order they carried it: ``source`` stays the first)."""
    feeds = tuple(dict.fromkeys(s.feed.url for s in article.sources))
    return Document(
        title=article.title or "", body=article.text or "", language=article.language,
        source=feeds[0] if feeds else None, url=article.canonical_url, sources=feeds,
    )


def stored_articles(session: Session, since: datetime | None) -> Iterator[Article]:
    """Fetched articles, oldest first, published (or else fetched) at or after ``since``."""
    query = (
        select(Article)
        .where(Article.status == "fetched")
        .options(selectinload(Article.sources).selectinload(ArticleSource.feed))
        .order_by(Article.id)
    )
    if since is not None:
        query = query.where(func.coalesce(Article.published_at, Article.fetched_at) >= since)
    last_id = 0
    while True:
        batch = session.scalars(query.where(Article.id > last_id).limit(BATCH)).all()
        if not batch:
            return
        yield from batch
        last_id = batch[-1].id
        session.expunge_all()  # read-only: keep memory flat over a large archive


def backtest(session: Session, topics: TopicSet, topic_id: str, since: datetime | None) -> BacktestReport:
    """Match one topic over the stored articles. Reads only; creates and sends nothing."""
    topic = topics.get(topic_id)
    single = TopicSet([topic])
    report = BacktestReport(topic.id, topic.version, since)
    for article in stored_articles(session, since):
        report.scanned += 1
        for match in single.match(article_document(article)):
            report.hits.append(
                BacktestHit(
                    article_id=article.id,
                    story_id=article.story_id,
                    title=article.title or "",
                    url=article.canonical_url,
                    published_at=article.published_at or article.fetched_at,
                    score=match.score,
                    evidence=match.evidence,
                )
            )
    return report
