"""Shared builders for the delivery tests: a schema on a real SQLite file, and alerts built
from Feed/Article/ArticleSource/Story/Alert rows inserted directly (no pipeline needed)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from config.settings import Settings, load_settings
from storage.db import Database, open_database
from storage.models import Alert, Article, ArticleSource, Feed, Story

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
_counter = itertools.count(1)


def make_database(path: Path) -> Database:
    """The real thing: storage.db's engine, pragmas and migrations, on a SQLite file."""
    return open_database(f"sqlite:///{path}", migrate=True)


def open_test_database(tmp_path: Path) -> Iterator[Database]:
    """Fixture body; a test module declares ``database = pytest.fixture(open_test_database)``."""
    db = make_database(tmp_path / "deliver.db")
    yield db
    db.dispose()


database = pytest.fixture(open_test_database, name="database")


def make_settings(tmp_path: Path, **data: Any) -> Settings:
    data.setdefault("database_url", f"sqlite:///{tmp_path / 'deliver.db'}")
    return load_settings(None, **data)


def add_feed(session: Session, name: str = "Example Wire", url: str | None = None) -> Feed:
    n = next(_counter)
    feed = Feed(url=url or f"https://feeds.example.org/{n}.xml", name=name, created_at=T0)
    session.add(feed)
    session.flush()
    return feed


def add_article(
    session: Session,
    story: Story,
    feed: Feed,
    *,
    title: str = "Minister meets envoy",
    site_name: str | None = "Example News",
    url: str | None = None,
    now: datetime = T0,
) -> Article:
    n = next(_counter)
    url = url or f"https://news.example.org/story-{n}"
    article = Article(
        canonical_url=url, url=url, title=title, site_name=site_name, status="fetched",
        text="Body text.", created_at=now, updated_at=now, story_id=story.id,
    )
    session.add(article)
    session.flush()
    session.add(
        ArticleSource(
            article_id=article.id, feed_id=feed.id, entry_id=url, entry_url=url,
            entry_title=title, entry_hash=f"h{n}", first_seen_at=now, last_seen_at=now,
        )
    )
    story.article_count = (story.article_count or 0) + 1
    session.flush()
    return article


def add_alert(
    session: Session,
    *,
    topic: str = "uk-us-relations",
    title: str = "Minister meets envoy",
    score: float = 3.0,
    baseline: bool = False,
    now: datetime = T0,
    articles: int = 1,
    site_name: str | None = "Example News",
    feed: Feed | None = None,
    snippet: str = "The minister met the US envoy in London on Tuesday.",
    story: Story | None = None,
) -> Alert:
    """A story with ``articles`` articles and one alert for ``topic`` on it."""
    feed = feed or add_feed(session)
    if story is None:
        story = Story(title=title, first_seen_at=now, last_seen_at=now, created_at=now, updated_at=now)
        session.add(story)
        session.flush()
        for _ in range(articles):
            add_article(session, story, feed, title=title, site_name=site_name, now=now)
    alert = Alert(
        topic_id=topic, story_id=story.id, title=title, score=score, topic_version="v1",
        evidence=[{"text": snippet, "field": "body", "start": 4, "end": 12, "rule": "r1",
                   "terms": ["minister", "envoy"]}],
        article_count=story.article_count, baseline=baseline, created_at=now, updated_at=now,
    )
    session.add(alert)
    session.flush()
    return alert


def grow_alert(session: Session, alert: Alert, now: datetime, *, site_name: str = "Other Paper") -> Article:
    """The story gains a source; the alert is updated as storage.alerts would."""
    story = session.get(Story, alert.story_id)
    assert story is not None
    feed = add_feed(session, name=site_name)
    article = add_article(session, story, feed, title=f"{alert.title} (follow-up)",
                          site_name=site_name, now=now)
    alert.article_count = story.article_count
    alert.updated_at = now
    session.flush()
    return article


def later(hours: float = 0, minutes: float = 0) -> datetime:
    return T0 + timedelta(hours=hours, minutes=minutes)


def all_alerts(session: Session) -> list[Alert]:
    return list(session.scalars(select(Alert).order_by(Alert.id)))


def test_builders_make_a_story_with_sources(database: Database) -> None:
    with database.session() as session:
        alert = add_alert(session, articles=2)
        assert alert.story.article_count == 2
        assert [s.feed.name for a in alert.story.articles for s in a.sources] == ["Example Wire"] * 2
