"""`newswatch feedback` and the verdicts in `alerts --format json`, through typer's CliRunner
on a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from flows.cli import app
from storage.db import open_database
from storage.feedback import feedback_history
from tests.test_feedback import add_alert

runner = CliRunner()


def invoke(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "newswatch.yaml"
    path.write_text(f"database_url: sqlite:///{tmp_path / 'db.sqlite'}\n", encoding="utf-8")
    return path


@pytest.fixture
def alert(config: Path) -> int:
    db = open_database(f"sqlite:///{config.parent / 'db.sqlite'}", migrate=True)
    try:
        return add_alert(db, topic="envoys", version="7")
    finally:
        db.dispose()


def history(config: Path, alert_id: int) -> list[tuple[str, str, str | None, bool]]:
    db = open_database(f"sqlite:///{config.parent / 'db.sqlite'}")
    try:
        with db.reader() as s:
            return [(f.by, f.verdict, f.note, f.superseded_at is None) for f in feedback_history(s, alert_id)]
    finally:
        db.dispose()


def test_a_verdict_is_recorded_replaced_by_the_same_person_and_the_history_kept(config: Path, alert: int) -> None:
    first = invoke("feedback", str(alert), "relevant", "--by", "ana", "--note", "on topic", "--config", str(config))
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == f"alert {alert} (envoys): relevant, by ana"
    assert invoke("feedback", str(alert), "relevant", "--by", "ben", "--config", str(config)).exit_code == 0
    again = invoke("feedback", str(alert), "not-relevant", "--by", "ana", "--note", "a sports story", "--config", str(config))
    assert again.exit_code == 0, again.output
    assert history(config, alert) == [
        ("ana", "not-relevant", "a sports story", True),
        ("ben", "relevant", None, True),
        ("ana", "relevant", "on topic", False),
    ]

    shown = json.loads(invoke("alerts", "--format", "json", "--config", str(config)).stdout)
    assert [(f["verdict"], f["by"], f["note"]) for f in shown[0]["feedback"]] == [
        ("not-relevant", "ana", "a sports story"), ("relevant", "ben", None),
    ]
    assert all(f["created_at"].endswith("Z") for f in shown[0]["feedback"])
    assert shown[0]["feedback_verdict"] == "not-relevant"  # a tie: the newest decides


def test_the_os_user_gives_the_verdict_without_by(config: Path, alert: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "desk-editor")
    monkeypatch.setenv("USER", "desk-editor")
    result = invoke("feedback", str(alert), "relevant", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert history(config, alert) == [("desk-editor", "relevant", None, True)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["999", "relevant"], "newswatch: alert 999: no such alert (`newswatch alerts` lists their ids)"),
        (["ALERT", "yes"], "newswatch: verdict 'yes': give relevant or not-relevant"),
        (["ALERT", "relevant", "--by", " "], "newswatch: --by: give the name of the person giving the verdict"),
    ],
)
def test_bad_input_is_one_line_and_records_nothing(config: Path, alert: int, args: list[str], message: str) -> None:
    args = [str(alert) if a == "ALERT" else a for a in args]
    result = invoke("feedback", *args, "--config", str(config))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [message]
    assert history(config, alert) == []


def test_alerts_without_verdicts_have_an_empty_list(config: Path, alert: int) -> None:
    shown = json.loads(invoke("alerts", "--format", "json", "--config", str(config)).stdout)
    assert shown[0]["feedback"] == [] and shown[0]["feedback_verdict"] is None


def test_topics_eval_feedback_reports_precision_per_topic_with_counts(config: Path, alert: int) -> None:
    db = open_database(f"sqlite:///{config.parent / 'db.sqlite'}")
    try:
        others = [add_alert(db, topic="envoys") for _ in range(3)]
    finally:
        db.dispose()
    for alert_id, verdict in [(alert, "relevant"), (others[0], "relevant"), (others[1], "not-relevant")]:
        assert invoke("feedback", str(alert_id), verdict, "--by", "ana", "--config", str(config)).exit_code == 0

    as_json = invoke("topics", "eval", "--feedback", "--config", str(config), "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    envoys = next(t for t in report["topics"] if t["topic"] == "envoys")
    assert (envoys["relevant"], envoys["not_relevant"], envoys["without_verdict"]) == (2, 1, 1)
    assert envoys["precision"] == pytest.approx(2 / 3, abs=1e-4)
    low, high = envoys["precision_95"]
    assert low < 2 / 3 < high
    shipped = next(t for t in report["topics"] if t["topic"] == "uk-us-relations")  # configured, no alerts
    assert shipped["precision"] is None and shipped["judged"] == 0
    assert report["judged_alerts"] == 3

    text = invoke("topics", "eval", "--feedback", "--config", str(config))
    assert text.exit_code == 0, text.output
    assert "3 alert(s) with a verdict on record" in text.stdout
    row = next(line for line in text.stdout.splitlines() if line.startswith("envoys"))
    assert row.split() == ["envoys", "0.667", "0.21–0.94", "2", "1", "1"]

    floor = invoke("topics", "eval", "--feedback", "--config", str(config), "--min-precision", "0.9")
    assert floor.exit_code == 1 and "below the floor: envoys" in floor.stderr


def test_topics_eval_needs_labels_or_feedback(config: Path) -> None:
    neither = invoke("topics", "eval", "--config", str(config))
    assert neither.exit_code == 2
    assert neither.stderr.strip() == "newswatch: give exactly one of --labels FILE or --feedback (with --config FILE)"
    no_config = invoke("topics", "eval", "--feedback")
    assert no_config.exit_code == 2 and "topics eval --feedback needs a config file" in no_config.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min-recall", "0.5"], "newswatch: --min-recall does not apply with --feedback: verdicts on alerts"
                                  " measure precision only (use --min-precision)"),
        (["--split", "check"], "newswatch: --split does not apply with --feedback: verdicts have no split column"
                               " (it is for --labels FILE)"),
    ],
)
def test_topics_eval_feedback_refuses_options_it_cannot_honour(config: Path, alert: int, args: list[str],
                                                               message: str) -> None:
    result = invoke("topics", "eval", "--feedback", *args, "--config", str(config))
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == message and result.stdout == ""
