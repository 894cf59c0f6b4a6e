"""The shipped topics on the labelled development set (skipped where the set is absent).

The set is read from ../shared beside the checkout and never copied into the project.
The honest figures (nested cross-validation, the check split scored once) come from
scripts/eval_topics.py; these tests guard the shipped topics against regressions.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tasks.topics import Document, load_topics
from tasks.topics.evaluation import evaluate, read_labels
from tasks.topics.training import (
    TrainingSettings,
    examples,
    layer_figures,
    rules_figures,
    train_layer,
)

DEV_SET = Path(__file__).resolve().parents[2] / "shared" / "data" / "topics-dev"

pytestmark = pytest.mark.skipif(
    not (DEV_SET / "articles.jsonl").exists(), reason="no labelled development set beside the checkout"
)


def test_shipped_topics_hold_on_the_set_their_layers_learned_from() -> None:
    # Trained on: a regression guard, not a measure of quality on unseen news.
    scores = {s.topic_id: s for s in evaluate(load_topics(None), read_labels(DEV_SET / "articles.jsonl"))}
    assert set(scores) == {"foreign-campaigning", "uk-us-relations"}
    for score in scores.values():
        assert score.precision >= 0.80, score.to_dict()
        assert score.recall >= 0.80, score.to_dict()


@pytest.mark.parametrize("topic_id", ["foreign-campaigning", "uk-us-relations"])
def test_a_layer_trained_on_tune_beats_the_rules_alone_on_check(topic_id: str) -> None:
    articles = read_labels(DEV_SET / "articles.jsonl")
    shipped = load_topics(None).get(topic_id)
    assert shipped.learned is not None
    settings = TrainingSettings(**shipped.learned.training["settings"])
    topic = replace(shipped, learned=None)
    tune = examples(topic, [a for a in articles if a.split == "tune"])
    check = examples(topic, [a for a in articles if a.split == "check"])
    layer = train_layer(topic, tune, settings)
    with_layer, rules_alone = layer_figures(layer, topic, check), rules_figures(topic, check)
    assert with_layer.f1 > rules_alone.f1, (with_layer.to_dict(), rules_alone.to_dict())
    assert with_layer.precision > rules_alone.precision


def test_the_seed_article_matches_both_topics() -> None:
    seed = DEV_SET / "seed-article.txt"
    if not seed.exists():
        pytest.skip("no seed article")
    title, _, body = seed.read_text(encoding="utf-8").strip().partition("\n")
    matched = {m.topic_id for m in load_topics(None).match(Document(title=title, body=body))}
    assert matched == {"foreign-campaigning", "uk-us-relations"}
