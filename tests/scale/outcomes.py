"""What a monitoring pass on a cluster must leave behind, checked the same way everywhere.

Shared by the native cluster test (tests/scale/test_cluster.py) and the Docker compose
stack test (tests/docker/test_compose_stack.py): the article pages the sample server
was asked for, the stored state compared with one plain pass in one process, and the
emails a local SMTP server received.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from flows.demo import write_demo_config
from flows.demo_server import SampleServer, read_expected_pages
from storage.models import Alert, AlertMatch, Article, Delivery

EXPECTED = read_expected_pages()


def article_requests(server: SampleServer) -> list[str]:
    """Article pages requested, by path: the server ignores query strings, and an article
    carried by two feeds is listed once with tracking parameters."""
    paths = [urlsplit(target).path for target in server.requests_made()]
    return [path for path in paths if not path.startswith("/feeds/")]


def check_first_pass(requests: list[str], state: dict, reference: dict) -> None:
    """A first pass over the sample fetched every article page once and stored exactly
    what one plain pass in one process stores."""
    # Every article page was requested once, by one of the shards.
    expected_paths = sorted(page.path for page in EXPECTED)
    counts = Counter(requests)
    assert sorted(counts) == expected_paths
    assert [path for path, n in counts.items() if n > 1] == []

    # One row per article, all fetched and analysed.
    assert state["articles"] == len(EXPECTED)
    assert state["statuses"] == {"fetched": len(EXPECTED)}
    assert state["unanalysed"] == 0

    # The same articles, stories and alerts as one plain pass in one process: sharding
    # over workers changed nothing and stored nothing twice.
    assert state == reference
    # One alert per (topic, story), and no two alerts of a topic share an article.
    assert state["alerts"] > 0 and state["repeated_alert_keys"] == 0
    assert state["duplicate_matches"] == 0


def reference_pass(directory: Path, server: SampleServer) -> dict:
    """The stored state after one plain pass (no Prefect, one process) over the sample."""
    from config.settings import load_settings
    from storage.db import open_database
    from tasks.pass_driver import run_pass_plain
    from tasks.runtime import Runtime

    config = write_demo_config(directory, server)
    database_url = f"sqlite:///{directory / 'reference.db'}"
    document = yaml.safe_load(config.read_text())
    document["database_url"] = database_url
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    open_database(database_url, migrate=True).dispose()
    with Runtime(load_settings(config)) as runtime:
        run_pass_plain(runtime)
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            return stored_state(session, server.base_url)
    finally:
        engine.dispose()


def stored_state(session: Session, base_url: str) -> dict:
    """What a pass stored, by sample path (so two servers' ports compare equal)."""

    def path(url: str) -> str:
        return url.removeprefix(base_url)

    articles = list(session.scalars(select(Article)))
    alerts = list(session.scalars(select(Alert).order_by(Alert.id)))
    stories: dict[int | None, set[str]] = {}
    for article in articles:
        stories.setdefault(article.story_id, set()).add(path(article.canonical_url))
    alert_articles = []
    for alert in alerts:
        urls = session.scalars(
            select(Article.canonical_url).join(AlertMatch, AlertMatch.article_id == Article.id)
            .where(AlertMatch.alert_id == alert.id)
        )
        alert_articles.append((alert.topic_id, tuple(sorted(path(u) for u in urls))))
    matches_per_topic_article = session.execute(
        select(Alert.topic_id, AlertMatch.article_id, func.count())
        .join(AlertMatch, AlertMatch.alert_id == Alert.id)
        .group_by(Alert.topic_id, AlertMatch.article_id)
        .having(func.count() > 1)
    ).all()
    return {
        "articles": len(articles),
        "statuses": dict(Counter(a.status for a in articles)),
        "unanalysed": sum(1 for a in articles if a.analysed_at is None),
        "alerts": len(alerts),
        "repeated_alert_keys": len(alerts) - len({(a.topic_id, a.story_id) for a in alerts}),
        "alert_articles": sorted(alert_articles),
        "duplicate_matches": len(matches_per_topic_article),
        "stories": sorted(sorted(members) for members in stories.values()),
        "articles_by_path": sorted((path(a.canonical_url), a.status, a.content_hash, a.extraction_method) for a in articles),
    }


def check_delivered_once(received_keys: list[str], session: Session) -> None:
    """Each story with alerts was sent to the subscriber in one message, every message due
    was sent and arrived once, and none arrived twice.

    ``received_keys``: the X-Newswatch-Delivery header of each message the SMTP server got.
    Two topics' alerts on one story share the story's message (storage/deliveries.py); a
    story's later updates wait for ``delivery.update_debounce_hours`` (pending, with a
    ``not_before`` still to come).
    """
    rows = list(session.scalars(select(Delivery)))
    now = datetime.now(UTC).replace(tzinfo=None)
    held = [row for row in rows if row.status == "pending" and row.not_before and row.not_before.replace(tzinfo=None) > now]
    wrong = [(row.key, row.status, row.error) for row in rows if row.status != "sent" and row not in held]
    assert wrong == [], f"deliveries neither sent nor held back by the debounce: {wrong}"
    story_of = dict(session.execute(select(Alert.id, Alert.story_id)).tuples().all())
    assert story_of, "the sample raises alerts"
    first_messages = sorted(story_of[row.alert_id] for row in rows if row.kind == "alert")
    assert first_messages == sorted(set(story_of.values())), "one first message per story with alerts"
    assert [key for key, n in Counter(received_keys).items() if n > 1] == [], "a message arrived twice"
    assert sorted(received_keys) == sorted(row.key for row in rows if row.status == "sent")
