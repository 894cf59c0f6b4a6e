"""How alerts name their topics and explain their scores to readers.

One implementation of ``storage.serialize.TopicLabels`` for the CLI, the web app and the
messages: topics by their names (the id when the config no longer has the topic), and
the score against the threshold in words (:func:`describe_score`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tasks.topics.loader import Topic
from tasks.topics.scoring import describe_score


class TopicLabels:
    """The configured topics, looked up by id for what readers see of an alert."""

    def __init__(self, topics: Iterable[Topic]) -> None:
        self._topics = {t.id: t for t in topics}

    def get(self, topic_id: str) -> Topic | None:
        return self._topics.get(topic_id)

    def name(self, topic_id: str) -> str:
        topic = self._topics.get(topic_id)
        return (topic.name or topic_id) if topic is not None else topic_id

    def threshold(self, topic_id: str, stored: float | None) -> float | None:
        """The threshold an alert was raised against: the one stored with it.

        Alerts stored before thresholds were kept read the topic's current one.
        """
        if stored is not None:
            return stored
        topic = self._topics.get(topic_id)
        return topic.rules_threshold if topic is not None else None

    def explain(self, topic_id: str, score: float, stored_threshold: float | None) -> str:
        threshold = self.threshold(topic_id, stored_threshold)
        if threshold is None:
            return f"score {round(score, 1):g}; threshold unknown (topic {topic_id!r} is not configured)"
        return describe_score(score, threshold)

    def fields(self, topic_id: str, score: float, threshold: float | None) -> dict[str, Any]:
        """``topic_name``, ``threshold`` and ``score_explained`` for an alert's JSON."""
        return {
            "topic_name": self.name(topic_id),
            "threshold": self.threshold(topic_id, threshold),
            "score_explained": self.explain(topic_id, score, threshold),
        }
