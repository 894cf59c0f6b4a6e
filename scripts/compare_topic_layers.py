"""Compare learned layers for the shipped topics under one protocol, and say which to ship.

    .venv/bin/python scripts/compare_topic_layers.py [--labels FILE] [--topic ID] [--json FILE]

Variants (each a layer in the learned-layer JSON format, so any of them can ship):

- ``A`` the shipped layer's settings: named, interpretable features only;
- ``B`` a plain text model: TF-IDF of words and word pairs (headline three times, the
  body's first 4,000 characters), logistic regression with balanced class weights
  (C = 1), used as a veto on the rules' candidates, its threshold chosen by inner CV;
- ``B-all`` the same model vetoing every rule match, decisive rules included (the recipe
  measured on unseen news in ../shared/notes/topic-precision.md; for reference only:
  shipping it would mean dropping the topics' decisive rules);
- ``C-joint`` the named features and the words in one model (the shipped settings with
  words on, threshold chosen by inner CV);
- ``C-mean`` A and B averaged in log-odds (one layer: both weight sets halved), the
  threshold chosen by inner CV on the averaged probability.

Protocol: nested cross-validation inside ``tune`` (5 folds, 3 repeats; every threshold
chosen inside the training folds) is the figure the decision reads; 5-fold CV over the
whole file is a second view. The decision rule is fixed here, before ``check`` is read:
the best nested-CV F1 on ``tune``; a variant earlier in :data:`SIMPLER_FIRST` within
:data:`TIE` of the best is preferred. ``check`` is then scored once, for the chosen variant
only, by a layer trained on ``tune``. The set lives beside the checkout; without it the
script says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tasks.topics import load_topics  # noqa: E402
from tasks.topics.evaluation import read_labels  # noqa: E402
from tasks.topics.learned import FeatureWeight, LearnedLayer  # noqa: E402
from tasks.topics.loader import Topic  # noqa: E402
from tasks.topics.training import (  # noqa: E402
    Example,
    Figures,
    TrainingSettings,
    best_threshold,
    examples,
    layer_figures,
    layer_probability,
    stratified_folds,
    train_layer,
)

DEV_SET = ROOT.parent / "shared" / "data" / "topics-dev" / "articles.jsonl"
SIMPLER_FIRST = ("A", "B", "C-joint", "C-mean")  # B-all is reference only: never chosen
TIE = 0.01
FOLDS, REPEATS = 5, 3
# The note's recipe in our own code: words and word pairs, C = 1, balanced classes.
WORD_MODEL = TrainingSettings(
    named_features=False, words=True, word_scale=1.0, regularisation=1.0, threshold=None,
    min_document_frequency=2, max_vocabulary=20000,
)

Trainer = Callable[[Topic, Sequence[Example], int], LearnedLayer]


@dataclass(frozen=True)
class Variant:
    name: str
    train: Trainer
    veto_decisive: bool = False  # the layer vetoes decisive rules too (B-all)


def with_settings(settings: TrainingSettings) -> Trainer:
    return lambda topic, train, seed: train_layer(topic, train, replace(settings, seed=seed))


def averaged(first: LearnedLayer, second: LearnedLayer, threshold: float) -> LearnedLayer:
    """One layer whose log-odds are the mean of two layers' log-odds."""
    features = {
        name: FeatureWeight(fw.mean, fw.scale, round(fw.weight / 2, 6))
        for layer in (first, second) for name, fw in layer.features.items()
    }
    words = {w: (idf, round(weight / 2, 6)) for layer in (first, second) for w, (idf, weight) in layer.words.items()}
    return LearnedLayer(
        topic_id=first.topic_id, threshold=round(threshold, 6),
        intercept=round((first.intercept + second.intercept) / 2, 6), consult_from=first.consult_from,
        features=features, words=words,
        training={"settings": {"mean_of": [first.training["settings"], second.training["settings"]]}},
        created_at=first.created_at,
    )


def mean_of(named: TrainingSettings, text: TrainingSettings) -> Trainer:
    """A and B trained apart, averaged; the threshold chosen on out-of-fold averages."""
    fixed_named, fixed_text = replace(named, threshold=0.5), replace(text, threshold=0.5)

    def train(topic: Topic, data: Sequence[Example], seed: int) -> LearnedLayer:
        folds = stratified_folds([e.label for e in data], FOLDS, seed + 1000)
        out_of_fold = np.zeros(len(data))
        for fold in range(FOLDS):
            inside = [e for e, f in zip(data, folds, strict=True) if f != fold]
            held = [i for i, f in enumerate(folds) if f == fold]
            layer = averaged(train_layer(topic, inside, fixed_named), train_layer(topic, inside, fixed_text), 0.5)
            out_of_fold[held] = [layer_probability(layer, data[i]) for i in held]
        consult_from = topic.min_score if named.consult_from is None else named.consult_from
        threshold = best_threshold(
            out_of_fold, np.array([e.label for e in data]),
            np.array([e.candidate(consult_from) for e in data]),
            np.array([e.eligible and e.decided for e in data]),
        )
        return averaged(train_layer(topic, data, fixed_named), train_layer(topic, data, fixed_text), threshold)

    return train


