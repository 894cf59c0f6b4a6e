"""`newswatch topics …` through typer's CliRunner, on files and a SQLite database we write."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from flows.cli.topics import app
from tests.support.httpserver import LocalSite

runner = CliRunner()

# Articles written for these tests.
CAMPAIGN_TITLE = "Labour staff fly to US swing states to campaign for the Democrats"
CAMPAIGN_BODY = (
    "Labour Party staffers are travelling to the US to campaign for the Democratic candidate,"
    " knocking on doors in swing states.\n"
    "Labour volunteers will be canvassing in Pennsylvania in the presidential election, a party figure said.\n"
    "Labour activists were campaigning for the Democrats in Nevada as the US election neared.\n"
    "Republicans accused Labour of interfering in the US election."
)
ENVOY_TITLE = "Britain and the US sign a trade deal"
ENVOY_BODY = (
    "The Prime Minister and the US President met in Washington and agreed a trade deal.\n"
    "British officials said the special relationship between the UK and the US was strong.\n"
    "The UK ambassador said Britain and America would deepen security cooperation."
)
GARDEN_TITLE = "Allotment holders prepare for spring"
GARDEN_BODY = "Gardeners in Leeds are planting potatoes. The council has raised plot fees."


def run(*args: str) -> object:
    return runner.invoke(app, list(args))


@pytest.fixture
def topic_file(tmp_path: Path) -> Path:
    path = tmp_path / "envoys.yaml"
    path.write_text(
        "id: envoys\nname: Envoys\nrules:\n  - name: envoy near trade\n"
        "    query: (ambassador OR envoy) NEAR/10 trade\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def config_file(tmp_path: Path, topic_file: Path) -> Path:
    path = tmp_path / "newswatch.yaml"
    path.write_text(f"database_url: sqlite:///{tmp_path / 'db.sqlite'}\ntopics: {topic_file.name}\n", encoding="utf-8")
    return path


def test_list_shows_the_shipped_topics() -> None:
    result = run("list")
    assert result.exit_code == 0, result.output
    assert "foreign-campaigning" in result.output and "uk-us-relations" in result.output
    listed = json.loads(run("list", "--format", "json").output)
    assert {t["id"] for t in listed} == {"foreign-campaigning", "uk-us-relations"}
    assert all(len(t["version"]) == 12 for t in listed)


def test_list_uses_the_config_topics(config_file: Path) -> None:
    result = run("list", "--config", str(config_file))
    assert result.exit_code == 0 and "envoys" in result.output and "uk-us-relations" not in result.output


def test_check_accepts_good_files(topic_file: Path) -> None:
    result = run("check", str(topic_file))
    assert result.exit_code == 0 and "ok  envoys" in result.output


def test_check_reports_file_topic_and_position_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\nmatch: ambassador trade\n", encoding="utf-8")
    result = run("check", str(bad))
    assert result.exit_code == 1
    assert f"{bad}: line 2, column 19: topic 'bad': match:" in result.output
    assert "Traceback" not in result.output


def test_bad_config_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("feeds: 3\n", encoding="utf-8")
    result = run("list", "--config", str(config))
    assert result.exit_code == 2 and "feeds" in result.output


def test_explain_a_text_file(tmp_path: Path) -> None:
    article = tmp_path / "article.txt"
    article.write_text(f"{ENVOY_TITLE}\n{ENVOY_BODY}\n", encoding="utf-8")
    result = run("explain", "uk-us-relations", "--file", str(article))
    assert result.exit_code == 0, result.output
    assert "uk-us-relations" in result.output and "MATCHES" in result.output
    assert "special relationship" in result.output
    not_matching = run("explain", "foreign-campaigning", "--file", str(article))
    assert "does not match" in not_matching.output and "below the threshold" in not_matching.output


def test_explain_a_saved_html_page_as_json(tmp_path: Path) -> None:
    paragraphs = "".join(f"<p>{line}</p>" for line in CAMPAIGN_BODY.split("\n"))
    page = tmp_path / "page.html"
    page.write_text(
        f"<!doctype html><html><head><title>{CAMPAIGN_TITLE}</title></head>"
        f"<body><article><h1>{CAMPAIGN_TITLE}</h1>{paragraphs}</article></body></html>",
        encoding="utf-8",
    )
    result = run("explain", "foreign-campaigning", "--file", str(page), "--format", "json")
    assert result.exit_code == 0, result.output
    explained = json.loads(result.output)
    assert explained["matched"] is True and explained["score"] >= explained["min_score"]
    fired = [r for r in explained["rules"] if r["fired"]]
    assert fired and all(item["match"] for r in fired for item in r["evidence"])


def test_explain_needs_exactly_one_source_and_a_known_topic(tmp_path: Path) -> None:
    assert run("explain", "uk-us-relations").exit_code == 2
    article = tmp_path / "a.txt"
    article.write_text("t\nb\n", encoding="utf-8")
    result = run("explain", "no-such-topic", "--file", str(article))
    assert result.exit_code == 2 and "no topic 'no-such-topic'" in result.output


def write_labels(path: Path) -> Path:
    rows = [
        {"id": "campaign", "title": CAMPAIGN_TITLE, "text": CAMPAIGN_BODY, "foreign_campaigning": 1, "uk_us_relations": 0},
        {"id": "envoy", "title": ENVOY_TITLE, "text": ENVOY_BODY, "foreign_campaigning": 0, "uk_us_relations": 1},
        {"id": "garden", "title": GARDEN_TITLE, "text": GARDEN_BODY, "foreign_campaigning": 0, "uk_us_relations": 0},
        # Labelled positive on purpose though it is about gardens: a miss the report must name.
        {"id": "mislabelled", "title": GARDEN_TITLE, "text": GARDEN_BODY, "foreign_campaigning": 0, "uk_us_relations": 1},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_eval_prints_precision_recall_f1_and_misclassified_ids(tmp_path: Path) -> None:
    labels = write_labels(tmp_path / "labels.jsonl")
    result = run("eval", "--labels", str(labels), "--format", "json")
    assert result.exit_code == 0, result.output
    report = {t["topic"]: t for t in json.loads(result.output)["topics"]}
    campaigning, relations = report["foreign-campaigning"], report["uk-us-relations"]
    assert (campaigning["precision"], campaigning["recall"], campaigning["f1"]) == (1.0, 1.0, 1.0)
    assert relations["precision"] == 1.0 and relations["recall"] == 0.5
    assert relations["false_negative_ids"] == ["mislabelled"]
    table = run("eval", "--labels", str(labels))
    assert "uk-us-relations missed: mislabelled" in table.output


def test_eval_floors_and_bad_files(tmp_path: Path) -> None:
    labels = write_labels(tmp_path / "labels.jsonl")
    assert run("eval", "--labels", str(labels), "--min-recall", "0.9").exit_code == 1
    assert run("eval", "--labels", str(labels), "--min-precision", "0.9").exit_code == 0
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": 1}\nnot json\n', encoding="utf-8")
    result = run("eval", "--labels", str(broken))
    assert result.exit_code == 2 and "line 2" in result.output


def test_backtest_lists_what_would_alert_and_writes_nothing(tmp_path: Path, config_file: Path) -> None:
    from storage.db import open_database
    from storage.models import Alert, Article, ArticleSource, Feed

    now = datetime.now(UTC)
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with db.session() as session:
        feed = Feed(url="https://news.example.org/rss", created_at=now)
        session.add(feed)
        stories = [
            ("envoy", "Envoy talks trade", "The ambassador spoke about trade with ministers.", now - timedelta(days=2)),
            ("garden", GARDEN_TITLE, GARDEN_BODY, now - timedelta(days=1)),
            ("old", "Old envoy news", "The envoy discussed trade terms.", now - timedelta(days=90)),
        ]
        for slug, title, text, published in stories:
            article = Article(
                canonical_url=f"https://news.example.org/{slug}", url=f"https://news.example.org/{slug}",
                status="fetched", title=title, text=text, language="en", published_at=published,
                fetched_at=published, created_at=now, updated_at=now,
            )
            article.sources.append(ArticleSource(
                feed=feed, entry_id=slug, entry_url=article.url, entry_hash=slug, first_seen_at=now, last_seen_at=now,
            ))
            session.add(article)
    db.dispose()

    result = run("backtest", "envoys", "--config", str(config_file), "--since", "30d", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["articles_scanned"] == 2  # the 90-day-old article is outside --since
    assert [m["title"] for m in report["matches"]] == ["Envoy talks trade"]
    assert report["matches"][0]["evidence"][0]["match"] == "ambassador spoke about trade"
    table = run("backtest", "envoys", "--config", str(config_file), "--since", "365d")
    assert "2 of 3 stored article(s)" in table.output and "Old envoy news" in table.output

    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 0
    db.dispose()


def test_backtest_needs_a_known_topic_and_a_valid_since(config_file: Path) -> None:
    assert run("backtest", "nope", "--config", str(config_file)).exit_code == 2
    result = run("backtest", "envoys", "--config", str(config_file), "--since", "soon")
    assert result.exit_code == 2 and "--since" in result.output


def test_explain_fetches_a_url_from_a_local_server(tmp_path: Path, local_site: LocalSite) -> None:
    paragraphs = "".join(f"<p>{line}</p>" for line in ENVOY_BODY.split("\n"))
    page = (
        f"<!doctype html><html><head><title>{ENVOY_TITLE}</title></head>"
        f"<body><article><h1>{ENVOY_TITLE}</h1>{paragraphs}</article></body></html>"
    ).encode()
    local_site.route("/news/envoy.html", body=page, content_type="text/html; charset=utf-8")
    config = tmp_path / "fetch.yaml"
    config.write_text(f"fetch:\n  allow_private_networks: ['{local_site.allow_rule}']\n", encoding="utf-8")
    result = run("explain", "uk-us-relations", "--url", local_site.url("/news/envoy.html"), "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "MATCHES" in result.output and ENVOY_TITLE in result.output
    missing = run("explain", "uk-us-relations", "--url", local_site.url("/gone"), "--config", str(config))
    assert missing.exit_code == 2 and "could not fetch" in missing.output
