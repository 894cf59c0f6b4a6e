"""Verdicts on alerts: recording them, reading the current ones, and counting them per topic.

A person has at most one *current* verdict per alert: recording a new one marks their
earlier one superseded (kept for the history). An alert's own verdict, where people
disagree, is the majority of the current verdicts; a tie goes to the newest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.models import Alert, Article, Feedback

RELEVANT = "relevant"
NOT_RELEVANT = "not-relevant"
VERDICTS = (RELEVANT, NOT_RELEVANT)
MAX_NOTE_CHARS = 2000
MAX_NAME_CHARS = 200


class FeedbackError(ValueError):
    """A verdict that cannot be recorded; the message names the value and the fix."""


def check_verdict(verdict: str) -> str:
    if verdict not in VERDICTS:
        raise FeedbackError(f"verdict {verdict!r}: give relevant or not-relevant")
    return verdict


def check_name(by: str) -> str:
    name = " ".join(by.split())
    if not name:
        raise FeedbackError("--by: give the name of the person giving the verdict")
    if len(name) > MAX_NAME_CHARS:
        raise FeedbackError(f"--by: at most {MAX_NAME_CHARS} characters")
    return name


def record_verdict(
    session: Session, alert_id: int, verdict: str, by: str, now: datetime, note: str | None = None
) -> Feedback:
    """Record ``by``'s verdict on the alert, superseding their earlier one (kept as history)."""
    verdict = check_verdict(verdict)
    by = check_name(by)
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise FeedbackError(f"--note: at most {MAX_NOTE_CHARS} characters (this one has {len(note)})")
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise FeedbackError(f"alert {alert_id}: no such alert (`newswatch alerts` lists their ids)")
    session.execute(
        update(Feedback)
        .where(Feedback.alert_id == alert_id, Feedback.by == by, Feedback.superseded_at.is_(None))
        .values(superseded_at=now)
    )
    row = Feedback(
        alert_id=alert_id, verdict=verdict, by=by, note=note, topic_id=alert.topic_id,
        topic_version=alert.topic_version, created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def _newest_first(rows: Iterable[Feedback]) -> list[Feedback]:
    return sorted(rows, key=lambda f: (f.created_at, f.id), reverse=True)


def current_feedback(session: Session, alert_ids: Iterable[int]) -> dict[int, list[Feedback]]:
    """Each alert's current verdicts (one per person), newest first; alerts without any are left out."""
    found: dict[int, list[Feedback]] = {}
    ids = sorted(set(alert_ids))
    for start in range(0, len(ids), 500):
        for row in session.scalars(
            select(Feedback).where(
                Feedback.alert_id.in_(ids[start : start + 500]), Feedback.superseded_at.is_(None)
            )
        ):
            found.setdefault(row.alert_id, []).append(row)
    return {alert_id: _one_per_person(rows) for alert_id, rows in found.items()}


def _one_per_person(rows: list[Feedback]) -> list[Feedback]:
    """Newest first, and one per person even if two writers raced past each other."""
    seen: set[str] = set()
    kept = []
    for row in _newest_first(rows):
        if row.by not in seen:
            seen.add(row.by)
            kept.append(row)
    return kept


def feedback_history(session: Session, alert_id: int) -> list[Feedback]:
    """Every verdict ever given on the alert, superseded ones included, newest first."""
    return _newest_first(session.scalars(select(Feedback).where(Feedback.alert_id == alert_id)))


def alert_verdict(current: list[Feedback]) -> str | None:
    """The alert's verdict from its current ones (newest first): the majority, a tie to the newest."""
    if not current:
        return None
    relevant = sum(1 for f in current if f.verdict == RELEVANT)
    if relevant * 2 == len(current):
        return current[0].verdict
    return RELEVANT if relevant * 2 > len(current) else NOT_RELEVANT


@dataclass(frozen=True)
class TopicFeedback:
    """A topic's alerts as the desk judged them: precision over the judged ones."""

    topic_id: str
    relevant: int
    not_relevant: int
    unjudged: int  # alerts of the topic without a verdict

    @property
    def judged(self) -> int:
        return self.relevant + self.not_relevant

    @property
    def precision(self) -> float | None:
        return self.relevant / self.judged if self.judged else None

    def to_dict(self) -> dict[str, Any]:
        precision = self.precision
        return {
            "topic": self.topic_id,
            "precision": round(precision, 4) if precision is not None else None,
            "relevant": self.relevant,
            "not_relevant": self.not_relevant,
            "judged": self.judged,
            "without_verdict": self.unjudged,
        }


def topic_feedback(session: Session, topics: Iterable[str] = ()) -> list[TopicFeedback]:
    """Per topic with alerts (or named in ``topics``): its alerts counted by their verdict."""
    totals = dict(session.execute(select(Alert.topic_id, func.count(Alert.id)).group_by(Alert.topic_id)).all())
    by_alert: dict[int, list[Feedback]] = {}
    for row in session.scalars(select(Feedback).where(Feedback.superseded_at.is_(None))):
        by_alert.setdefault(row.alert_id, []).append(row)
    judged: dict[str, list[int]] = {}
    for rows in by_alert.values():
        counts = judged.setdefault(rows[0].topic_id, [0, 0])
        counts[0 if alert_verdict(_one_per_person(rows)) == RELEVANT else 1] += 1
    result = []
    for name in sorted(set(totals) | set(topics)):
        relevant, not_relevant = judged.get(name, [0, 0])
        result.append(TopicFeedback(name, relevant, not_relevant, totals.get(name, 0) - relevant - not_relevant))
    return result


@dataclass(frozen=True)
class JudgedArticle:
    """An article of a judged alert, labelled with the alert's verdict."""

    article: Article
    relevant: bool
    alert_id: int
    notes: list[str]


def judged_articles(session: Session, topic_id: str) -> list[JudgedArticle]:
    """The articles of the topic's judged alerts, by article id: the ones the topic matched
    (all the story's where no match was recorded), each labelled with its alert's verdict."""
    by_alert: dict[int, list[Feedback]] = {}
    for row in session.scalars(
        select(Feedback).where(Feedback.topic_id == topic_id, Feedback.superseded_at.is_(None))
    ):
        by_alert.setdefault(row.alert_id, []).append(row)
    found: dict[int, JudgedArticle] = {}
    for alert_id in sorted(by_alert):
        current = _one_per_person(by_alert[alert_id])
        relevant = alert_verdict(current) == RELEVANT
        notes = [f"{f.by}: {f.note}" for f in current if f.note]
        alert = session.get(Alert, alert_id)
        if alert is None:
            continue
        matched = {m.article_id for m in alert.matches}
        for article in session.scalars(
            select(Article).where(Article.story_id == alert.story_id).order_by(Article.id)
        ):
            if (not matched or article.id in matched) and (article.title or article.text):
                found[article.id] = JudgedArticle(article, relevant, alert_id, notes)
    return [found[k] for k in sorted(found)]
