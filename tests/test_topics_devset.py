"""The shipped topics on the labelled development set (skipped where the set is absent).

The set is read from ../shared beside the checkout and never copied into the project.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.topics import Document, load_topics
from tasks.topics.evaluation import evaluate, read_labels

DEV_SET = Path(__file__).resolve().parents[2] / "shared" / "data" / "topics-dev"

pytestmark = pytest.mark.skipif(
    not (DEV_SET / "articles.jsonl").exists(), reason="no labelled development set beside the checkout"
)


def test_shipped_topics_meet_the_floors_on_the_dev_set() -> None:
    scores = {s.topic_id: s for s in evaluate(load_topics(None), read_labels(DEV_SET / "articles.jsonl"))}
    assert set(scores) == {"foreign-campaigning", "uk-us-relations"}
    for score in scores.values():
        assert score.precision >= 0.90, score.to_dict()
        assert score.recall >= 0.85, score.to_dict()


def test_the_seed_article_matches_both_topics() -> None:
    seed = DEV_SET / "seed-article.txt"
    if not seed.exists():
        pytest.skip("no seed article")
    title, _, body = seed.read_text(encoding="utf-8").strip().partition("\n")
    matched = {m.topic_id for m in load_topics(None).match(Document(title=title, body=body))}
    assert matched == {"foreign-campaigning", "uk-us-relations"}
