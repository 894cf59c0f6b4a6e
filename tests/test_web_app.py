"""The web app through Starlette's test client, over a real SQLite file with rows inserted directly."""

from __future__ import annotations

import base64
import html as html_module
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
import yaml
from starlette.testclient import TestClient

from config.settings import Settings, load_settings
from flows.web import create_app
from storage.alerts import story_published_at
from storage.db import Database, open_database
from storage.models import (
    Alert,
    AlertMatch,
    Article,
    ArticleSource,
    Delivery,
    Feed,
    Story,
    Subscriber,
)
from storage.search import index_alert, index_story_articles

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
JS_URL = "javascript:alert(1)"
HOSTILE = [SCRIPT, IMG, "<img src=x", "onerror=alert(1)>"]
SAFE_TITLE = "Envoys meet in London over steel tariffs"
REPO = Path(__file__).resolve().parents[1]


@dataclass
class Seeded:
    safe_story: int
    hostile_story: int
    lonely_story: int
    safe_alert: int
    hostile_alert: int
    old_alert: int


def seed_database(db: Database, now: datetime = NOW) -> Seeded:
    """Three stories, four alerts, feeds (one broken, one hostile), a subscriber's deliveries."""
    with db.session() as s:
        good = Feed(url="https://capitalwire.example/world.xml", name="Capital Wire – World",
                    status="ok", outcome="ok", last_http_status=200, failures=0,
                    last_fetched_at=now - timedelta(minutes=5), last_success_at=now - timedelta(minutes=5),
                    next_poll_at=now + timedelta(minutes=10), created_at=now - timedelta(days=30))
        broken = Feed(url="https://gone.example/feed.xml", name="Gone Gazette", status="HTTP 404",
                      outcome="permanent", last_http_status=404, last_error="HTTP 404 Not Found",
                      failures=3, last_fetched_at=now - timedelta(hours=1),
                      next_poll_at=now + timedelta(hours=8), created_at=now - timedelta(days=30))
        hostile_feed = Feed(url="https://hostile.example/rss", name=SCRIPT, status="ok", outcome="ok",
                            warning=IMG, created_at=now - timedelta(days=30))
        s.add_all([good, broken, hostile_feed])
        s.flush()

        safe = Story(title=SAFE_TITLE, first_seen_at=now - timedelta(days=2, hours=3),
                     last_seen_at=now - timedelta(hours=2), article_count=2,
                     created_at=now - timedelta(days=2), updated_at=now - timedelta(hours=2))
        hostile = Story(title=SCRIPT + IMG, first_seen_at=now - timedelta(days=1),
                        last_seen_at=now - timedelta(days=1), article_count=1,
                        created_at=now - timedelta(days=1), updated_at=now - timedelta(days=1))
        lonely = Story(title="Harbour ferry timetable changes", first_seen_at=now - timedelta(days=3),
                       last_seen_at=now - timedelta(days=3), article_count=1,
                       created_at=now - timedelta(days=3), updated_at=now - timedelta(days=3))
        s.add_all([safe, hostile, lonely])
        s.flush()

        wire = Article(canonical_url="https://capitalwire.example/2026/11/envoys",
                       url="https://capitalwire.example/2026/11/envoys", status="fetched",
                       title=SAFE_TITLE, site_name="Capital Wire", http_status=200,
                       published_at=now - timedelta(days=2, hours=4), fetched_at=now - timedelta(days=2, hours=3),
                       extraction_method="trafilatura", extraction_flags=["short_text"],
                       story_id=safe.id, created_at=now, updated_at=now)
        evil = Article(canonical_url=JS_URL, url=JS_URL, status="fetched", title=IMG,
                       site_name=SCRIPT, fetched_at=now - timedelta(hours=2),
                       extraction_method="fallback", extraction_flags=[SCRIPT],
                       story_id=safe.id, created_at=now, updated_at=now)
        hostile_article = Article(canonical_url="https://hostile.example/a", url="https://hostile.example/a",
                                  status="fetched", title=SCRIPT, story_id=hostile.id,
                                  fetched_at=now - timedelta(days=1), created_at=now, updated_at=now)
        ferry = Article(canonical_url="https://harbour.example/ferry", url="https://harbour.example/ferry",
                        status="fetched", title="Harbour ferry timetable changes", story_id=lonely.id,
                        fetched_at=now - timedelta(days=3), created_at=now, updated_at=now)
        s.add_all([wire, evil, hostile_article, ferry])
        s.flush()
        safe.membership = [
            {"article_id": wire.id, "reason": "new story", "similarity": None},
            {"article_id": evil.id, "reason": f"same story as article {wire.id} {SCRIPT}", "similarity": 0.5},
        ]
        s.add_all([
            ArticleSource(article_id=wire.id, feed_id=good.id, entry_id="wire-1", entry_url=wire.url,
                          entry_title=SAFE_TITLE, entry_hash="h1", first_seen_at=now, last_seen_at=now),
            ArticleSource(article_id=evil.id, feed_id=hostile_feed.id, entry_id="evil-1", entry_url=JS_URL,
                          entry_title=IMG, entry_hash="h2", first_seen_at=now, last_seen_at=now),
            ArticleSource(article_id=hostile_article.id, feed_id=hostile_feed.id, entry_id="evil-2",
                          entry_url=hostile_article.url, entry_title=SCRIPT, entry_hash="h3",
                          first_seen_at=now, last_seen_at=now),
            ArticleSource(article_id=ferry.id, feed_id=good.id, entry_id="ferry-1", entry_url=ferry.url,
                          entry_title=ferry.title, entry_hash="h4", first_seen_at=now, last_seen_at=now),
        ])

        sentence = "Britain and the US <b>agreed</b> to meet on Monday, officials said."
        evidence = [{
            "text": sentence, "field": "body", "start": 0, "end": 40, "text_start": 0,
            "rule": "the two governments", "terms": ["Britain", "=US", "meet*"],
            "words": ["Britain", "US", "meet"],
        }]
        safe_alert = Alert(topic_id="uk-us-relations", story_id=safe.id, title=SAFE_TITLE, score=12.0,
                           topic_version="abc123", evidence=evidence, article_count=2,
                           created_at=now - timedelta(days=2), updated_at=now - timedelta(hours=2))
        hostile_evidence = [{
            "text": f"Officials said {IMG} and {SCRIPT} about foreign interference.", "field": "body",
            "start": 0, "end": 10, "text_start": 0, "rule": SCRIPT,
            "terms": [SCRIPT, "foreign interference"],
        }]
        hostile_alert = Alert(topic_id="foreign-campaigning", story_id=hostile.id, title=SCRIPT + IMG,
                              score=5.0, topic_version=SCRIPT, evidence=hostile_evidence,
                              created_at=now - timedelta(days=1), updated_at=now - timedelta(days=1))
        # Raised by a topic that is no longer configured: its page still shows its alerts.
        old_alert = Alert(topic_id="retired-topic", story_id=lonely.id, title="Harbour ferry timetable changes",
                          score=2.5, topic_version="old", evidence=[],
                          created_at=now - timedelta(days=3), updated_at=now - timedelta(days=3))
        s.add_all([safe_alert, hostile_alert, old_alert])
        s.flush()
        for alert in (safe_alert, hostile_alert, old_alert):
            # What storage.alerts.record_matches keeps in step when a pass raises an alert.
            alert.published_at = story_published_at(s, alert.story_id)
            index_alert(s, alert)
            index_story_articles(s, alert.story_id)
        s.add_all([
            AlertMatch(alert_id=safe_alert.id, article_id=wire.id, score=12.0, topic_version="abc123",
                       evidence=evidence, matched_at=now - timedelta(days=2)),
            AlertMatch(alert_id=hostile_alert.id, article_id=hostile_article.id, score=5.0,
                       topic_version=SCRIPT, evidence=hostile_evidence, matched_at=now - timedelta(days=1)),
        ])
        desk = Subscriber(name="World desk", mode="immediate", topics=[], created_at=now, updated_at=now)
        evil_sub = Subscriber(name=SCRIPT, mode="immediate", topics=[], created_at=now, updated_at=now)
        s.add_all([desk, evil_sub])
        s.flush()
        s.add_all([
            Delivery(key=f"alert:{safe_alert.id}:v1", subscriber_id=desk.id, channel="email", kind="alert",
                     alert_id=safe_alert.id, status="sent", attempts=1, created_at=now - timedelta(days=2),
                     sent_at=now - timedelta(days=2)),
            Delivery(key=f"alert:{safe_alert.id}:v1", subscriber_id=desk.id, channel="slack", kind="alert",
                     alert_id=safe_alert.id, status="failed", attempts=5, error="webhook answered 404 Not Found",
                     created_at=now - timedelta(days=2)),
            Delivery(key=f"alert:{hostile_alert.id}:v1", subscriber_id=evil_sub.id, channel="email",
                     kind="alert", alert_id=hostile_alert.id, status="failed", attempts=1, error=IMG,
                     created_at=now - timedelta(days=1)),
        ])
        return Seeded(safe.id, hostile.id, lonely.id, safe_alert.id, hostile_alert.id, old_alert.id)