def variants(shipped: TrainingSettings) -> list[Variant]:
    return [
        Variant("A", with_settings(shipped)),
        Variant("B", with_settings(WORD_MODEL)),
        Variant("B-all", with_settings(WORD_MODEL), veto_decisive=True),
        Variant("C-joint", with_settings(replace(shipped, words=True, threshold=None))),
        Variant("C-mean", mean_of(shipped, WORD_MODEL)),
    ]


def prepared(data: Sequence[Example], variant: Variant) -> list[Example]:
    return [replace(e, decided=False) for e in data] if variant.veto_decisive else list(data)


def cross_validated(topic: Topic, data: Sequence[Example], variant: Variant) -> Figures:
    """Pooled out-of-fold figures; every choice (threshold included) made inside training folds."""
    data = prepared(data, variant)
    figures = Figures(runs=REPEATS)
    for repeat in range(REPEATS):
        folds = stratified_folds([e.label for e in data], FOLDS, repeat)
        for fold in range(FOLDS):
            train = [e for e, f in zip(data, folds, strict=True) if f != fold]
            test = [e for e, f in zip(data, folds, strict=True) if f == fold]
            held = layer_figures(variant.train(topic, train, repeat), topic, test)
            figures.true_positives += held.true_positives
            figures.false_positives += held.false_positives
            figures.false_negatives += held.false_negatives
    return figures


def choose(nested_f1: dict[str, float]) -> str:
    """The decision rule, fixed before check is read."""
    best = max(nested_f1[name] for name in SIMPLER_FIRST)
    return next(name for name in SIMPLER_FIRST if nested_f1[name] >= best - TIE)


def line(name: str, figures: dict[str, Any]) -> str:
    p_low, p_high = figures["precision_95"]
    r_low, r_high = figures["recall_95"]
    counts = f"tp {figures['true_positives']:g} fp {figures['false_positives']:g} fn {figures['false_negatives']:g}"
    return (
        f"  {name:<34} P {figures['precision']:.3f} [{p_low:.2f}–{p_high:.2f}]"
        f"  R {figures['recall']:.3f} [{r_low:.2f}–{r_high:.2f}]  F1 {figures['f1']:.3f}  ({counts})"
    )


def compare(topic: Topic, articles: list[Any], whole_file: bool) -> dict[str, Any]:
    shipped = TrainingSettings(**topic.learned.training["settings"]) if topic.learned else TrainingSettings()
    rules_topic = replace(topic, learned=None)
    tune = examples(rules_topic, [a for a in articles if a.split == "tune"])
    report: dict[str, Any] = {"topic": topic.id, "nested_cv_tune": {}, "cv_whole_file": {}}
    print(f"\n{topic.id}: {len(tune)} tune articles, {sum(e.label for e in tune)} relevant", flush=True)
    for variant in variants(shipped):
        started = time.monotonic()
        figures = cross_validated(rules_topic, tune, variant).to_dict()
        report["nested_cv_tune"][variant.name] = figures
        print(line(f"{variant.name}, nested CV on tune", figures) + f"  {time.monotonic() - started:.0f}s", flush=True)
    chosen = choose({name: f["f1"] for name, f in report["nested_cv_tune"].items()})
    report["chosen"] = chosen
    print(f"  chosen by the rule (best nested-CV F1 on tune, simpler first within {TIE}): {chosen}", flush=True)
    every = examples(rules_topic, articles)
    for variant in variants(shipped):
        if whole_file or variant.name == chosen:
            figures = cross_validated(rules_topic, every, variant).to_dict()
            report["cv_whole_file"][variant.name] = figures
            print(line(f"{variant.name}, 5-fold CV whole file", figures), flush=True)
    check = examples(rules_topic, [a for a in articles if a.split == "check"])
    variant = next(v for v in variants(shipped) if v.name == chosen)
    layer = variant.train(rules_topic, prepared(tune, variant), 0)
    report["check_once"] = {chosen: layer_figures(layer, rules_topic, prepared(check, variant)).to_dict()}
    print(line(f"{chosen}, trained on tune, check once", report["check_once"][chosen]), flush=True)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, default=DEV_SET)
    parser.add_argument("--topic", action="append", help="only this topic (repeatable); default: every shipped topic")
    parser.add_argument("--no-whole-file", action="store_true", help="whole-file CV for the chosen variant only")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if not args.labels.exists():
        print(f"skipped: no labelled set at {args.labels}")
        return 0
    articles = read_labels(args.labels)
    topics = load_topics(None)
    wanted = args.topic or [t.id for t in topics.topics]
    unknown = sorted(set(wanted) - {t.id for t in topics.topics})
    if unknown:
        print(f"error: unknown topic {unknown[0]!r}; the shipped topics are"
              f" {', '.join(t.id for t in topics.topics)}", file=sys.stderr)
        return 2
    reports = [compare(topics.get(topic_id), articles, not args.no_whole_file) for topic_id in wanted]
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
