"""Honest figures for the shipped topics on the labelled development set.

    .venv/bin/python scripts/eval_topics.py [--labels FILE] [--json] [--min-precision 0.8] [--min-recall 0.75]

For each topic it prints, with 95 % intervals:

- the rules alone on ``tune`` and on ``check``;
- the rules with a learned layer trained the way the shipped layer was (the settings its
  file records): nested cross-validation over ``tune`` (the figure to choose by), then
  ``check`` scored once by a layer trained on ``tune`` alone (the figure that confirms);
- 5-fold cross-validation over the whole file: what the shipped layer, trained on all of
  it, can be expected to do on news it has not seen;
- the shipped topic on the whole file, marked as trained-on (a regression guard, never a
  result).

The set lives beside the checkout (../shared/data/topics-dev/articles.jsonl) and is never
copied into the project; without it the script says so and exits 0. It exits 1 when a
topic's cross-validated precision or recall over the whole file falls below a floor, or
the seed article stops matching both topics.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tasks.topics import Document, load_topics  # noqa: E402
from tasks.topics.evaluation import LabelsError, evaluate, read_labels  # noqa: E402
from tasks.topics.training import (  # noqa: E402
    TrainingSettings,
    cross_validate,
    examples,
    layer_figures,
    rules_figures,
    train_layer,
)

DEV_SET = ROOT.parent / "shared" / "data" / "topics-dev"
TARGET_PRECISION, TARGET_RECALL = 0.92, 0.88


def line(name: str, figures: dict[str, Any]) -> str:
    p_low, p_high = figures["precision_95"]
    r_low, r_high = figures["recall_95"]
    counts = f"tp {figures['true_positives']:g} fp {figures['false_positives']:g} fn {figures['false_negatives']:g}"
    return (
        f"  {name:<44} P {figures['precision']:.3f} [{p_low:.2f}–{p_high:.2f}]"
        f"  R {figures['recall']:.3f} [{r_low:.2f}–{r_high:.2f}]  F1 {figures['f1']:.3f}  ({counts})"
    )


def topic_report(topic: Any, articles: list[Any]) -> dict[str, Any]:
    tune = [a for a in articles if a.split == "tune"]
    check = [a for a in articles if a.split == "check"]
    rules_topic = replace(topic, learned=None)
    report: dict[str, Any] = {"topic": topic.id, "version": topic.version}
    tune_data, check_data, all_data = examples(rules_topic, tune), examples(rules_topic, check), examples(rules_topic, articles)
    report["rules_alone_tune"] = rules_figures(rules_topic, tune_data).to_dict()
    report["rules_alone_check"] = rules_figures(rules_topic, check_data).to_dict()
    if topic.learned is None:
        return report
    settings = TrainingSettings(**topic.learned.training.get("settings", {}))
    report["settings"] = settings.to_dict()
    report["learned_nested_cv_tune"] = cross_validate(rules_topic, tune_data, settings).to_dict()
    on_tune = train_layer(rules_topic, tune_data, settings)
    report["learned_check_once"] = layer_figures(on_tune, rules_topic, check_data).to_dict()
    report["learned_cv_whole_file"] = cross_validate(rules_topic, all_data, settings).to_dict()
    report["shipped_on_whole_file_trained_on"] = layer_figures(topic.learned, rules_topic, all_data).to_dict()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, default=DEV_SET / "articles.jsonl")
    parser.add_argument("--seed", type=Path, default=DEV_SET / "seed-article.txt")
    parser.add_argument("--min-precision", type=float, default=0.70, help="floor on cross-validated precision (a regression guard)")
    parser.add_argument("--min-recall", type=float, default=0.70, help="floor on cross-validated recall (a regression guard)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    if not args.labels.exists():
        print(f"skipped: no labelled set at {args.labels}")
        return 0
    topics = load_topics(None)
    try:
        articles = read_labels(args.labels)
    except LabelsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not any(a.split == "check" for a in articles):
        print(f"error: {args.labels} has no split column with tune and check rows", file=sys.stderr)
        return 2

    reports = [topic_report(topic, articles) for topic in topics.topics]
    failures = []
    for report in reports:
        cv = report.get("learned_cv_whole_file")
        if cv is None:
            continue
        if cv["precision"] < args.min_precision:
            failures.append(f"{report['topic']}: cross-validated precision {cv['precision']:.3f} < {args.min_precision}")
        if cv["recall"] < args.min_recall:
            failures.append(f"{report['topic']}: cross-validated recall {cv['recall']:.3f} < {args.min_recall}")

    seed_topics: list[str] = []
    if args.seed.exists():
        title, _, body = args.seed.read_text(encoding="utf-8").strip().partition("\n")
        seed_topics = sorted(m.topic_id for m in topics.match(Document(title=title, body=body)))
        missing = sorted({t.id for t in topics.topics} - set(seed_topics))
        if missing:
            failures.append(f"the seed article does not match: {', '.join(missing)}")
    whole = {s.topic_id: s.to_dict() for s in evaluate(topics, articles)}

    if args.json:
        print(json.dumps({"articles": len(articles), "topics": reports, "seed_matches": seed_topics,
                          "shipped_whole_file": whole, "failures": failures}, indent=2))
        return 1 if failures else 0
    print(f"{len(articles)} labelled articles from {args.labels}"
          f" ({sum(a.split == 'tune' for a in articles)} tune, {sum(a.split == 'check' for a in articles)} check)")
    names = {
        "rules_alone_tune": "rules alone, tune",
        "rules_alone_check": "rules alone, check",
        "learned_nested_cv_tune": "with learned layer, nested 5-fold CV on tune",
        "learned_check_once": "with learned layer trained on tune, check",
        "learned_cv_whole_file": "with learned layer, 5-fold CV whole file",
        "shipped_on_whole_file_trained_on": "shipped, whole file (trained on; not a result)",
    }
    for report in reports:
        print(f"\n{report['topic']} (version {report['version']})")
        for key, name in names.items():
            if key in report:
                print(line(name, report[key]))
        cv = report.get("learned_cv_whole_file")
        if cv:
            met = cv["precision"] >= TARGET_PRECISION and cv["recall"] >= TARGET_RECALL
            print(f"  target P ≥ {TARGET_PRECISION}, R ≥ {TARGET_RECALL} (cross-validated): {'met' if met else 'not met'}")
    if args.seed.exists():
        print(f"\nseed article matches: {', '.join(seed_topics) or 'nothing'}")
    for failure in failures:
        print(f"BELOW FLOOR: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