def make_settings(tmp_path: Path, **web: Any) -> Settings:
    """A config file on disk (the CLI reads the same file) with an absolute SQLite URL."""
    config = tmp_path / "newswatch.yaml"
    data = {"database_url": f"sqlite:///{tmp_path / 'newswatch.db'}"}
    if web:
        data["web"] = web
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_settings(config)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Seeded]]:
    # One database for the module: the app never writes, so tests cannot disturb each other.
    settings = make_settings(tmp_path_factory.mktemp("web"))
    db = open_database(settings.resolved_database_url, migrate=True)
    ids = seed_database(db)
    db.dispose()
    yield settings, ids


@pytest.fixture(scope="module")
def client(seeded: tuple[Settings, Seeded]) -> Iterator[TestClient]:
    settings, _ = seeded
    with TestClient(create_app(settings, clock=lambda: NOW)) as test_client:
        yield test_client


def assert_no_raw_payload(text: str) -> None:
    for payload in HOSTILE:
        assert payload not in text, f"unescaped payload {payload!r} in the page"
    assert not re.search(r"""href\s*=\s*["']?\s*javascript:""", text, re.IGNORECASE)


def row_titles(html: str) -> list[str]:
    return re.findall(r'<td class="title">\s*<a href="/stories/\d+">([^<]*)</a>', html)


