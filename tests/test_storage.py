"""The storage layer on SQLite and PostgreSQL: idempotent entries, claims, versions, backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from config.settings import FeedConfig
from storage.articles import (
    EntryRecord,
    ExtractionRecord,
    claim_articles,
    process_space,
    record_entries,
    release_dead_claims,
    store_result,
)
from storage.db import DatabaseNotReady, current_revision, head_revision, open_database
from storage.feeds import FetchRecord, due_feeds, next_poll_time, record_fetch, sync_feeds
from storage.models import Article, ArticleSource, ArticleVersion, Feed, FeedFetch

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
INTERVAL = timedelta(minutes=15)
CAP = timedelta(hours=24)


def entry(n: int, *, url: str | None = None, title: str = "Title", entry_hash: str | None = None) -> EntryRecord:
    link = url or f"https://news.example/{n}"
    return EntryRecord(
        entry_id=f"guid-{n}", url=link, canonical_url=link, url_key=link.split("://")[1],
        title=f"{title} {n}", published_at=NOW, summary=f"summary {n}", content=None,
        entry_hash=entry_hash or f"h{n}",
    )


@pytest.fixture
def db(database_url: str):
    database = open_database(database_url, migrate=True)
    yield database
    database.dispose()


def make_feeds(db, *urls: str) -> list[Feed]:
    with db.session() as session:
        return sync_feeds(session, [FeedConfig(url=u) for u in urls], NOW)


def test_migrations_bring_a_new_database_to_head(db) -> None:
    assert current_revision(db.engine) == head_revision() != ""


def test_a_server_database_without_schema_is_refused_with_advice(postgres_url: str) -> None:
    with pytest.raises(DatabaseNotReady, match="newswatch db upgrade"):
        open_database(postgres_url)


def test_entries_are_stored_once_however_often_they_are_seen(db) -> None:
    feed_a, feed_b = make_feeds(db, "https://a.example/rss", "https://b.example/rss")
    with db.session() as session:
        first = record_entries(session, feed_a.id, [entry(1), entry(2)], NOW, baseline=True)
    with db.session() as session:
        again = record_entries(session, feed_a.id, [entry(1), entry(2)], NOW, baseline=False)
        # The same article through another feed: a second source, not a second article.
        other = record_entries(session, feed_b.id, [entry(1)], NOW, baseline=False)
    assert (first.new_articles, first.new_sources) == (2, 2)
    assert (again.new_articles, again.new_sources) == (0, 0)
    assert (other.new_articles, other.new_sources) == (0, 1)
    with db.session() as session:
        assert session.scalar(select(func.count(Article.id))) == 2
        assert session.scalar(select(func.count(ArticleSource.id))) == 3
        article = session.scalars(select(Article).where(Article.canonical_url == "https://news.example/1")).one()
        assert {s.feed.url for s in article.sources} == {"https://a.example/rss", "https://b.example/rss"}
        # seen through a feed that is not new: not a baseline any more
        assert article.baseline is False


def test_amp_and_mobile_copies_join_the_article_by_url_key(db) -> None:
    [feed] = make_feeds(db, "https://a.example/rss")
    desktop = entry(1)
    amp = EntryRecord(**{**desktop.__dict__, "entry_id": "amp-1", "url": "https://news.example/amp/1",
                         "canonical_url": "https://news.example/amp/1"})
    with db.session() as session:
        record_entries(session, feed.id, [desktop], NOW, baseline=False)
        counts = record_entries(session, feed.id, [amp], NOW, baseline=False)
    assert (counts.new_articles, counts.new_sources) == (0, 1)


def test_claims_are_leased_and_a_crashed_claim_is_taken_again(db) -> None:
    [feed] = make_feeds(db, "https://a.example/rss")
    with db.session() as session:
        record_entries(session, feed.id, [entry(n) for n in range(5)], NOW, baseline=False)
    with db.session() as session:
        first = claim_articles(session, NOW, 3)
    with db.session() as session:
        second = claim_articles(session, NOW, 10)
    assert len(first) == 3 and len(second) == 2
    assert not {w.id for w in first} & {w.id for w in second}
    with db.session() as session:  # nobody recorded anything: the leases expire
        retaken = claim_articles(session, NOW + timedelta(minutes=11), 10)
    assert {w.id for w in retaken} == {w.id for w in first + second}


def test_a_dead_claim_is_taken_back_only_from_this_process_space(db) -> None:
    """Containers on the host network share the host name, not their pids: a claim made
    in another PID namespace waits for its lease, even if its pid is not alive here."""
    import socket

    [feed] = make_feeds(db, "https://a.example/rss")
    with db.session() as session:
        record_entries(session, feed.id, [entry(1), entry(2)], NOW, baseline=False)
    with db.session() as session:
        [mine] = claim_articles(session, NOW, 1)
    with db.session() as session:
        [theirs] = claim_articles(session, NOW, 1)
        # As a process of another container on this machine would have claimed it.
        space = process_space()
        assert space.startswith(socket.gethostname())
        other = f"{space.rpartition('/')[0]}/{space.rpartition('/')[2]}0"
        session.get(Article, theirs.id).claim_token = f"{other}:4242:nonce"
    with db.session() as session:
        assert release_dead_claims(session, lambda pid: False) == 1
    with db.session() as session:
        assert session.get(Article, mine.id).claim_token is None
        assert session.get(Article, theirs.id).claim_token == f"{other}:4242:nonce"
    with db.session() as session:  # the live claims of this space stay
        [again] = claim_articles(session, NOW, 1)
        assert again.id == mine.id
        assert release_dead_claims(session, lambda pid: True) == 0


def fetched(text: str, digest: str) -> ExtractionRecord:
    return ExtractionRecord(status="fetched", title="T", text=text, extraction_method="trafilatura", content_hash=digest)


def test_a_changed_entry_refetches_and_keeps_the_old_text_as_a_version(db) -> None:
    [feed] = make_feeds(db, "https://a.example/rss")
    with db.session() as session:
        record_entries(session, feed.id, [entry(1)], NOW, baseline=False)
        [work] = claim_articles(session, NOW, 10)
        store_result(session, work.id, fetched("old body", "h-old"), NOW)
    with db.session() as session:
        assert claim_articles(session, NOW, 10) == []  # fetched once, never again…
        record_entries(session, feed.id, [entry(1, entry_hash="edited")], NOW, baseline=False)
    with db.session() as session:
        [again] = claim_articles(session, NOW, 10)  # …unless its entry changed
        article = store_result(session, again.id, fetched("new body", "h-new"), NOW)
        assert article.version == 2 and article.text == "new body" and article.analysed_at is None
        [old] = session.scalars(select(ArticleVersion)).all()
        assert (old.version, old.text) == (1, "old body")


def test_transient_failure_is_retried_later(db) -> None:
    [feed] = make_feeds(db, "https://a.example/rss")
    with db.session() as session:
        record_entries(session, feed.id, [entry(1)], NOW, baseline=False)
        [work] = claim_articles(session, NOW, 10)
        store_result(session, work.id, ExtractionRecord(status="retry", detail="timeout", retry_at=NOW + timedelta(minutes=2)), NOW)
    with db.session() as session:
        assert claim_articles(session, NOW + timedelta(minutes=1), 10) == []
        assert [w.id for w in claim_articles(session, NOW + timedelta(minutes=3), 10)] == [work.id]


def test_failures_back_off_linearly_and_success_resets(db) -> None:
    [feed] = make_feeds(db, "https://a.example/rss")
    with db.session() as session:
        record_fetch(session, feed.id, FetchRecord(outcome="permanent", status="HTTP 404", http_status=404), NOW, interval=INTERVAL, max_backoff=CAP)
        record_fetch(session, feed.id, FetchRecord(outcome="transient", status="timeout", soft_failure=True), NOW, interval=INTERVAL, max_backoff=CAP)
    with db.session() as session:
        state = session.get(Feed, feed.id)
        assert state.failures == 1.5 and state.status == "timeout"
        assert state.next_poll_at == NOW + INTERVAL * 2.5
        assert due_feeds(session, NOW) == []  # backing off…
        assert [f.id for f in due_feeds(session, NOW, force=True)] == [feed.id]
        assert session.scalar(select(func.count(FeedFetch.id))) == 2
        record_fetch(session, feed.id, FetchRecord(outcome="ok", status="ok", etag='"e1"'), NOW, interval=INTERVAL, max_backoff=CAP)
    with db.session() as session:
        state = session.get(Feed, feed.id)
        assert state.failures == 0 and state.etag == '"e1"'
        assert [f.id for f in due_feeds(session, NOW)] == [feed.id]  # healthy feeds every pass


def test_backoff_is_capped_and_honours_retry_after() -> None:
    assert next_poll_time(NOW, 500, interval=INTERVAL, max_backoff=CAP) == NOW + CAP
    assert next_poll_time(NOW, 1, interval=INTERVAL, max_backoff=CAP, retry_after_seconds=3600) == NOW + timedelta(hours=1)


def test_removed_feeds_are_deactivated_not_deleted(db) -> None:
    make_feeds(db, "https://a.example/rss", "https://b.example/rss")
    active = make_feeds(db, "https://a.example/rss")
    assert [f.url for f in active] == ["https://a.example/rss"]
    with db.session() as session:
        assert session.scalar(select(func.count(Feed.id))) == 2


def _sqlite_write_lock_is_free(path: str) -> bool:
    import sqlite3

    other = sqlite3.connect(path, timeout=0.2, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    finally:
        other.close()


def test_a_reader_session_reads_without_taking_sqlites_write_lock(tmp_path) -> None:
    path = str(tmp_path / "lock.db")
    database = open_database(f"sqlite:///{path}", migrate=True)
    try:
        with database.session() as session:
            sync_feeds(session, [FeedConfig(url="https://news.example/feed")], NOW)
        with database.session() as writer:
            writer.scalar(select(func.count(Feed.id)))
            assert not _sqlite_write_lock_is_free(path)  # a session takes it at BEGIN
        with database.reader() as reader:
            assert reader.scalar(select(func.count(Feed.id))) == 1
            assert _sqlite_write_lock_is_free(path)
            reader.add(Feed(url="https://news.example/other", name=None))
        with database.session() as session:
            assert session.scalar(select(func.count(Feed.id))) == 1  # a reader never commits
    finally:
        database.dispose()
