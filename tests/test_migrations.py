"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage.db import current_revision, head_revision, open_database
from storage.models import Base
from storage.search import include_name


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    db = open_database(database_url, migrate=True)
    try:
        assert current_revision(db.engine) == head_revision()
        with db.engine.connect() as connection:
            # The search engine's own objects (FTS5 tables, the GIN index) are not in the models.
            context = MigrationContext.configure(connection, opts={"include_name": include_name})
            drift = compare_metadata(context, Base.metadata)
        assert drift == [], f"models and migrations differ: {drift}"
    finally:
        db.dispose()


def test_0003_fills_publication_times_and_the_search_index_for_existing_alerts(database_url: str) -> None:
    """An existing database (at 0001, with alerts) upgraded: nothing lost, every alert
    dated and searchable; and the downgrade keeps the alerts too."""
    from datetime import UTC, datetime, timedelta

    from alembic import command
    from sqlalchemy import MetaData, func, select

    from storage.alert_list import AlertQuery, find_alerts
    from storage.db import alembic_config, make_engine, upgrade
    from storage.models import Alert, Article, Delivery
    from storage.search import parse_search

    engine = make_engine(database_url)
    config = alembic_config(database_url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    old = MetaData()
    old.reflect(engine)
    t = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    with engine.begin() as connection:
        def add(table: str, **row: object) -> int:
            return connection.execute(old.tables[table].insert().values(**row).returning(old.tables[table].c.id)).scalar_one()

        feed = add("feeds", url="https://wire.example/rss", created_at=t)
        story = add("stories", title="Envoys meet", first_seen_at=t, last_seen_at=t, membership=[], created_at=t, updated_at=t)
        dated = {"url_key": None, "status": "fetched", "extraction_flags": [], "story_id": story, "created_at": t, "updated_at": t}
        by_feed = add("articles", canonical_url="https://wire.example/a", url="https://wire.example/a", title="Envoys meet",
                      text="Steel tariffs were discussed.", published_at=t - timedelta(hours=5), fetched_at=t, **dated)
        add("article_sources", article_id=by_feed, feed_id=feed, entry_id="a", entry_url="https://wire.example/a",
            entry_published_at=t - timedelta(hours=5), entry_hash="h", first_seen_at=t, last_seen_at=t)
        by_page = add("articles", canonical_url="https://wire.example/b", url="https://wire.example/b", title="Talks go on",
                      text="Whisky exporters wait.", published_at=t - timedelta(hours=7), fetched_at=t, **dated)
        undated = add("articles", canonical_url="https://wire.example/c", url="https://wire.example/c", title="Later",
                      text="No date here.", published_at=None, fetched_at=t + timedelta(hours=1), **dated)
        alert = add("alerts", topic_id="uk-us-relations", story_id=story, title="Envoys meet", score=7.0,
                    evidence=[{"text": "Ambassadors agreed to meet."}], article_count=3, created_at=t, updated_at=t)
        subscriber = add("subscribers", name="desk", mode="immediate", topics=[], created_at=t, updated_at=t)
        add("deliveries", key=f"alert:{alert}:v1", subscriber_id=subscriber, channel="email", kind="alert",
            alert_id=alert, payload={}, created_at=t)
    upgrade(engine)
    db = open_database(database_url)
    try:
        with db.reader() as session:
            sources = dict(session.execute(select(Article.id, Article.published_at_source)).all())
            assert sources == {by_feed: "feed", by_page: "page", undated: None}
            assert session.get(Alert, alert).published_at == t - timedelta(hours=7)  # the page-dated article
            for words in ("ambassadors", "whisky exporters", "steel", "later"):
                found = find_alerts(session, AlertQuery(search=parse_search(words))).alerts
                assert [a.id for a in found] == [alert], words
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0001")
        with engine.connect() as connection:  # no table rebuild cascaded into the alert's rows
            assert connection.execute(select(func.count()).select_from(old.tables["alerts"])).scalar_one() == 1
            assert connection.execute(select(func.count()).select_from(old.tables["deliveries"])).scalar_one() == 1
        upgrade(engine)
        with db.reader() as session:
            assert session.scalar(select(func.count(Delivery.id))) == 1
            assert [a.id for a in find_alerts(session, AlertQuery(search=parse_search("ambassadors"))).alerts] == [alert]
    finally:
        db.dispose()
        engine.dispose()


def test_head_revision_read_from_the_files_is_alembics() -> None:
    from storage.db import _alembic_head_revision

    assert head_revision() == _alembic_head_revision() != ""
