"""Evidence a reader believes: the strongest sentence first across a story's sources, each
sentence once and attributed to its outlet, the words found (not the patterns), the topic
by its name and the score in words — in the stored alert, the CLI, the API and the story page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient
from typer.testing import CliRunner

from config.settings import Settings, load_settings
from flows.cli import app as cli
from flows.web import create_app
from storage.alerts import MatchRecord, record_matches
from storage.db import Database, open_database
from storage.evidence import ArticleEvidence, merge_story_evidence, readable_evidence
from storage.models import Alert, Article, Story
from tasks.topics import Document, load_topics

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

TOPIC = {
    "id": "meddling",
    "name": "Election meddling",
    "min_score": 4,
    "rules": [
        {"name": "interference in an election", "query": "SENTENCE(interfer*, election*)", "weight": 5},
        {"name": "meddling", "query": "meddl*", "weight": 2, "per_sentence": True, "max_count": 3},
    ],
}

# Two outlets carry the same wire sentence; the second also has its own, stronger one.
WIRE = "Officials accused Moscow of meddling in the vote."
FIRST_TEXT = f"{WIRE}\nThe ministry denied any meddling again.\nThe weather was fine."
SECOND_TEXT = f"Diplomats said Russia was interfering in the election campaign.\n{WIRE}"


def item(text: str, contribution: float, rule: str = "r", **extra: object) -> dict[str, object]:
    return {"text": text, "rule": rule, "terms": ["t*"], "words": ["tw"], "contribution": contribution, **extra}


# The merge itself ----------------------------------------------------------------------------


def test_merge_puts_the_strongest_first_across_sources_and_quotes_a_sentence_once() -> None:
    first = ArticleEvidence(1, "Wire One", [item("Weak sentence.", 1.0), item("Shared  wire sentence.", 2.0)])
    second = ArticleEvidence(2, "Second Post", [
        item("Strong sentence.", 5.0, "strong rule"),
        item("shared wire sentence.", 2.0),  # a syndicated copy: spacing and case differ
        item("Strong sentence.", 5.0, "another rule"),  # the same sentence under a second rule
    ])
    merged = merge_story_evidence([first, second], several_sources=True)
    assert [(m["text"], m["outlet"], m["article_id"]) for m in merged] == [
        ("Strong sentence.", "Second Post", 2),
        ("Shared  wire sentence.", "Wire One", 1),  # a tie: the source listed first keeps it
        ("Weak sentence.", "Wire One", 1),
    ]
    assert merged[0]["rule"] == "strong rule"


def test_one_source_needs_no_attribution_and_the_cap_holds() -> None:
    only = ArticleEvidence(7, "Solo", [item(f"Sentence {n}.", float(n)) for n in range(20)])
    merged = merge_story_evidence([only], several_sources=False, limit=5)
    assert [m["text"] for m in merged] == [f"Sentence {n}." for n in (19, 18, 17, 16, 15)]
    assert all("outlet" not in m and "article_id" not in m for m in merged)


def test_old_items_without_matched_words_read_their_words() -> None:
    old = [{"text": "Envoys met.", "terms": ["envoy*"], "words": ["Envoys"]}, "not an item"]
    assert readable_evidence(old) == [{"text": "Envoys met.", "terms": ["envoy*"], "words": ["Envoys"],
                                       "matched_words": ["Envoys"]}]


def test_matched_words_are_what_the_text_says_and_terms_the_patterns() -> None:
    topics = load_topics([TOPIC])
    [match] = topics.match(Document(title="Talks", body=SECOND_TEXT))
    strongest = match.evidence[0]
    assert strongest["rule"] == "interference in an election"
    assert strongest["terms"] == ["interfer*", "election*"]
    assert strongest["matched_words"] == ["interfering", "election"] == strongest["words"]
    assert match.threshold == 4


# Through the write path: a story that gains a second source -----------------------------------


@dataclass
class Seeded:
    config: Path
    settings: Settings
    alert_id: int
    first_id: int
    second_id: int


def _article(session, story: Story, outlet: str, text: str, n: int) -> Article:
    url = f"https://{outlet.lower().replace(' ', '')}.example/{n}"
    article = Article(canonical_url=url, url=url, status="fetched", title="Vote row", text=text, site_name=outlet,
                      fetched_at=NOW, story_id=story.id, created_at=NOW, updated_at=NOW, analysed_at=NOW)
    session.add(article)
    story.article_count = (story.article_count or 0) + 1
    session.flush()
    return article


def _record(session, settings: Settings, article: Article, new_story: bool) -> None:
    topics = load_topics([TOPIC])
    doc = Document(title=article.title or "", body=article.text or "", url=article.canonical_url)
    matches = [MatchRecord(m.topic_id, m.score, m.version, m.evidence, m.learned, m.threshold)
               for m in topics.match(doc)]
    record_matches(session, article, matches, NOW, settings, joined_story=True, new_story=new_story)


def seed(tmp_path: Path, database_url: str) -> Seeded:
    """A story of two outlets' articles, recorded one after the other as passes do."""
    (tmp_path / "meddling.yaml").write_text(yaml.safe_dump(TOPIC), encoding="utf-8")
    config = tmp_path / "newswatch.yaml"
    config.write_text(yaml.safe_dump({"database_url": database_url, "topics": "meddling.yaml"}), encoding="utf-8")
    settings = load_settings(config)
    db: Database = open_database(settings.resolved_database_url, migrate=True)
    try:
        with db.session() as session:
            story = Story(title="Vote row", first_seen_at=NOW, last_seen_at=NOW, article_count=0,
                          membership=[], created_at=NOW, updated_at=NOW)
            session.add(story)
            session.flush()
            first = _article(session, story, "Wire One", FIRST_TEXT, 1)
            _record(session, settings, first, new_story=True)
            alert = session.query(Alert).one()
            assert all("outlet" not in e for e in alert.evidence)  # one source so far
            second = _article(session, story, "Second Post", SECOND_TEXT, 2)
            _record(session, settings, second, new_story=False)
            return Seeded(config, settings, alert.id, first.id, second.id)
    finally:
        db.dispose()


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Seeded]:
    yield seed(tmp_path, f"sqlite:///{tmp_path / 'n.db'}")


