"""CSV export of the current filter: /alerts.csv and `newswatch alerts --format csv`."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient
from typer.testing import CliRunner

from config.settings import load_settings
from flows.cli import app as cli
from flows.web import create_app
from flows.web.views import alerts as alerts_views
from storage.db import open_database
from storage.export import COLUMNS, cell, csv_lines
from tests.support.alerts import raise_alert
from tests.test_web_app import NOW, SAFE_TITLE, SCRIPT, seed_database


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def setup(tmp_path: Path):
    config = tmp_path / "newswatch.yaml"
    config.write_text(yaml.safe_dump({
        "database_url": f"sqlite:///{tmp_path / 'n.db'}", "web": {"base_url": "https://desk.example.org"},
    }), encoding="utf-8")
    settings = load_settings(config)
    db = open_database(settings.resolved_database_url, migrate=True)
    ids = seed_database(db)
    with db.session() as session:
        raise_alert(session, settings, topic="uk-us-relations", title="=HYPERLINK(\"http://evil.example\")",
                    text="Envoys met again.", evidence="@SUM(1+1) said the envoy", now=NOW,
                    published_at=NOW - timedelta(days=10))
    db.dispose()
    with TestClient(create_app(settings, clock=lambda: NOW)) as client:
        yield client, config, ids


def test_csv_has_the_lists_columns_in_its_order(setup) -> None:
    client, _, ids = setup
    response = client.get("/alerts.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="newswatch-alerts.csv"'
    assert response.text.splitlines()[0] == ",".join(COLUMNS)
    found = rows(response.text)
    assert [r["id"] for r in found] == [str(a["id"]) for a in client.get("/api/alerts").json()]
    safe = next(r for r in found if r["title"] == SAFE_TITLE)
    assert safe["topic"] == "uk-us-relations" and safe["topic_name"] == "UK–US relations"
    assert safe["published_at"] == "2026-11-26T08:00:00Z" and safe["published_at_source"] == "feed"
    assert safe["first_seen_at"] == "2026-11-26T12:00:00Z" and safe["score"] == "12.0"
    assert safe["sources"] == "2" and safe["outlet_count"] == "2"
    assert safe["outlets"] == f"Capital Wire; {SCRIPT}"
    assert safe["evidence"].startswith("Britain and the US <b>agreed</b> to meet")
    assert safe["url"] == f"https://desk.example.org/stories/{ids.safe_story}"
    assert safe["first_source_url"] == "https://capitalwire.example/2026/11/envoys"


def test_cells_that_a_spreadsheet_would_run_are_defused(setup) -> None:
    client, _, _ = setup
    evil = next(r for r in rows(client.get("/alerts.csv").text) if "HYPERLINK" in r["title"])
    assert evil["title"] == "'=HYPERLINK(\"http://evil.example\")"
    assert evil["evidence"] == "'@SUM(1+1) said the envoy"
    assert cell("-2+3") == "'-2+3" and cell("\t=1") == "'\t=1" and cell("plain") == "plain"


@pytest.mark.parametrize(
    ("query", "args"),
    [
        ("", []),
        ("?q=envoys", ["--search", "envoys"]),
        ("?topic=foreign-campaigning", ["--topic", "foreign-campaigning"]),
        ("?since=2026-11-25", ["--since", "2026-11-25"]),
    ],
)
def test_the_cli_writes_the_same_csv_as_the_web(setup, query: str, args: list[str]) -> None:
    client, config, _ = setup
    result = CliRunner().invoke(cli, ["alerts", "--config", str(config), "--format", "csv", *args])
    assert result.exit_code == 0, result.output
    web = client.get(f"/alerts.csv{query}").text
    assert result.stdout_bytes.decode() == web  # byte for byte: CRLF line ends, as RFC 4180 has them
    assert len(rows(web)) >= 1


def test_csv_follows_filters_and_limit_and_streams_in_batches(setup, monkeypatch) -> None:
    client, _, _ = setup
    monkeypatch.setattr(alerts_views, "CSV_BATCH", 1)  # every alert its own query
    everything = rows(client.get("/alerts.csv").text)
    assert len(everything) == 4
    by_score = rows(client.get("/alerts.csv?sort=score").text)
    expected = sorted(everything, key=lambda r: (-float(r["score"]), -int(r["id"])))  # ties: newest id first
    assert [r["id"] for r in by_score] == [r["id"] for r in expected]
    assert [r["title"] for r in rows(client.get("/alerts.csv?q=agreed").text)] == [SAFE_TITLE]
    assert len(rows(client.get("/alerts.csv?limit=2").text)) == 2
    assert rows(client.get("/alerts.csv?q=nowhere").text) == []
    assert client.get("/alerts.csv?q=nowhere").text == ",".join(COLUMNS) + "\r\n"  # the header alone


def test_a_bad_filter_is_a_plain_400(setup) -> None:
    client, _, _ = setup
    response = client.get("/alerts.csv?topic=nope")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.startswith("400: topic: 'nope' is not a topic here; valid topics: ")


def test_csv_lines_quote_what_needs_quoting() -> None:
    text = "".join(csv_lines([["1", 'a "quoted", title\nwith a line break']]))
    assert rows(text)[0]["topic"] == 'a "quoted", title\nwith a line break'
