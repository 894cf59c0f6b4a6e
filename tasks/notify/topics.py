"""Topic names and thresholds for messages: readers see "UK–US relations", not an id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from config.settings import Settings


@dataclass(frozen=True)
class TopicInfo:
    name: str
    threshold: float | None = None  # the rules' score from which the topic alerts


TopicDirectory = dict[str, TopicInfo]


def topic_directory(settings: Settings) -> TopicDirectory:
    """The configured topics by id. A broken definition gives an empty directory: messages
    then show topic ids and bare scores rather than not being sent at all."""
    from tasks.topics import TopicDefinitionError, load_topics

    try:
        found = load_topics(settings.topics, settings.base_dir)
    except (TopicDefinitionError, OSError, ValueError):
        return {}
    return {t.id: TopicInfo(name=t.name or t.id, threshold=t.rules_threshold) for t in found.topics}


def topic_name(directory: TopicDirectory | None, topic_id: str) -> str:
    info = (directory or {}).get(topic_id)
    return info.name if info is not None and info.name else topic_id


def score_in_words(
    directory: TopicDirectory | None, topic_id: str, score: float, stored_threshold: float | None = None
) -> str:
    """"strong match: 10.5; alerts from 6" when the threshold is known, else the score.

    ``stored_threshold`` is the one the alert was raised against (kept with it): a topic
    edited since must not make an alert that fired read "below the threshold".
    """
    from tasks.topics.scoring import describe_score

    info: Any = (directory or {}).get(topic_id)
    threshold = stored_threshold if stored_threshold is not None else getattr(info, "threshold", None)
    if threshold is None:
        return f"score {score:.1f}"
    return describe_score(score, threshold)