def _stored_evidence(seeded: Seeded) -> list[dict]:
    db = open_database(seeded.settings.resolved_database_url)
    try:
        with db.reader() as session:
            return list(session.get(Alert, seeded.alert_id).evidence)
    finally:
        db.dispose()


def test_the_stored_alert_merges_both_sources_strongest_first(seeded: Seeded) -> None:
    evidence = _stored_evidence(seeded)
    texts = [e["text"] for e in evidence]
    assert texts[0] == "Diplomats said Russia was interfering in the election campaign."
    assert evidence[0]["outlet"] == "Second Post" and evidence[0]["article_id"] == seeded.second_id
    assert evidence[0]["contribution"] == 5 and evidence[0]["matched_words"] == ["interfering", "election"]
    assert texts.count(WIRE) == 1  # carried by both outlets, quoted once, by the one that matched first
    wire = next(e for e in evidence if e["text"] == WIRE)
    assert wire["outlet"] == "Wire One" and wire["article_id"] == seeded.first_id
    assert len(texts) == len(set(texts)) == 3
    assert [e["contribution"] for e in evidence] == sorted((e["contribution"] for e in evidence), reverse=True)


def test_cli_json_and_api_name_the_topic_and_explain_the_score(seeded: Seeded) -> None:
    result = CliRunner().invoke(cli, ["alerts", "--config", str(seeded.config), "--format", "json"])
    assert result.exit_code == 0, result.output
    [alert] = json.loads(result.stdout)
    assert alert["topic"] == alert["topic_id"] == "meddling"
    assert alert["topic_name"] == "Election meddling" and alert["threshold"] == 4
    assert alert["score"] == 7 and alert["score_explained"] == "strong match: 7; alerts from 4"
    assert alert["evidence"][0]["matched_words"] == ["interfering", "election"]
    assert alert["evidence"][0]["terms"] == ["interfer*", "election*"]
    with TestClient(create_app(seeded.settings, clock=lambda: NOW)) as client:
        assert client.get("/api/alerts").json() == [alert]


def test_the_alerts_table_shows_name_score_in_words_and_the_strongest_sentence_with_its_outlet(
    seeded: Seeded,
) -> None:
    result = CliRunner().invoke(cli, ["alerts", "--config", str(seeded.config)])
    assert result.exit_code == 0, result.output
    row = result.output.splitlines()[2]
    assert "Election meddling" in row and "strong match: 7; alerts from 4" in row
    assert "Second Post: Diplomats said Russia was interfering" in row