# The alerts page -------------------------------------------------------------------------


def test_alerts_page_lists_newest_published_first_with_story_facts(client: TestClient, seeded) -> None:
    _, ids = seeded
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    titles = row_titles(html)
    # By publication: the hostile story (no date: fetched a day ago), the safe story
    # (published 2 days 4 hours ago, though updated 2 hours ago), the ferry (3 days ago).
    assert titles[0] == "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"
    assert titles[1] == SAFE_TITLE
    assert titles[2] == "Harbour ferry timetable changes"
    assert f'href="/stories/{ids.safe_story}"' in html
    safe_row = html.split("<tr>")[3]
    assert "UK–US relations" in safe_row and "12.0" in safe_row  # the topic's name, not its id
    assert '<td class="num">2</td>' in safe_row  # two source articles
    assert "2 outlets</span>: Capital Wire, &lt;script&gt;" in safe_row  # count and names, escaped
    assert "2026-11-26 08:00 UTC" in safe_row  # published (the wire article's feed date) …
    assert "first seen <time datetime=\"2026-11-26T12:00:00Z\">" in safe_row  # … and raised
    # A snippet of the strongest evidence, its terms marked, feed markup escaped.
    assert '<span class="snippet"><mark>Britain</mark> and the <mark>US</mark> &lt;b&gt;agreed' in safe_row
    hostile_row = html.split("<tr>")[2]
    assert ">fetched</span>" in hostile_row  # no publication date: the fetch time stands in
    assert "3 alerts" in html
    assert_no_raw_payload(html)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("topic=uk-us-relations", [SAFE_TITLE]),
        ("topic=uk-us-relations&topic=retired-topic", [SAFE_TITLE, "Harbour ferry timetable changes"]),
        ("min_score=6", [SAFE_TITLE]),
        ("min_score=2.5", ["SCRIPT", SAFE_TITLE, "Harbour ferry timetable changes"]),
        # Dates are publication dates: the safe story was published on the 26th, though
        # it was updated two hours before NOW (the 28th).
        ("since=2026-11-27", ["SCRIPT"]),
        ("since=36h", ["SCRIPT"]),
        ("until=2026-11-26", [SAFE_TITLE, "Harbour ferry timetable changes"]),
        ("since=2026-11-25&until=2026-11-25", ["Harbour ferry timetable changes"]),
        ("since=2026-11-26T07:00:00Z&until=2026-11-26T09:00", [SAFE_TITLE]),
        ("limit=1", ["SCRIPT"]),
        ("sort=updated", [SAFE_TITLE, "SCRIPT", "Harbour ferry timetable changes"]),
        ("sort=score", [SAFE_TITLE, "SCRIPT", "Harbour ferry timetable changes"]),
        ("q=agreed", [SAFE_TITLE]),  # in the evidence
        ("q=ferry+timetable", ["Harbour ferry timetable changes"]),  # in an article title
        ("q=%22foreign+interference%22", ["SCRIPT"]),
        ("q=envoys+-ferry", [SAFE_TITLE]),
        ("q=nowhere", []),
    ],
)
def test_alert_filters_on_page_and_api(client: TestClient, query: str, expected: list[str]) -> None:
    page_titles = [
        "SCRIPT" if "&lt;script&gt;" in t else t for t in row_titles(client.get(f"/?{query}").text)
    ]
    assert page_titles == expected
    api = client.get(f"/api/alerts?{query}")
    assert api.status_code == 200
    api_titles = ["SCRIPT" if a["title"].startswith(SCRIPT) else a["title"] for a in api.json()]
    assert api_titles == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=yesterday", "since: 'yesterday' is not a date"),
        ("until=28/11/2026", "until: '28/11/2026' is not a date"),
        ("since=99999999999d", "since: '99999999999d' is too long; use at most 36500d"),
        ("min_score=high", "min_score: 'high' is not a number"),
        ("min_score=nan", "min_score: 'nan' is not a number"),
        ("min_score=1e999", "min_score: '1e999' is not a finite number"),
        ("limit=0", "limit: must be a whole number from 1 to 1000"),
        ("limit=99999999999999999999999", "limit: must be a whole number from 1 to 1000"),
        ("since=2026-11-28&until=2026-11-01", "since: must be before until"),
        ("topic=nothing-here", "topic: 'nothing-here' is not a topic here; valid topics: foreign-campaigning, retired-topic, uk-us-relations"),
        ("sort=oldest", "sort: 'oldest' is not a sort order; valid: published, updated, score"),
        ("q=%21%21%21", "q: no words to search for"),
        ("cursor=abc", "cursor: not a cursor from this list"),
        ("since=2026-11-01&since=2026-11-02", "since: given more than once"),
    ],
)
def test_bad_filters_answer_400_with_the_reason(client: TestClient, query: str, message: str) -> None:
    page = client.get(f"/?{query}")
    assert page.status_code == 400
    assert message.replace("'", "&#39;") in page.text
    api = client.get(f"/api/alerts?{query}")
    assert api.status_code == 400
    assert api.json()["error"].startswith(message)


