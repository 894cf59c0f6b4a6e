"""The JSON fields other tools rely on: `alerts`, `articles` and `feeds` with --format json."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.demo import write_demo_config
from flows.demo_server import SampleServer

ALERT_FIELDS = {"id", "topic", "story_id", "title", "score", "created_at", "updated_at", "evidence", "sources"}
ALERT_SOURCE_FIELDS = {
    "article_url", "canonical_url", "feed_url", "entry_id", "title", "published_at", "fetched_at",
    "content_hash", "extraction_method",
}
ARTICLE_FIELDS = {
    "id", "url", "canonical_url", "title", "text", "published_at", "language", "extraction_method",
    "content_hash", "sources",
}
FEED_FIELDS = {"url", "status", "last_http_status", "last_fetched_at", "failures", "next_poll_at", "articles"}


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("contract")
    with SampleServer() as server:
        path = write_demo_config(directory, server)
        result = CliRunner().invoke(app, ["run", "--engine", "plain", "--config", str(path)])
        assert result.exit_code == 0, result.output
        assert "feeds: 3 ok, 0 not modified, 1 failed" in result.output
    return path


def cli_json(*args: str) -> list[dict]:
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_alerts_json_has_the_promised_fields(config) -> None:
    alerts = cli_json("alerts", "--config", str(config))
    assert alerts
    for alert in alerts:
        assert alert.keys() >= ALERT_FIELDS
        assert alert["evidence"] and all("text" in e for e in alert["evidence"])
        assert alert["sources"] and all(s.keys() >= ALERT_SOURCE_FIELDS for s in alert["sources"])


def test_articles_json_has_the_promised_fields(config) -> None:
    articles = cli_json("articles", "--config", str(config))
    assert len(articles) == 14
    for article in articles:
        assert article.keys() >= ARTICLE_FIELDS
        assert article["sources"] and all("feed_url" in s for s in article["sources"])


def test_feeds_json_has_the_promised_fields(config) -> None:
    feeds = cli_json("feeds", "--config", str(config))
    assert len(feeds) == 4 and all(f.keys() >= FEED_FIELDS for f in feeds)
    broken = [f for f in feeds if f["status"] != "ok"]
    assert [f["status"] for f in broken] == ["not a feed"] and broken[0]["failures"] == 1.0


def test_tables_print_for_a_person(config) -> None:
    for command in ("alerts", "articles", "feeds"):
        result = CliRunner().invoke(app, [command, "--config", str(config)])
        assert result.exit_code == 0 and result.output.count("\n") > 3