def test_the_story_page_marks_the_words_found_and_names_outlets(seeded: Seeded) -> None:
    with TestClient(create_app(seeded.settings, clock=lambda: NOW)) as client:
        story_id = client.get("/api/alerts").json()[0]["story_id"]
        html = client.get(f"/stories/{story_id}").text
    assert "strong match: 7; alerts from 4" in html
    assert ("Diplomats said Russia was <mark>interfering</mark> in the <mark>election</mark> campaign." in html)
    first_item = html.index("<ol class=\"evidence\">")
    assert html.index("Second Post", first_item) < html.index("Wire One", first_item)
    assert '<code class="found">interfering</code>' in html
    assert ">Election meddling</a>" in html


def test_a_threshold_kept_with_the_alert_outlives_a_topic_change(seeded: Seeded, tmp_path: Path) -> None:
    (tmp_path / "meddling.yaml").write_text(yaml.safe_dump({**TOPIC, "min_score": 8}), encoding="utf-8")
    result = CliRunner().invoke(cli, ["alerts", "--config", str(seeded.config), "--format", "json"])
    [alert] = json.loads(result.stdout)
    assert alert["threshold"] == 4 and alert["score_explained"] == "strong match: 7; alerts from 4"


def test_alerts_stored_before_thresholds_read_the_topics_current_one(seeded: Seeded) -> None:
    db = open_database(seeded.settings.resolved_database_url)
    with db.session() as session:
        session.get(Alert, seeded.alert_id).threshold = None
    db.dispose()
    result = CliRunner().invoke(cli, ["alerts", "--config", str(seeded.config), "--format", "json"])
    [alert] = json.loads(result.stdout)
    assert alert["threshold"] == 4 and alert["score_explained"].endswith("alerts from 4")


# topics explain --alert / --article ------------------------------------------------------------


def explain(*args: str) -> object:
    from flows.cli.topics import app as topics_cli

    return CliRunner().invoke(topics_cli, ["explain", "meddling", *args])


def test_explain_an_alert_rescoring_each_article_of_its_story(seeded: Seeded) -> None:
    result = explain("--alert", str(seeded.alert_id), "--config", str(seeded.config))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f'alert #{seeded.alert_id}: Election meddling (meddling), story 1: "Vote row"'
    assert lines[1] == "stored: strong match: 7; alerts from 4"
    assert "unchanged since the alert was made" in lines[2]
    assert f"article #{seeded.first_id} (Wire One)" in result.output
    assert f"article #{seeded.second_id} (Second Post)" in result.output
    assert result.output.count("MATCHES") == 2  # today's version, as at the alert

    as_json = json.loads(explain("--alert", str(seeded.alert_id), "--config", str(seeded.config),
                                 "--format", "json").stdout)
    assert as_json["topic_version_changed"] is False
    assert [(a["matched"], a["score"], a["stored_score"]) for a in as_json["articles"]] == [(True, 4, 4), (True, 7, 7)]
    assert as_json["articles"][1]["evidence"][0]["matched_words"] == ["interfering", "election"]


def test_explain_an_alert_says_when_the_topic_changed_since(seeded: Seeded, tmp_path: Path) -> None:
    (tmp_path / "meddling.yaml").write_text(yaml.safe_dump({**TOPIC, "min_score": 8}), encoding="utf-8")
    result = explain("--alert", str(seeded.alert_id), "--config", str(seeded.config))
    assert result.exit_code == 0, result.output
    assert "the topic changed since the alert was made" in result.output
    assert "MATCHES" not in result.output  # today's version no longer fires on either article
    assert "stored: strong match: 7; alerts from 4" in result.output  # the alert as it was raised


def test_explain_a_stored_article(seeded: Seeded) -> None:
    result = explain("--article", str(seeded.second_id), "--config", str(seeded.config))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f'article #{seeded.second_id} (Second Post): "Vote row"; stored match score 7')
    assert "meddling (Election meddling) version" in result.output and "MATCHES" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--alert", "999"], "newswatch: no alert 999 in the database; `newswatch alerts` lists them"),
        (["--article", "999"], "newswatch: no article 999 in the database; `newswatch articles` lists them"),
        (["--alert", "1", "--file", "x.txt"], "newswatch: give exactly one of --url URL, --file FILE, --alert ID or --article ID"),
    ],
)
def test_explain_stored_errors_are_one_line(seeded: Seeded, args: list[str], message: str) -> None:
    result = explain(*args, "--config", str(seeded.config))
    assert result.exit_code == 2
    assert result.output.strip() == message


