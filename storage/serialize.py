"""The JSON shapes of ``--format json`` (and the web API): a contract users' scripts rely on.

Fields are only ever added, never renamed or dropped. Timestamps are ISO 8601 UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from storage.evidence import readable_evidence
from storage.feedback import alert_verdict, current_feedback
from storage.models import Alert, AlertMatch, Article, ArticleSource, Feed, Feedback, Story
from storage.published import PublishedSource, effective_published


class TopicLabels(Protocol):
    """How an alert's topic reads: its name, threshold and the score in words.

    Topics live above storage (tasks/topics/labels.py implements this); without one an
    alert's topic reads as its id and the score against the threshold stored with it.
    """

    def fields(self, topic_id: str, score: float, threshold: float | None) -> dict[str, Any]: ...


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def feedback_json(row: Feedback) -> dict[str, Any]:
    return {"verdict": row.verdict, "by": row.by, "note": row.note, "created_at": iso(row.created_at)}


def source_json(source: ArticleSource) -> dict[str, Any]:
    return {
        "feed_url": source.feed.url,
        "feed_name": source.feed.name,
        "entry_id": source.entry_id,
        "article_url": source.entry_url,
        "entry_title": source.entry_title,
        "entry_published_at": iso(source.entry_published_at),
        "first_seen_at": iso(source.first_seen_at),
        "last_seen_at": iso(source.last_seen_at),
    }


def article_published(article: Article) -> tuple[datetime, PublishedSource]:
    """An article's publication time, else its fetch time, and which it is."""
    return effective_published(
        article.published_at, article.published_at_source, article.fetched_at, article.created_at
    )


def outlet_name(article: Article) -> str:
    """Who published an article: the site's own name, else its first feed's name or host."""
    if article.site_name and article.site_name.strip():
        return article.site_name.strip()
    for source in article.sources:
        if source.feed is not None:
            return source.feed.name or urlsplit(source.feed.url).hostname or source.feed.url
    return urlsplit(article.url).hostname or article.url


def outlet_names(articles: list[Article]) -> list[str]:
    """The distinct outlets of a story's articles, in the order they first carried it."""
    names: list[str] = []
    for article in sorted(articles, key=lambda a: (article_published(a)[0], a.id)):
        name = outlet_name(article)
        if name not in names:
            names.append(name)
    return names


def story_page_url(base_url: str | None, story_id: int) -> str | None:
    """The story's page in the web app, when ``web.base_url`` says where that is."""
    return f"{base_url}/stories/{story_id}" if base_url else None


def alert_source_json(article: Article, matched: AlertMatch | None) -> dict[str, Any]:
    """One article of an alert's story with its full provenance."""
    feeds = [source_json(s) for s in article.sources]
    first = feeds[0] if feeds else {}
    published_at, published_at_source = article_published(article)
    return {
        "article_id": article.id,
        "article_url": first.get("article_url", article.url),
        "canonical_url": article.canonical_url,
        "final_url": article.final_url,
        "feed_url": first.get("feed_url"),
        "feed_name": first.get("feed_name"),
        "entry_id": first.get("entry_id"),
        "title": article.title,
        "site_name": article.site_name,
        # The publication time, or the fetch time where there is none (published_at_source).
        "published_at": iso(published_at),
        "published_at_source": published_at_source,
        "fetched_at": iso(article.fetched_at),
        "http_status": article.http_status,
        "content_hash": article.content_hash,
        "extraction_method": article.extraction_method,
        "extraction_flags": list(article.extraction_flags or []),
        "language": article.language,
        "duplicate_of": article.duplicate_of_id,
        "matched": matched is not None,
        "score": matched.score if matched else None,
        "evidence": readable_evidence(matched.evidence) if matched else [],
        "learned": matched.learned if matched else None,
        "feeds": feeds,
    }


def alert_topic_fields(alert: Alert, labels: TopicLabels | None) -> dict[str, Any]:
    """``topic_name``, ``threshold`` and ``score_explained`` of an alert."""
    if labels is not None:
        return labels.fields(alert.topic_id, alert.score, alert.threshold)
    explained = f"score {round(alert.score, 1):g}"
    if alert.threshold is not None:
        explained += f"; alerts from {round(alert.threshold, 1):g}"
    return {"topic_name": alert.topic_id, "threshold": alert.threshold, "score_explained": explained}


