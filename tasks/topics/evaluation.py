"""Precision, recall and F1 of topics on a labelled JSONL file.

One JSON object a line: ``id``, ``title``, ``text`` (optional ``language``, ``source``/
``outlet``, ``url``) and one 0/1 column per topic, named like the topic id with "-"
replaced by "_" (``foreign_campaigning`` for ``foreign-campaigning``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasks.topics.matcher import TopicSet
from tasks.topics.model import Document


class LabelsError(Exception):
    """A labelled file that cannot be read: the message names the file and line."""


@dataclass(frozen=True)
class LabelledArticle:
    id: str
    document: Document
    labels: dict[str, int]
    split: str | None = None  # the file's ``split`` column, where it has one (tune / check)


class PrecisionRecall:
    """Precision, recall and F1 from counts; an empty denominator reads as 1 (nothing to miss)."""

    true_positives: float
    false_positives: float
    false_negatives: float

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class TopicScores(PrecisionRecall):
    topic_id: str
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    true_negatives: int = 0
    false_positive_ids: list[str] = field(default_factory=list)
    false_negative_ids: list[str] = field(default_factory=list)


    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic_id,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "false_negatives": self.false_negatives,
            "true_negatives": self.true_negatives,
            "false_positive_ids": self.false_positive_ids,
            "false_negative_ids": self.false_negative_ids,
        }


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of a proportion: honest for small counts."""
    if trials <= 0:
        return (0.0, 1.0)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = p + z * z / (2 * trials)
    margin = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return (max(0.0, (centre - margin) / denominator), min(1.0, (centre + margin) / denominator))


def label_column(topic_id: str) -> str:
    return topic_id.replace("-", "_")


def read_labels(path: Path) -> list[LabelledArticle]:
    """Labelled articles from a JSONL file; :class:`LabelsError` names the bad line."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise LabelsError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelsError(f"{path}: cannot read: {exc}") from None
    articles = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelsError(f"{path}: line {number}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict) or "id" not in row:
            raise LabelsError(f"{path}: line {number}: expected an object with id, title, text")
        labels = {}
        for key, value in row.items():
            if isinstance(value, bool) or value in (0, 1) and isinstance(value, int):
                labels[key] = int(value)
        articles.append(
            LabelledArticle(
                id=str(row["id"]),
                document=Document(
                    title=str(row.get("title") or ""),
                    body=str(row.get("text") or row.get("body") or ""),
                    language=row.get("language"),
                    source=row.get("source") or row.get("outlet"),
                    url=row.get("url"),
                ),
                labels=labels,
                split=str(row["split"]) if row.get("split") is not None else None,
            )
        )
    return articles


def evaluate(topic_set: TopicSet, articles: list[LabelledArticle]) -> list[TopicScores]:
    """Scores for every topic that has a label column in the file."""
    columns = {t.id: label_column(t.id) for t in topic_set.topics}
    scored = [t for t in topic_set.topics if any(columns[t.id] in a.labels for a in articles)]
    scores = {t.id: TopicScores(t.id) for t in scored}
    for article in articles:
        fired = {m.topic_id for m in topic_set.match(article.document)}
        for topic in scored:
            label = article.labels.get(columns[topic.id])
            if label is None:
                continue
            s = scores[topic.id]
            if topic.id in fired and label:
                s.true_positives += 1
            elif topic.id in fired:
                s.false_positives += 1
                s.false_positive_ids.append(article.id)
            elif label:
                s.false_negatives += 1
                s.false_negative_ids.append(article.id)
            else:
                s.true_negatives += 1
    return [scores[t.id] for t in scored]


def render_scores(scores: list[TopicScores]) -> str:
    lines = [f"{'topic':<24} {'precision':>9} {'recall':>7} {'F1':>6}  tp  fp  fn   tn"]
    for s in scores:
        lines.append(
            f"{s.topic_id:<24} {s.precision:>9.3f} {s.recall:>7.3f} {s.f1:>6.3f}"
            f" {s.true_positives:>3} {s.false_positives:>3} {s.false_negatives:>3} {s.true_negatives:>4}"
        )
    for s in scores:
        if s.false_positive_ids:
            lines.append(f"{s.topic_id} false positives: {', '.join(s.false_positive_ids)}")
        if s.false_negative_ids:
            lines.append(f"{s.topic_id} missed: {', '.join(s.false_negative_ids)}")
    return "\n".join(lines)


def feedback_report(counts: list[Any]) -> list[dict[str, Any]]:
    """Precision per topic from the desk's verdicts (``storage.feedback.TopicFeedback``),
    with its 95 % Wilson interval: a handful of verdicts is a wide interval, said so."""
    report = []
    for topic in counts:
        row = topic.to_dict()
        low, high = wilson_interval(topic.relevant, topic.judged) if topic.judged else (None, None)
        row["precision_95"] = [round(low, 4), round(high, 4)] if low is not None and high is not None else None
        report.append(row)
    return report


def render_feedback(report: list[dict[str, Any]]) -> str:
    lines = [f"{'topic':<24} {'precision':>9} {'95% interval':>13} {'relevant':>8} {'not relevant':>12} {'without verdict':>15}"]
    for row in report:
        precision = f"{row['precision']:.3f}" if row["precision"] is not None else "–"
        interval = "{:.2f}–{:.2f}".format(*row["precision_95"]) if row["precision_95"] else "–"
        lines.append(
            f"{row['topic']:<24} {precision:>9} {interval:>13} {row['relevant']:>8}"
            f" {row['not_relevant']:>12} {row['without_verdict']:>15}"
        )
    return "\n".join(lines)


def feedback_label_rows(topic_id: str, judged: list[Any]) -> list[dict[str, Any]]:
    """Judged articles (``storage.feedback.JudgedArticle``) as rows of the dev set's JSONL
    format, labelled 0/1 in the topic's column: ``topics train --labels`` reads them."""
    from storage.serialize import article_published, iso, outlet_name

    column = label_column(topic_id)
    rows = []
    for item in judged:
        article = item.article
        rows.append({
            "id": f"article-{article.id}",
            "title": article.title or "",
            "text": article.text or "",
            "outlet": outlet_name(article),
            "published": iso(article_published(article)[0]),
            "url": article.url,
            "language": article.language,
            column: 1 if item.relevant else 0,
            "rationale": "; ".join(item.notes) or None,
            "alert_id": item.alert_id,
        })
    return rows
