"""A topic's source filter weighs every feed that carried an article (docs/topics.md):
the article passes when one feed passes together with the article's own URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from config.settings import load_settings
from storage.clock import utcnow
from storage.db import open_database
from storage.models import Alert, Article, ArticleSource, Feed
from tasks.analysis import analyse
from tasks.topics import Document, load_topics
from tasks.topics.backtest import article_document

WIRE = "https://wire.example.net/world/rss.xml"
AGGREGATOR = "https://aggregator.example.com/top.xml"
BODY = "The treaty was signed in Geneva on Monday."
URL = "https://news.example.org/2026/treaty"


def topic(sources: dict[str, list[str]]) -> Any:
    return load_topics([{"id": "treaty", "match": "treaty", "sources": sources}])


def carried_by(*feeds: str, url: str = URL) -> Document:
    return Document("Treaty signed", BODY, source=feeds[0] if feeds else None, url=url, sources=feeds)


def test_a_feed_the_topic_excludes_does_not_hide_what_an_allowed_feed_carried_too() -> None:
    topics = topic({"exclude": ["aggregator.example.com"]})
    assert topics.match(carried_by(AGGREGATOR, WIRE))
    assert topics.match(carried_by(WIRE, AGGREGATOR))  # the order of the feeds does not matter
    assert not topics.match(carried_by(AGGREGATOR))  # carried by the excluded feed alone


def test_one_included_feed_is_enough() -> None:
    topics = topic({"include": ["https://wire.example.net/world"]})
    assert topics.match(carried_by(AGGREGATOR, WIRE))
    assert not topics.match(carried_by(AGGREGATOR))


def test_excluding_one_feed_and_including_the_other_lets_the_article_through() -> None:
    topics = topic({"include": ["wire.example.net"], "exclude": [AGGREGATOR]})
    assert topics.match(carried_by(AGGREGATOR, WIRE))
    assert not topics.match(carried_by(AGGREGATOR))


def test_an_excluded_host_of_the_article_itself_keeps_it_out_whatever_carried_it() -> None:
    topics = topic({"exclude": ["news.example.org"]})
    assert not topics.match(carried_by(AGGREGATOR, WIRE))
    explanation = topics.explain(carried_by(AGGREGATOR, WIRE), "treaty")
    assert not explanation.matched
    assert f"no source of {AGGREGATOR}, {WIRE} is allowed" in explanation.render()


def test_without_sources_the_single_source_decides_as_before() -> None:
    topics = topic({"exclude": ["aggregator.example.com"]})
    assert not topics.match(Document("", BODY, source=AGGREGATOR))
    assert topics.match(Document("", BODY, source=WIRE))


def test_the_analysis_stage_sees_every_feed_of_a_stored_article(tmp_path: Path) -> None:
    # One article carried by two feeds; the topic excludes the first of them (the one the
    # analysis used to see alone) and must still alert through the second.
    url = f"sqlite:///{tmp_path / 'newswatch.db'}"
    database = open_database(url, migrate=True)
    now = utcnow()
    try:
        with database.session() as session:
            article = Article(
                canonical_url=URL, url=URL, status="fetched", title="Treaty signed", text=BODY, language="en",
                fetched_at=now, created_at=now, updated_at=now,
            )
            for n, feed_url in enumerate((AGGREGATOR, WIRE)):
                article.sources.append(ArticleSource(
                    feed=Feed(url=feed_url, created_at=now), entry_id=f"entry-{n}", entry_url=URL, entry_hash=f"h{n}",
                    first_seen_at=now, last_seen_at=now,
                ))
            session.add(article)
        with database.reader() as session:
            stored = session.scalars(select(Article)).one()
            assert article_document(stored).sources == (AGGREGATOR, WIRE)
            assert article_document(stored).source == AGGREGATOR

        topics = topic({"exclude": ["aggregator.example.com"]})
        summary = analyse(database, topics, load_settings(None, base_dir=tmp_path))
        assert summary.counts["articles_analysed"] == 1
        with database.reader() as session:
            assert [a.topic_id for a in session.scalars(select(Alert))] == ["treaty"]
    finally:
        database.dispose()