def alert_json(
    session: Session,
    alert: Alert,
    *,
    base_url: str | None = None,
    labels: TopicLabels | None = None,
    feedback: list[Feedback] | None = None,
) -> dict[str, Any]:
    """``feedback``: the alert's current verdicts when the caller loaded them for many alerts."""
    if feedback is None:
        feedback = current_feedback(session, [alert.id]).get(alert.id, [])
    story = alert.story
    matches = {m.article_id: m for m in alert.matches}
    articles = story.articles  # ordered by id
    earliest = min((article_published(a) for a in articles), key=lambda p: p[0], default=None)
    return {
        "id": alert.id,
        "topic": alert.topic_id,
        "topic_id": alert.topic_id,
        **alert_topic_fields(alert, labels),  # topic_name, threshold, score_explained
        "story_id": alert.story_id,
        "title": alert.title,
        "score": round(alert.score, 4),
        "topic_version": alert.topic_version,
        # When the story was published (its earliest source's time; see sources' published_at_source).
        "published_at": iso(alert.published_at),
        "published_at_source": earliest[1] if earliest else "fetched",
        "created_at": iso(alert.created_at),
        "updated_at": iso(alert.updated_at),
        "baseline": alert.baseline,
        "article_count": len(articles),
        "outlets": outlet_names(articles),
        "url": story_page_url(base_url, alert.story_id),
        # Strongest contribution first across the story's articles (storage/evidence.py).
        "evidence": readable_evidence(alert.evidence),
        "sources": [alert_source_json(a, matches.get(a.id)) for a in articles],
        "story": story_json(story),
        # The desk's current verdicts (one per person, newest first) and the alert's own.
        "feedback": [feedback_json(f) for f in feedback],
        "feedback_verdict": alert_verdict(feedback),
    }


def load_alerts(session: Session, alerts: list[Alert]) -> list[Alert]:
    """The alerts with their matches, stories, articles and feed entries, in a few queries."""
    loaded: dict[int, Alert] = {}
    ids = [a.id for a in alerts]
    for start in range(0, len(ids), 500):
        query = (
            select(Alert)
            .where(Alert.id.in_(ids[start : start + 500]))
            .options(
                selectinload(Alert.matches),
                selectinload(Alert.story)
                .selectinload(Story.articles)
                .selectinload(Article.sources)
                .selectinload(ArticleSource.feed),
            )
            .execution_options(populate_existing=True)
        )
        loaded.update((a.id, a) for a in session.scalars(query))
    return [loaded[a.id] for a in alerts if a.id in loaded]


def alerts_json(
    session: Session, alerts: list[Alert], *, base_url: str | None = None, labels: TopicLabels | None = None
) -> list[dict[str, Any]]:
    """Many alerts at once (``load_alerts``: a few queries, not one round per alert)."""
    loaded = load_alerts(session, alerts)
    verdicts = current_feedback(session, [a.id for a in loaded])
    return [
        alert_json(session, a, base_url=base_url, labels=labels, feedback=verdicts.get(a.id, []))
        for a in loaded
    ]


def story_json(story: Story) -> dict[str, Any]:
    return {
        "id": story.id,
        "title": story.title,
        "first_seen_at": iso(story.first_seen_at),
        "last_seen_at": iso(story.last_seen_at),
        "article_count": story.article_count,
        "membership": story.membership or [],
    }


def article_json(article: Article, *, with_text: bool = True) -> dict[str, Any]:
    return {
        "id": article.id,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "final_url": article.final_url,
        "html_canonical_url": article.html_canonical_url,
        "status": article.status,
        "status_detail": article.status_detail,
        "http_status": article.http_status,
        "title": article.title,
        "text": article.text if with_text else None,
        "author": article.author,
        "site_name": article.site_name,
        "published_at": iso(article.published_at),
        "fetched_at": iso(article.fetched_at),
        "language": article.language,
        "extraction_method": article.extraction_method,
        "extraction_flags": list(article.extraction_flags or []),
        "content_hash": article.content_hash,
        "version": article.version,
        "story_id": article.story_id,
        "duplicate_of": article.duplicate_of_id,
        "attempts": article.attempts,
        "sources": [source_json(s) for s in article.sources],
    }


def feed_json(feed: Feed, articles: int) -> dict[str, Any]:
    return {
        "id": feed.id,
        "url": feed.url,
        "name": feed.name,
        "active": feed.active,
        "status": feed.status,
        "outcome": feed.outcome,
        "last_http_status": feed.last_http_status,
        "last_error": feed.last_error,
        "warning": feed.warning,
        "last_fetched_at": iso(feed.last_fetched_at),
        "last_success_at": iso(feed.last_success_at),
        "failing_since": iso(feed.failing_since),  # first failure since the last success
        "failures": feed.failures,
        "next_poll_at": iso(feed.next_poll_at),
        "fetch_count": feed.fetch_count,
        "entries_seen": feed.entries_seen,
        "articles": articles,
    }


def feeds_json(session: Session) -> list[dict[str, Any]]:
    from sqlalchemy import func

    counts = dict(
        session.execute(
            select(ArticleSource.feed_id, func.count(func.distinct(ArticleSource.article_id)))
            .group_by(ArticleSource.feed_id)
        ).all()
    )
    return [feed_json(f, counts.get(f.id, 0)) for f in session.scalars(select(Feed).order_by(Feed.id))]
