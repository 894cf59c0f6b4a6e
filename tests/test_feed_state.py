"""What a feed's row says about it across polls: a warning stays until the feed changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from config.settings import load_settings
from storage.db import open_database
from storage.feeds import FetchRecord, record_fetch, sync_feeds
from storage.models import Feed
from tasks.pass_driver import run_pass_plain
from tasks.runtime import Runtime
from tests.support.httpserver import LocalSite

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
LIVE_BLOG_ONLY = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Live</title><link>https://example.org/</link>
<item><title>Live: the count</title><guid isPermaLink="false">live-2026-11-28</guid></item>
</channel></rss>"""


def test_record_fetch_keeps_the_warning_on_an_unchanged_poll(tmp_path: Path) -> None:
    from config.settings import FeedConfig

    db = open_database(f"sqlite:///{tmp_path / 'nw.db'}")
    spacing = {"interval": timedelta(minutes=15), "max_backoff": timedelta(hours=24)}
    with db.session() as session:
        [feed] = sync_feeds(session, [FeedConfig(url="https://example.org/rss")], NOW)
        warned = FetchRecord(outcome="ok", status="ok, with warnings", warning="entry 'x': no usable link")
        record_fetch(session, feed.id, warned, NOW, **spacing)
        record_fetch(session, feed.id, FetchRecord(outcome="not_modified", status="not modified"), NOW, **spacing)
        assert feed.warning == "entry 'x': no usable link"  # before: None after the unchanged poll
        record_fetch(session, feed.id, FetchRecord(outcome="transient", status="timeout"), NOW, **spacing)
        assert feed.warning == "entry 'x': no usable link"
        record_fetch(session, feed.id, FetchRecord(outcome="ok", status="ok"), NOW, **spacing)
        assert feed.warning is None  # the feed changed and is clean now
    db.dispose()


def test_a_feeds_warning_survives_unchanged_polls_end_to_end(tmp_path: Path, local_site: LocalSite) -> None:
    local_site.route("/live.xml", LIVE_BLOG_ONLY, content_type="application/rss+xml")
    config = tmp_path / "newswatch.yaml"
    config.write_text(
        f"database_url: sqlite:///nw.db\nfeeds: [{{url: '{local_site.url('/live.xml')}'}}]\n"
        f"fetch: {{allow_private_networks: ['{local_site.allow_rule}'], per_host_delay_seconds: 0}}\n",
        encoding="utf-8",
    )
    settings = load_settings(config)
    statuses = []
    for _ in range(3):
        with Runtime(settings) as runtime:
            run_pass_plain(runtime, force=True)
        db = open_database(settings.resolved_database_url)
        with db.session() as session:
            feed = session.scalars(select(Feed)).one()
            statuses.append((feed.status, feed.warning))
        db.dispose()
    warning = "entry 'Live: the count': no usable link"
    assert statuses == [
        ("ok", warning),
        ("not modified (same content)", warning),
        ("not modified (same content)", warning),
    ]
