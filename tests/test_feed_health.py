"""Feed health notices end to end: a feed's fetches recorded through the pass's own write
path (storage.feeds.record_fetch), deliver runs sending to a real SMTP server and a local
Slack webhook — one "down" message after the threshold, nothing per failed poll, one
"back" message, and nothing for subscribers without feed_health."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from config.settings import Settings, load_settings
from storage.db import Database, open_database
from storage.feed_health import feed_health
from storage.feeds import FetchRecord, record_fetch
from storage.models import Delivery, Feed
from tasks.notify import deliver_pending
from tests.support.slack import WebhookRecorder
from tests.support.smtp import RecordingHandler
from tests.test_deliver_support import T0

HOUR = timedelta(hours=1)
OK = FetchRecord(outcome="ok", status="ok", http_status=200, entries=3)
GONE = FetchRecord(outcome="permanent", status="HTTP 404", http_status=404, detail="HTTP 404 Not Found")


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(database_url, migrate=True)
    yield database
    database.dispose()


def settings_for(database_url: str, port: int, hook: str, extra: dict[str, Any] | None = None,
                 **delivery: Any) -> Settings:
    return load_settings(
        None,
        database_url=database_url,
        smtp={"host": "127.0.0.1", "port": port, "starttls": False, "from": "newswatch <alerts@example.org>"},
        subscribers=[
            {"name": "ops", "email": ["ops@example.org"], "slack_webhook": hook, "feed_health": True},
            {"name": "desk", "email": ["desk@example.org"]},  # feed_health off
        ],
        delivery=delivery,
        web={"base_url": "https://news.example.org/nw"},
        **(extra or {}),
    )


def add_feed(db: Database, name: str = "Harbour Times") -> int:
    with db.session() as session:
        feed = Feed(url="https://harbour.example/rss.xml", name=name, created_at=T0)
        session.add(feed)
        session.flush()
        return feed.id


def poll(db: Database, feed_id: int, record: FetchRecord, at: datetime) -> None:
    with db.session() as session:
        record_fetch(session, feed_id, record, at, interval=HOUR, max_backoff=HOUR)


def subjects(smtp: tuple[RecordingHandler, int]) -> list[str]:
    return [str(m.message["Subject"]) for m in smtp[0].messages]


def test_one_down_notice_after_the_threshold_one_back_notice_and_nothing_in_between(
    db: Database, smtp: tuple[RecordingHandler, int], slack: WebhookRecorder, database_url: str
) -> None:
    settings = settings_for(database_url, smtp[1], slack.url)
    feed_id = add_feed(db)
    poll(db, feed_id, OK, T0)
    # Failing from T0+1h, polled and delivered every hour: down at T0+25h (24 h default).
    for hours in range(1, 25):
        poll(db, feed_id, GONE, T0 + hours * HOUR)
        deliver_pending(settings, T0 + hours * HOUR + timedelta(minutes=5), database=db)
    assert subjects(smtp) == [] and slack.payloads == []

    for hours in range(25, 31):
        poll(db, feed_id, GONE, T0 + hours * HOUR)
        deliver_pending(settings, T0 + hours * HOUR + timedelta(minutes=5), database=db)
    assert subjects(smtp) == ["[newswatch] Feed down: Harbour Times"]
    down = smtp[0].messages[0]
    assert down.rcpt_tos == ["ops@example.org"]  # desk has feed_health off
    body = down.message.get_body(("plain",)).get_content()
    assert "failed every fetch since 28 Nov 2026 10:00 UTC (24 hours)" in body
    assert "HTTP 404 Not Found" in body and "https://harbour.example/rss.xml" in body
    assert "https://news.example.org/nw/feeds" in body
    assert [p["text"] for p in slack.payloads] == ["Feed down: Harbour Times"]

    poll(db, feed_id, OK, T0 + 31 * HOUR)
    for minutes in (5, 65, 125):
        deliver_pending(settings, T0 + 31 * HOUR + timedelta(minutes=minutes), database=db)
    assert subjects(smtp) == ["[newswatch] Feed down: Harbour Times", "[newswatch] Feed back: Harbour Times"]
    back = smtp[0].messages[1].message
    assert back["In-Reply-To"] == down.message["Message-ID"]
    assert "works again since 29 Nov 2026 16:00 UTC, after failing from 28 Nov 2026 10:00 UTC (30 hours)" in (
        back.get_body(("plain",)).get_content()
    )
    assert [p["text"] for p in slack.payloads] == ["Feed down: Harbour Times", "Feed back: Harbour Times"]
    with db.session() as session:
        kinds = sorted(session.scalars(select(Delivery.kind)))
        assert kinds == ["feed_down", "feed_down", "feed_up", "feed_up"]
        assert {d.status for d in session.scalars(select(Delivery))} == {"sent"}


def test_a_failure_shorter_than_the_threshold_sends_nothing(
    db: Database, smtp: tuple[RecordingHandler, int], slack: WebhookRecorder, database_url: str
) -> None:
    settings = settings_for(database_url, smtp[1], slack.url, feed_down_after_hours=3)
    feed_id = add_feed(db)
    poll(db, feed_id, GONE, T0)
    poll(db, feed_id, GONE, T0 + 2 * HOUR)
    deliver_pending(settings, T0 + 2 * HOUR + timedelta(minutes=59), database=db)
    poll(db, feed_id, OK, T0 + 2 * HOUR + timedelta(minutes=59))
    deliver_pending(settings, T0 + 10 * HOUR, database=db)
    assert subjects(smtp) == [] and slack.payloads == []
    # The threshold is a setting: a second episode that lasts 3 hours is announced.
    poll(db, feed_id, GONE, T0 + 11 * HOUR)
    deliver_pending(settings, T0 + 14 * HOUR, database=db)
    assert subjects(smtp) == ["[newswatch] Feed down: Harbour Times"]


def test_each_failure_episode_is_announced_once_even_if_it_came_back_between_runs(
    db: Database, smtp: tuple[RecordingHandler, int], slack: WebhookRecorder, database_url: str
) -> None:
    settings = settings_for(database_url, smtp[1], slack.url, feed_down_after_hours=1)
    feed_id = add_feed(db)
    poll(db, feed_id, GONE, T0)
    deliver_pending(settings, T0 + 2 * HOUR, database=db)
    # Back and down again, both between two deliver runs: back for the first episode,
    # down for the second.
    poll(db, feed_id, OK, T0 + 3 * HOUR)
    poll(db, feed_id, GONE, T0 + 4 * HOUR)
    deliver_pending(settings, T0 + 6 * HOUR, database=db)
    deliver_pending(settings, T0 + 7 * HOUR, database=db)
    assert subjects(smtp) == [
        "[newswatch] Feed down: Harbour Times",
        "[newswatch] Feed back: Harbour Times",
        "[newswatch] Feed down: Harbour Times",
    ]
    ids = [m.message["Message-ID"] for m in smtp[0].messages]
    assert len(set(ids)) == 3


def test_concurrent_deliver_runs_send_each_notice_once(
    db: Database, smtp: tuple[RecordingHandler, int], slack: WebhookRecorder, database_url: str
) -> None:
    settings = settings_for(database_url, smtp[1], slack.url)
    feed_id = add_feed(db)
    poll(db, feed_id, GONE, T0)
    errors: list[BaseException] = []

    def run_all(at: datetime) -> None:
        def worker() -> None:
            try:
                deliver_pending(settings, at, database=db)
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

    run_all(T0 + 25 * HOUR)
    poll(db, feed_id, OK, T0 + 26 * HOUR)
    run_all(T0 + 26 * HOUR)
    assert errors == []
    assert subjects(smtp) == ["[newswatch] Feed down: Harbour Times", "[newswatch] Feed back: Harbour Times"]
    assert len(slack.payloads) == 2


def test_the_state_shown_on_the_feeds_page(
    db: Database, smtp: tuple[RecordingHandler, int], slack: WebhookRecorder, database_url: str
) -> None:
    settings = settings_for(database_url, smtp[1], slack.url)
    feed_id = add_feed(db)
    poll(db, feed_id, GONE, T0)
    with db.session() as session:
        early = feed_health(session, settings, T0 + HOUR)[feed_id]
    assert (early.down, early.failing_since, early.notices) == (False, T0, [])
    assert early.down_at == T0 + 24 * HOUR
    deliver_pending(settings, T0 + 25 * HOUR, database=db)
    with db.session() as session:
        late = feed_health(session, settings, T0 + 25 * HOUR)[feed_id]
    assert late.down is True
    assert sorted((n["kind"], n["subscriber"], n["channel"], n["status"]) for n in late.notices) == [
        ("feed_down", "ops", "email", "sent"), ("feed_down", "ops", "slack", "sent"),
    ]


def test_migration_fills_in_failing_since_from_the_fetch_history(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import create_engine, text

    from storage.db import alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0003_alert_search")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO feeds (id, url, active, status, outcome, failures, fetch_count, entries_seen, "
            "articles_added, created_at, last_success_at, last_fetched_at) VALUES "
            "(1, 'https://a.example/', 1, 'HTTP 404', 'permanent', 2, 3, 0, 0, '2026-11-27 00:00:00', "
            "'2026-11-27 01:00:00', '2026-11-27 03:00:00'),"
            "(2, 'https://b.example/', 1, 'ok', 'ok', 0, 1, 0, 0, '2026-11-27 00:00:00', "
            "'2026-11-27 03:00:00', '2026-11-27 03:00:00')"
        ))
        for hour, outcome in ((1, "ok"), (2, "permanent"), (3, "permanent")):
            conn.execute(text(
                "INSERT INTO feed_fetches (feed_id, fetched_at, duration_ms, outcome, status, bytes, entries, "
                f"new_entries, skipped_entries) VALUES (1, '2026-11-27 0{hour}:00:00', 1, '{outcome}', 's', 0, 0, 0, 0)"
            ))
    command.upgrade(config, "head")
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT id, failing_since FROM feeds")).all())
    engine.dispose()
    assert rows[2] is None and str(rows[1]).startswith("2026-11-27 02:00:00")


def test_the_feeds_page_says_which_feeds_are_down_since_when_and_who_was_told(
    db: Database, smtp: tuple[RecordingHandler, int], slack: WebhookRecorder, database_url: str
) -> None:
    from starlette.testclient import TestClient

    from flows.web import create_app

    settings = settings_for(database_url, smtp[1], slack.url)
    feed_id = add_feed(db)
    with db.session() as session:
        session.add(Feed(url="https://flaky.example/rss", name="Flaky Post", created_at=T0))
    poll(db, feed_id, GONE, T0)
    deliver_pending(settings, T0 + 25 * HOUR, database=db)
    with db.session() as session:
        flaky = session.scalar(select(Feed.id).where(Feed.name == "Flaky Post"))
    assert flaky is not None
    poll(db, flaky, GONE, T0 + 24 * HOUR)

    with TestClient(create_app(settings, database=db, clock=lambda: T0 + 25 * HOUR)) as client:
        html = client.get("/feeds").text
    section = html.split('id="feed-health-title"', 1)[1].split("</section>", 1)[0]
    harbour, flaky_item = (item for item in section.split("<li>")[1:])
    assert "Harbour Times" in harbour and '<span class="bad-text">down</span>, failing since' in harbour
    assert "(25 hours)" in harbour
    assert 'datetime="2026-11-28T09:00:00' in harbour
    assert "Notices: down notice sent to ops (email, slack)." in harbour
    assert "Flaky Post" in flaky_item and "down</span>" not in flaky_item
    assert "down at" in flaky_item and "Notices" not in flaky_item
    assert "subscribers with <code>feed_health: true</code> (ops)" in section


def test_preview_shows_a_queued_feed_notice(db: Database, database_url: str) -> None:
    from tasks.notify.dispatch import prepare
    from tasks.notify.preview import preview

    # No smtp: section, so the notice stays queued (deferred) and preview shows it.
    settings = load_settings(
        None, database_url=database_url,
        subscribers=[{"name": "ops", "email": ["ops@example.org"], "feed_health": True}],
    )
    feed_id = add_feed(db)
    poll(db, feed_id, GONE, T0)
    prepare(settings, db, T0 + 25 * HOUR)
    config = settings.subscribers[0]
    with db.session() as session:
        shown = preview(session, settings, config, "email", T0 + 25 * HOUR)
    assert shown.email is not None and shown.email.subject == "[newswatch] Feed down: Harbour Times"
    assert "next feed_down for ops (email)" in shown.description


EMPTY_FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour Times</title>'
    b"<link>https://harbour.example/</link><description>news</description></channel></rss>"
)


def test_real_passes_against_a_feed_that_dies_and_comes_back(
    tmp_path: Path, local_site: Any, smtp: tuple[RecordingHandler, int], slack: WebhookRecorder
) -> None:
    """The whole path: real fetches of a local feed (200, then 404, then 200 again), passes
    recording them, deliver runs sending to the real SMTP server and Slack stand-in."""
    from storage.clock import utcnow
    from tasks.pass_driver import run_pass_plain
    from tasks.runtime import Runtime
    from tests.support.httpserver import Reply as SiteReply

    status = {"code": 200}
    local_site.route(
        "/feed.xml",
        handler=lambda _request: SiteReply(status=status["code"], body=EMPTY_FEED if status["code"] == 200 else b"gone",
                                           content_type="application/rss+xml"),
    )
    database_url = f"sqlite:///{tmp_path / 'nw.db'}"
    open_database(database_url, migrate=True).dispose()
    settings = settings_for(database_url, smtp[1], slack.url, {
        "feeds": [{"url": local_site.url("/feed.xml"), "name": "Harbour Times"}],
        "fetch": {"allow_private_networks": [local_site.allow_rule], "analysis_process": False},
    })
    with Runtime(settings) as runtime:
        assert run_pass_plain(runtime).counts.get("feeds_ok") == 1
        status["code"] = 404
        assert run_pass_plain(runtime, force=True).counts.get("feeds_failed") == 1
        deliver_pending(settings, utcnow())
        assert subjects(smtp) == []
        run_pass_plain(runtime, force=True)
        deliver_pending(settings, utcnow() + 25 * HOUR)
        deliver_pending(settings, utcnow() + 26 * HOUR)
        assert subjects(smtp) == ["[newswatch] Feed down: Harbour Times"]
        assert "HTTP 404" in smtp[0].messages[0].message.get_body(("plain",)).get_content()
        status["code"] = 200
        back = run_pass_plain(runtime, force=True).counts  # the same bytes as before: not modified
        assert back.get("feeds_failed", 0) == 0 and back.get("feeds_not_modified") == 1
        deliver_pending(settings, utcnow() + 27 * HOUR)
        deliver_pending(settings, utcnow() + 28 * HOUR)
    assert subjects(smtp) == ["[newswatch] Feed down: Harbour Times", "[newswatch] Feed back: Harbour Times"]
    assert [p["text"] for p in slack.payloads] == ["Feed down: Harbour Times", "Feed back: Harbour Times"]
    assert all(m.rcpt_tos == ["ops@example.org"] for m in smtp[0].messages)


def test_turning_feed_health_off_stops_the_back_notice_too(
    db: Database, smtp: tuple[RecordingHandler, int], slack: WebhookRecorder, database_url: str
) -> None:
    settings = settings_for(database_url, smtp[1], slack.url)
    feed_id = add_feed(db)
    poll(db, feed_id, GONE, T0)
    deliver_pending(settings, T0 + 25 * HOUR, database=db)
    assert subjects(smtp) == ["[newswatch] Feed down: Harbour Times"]
    quiet = settings.model_copy(update={
        "subscribers": [s.model_copy(update={"feed_health": False}) for s in settings.subscribers],
    })
    poll(db, feed_id, OK, T0 + 26 * HOUR)
    deliver_pending(quiet, T0 + 27 * HOUR, database=db)
    deliver_pending(settings, T0 + 28 * HOUR, database=db)  # the episode is closed: nothing late
    assert subjects(smtp) == ["[newswatch] Feed down: Harbour Times"]
