"""`topics labels export` writes the judged articles in the dev set's format, and
`topics train --labels` trains on what it wrote."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from flows.cli import app
from storage.db import open_database
from storage.models import Alert, AlertMatch, Article, Story
from tasks.topics.evaluation import read_labels

T = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
runner = CliRunner()

ENVOY_TEXTS = [
    "The UK ambassador discussed a trade deal with American officials in Washington.",
    "An envoy from London said the trade talks with the US were going well.",
    "The ambassador to Washington praised the new trade agreement with Britain.",
    "British envoy meets US trade representative to discuss steel tariffs.",
    "The ambassador said trade between the two allies would grow next year.",
    "A special envoy travelled to Washington for trade negotiations on whisky.",
]
OFF_TOPIC_TEXTS = [
    "The ambassador of the football club opened a new trade fair for sports kit.",
    "A brand ambassador promoted the trade show for garden furniture in Leeds.",
    "The envoy of the chess federation visited the trade exhibition in Paris.",
    "Our wine ambassador recommends the best trade prices for Bordeaux this year.",
    "The tourism ambassador spoke at the travel trade convention in Madrid.",
    "A youth envoy for the charity visited the fair trade coffee farm in Kenya.",
]


def invoke(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "envoys.yaml").write_text(
        "id: envoys\nname: Envoys\nrules:\n  - name: envoy near trade\n"
        "    query: (ambassador OR envoy) NEAR/10 trade\n",
        encoding="utf-8",
    )
    path = tmp_path / "newswatch.yaml"
    path.write_text(f"database_url: sqlite:///{tmp_path / 'db.sqlite'}\ntopics: envoys.yaml\n", encoding="utf-8")
    return path


def add_judged_alerts(config: Path) -> dict[str, list[int]]:
    """One alert per text, each on a story of one matched article (and an unmatched one)."""
    db = open_database(f"sqlite:///{config.parent / 'db.sqlite'}", migrate=True)
    ids: dict[str, list[int]] = {"relevant": [], "not-relevant": []}
    try:
        with db.session() as s:
            for verdict, texts in (("relevant", ENVOY_TEXTS), ("not-relevant", OFF_TOPIC_TEXTS)):
                for n, text in enumerate(texts):
                    story = Story(title=text[:40], first_seen_at=T, last_seen_at=T, created_at=T, updated_at=T)
                    s.add(story)
                    s.flush()
                    url = f"https://wire.example/{verdict}/{n}"
                    matched = Article(canonical_url=url, url=url, status="fetched", title=text[:40], text=text,
                                      story_id=story.id, created_at=T, updated_at=T)
                    unmatched = Article(canonical_url=url + "/other", url=url + "/other", status="fetched",
                                        title="Unrelated", text="Not matched.", story_id=story.id, created_at=T, updated_at=T)
                    s.add_all([matched, unmatched])
                    s.flush()
                    alert = Alert(topic_id="envoys", story_id=story.id, title=story.title, score=5.0,
                                  topic_version="1", evidence=[], created_at=T, updated_at=T)
                    s.add(alert)
                    s.flush()
                    s.add(AlertMatch(alert_id=alert.id, article_id=matched.id, score=5.0, evidence=[], matched_at=T))
                    ids[verdict].append(alert.id)
    finally:
        db.dispose()
    return ids


def test_exported_verdicts_are_labels_that_train_reads(config: Path, tmp_path: Path) -> None:
    ids = add_judged_alerts(config)
    for verdict, alerts in ids.items():
        for alert_id in alerts:
            result = invoke("feedback", str(alert_id), verdict, "--by", "ana", "--config", str(config))
            assert result.exit_code == 0, result.output
    exported = tmp_path / "envoys.jsonl"
    result = invoke("topics", "labels", "export", "--topic", "envoys", "--output", str(exported), "--config", str(config))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"wrote 12 labelled article(s) of envoys to {exported}: 6 relevant, 6 not relevant"

    rows = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert {r["text"]: r["envoys"] for r in rows} == {**dict.fromkeys(ENVOY_TEXTS, 1), **dict.fromkeys(OFF_TOPIC_TEXTS, 0)}
    assert all(r["id"].startswith("article-") and r["title"] and r["url"] for r in rows)
    assert [a.labels["envoys"] for a in read_labels(exported)] == [r["envoys"] for r in rows]

    layer = tmp_path / "envoys.learned.json"
    trained = invoke("topics", "train", "envoys", "--labels", str(exported), "--output", str(layer), "--config", str(config))
    assert trained.exit_code == 0, trained.output
    assert "envoys: 12 labelled article(s), 6 relevant" in trained.stdout
    assert json.loads(layer.read_text(encoding="utf-8"))["training"]["labels"] == ["envoys.jsonl"]


def test_export_refuses_an_unknown_topic_and_a_topic_without_verdicts(config: Path, tmp_path: Path) -> None:
    add_judged_alerts(config)
    unknown = invoke("topics", "labels", "export", "--topic", "nope", "--config", str(config))
    assert unknown.exit_code == 2
    assert unknown.stderr.strip() == "newswatch: --topic 'nope': no such topic (known: envoys)"
    empty = invoke("topics", "labels", "export", "--topic", "envoys", "--output", str(tmp_path / "x.jsonl"),
                   "--config", str(config))
    assert empty.exit_code == 2 and "no verdicts on record" in empty.stderr
    assert not (tmp_path / "x.jsonl").exists()