def test_explain_an_alert_of_another_topic_or_without_a_database_is_refused(seeded: Seeded) -> None:
    from flows.cli.topics import app as topics_cli

    other = {**TOPIC, "id": "other", "name": "Other"}
    (seeded.config.parent / "meddling.yaml").write_text(yaml.safe_dump([TOPIC, other]), encoding="utf-8")
    result = CliRunner().invoke(topics_cli, ["explain", "other", "--alert", str(seeded.alert_id),
                                             "--config", str(seeded.config)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"newswatch: alert {seeded.alert_id} is an alert of topic 'meddling', not 'other';"
        f" run `newswatch topics explain meddling --alert {seeded.alert_id}`"
    )
    result = CliRunner(env={"NEWSWATCH_CONFIG": ""}).invoke(topics_cli, ["explain", "meddling", "--alert", "1"])
    assert result.exit_code == 2 and result.output.strip() == "newswatch: --alert reads the database: give --config FILE"


def test_a_new_version_of_an_article_replaces_its_evidence_in_the_alert(tmp_path: Path, database_url: str) -> None:
    seeded = seed(tmp_path, database_url)
    assert _stored_evidence(seeded)[0]["text"] == "Diplomats said Russia was interfering in the election campaign."
    db = open_database(seeded.settings.resolved_database_url)
    try:
        with db.session() as session:
            second = session.get(Article, seeded.second_id)
            second.text = "Diplomats said Russia was interfering in the election on Tuesday."
            _record(session, seeded.settings, second, new_story=False)
    finally:
        db.dispose()
    evidence = _stored_evidence(seeded)
    assert [(e["text"], e["outlet"]) for e in evidence] == [
        ("Diplomats said Russia was interfering in the election on Tuesday.", "Second Post"),
        (WIRE, "Wire One"),
        ("The ministry denied any meddling again.", "Wire One"),
    ]


def test_every_reader_quotes_the_same_strongest_sentence_of_older_evidence() -> None:
    """Older rows were stored in rule order, not strength order: the web list, the CSV,
    ``newswatch alerts`` and the messages all pick the item with the highest weight."""
    from flows.cli.report import _strongest_evidence
    from flows.web.render import snippet
    from storage.evidence import strongest_item
    from storage.export import evidence_snippet
    from storage.models import Alert
    from tasks.notify.evidence import quote_of

    evidence = [{"text": "A passing mention.", "weight": 1.0}, {"text": "The decisive sentence.", "weight": 4.0}]
    assert strongest_item(evidence) is evidence[1]
    assert evidence_snippet(Alert(evidence=evidence)) == "The decisive sentence."
    assert str(snippet(evidence)) == "The decisive sentence."
    assert _strongest_evidence(evidence) == "The decisive sentence."
    quote = quote_of(evidence)
    assert quote is not None and quote.text == "The decisive sentence."
    assert strongest_item([{"text": "  "}, "junk"]) is None


def test_explain_prints_feed_text_without_terminal_escape_codes(seeded: Seeded, tmp_path: Path) -> None:
    db = open_database(seeded.settings.resolved_database_url)
    try:
        with db.session() as session:
            for article in session.query(Article):
                article.title = "Evil \x1b]0;pwned\x07 title"
                article.text = f"Officials accused Moscow of meddling \x1b[2J in the vote\x07.\n{article.text}"
            session.query(Alert).one().title = "Vote \x1b]0;pwned\x07 row"
    finally:
        db.dispose()
    for args in (["--alert", str(seeded.alert_id)], ["--article", str(seeded.first_id)]):
        result = explain(*args, "--config", str(seeded.config))
        assert result.exit_code == 0, result.output
        assert "pwned" in result.output and "meddling" in result.output  # the feed text is shown …
        assert "\x1b" not in result.output and "\x07" not in result.output  # … without its escape codes
    page = tmp_path / "evil.txt"
    page.write_text("Evil \x1b]0;pwned\x07 title\nOfficials accused Moscow of meddling \x1b[2J in the vote\x07.",
                    encoding="utf-8")
    result = explain("--file", str(page), "--config", str(seeded.config))
    assert result.exit_code == 0, result.output
    assert "pwned" in result.output and "\x1b" not in result.output and "\x07" not in result.output
