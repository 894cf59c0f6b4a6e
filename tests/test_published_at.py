"""An alert's published_at: its story's earliest publication time, from the feed or the
page, else the fetch time; with and without feed dates, through a real pass."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from config.settings import load_settings
from flows.cli import app as cli
from storage.db import open_database
from storage.models import Alert
from storage.published import effective_published
from tasks.pass_driver import run_pass_plain
from tasks.runtime import Runtime
from tests.support.alerts import join_story, raise_alert
from tests.support.httpserver import LocalSite

TOPIC = {"id": "harbour-watch", "name": "Harbour watch", "min_score": 1,
         "rules": [{"name": "the harbour", "query": "harbour", "weight": 1}]}
# Four unrelated stories (so each is a story of its own), each mentioning the harbour.
SUBJECTS = {
    "feed-date": ("The lifeboat crew rescued two sailors near the harbour wall after a storm.",
                  "Volunteers launched within minutes; coastguard helicopters searched the bay until dawn."),
    "page-date": ("Fishermen at the harbour protested against new quotas set by the ministry.",
                  "Trawler skippers blocked the quay with nets, demanding compensation for lost mackerel catches."),
    "no-date": ("A rare seal was spotted basking on the harbour slipway by schoolchildren.",
                "Marine biologists from the university photographed its flippers and counted whiskers."),
    "future-date": ("The harbour master approved plans for a floating solar farm offshore.",
                    "Engineers expect panels anchored beyond breakwaters to power eleven thousand homes."),
}


def page(title: str, sentences: tuple[str, str], meta: str = "") -> bytes:
    first, second = sentences
    paragraphs = "".join(f"<p>{first} {second}</p>" if i % 2 else f"<p>{second} {first}</p>" for i in range(4))
    return (f"<!doctype html><html lang='en'><head><title>{title}</title>{meta}</head><body><article>"
            f"<h1>{title}</h1>{paragraphs}</article></body></html>").encode()


def test_published_at_with_and_without_feed_dates(tmp_path: Path, local_site: LocalSite) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    feed_date = now - timedelta(days=5, hours=3)
    page_date = now - timedelta(days=2)
    future = now + timedelta(days=3)  # a feed whose clock (or time zone) is wrong
    items = {
        "feed-date": f"<pubDate>{format_datetime(feed_date, usegmt=True)}</pubDate>",
        "page-date": "",
        "no-date": "",
        "future-date": f"<pubDate>{format_datetime(future, usegmt=True)}</pubDate>",
    }
    metas = {"page-date": f'<meta property="article:published_time" content="{page_date.isoformat()}">'}
    entries = []
    for slug, date in items.items():
        local_site.route(f"/news/{slug}.html", body=page(slug, SUBJECTS[slug], metas.get(slug, "")),
                         content_type="text/html; charset=utf-8")
        entries.append(f"<item><title>{slug}</title><link>{local_site.url(f'/news/{slug}.html')}</link>"
                       f"<guid>{slug}</guid>{date}<description>{SUBJECTS[slug][0]}</description></item>")
    local_site.route("/feed.xml", content_type="application/rss+xml",
                     body=f"<rss version='2.0'><channel><title>Harbour Times</title>{''.join(entries)}</channel></rss>".encode())
    config = tmp_path / "newswatch.yaml"
    config.write_text(yaml.safe_dump({
        "database_url": f"sqlite:///{tmp_path / 'n.db'}",
        "feeds": [{"url": local_site.url("/feed.xml"), "name": "Harbour Times"}],
        "topics": [TOPIC],
        "fetch": {"allow_private_networks": [local_site.allow_rule], "per_host_delay_seconds": 0,
                  "analysis_process": False},
    }), encoding="utf-8")
    settings = load_settings(config)
    with Runtime(settings) as runtime:
        run_pass_plain(runtime)

    result = CliRunner().invoke(cli, ["alerts", "--config", str(config), "--format", "json"])
    assert result.exit_code == 0, result.output
    alerts = {a["title"]: a for a in json.loads(result.stdout)}
    assert set(alerts) == set(items), alerts.keys()

    def moment(value: str) -> datetime:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))

    feed_alert = alerts["feed-date"]
    assert moment(feed_alert["published_at"]) == feed_date
    assert feed_alert["published_at_source"] == "feed"
    assert feed_alert["sources"][0]["published_at_source"] == "feed"

    page_alert = alerts["page-date"]
    assert moment(page_alert["published_at"]) == page_date
    assert page_alert["sources"][0]["published_at_source"] == "page"

    for slug in ("no-date", "future-date"):  # the fetch time stands in
        source = alerts[slug]["sources"][0]
        assert source["published_at_source"] == "fetched"
        assert source["published_at"] == source["fetched_at"] == alerts[slug]["published_at"]
        assert now - timedelta(minutes=5) <= moment(alerts[slug]["published_at"]) <= datetime.now(UTC)

    # Newest published first: the two fetched just now, then the page date, then the feed date.
    order = [a["title"] for a in json.loads(result.stdout)]
    assert order[2:] == ["page-date", "feed-date"]
    # Date filters use publication time: three days back finds the page-dated story and
    # the two fetched now, not the feed-dated one (though all four were found today).
    since = CliRunner().invoke(cli, ["alerts", "--config", str(config), "--format", "json", "--since", "3d"])
    assert sorted(a["title"] for a in json.loads(since.stdout)) == ["future-date", "no-date", "page-date"]


def test_effective_published_rule() -> None:
    at = datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert effective_published(at, "feed", at + timedelta(hours=1), at) == (at, "feed")
    assert effective_published(at, "page", at + timedelta(hours=1), at) == (at, "page")
    assert effective_published(at, None, at + timedelta(hours=1), at) == (at, "feed")
    assert effective_published(None, None, at, at - timedelta(hours=1)) == (at, "fetched")
    assert effective_published(None, None, None, at) == (at, "fetched")  # not fetched yet: first seen
    later = at + timedelta(days=1)
    assert effective_published(later, "feed", at, at) == (at, "fetched")  # after the fetch: a wrong clock


NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(database_url: str):
    database = open_database(database_url, migrate=True)
    yield database
    database.dispose()


def test_an_earlier_article_joining_moves_the_story_back(db, tmp_path: Path) -> None:
    settings = load_settings(None, base_dir=tmp_path)
    with db.session() as session:
        alert = raise_alert(session, settings, topic="t", title="Ferry strike", text="x", evidence="x",
                            now=NOW, published_at=NOW - timedelta(hours=2))
        alert_id = alert.id
    with db.session() as session:
        assert session.get(Alert, alert_id).published_at == NOW - timedelta(hours=2)
        join_story(session, settings, session.get(Alert, alert_id), title="Ferry strike: first report",
                   text="y", now=NOW, published_at=NOW - timedelta(hours=9))
        join_story(session, settings, session.get(Alert, alert_id), title="Ferry strike: no date", text="z",
                   now=NOW)  # no date: its fetch time (later) changes nothing
    with db.session() as session:
        assert session.get(Alert, alert_id).published_at == NOW - timedelta(hours=9)
