"""Verdicts on alerts: stored, superseded per person with the history kept, counted per topic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.db import Database, open_database
from storage.feedback import (
    FeedbackError,
    alert_verdict,
    current_feedback,
    feedback_history,
    record_verdict,
    topic_feedback,
)
from storage.models import Alert, Story

T = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def add_alert(db: Database, topic: str = "envoys", version: str = "v1") -> int:
    with db.session() as s:
        story = Story(title=f"a story for {topic}", first_seen_at=T, last_seen_at=T, created_at=T, updated_at=T)
        s.add(story)
        s.flush()
        alert = Alert(topic_id=topic, story_id=story.id, title=story.title, score=7.0, topic_version=version,
                      evidence=[], created_at=T, updated_at=T)
        s.add(alert)
        s.flush()
        return alert.id


@pytest.fixture
def db(database_url: str):
    database = open_database(database_url, migrate=True)
    yield database
    database.dispose()


def test_a_later_verdict_by_the_same_person_replaces_theirs_and_the_history_stays(db: Database) -> None:
    alert = add_alert(db, version="3")
    with db.session() as s:
        record_verdict(s, alert, "relevant", "ana", T, note="spot on")
        record_verdict(s, alert, "relevant", "ben", T + timedelta(minutes=1))
        record_verdict(s, alert, "not-relevant", "ana", T + timedelta(minutes=2), note="  sport, not politics ")
    with db.reader() as s:
        current = current_feedback(s, [alert])[alert]
        assert [(f.by, f.verdict, f.note) for f in current] == [
            ("ana", "not-relevant", "sport, not politics"), ("ben", "relevant", None),
        ]
        assert all(f.topic_id == "envoys" and f.topic_version == "3" for f in current)
        history = feedback_history(s, alert)
        assert [(f.by, f.verdict, f.superseded_at) for f in history] == [
            ("ana", "not-relevant", None),
            ("ben", "relevant", None),
            ("ana", "relevant", T + timedelta(minutes=2)),
        ]


@pytest.mark.parametrize(
    ("alert_id", "verdict", "by", "message"),
    [
        (999, "relevant", "ana", "alert 999: no such alert"),
        (None, "yes", "ana", "verdict 'yes': give relevant or not-relevant"),
        (None, "relevant", "  ", "--by: give the name"),
    ],
)
def test_bad_verdicts_are_refused_with_the_wrong_value_named(
    db: Database, alert_id: int | None, verdict: str, by: str, message: str
) -> None:
    alert = add_alert(db)
    with db.session() as s, pytest.raises(FeedbackError, match=message):
        record_verdict(s, alert_id or alert, verdict, by, T)
    with db.reader() as s:
        assert current_feedback(s, [alert]) == {}


def test_precision_per_topic_counts_each_alert_once_by_its_verdict(db: Database) -> None:
    envoys = [add_alert(db) for _ in range(4)]
    other = add_alert(db, topic="campaigns")
    with db.session() as s:
        record_verdict(s, envoys[0], "relevant", "ana", T)
        record_verdict(s, envoys[0], "relevant", "ben", T)  # two people, still one alert
        record_verdict(s, envoys[1], "relevant", "ana", T)
        record_verdict(s, envoys[2], "relevant", "ana", T)
        record_verdict(s, envoys[2], "not-relevant", "ana", T + timedelta(hours=1))  # changed their mind
        record_verdict(s, other, "not-relevant", "ana", T)
    with db.reader() as s:
        found = {t.topic_id: t for t in topic_feedback(s, ["quiet"])}
    assert (found["envoys"].relevant, found["envoys"].not_relevant, found["envoys"].unjudged) == (2, 1, 1)
    assert found["envoys"].precision == pytest.approx(2 / 3)
    assert (found["campaigns"].relevant, found["campaigns"].not_relevant, found["campaigns"].precision) == (0, 1, 0.0)
    assert found["quiet"].judged == 0 and found["quiet"].precision is None


def test_an_alerts_verdict_is_the_majority_and_a_tie_goes_to_the_newest(db: Database) -> None:
    alert = add_alert(db)
    with db.session() as s:
        record_verdict(s, alert, "relevant", "ana", T)
        record_verdict(s, alert, "not-relevant", "ben", T + timedelta(minutes=1))
        assert alert_verdict(current_feedback(s, [alert])[alert]) == "not-relevant"
        record_verdict(s, alert, "relevant", "cy", T + timedelta(minutes=2))
        assert alert_verdict(current_feedback(s, [alert])[alert]) == "relevant"
    assert alert_verdict([]) is None
