"""Explain a stored alert or article: re-score its stored text with the topic, as it was scored.

The same :class:`Explanation` as ``topics explain --file/--url`` renders, for an article
in the database; for an alert, one per article of its story, with what the alert stored
(its score against its threshold, its topic version) and whether the topic changed since.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from storage.evidence import readable_evidence
from storage.models import Alert, AlertMatch, Article, ArticleSource
from storage.serialize import outlet_name
from tasks.topics.backtest import article_document
from tasks.topics.explain import Explanation
from tasks.topics.labels import TopicLabels
from tasks.topics.matcher import TopicSet


class StoredNotFound(LookupError):
    """No such alert or article, or one of another topic: the message says which."""


@dataclass
class ArticleExplanation:
    article_id: int
    title: str
    outlet: str
    matched_score: float | None  # the score stored when it matched the alert's topic, if it did
    explanation: Explanation

    def to_dict(self) -> dict[str, Any]:
        return {
            "article_id": self.article_id, "title": self.title, "outlet": self.outlet,
            "stored_score": self.matched_score, **self.explanation.to_dict(),
        }

    def render(self) -> str:
        stored = "" if self.matched_score is None else f"; stored match score {self.matched_score:g}"
        head = f'article #{self.article_id} ({self.outlet}): "{_one_line(self.title)}"{stored}'
        return head + "\n" + self.explanation.render()


@dataclass
class AlertExplanation:
    alert_id: int
    topic_id: str
    topic_name: str
    story_id: int
    title: str
    score: float
    threshold: float | None
    score_explained: str
    version_at_alert: str | None
    version_now: str
    evidence: list[dict[str, Any]] = field(default_factory=list)
    articles: list[ArticleExplanation] = field(default_factory=list)

    @property
    def version_changed(self) -> bool:
        return self.version_at_alert is not None and self.version_at_alert != self.version_now

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id, "topic_id": self.topic_id, "topic_name": self.topic_name,
            "story_id": self.story_id, "title": self.title, "score": self.score,
            "threshold": self.threshold, "score_explained": self.score_explained,
            "topic_version_at_alert": self.version_at_alert, "topic_version": self.version_now,
            "topic_version_changed": self.version_changed, "evidence": self.evidence,
            "articles": [a.to_dict() for a in self.articles],
        }

    def render(self) -> str:
        if self.version_changed:
            version = (
                f"the topic changed since the alert was made: version {self.version_at_alert} then,"
                f" {self.version_now} now; the articles below are scored by today's version"
            )
        else:
            version = f"topic version {self.version_now}, unchanged since the alert was made"
        lines = [
            f'alert #{self.alert_id}: {self.topic_name} ({self.topic_id}), story {self.story_id}: "{_one_line(self.title)}"',
            f"stored: {self.score_explained}",
            version,
        ]
        for article in self.articles:
            lines += ["", article.render()]
        return "\n".join(lines)


def _one_line(text: str | None, limit: int = 120) -> str:
    value = " ".join((text or "").split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _explain(topics: TopicSet, topic_id: str, article: Article, matched: AlertMatch | None) -> ArticleExplanation:
    return ArticleExplanation(
        article_id=article.id,
        title=article.title or "",
        outlet=outlet_name(article),
        matched_score=matched.score if matched is not None else None,
        explanation=topics.explain(article_document(article), topic_id),
    )


def explain_stored_article(session: Session, topics: TopicSet, topic_id: str, article_id: int) -> ArticleExplanation:
    """The topic on a stored article's text (StoredNotFound: no such article)."""
    article = session.scalars(
        select(Article).where(Article.id == article_id)
        .options(selectinload(Article.sources).selectinload(ArticleSource.feed))
    ).one_or_none()
    if article is None:
        raise StoredNotFound(f"no article {article_id} in the database; `newswatch articles` lists them")
    topic = topics.get(topic_id)
    matched = session.scalars(
        select(AlertMatch).join(Alert, Alert.id == AlertMatch.alert_id)
        .where(AlertMatch.article_id == article.id, Alert.topic_id == topic.id)
    ).first()
    return _explain(topics, topic.id, article, matched)


def explain_stored_alert(session: Session, topics: TopicSet, topic_id: str, alert_id: int) -> AlertExplanation:
    """The topic on each article of an alert's story, with what the alert stored."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise StoredNotFound(f"no alert {alert_id} in the database; `newswatch alerts` lists them")
    if alert.topic_id != topic_id:
        raise StoredNotFound(
            f"alert {alert_id} is an alert of topic {alert.topic_id!r}, not {topic_id!r};"
            f" run `newswatch topics explain {alert.topic_id} --alert {alert_id}`"
        )
    topic = topics.get(topic_id)
    labels = TopicLabels(topics.topics)
    matches = {m.article_id: m for m in alert.matches}
    articles = session.scalars(
        select(Article).where(Article.story_id == alert.story_id).order_by(Article.id)
        .options(selectinload(Article.sources).selectinload(ArticleSource.feed))
    ).all()
    return AlertExplanation(
        alert_id=alert.id,
        topic_id=topic.id,
        topic_name=labels.name(topic.id),
        story_id=alert.story_id,
        title=alert.title or "",
        score=alert.score,
        threshold=labels.threshold(topic.id, alert.threshold),
        score_explained=labels.explain(topic.id, alert.score, alert.threshold),
        version_at_alert=alert.topic_version,
        version_now=topic.version,
        evidence=readable_evidence(alert.evidence),
        articles=[_explain(topics, topic.id, a, matches.get(a.id)) for a in articles],
    )