def test_the_page_links_to_the_next_page_while_more_remain(client: TestClient) -> None:
    seen: list[str] = []
    href: str | None = "/?limit=2&topic=uk-us-relations&topic=foreign-campaigning&topic=retired-topic"
    while href:
        html = client.get(html_module.unescape(href)).text
        seen += row_titles(html)
        found = re.search(r'<a class="next" rel="next" href="([^"]+)"', html)
        href = found.group(1) if found else None
        if href:  # the next page keeps the filters
            assert "topic=retired-topic" in html_module.unescape(href) and "limit=2" in href
    assert len(seen) == 3 and len(set(seen)) == 3
    last = client.get("/?limit=2&cursor=" + re.search(r"cursor=([\w-]+)", client.get("/?limit=2").text).group(1)).text
    assert '<a class="first" href="/?limit=2">' in last and 'rel="next"' not in last
    assert 'rel="next"' not in client.get("/").text


def test_filter_form_keeps_values_escaped(client: TestClient) -> None:
    html = client.get("/", params={"since": IMG}).text
    assert 'value="&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"' in html
    assert_no_raw_payload(html)


# The JSON API ----------------------------------------------------------------------------


def test_api_alerts_equals_the_cli_json(client: TestClient, seeded) -> None:
    from typer.testing import CliRunner

    from flows.cli import app as cli

    result = CliRunner().invoke(cli, ["alerts", "--config", str(seeded[0].base_dir / "newswatch.yaml"), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert client.get("/api/alerts").json() == json.loads(result.stdout)


@pytest.mark.parametrize("search", ["agreed", "ferry timetable", '"foreign interference"', "envoy*", "officials -ferry"])
def test_search_finds_the_same_alerts_on_the_page_the_api_and_the_cli(client: TestClient, seeded, search: str) -> None:
    from typer.testing import CliRunner

    from flows.cli import app as cli

    config = str(seeded[0].base_dir / "newswatch.yaml")
    result = CliRunner().invoke(cli, ["alerts", "--config", config, "--format", "json", "--search", search])
    assert result.exit_code == 0, result.output
    cli_ids = [a["id"] for a in json.loads(result.stdout)]
    api_ids = [a["id"] for a in client.get("/api/alerts", params={"q": search}).json()]
    page_ids = [int(i) for i in re.findall(r'<a href="/stories/(\d+)">', client.get("/", params={"q": search}).text)]
    story_of = {a["id"]: a["story_id"] for a in client.get("/api/alerts").json()}
    assert cli_ids and cli_ids == api_ids
    assert page_ids == [story_of[i] for i in api_ids]


def test_the_cli_rejects_a_search_without_words(seeded) -> None:
    from typer.testing import CliRunner

    from flows.cli import app as cli

    result = CliRunner().invoke(cli, ["alerts", "--config", str(seeded[0].base_dir / "newswatch.yaml"), "--search", "!!"])
    assert result.exit_code == 2
    assert "--search: no words to search for" in result.stderr


def test_api_story_has_story_articles_alerts_and_deliveries(client: TestClient, seeded) -> None:
    _, ids = seeded
    body = client.get(f"/api/stories/{ids.safe_story}").json()
    assert body["id"] == ids.safe_story and body["title"] == SAFE_TITLE
    assert {"first_seen_at", "last_seen_at", "article_count", "membership"} <= set(body)
    assert [a["title"] for a in body["articles"]] == [SAFE_TITLE, IMG]
    assert body["articles"][0]["extraction_method"] == "trafilatura"
    assert body["articles"][0]["text"] is None  # bodies stay out of the API
    assert [a["id"] for a in body["alerts"]] == [ids.safe_alert]
    assert body["alerts"][0]["evidence"][0]["terms"] == ["Britain", "=US", "meet*"]
    assert sorted((d["channel"], d["status"]) for d in body["deliveries"]) == [("email", "sent"), ("slack", "failed")]
    assert {d["subscriber"] for d in body["deliveries"]} == {"World desk"}


def test_api_feeds_equals_the_cli_json(client: TestClient, seeded) -> None:
    from typer.testing import CliRunner

    from flows.cli import app as cli

    result = CliRunner().invoke(cli, ["feeds", "--config", str(seeded[0].base_dir / "newswatch.yaml"), "--format", "json"])
    assert result.exit_code == 0, result.output
    feeds = client.get("/api/feeds").json()
    assert feeds == json.loads(result.stdout)
    assert [f["outcome"] for f in feeds] == ["ok", "permanent", "ok"]


def test_api_unknown_story_is_a_json_404(client: TestClient) -> None:
    response = client.get("/api/stories/999")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert "no story" in response.json()["error"]


@pytest.mark.parametrize("segment", ["0", "abc", "-1", "1.5", "99999999999999999999999"])
def test_a_story_id_that_is_no_id_is_a_400_naming_its_form(client: TestClient, segment: str) -> None:
    api = client.get(f"/api/stories/{segment}")
    assert api.status_code == 400
    assert api.json()["parameter"] == "story_id"
    assert api.json()["error"].startswith(f"story_id: '{segment}' is not a story id; use a whole number from 1 to")
    page = client.get(f"/stories/{segment}")
    assert page.status_code == 400 and "is not a story id" in page.text


# The story page --------------------------------------------------------------------------


def test_story_page_shows_sources_evidence_version_and_deliveries(client: TestClient, seeded) -> None:
    _, ids = seeded
    response = client.get(f"/stories/{ids.safe_story}")
    assert response.status_code == 200
    html = response.text
    assert f"<h1>{SAFE_TITLE}</h1>" in html
    # Every source article: outlet, feed, URL, times, extraction method and flags.
    assert "Capital Wire</span>" in html and "Capital Wire – World" in html
    assert 'href="https://capitalwire.example/2026/11/envoys"' in html
    assert "2026-11-26 08:00 UTC" in html and "2026-11-26 09:00 UTC" in html
    assert "trafilatura" in html and "short_text" in html
    assert "Joined: new story" in html  # why each article is in the story
    assert "Joined: same story as article" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;</span>" in html  # the hostile outlet, as text
    # Evidence: matched words marked inside escaped text.
    assert (
        "<mark>Britain</mark> and the <mark>US</mark> &lt;b&gt;agreed&lt;/b&gt; to <mark>meet</mark> on Monday"
        in html
    )
    assert "<b>agreed</b>" not in html
    assert "<code>abc123</code>" in html  # the topic version the alert was raised with
    # Deliveries for the story's alerts.
    assert "World desk" in html and "webhook answered 404 Not Found" in html
    assert "<td>UK–US relations</td>" in html  # the deliveries table names topics, not ids
    assert html.count('<tr class="status-') == 2
    assert_no_raw_payload(html)


def test_story_page_never_links_javascript_urls(client: TestClient, seeded) -> None:
    _, ids = seeded
    html = client.get(f"/stories/{ids.safe_story}").text
    assert JS_URL in html  # shown as text, for the record …
    assert f'href="{JS_URL}' not in html  # … but never clickable
    assert re.search(r'<span class="unlinked"[^>]*>javascript:alert\(1\)</span>', html)


def test_hostile_story_page_is_escaped_everywhere(client: TestClient, seeded) -> None:
    _, ids = seeded
    html = client.get(f"/stories/{ids.hostile_story}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<mark>foreign interference</mark>" in html
    assert_no_raw_payload(html)


def test_story_without_alerts_says_nothing_was_sent(client: TestClient, seeded) -> None:
    _, ids = seeded
    html = client.get(f"/stories/{ids.lonely_story}").text
    assert "Harbour ferry timetable changes" in html
    assert "Nothing has been sent for this story." in html


@pytest.mark.parametrize("path", ["/stories/999", "/stories/1/more", "/no/such/page"])
def test_unknown_pages_are_html_404s(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in response.text


# Topics ----------------------------------------------------------------------------------


def test_topic_page_shows_definition_chart_and_latest_alerts(client: TestClient, seeded) -> None:
    from tasks.topics import load_topics

    topic = {t.id: t for t in load_topics(None).topics}["uk-us-relations"]
    html = client.get("/topics/uk-us-relations").text
    assert f"<h1>{topic.name}</h1>" in html
    assert f"<code>{topic.version}</code>" in html
    assert "As written in <code>uk-us-relations.yaml</code>" in html
    assert "description: &gt;" in html  # the file as written (escaped)
    assert "max_count_per_term:" in html  # the normalised definition the version hashes
    chart = re.search(r"<svg .*?</svg>", html, re.S)
    assert chart is not None
    bars = re.findall(r"<title>(\d{4}-\d\d-\d\d): (\d+) alerts?</title>", chart.group(0))
    assert bars == [("2026-11-26", "1")]  # created two days before NOW
    assert SAFE_TITLE in html and "Harbour ferry" not in html
    assert 'href="/topics/uk-us-relations/atom.xml"' in html


def test_topics_index_and_retired_topic(client: TestClient) -> None:
    index = client.get("/topics").text
    for topic_id in ("uk-us-relations", "foreign-campaigning", "retired-topic"):
        assert f'href="/topics/{topic_id}"' in index
    retired = client.get("/topics/retired-topic")
    assert retired.status_code == 200
    assert "no longer in the configuration" in retired.text
    assert "Harbour ferry timetable changes" in retired.text


def test_unknown_topic_is_404(client: TestClient) -> None:
    assert client.get("/topics/no-such-topic").status_code == 404
    assert client.get("/topics/no-such-topic/atom.xml").status_code == 404


# Feeds -----------------------------------------------------------------------------------


def test_feeds_page_marks_broken_feeds(client: TestClient) -> None:
    html = client.get("/feeds").text
    rows = re.findall(r"<tr class=\"([^\"]*)\">(.*?)</tr>", html, re.S)
    by_name = {("Gone" if "Gone Gazette" in body else "Wire" if "Capital Wire" in body else "Hostile"): (cls, body) for cls, body in rows}
    assert by_name["Gone"][0] == "broken" and "failing" in by_name["Gone"][1]
    assert "HTTP 404 Not Found" in by_name["Gone"][1] and '<td class="num">3</td>' in by_name["Gone"][1]
    assert by_name["Wire"][0] == "" and "failing" not in by_name["Wire"][1]
    assert "1 failing" in html
    assert_no_raw_payload(html)


# Atom ------------------------------------------------------------------------------------


def test_atom_feed_is_valid_and_links_to_story_pages(client: TestClient, seeded) -> None:
    _, ids = seeded
    response = client.get("/topics/uk-us-relations/atom.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "newswatch: UK–US relations"
    assert len(parsed.entries) == 1
    entry = parsed.entries[0]
    assert entry.title == SAFE_TITLE
    # No web.base_url: a relative link (readers resolve it against the feed's own URL),
    # never one built from the request's Host header.
    assert entry.link == f"/stories/{ids.safe_story}"
    related = [link.href for link in entry.links if link.rel == "related"]
    assert related == ["https://capitalwire.example/2026/11/envoys"]  # the original; javascript: is left out
    assert entry.published_parsed[:5] == (2026, 11, 26, 8, 0)  # the story's publication
    assert "Britain and the US <b>agreed</b> to meet" in entry.summary
    assert entry.updated_parsed[:5] == (2026, 11, 28, 10, 0)
    assert entry.id.startswith("urn:uuid:")


def test_atom_feed_carries_hostile_text_as_text(client: TestClient) -> None:
    response = client.get("/topics/foreign-campaigning/atom.xml")
    assert SCRIPT.encode() not in response.content and b"<img" not in response.content
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0
    assert [e.title for e in parsed.entries] == [SCRIPT + IMG]  # the exact text, not markup


# Safety ----------------------------------------------------------------------------------

PAGES = ["/", "/stories/1", "/topics", "/topics/uk-us-relations", "/topics/uk-us-relations/atom.xml",
         "/feeds", "/api/alerts", "/api/stories/1", "/api/feeds", "/static/style.css"]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("path", ["/", "/api/alerts", "/stories/1", "/no/such/page"])
def test_writes_are_refused_with_405(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", PAGES)
def test_every_route_answers_get_and_head_with_security_headers(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, path
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    head = client.head(path)
    assert head.status_code == 200 and head.content == b""


@pytest.mark.parametrize("path", PAGES)
def test_no_route_echoes_hostile_text_raw(client: TestClient, path: str) -> None:
    response = client.get(path)
    if path.startswith("/api/"):
        # JSON carries the text as data (a JSON string), served as application/json.
        assert response.headers["content-type"] == "application/json"
        json.loads(response.text)
    else:
        assert_no_raw_payload(response.text)


def test_error_pages_carry_security_headers(client: TestClient) -> None:
    for response in (client.get("/stories/999"), client.get("/?since=bad")):
        assert response.headers["referrer-policy"] == "no-referrer"


# Basic authentication --------------------------------------------------------------------


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def locked_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, username="editor", password="s3cret:with colon")
    db = open_database(settings.resolved_database_url, migrate=True)
    seed_database(db)
    db.dispose()
    with TestClient(create_app(settings, clock=lambda: NOW)) as test_client:
        yield test_client


@pytest.mark.parametrize("path", ["/", "/api/alerts", "/static/style.css", "/topics/uk-us-relations/atom.xml"])
def test_basic_auth_when_configured(locked_client: TestClient, path: str) -> None:
    refused = locked_client.get(path)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith('Basic realm="newswatch"')
    assert SAFE_TITLE not in refused.text
    for headers in (
        basic("editor", "wrong"),
        basic("someone", "s3cret:with colon"),
        basic("editor", "s3cret"),
        {"Authorization": "Basic !!notbase64"},
        {"Authorization": "Bearer s3cret:with colon"},
    ):
        assert locked_client.get(path, headers=headers).status_code == 401
    assert locked_client.get(path, headers=basic("editor", "s3cret:with colon")).status_code == 200


def test_no_auth_when_only_a_username_is_set(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, username="editor")
    with TestClient(create_app(settings)) as test_client:
        assert test_client.get("/").status_code == 200


def test_web_modules_do_not_import_prefect() -> None:
    code = "import sys, flows.web.app, flows.web.server, flows.cli.web; print('prefect' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_a_database_failure_is_a_plain_500_page(tmp_path: Path) -> None:
    from sqlalchemy import text

    settings = make_settings(tmp_path)
    db = open_database(settings.resolved_database_url, migrate=True)
    app = create_app(settings, database=db)
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE alert_matches"))
        connection.execute(text("DROP TABLE deliveries"))
        connection.execute(text("DROP TABLE alerts"))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        page = test_client.get("/")
        api = test_client.get("/api/alerts")
    db.dispose()
    assert page.status_code == 500 and "Something went wrong" in page.text
    assert "Traceback" not in page.text and "no such table" not in page.text
    assert page.headers["x-content-type-options"] == "nosniff"
    assert api.status_code == 500 and api.json() == {"error": "Something went wrong; see the server log."}


@pytest.mark.postgres
def test_every_route_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    settings = load_settings(None, base_dir=tmp_path, database_url=postgres_url)
    db = open_database(postgres_url, migrate=True)
    ids = seed_database(db)
    try:
        with TestClient(create_app(settings, database=db, clock=lambda: NOW)) as test_client:
            for path in PAGES:
                assert test_client.get(path.replace("/1", f"/{ids.safe_story}")).status_code == 200, path
            assert row_titles(test_client.get("/?since=2026-11-26&min_score=6").text) == [SAFE_TITLE]
            assert [a["id"] for a in test_client.get("/api/alerts?until=2026-11-26").json()] == [
                ids.safe_alert, ids.old_alert,
            ]
            assert [a["id"] for a in test_client.get("/api/alerts?q=agreed").json()] == [ids.safe_alert]
            story = test_client.get(f"/api/stories/{ids.safe_story}").json()
            assert len(story["deliveries"]) == 2
            parsed = feedparser.parse(test_client.get("/topics/uk-us-relations/atom.xml").content)
            assert parsed.bozo == 0 and [e.title for e in parsed.entries] == [SAFE_TITLE]
            chart = test_client.get("/topics/uk-us-relations").text
            assert "2026-11-26: 1 alert" in chart  # the day the story was published
    finally:
        db.dispose()


def test_broken_topic_definitions_are_reported_not_fatal(tmp_path: Path) -> None:
    config = tmp_path / "newswatch.yaml"
    config.write_text(
        yaml.safe_dump({"database_url": f"sqlite:///{tmp_path / 'n.db'}", "topics": "no-such-topics/"}),
        encoding="utf-8",
    )
    settings = load_settings(config)
    db = open_database(settings.resolved_database_url, migrate=True)
    seed_database(db)
    db.dispose()
    with TestClient(create_app(settings, clock=lambda: NOW)) as test_client:
        assert SAFE_TITLE in test_client.get("/").text
        index = test_client.get("/topics").text
        assert "The topic definitions could not be read" in index and "no such file or folder" in index
        topic = test_client.get("/topics/uk-us-relations")
        assert topic.status_code == 200 and "could not be read" in topic.text and SAFE_TITLE in topic.text
