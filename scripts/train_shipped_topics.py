"""Rebuild the shipped topics' learned layers from the labelled development set.

    .venv/bin/python scripts/train_shipped_topics.py [--labels FILE]

The settings below were chosen by nested cross-validation on the set's ``tune`` split
alone (docs/topics.md gives the figures); they are frozen here, and the layers are then
trained on the whole file so that the shipped layers learn from every labelled article.
``scripts/eval_topics.py`` reports what to expect of them on unseen news. The set lives
beside the checkout and is never copied into the project; without it this script says so.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tasks.topics import load_topics  # noqa: E402
from tasks.topics.evaluation import read_labels  # noqa: E402
from tasks.topics.matcher import shipped_topics_dir  # noqa: E402
from tasks.topics.training import (  # noqa: E402
    TrainingSettings,
    cross_validate,
    examples,
    rules_figures,
    train_layer,
)

DEV_SET = ROOT.parent / "shared" / "data" / "topics-dev" / "articles.jsonl"

# Chosen on `tune` (nested 5-fold CV, 3 repeats): see docs/topics.md.
SETTINGS = {
    "foreign-campaigning": TrainingSettings(regularisation=0.03, threshold=None),
    "uk-us-relations": TrainingSettings(regularisation=0.1, threshold=0.5),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, default=DEV_SET)
    args = parser.parse_args()
    if not args.labels.exists():
        print(f"skipped: no labelled set at {args.labels}")
        return 0
    articles = read_labels(args.labels)
    topics = load_topics(None)
    for topic_id, settings in SETTINGS.items():
        topic = replace(topics.get(topic_id), learned=None)
        data = examples(topic, articles)
        figures = cross_validate(topic, data, settings)
        record = {
            "labels": [f"{args.labels.name} (every row: settings chosen on its tune split)"],
            "figures": {"cross_validated": figures.to_dict(), "rules_alone": rules_figures(topic, data).to_dict()},
            "forced": False,
        }
        layer = train_layer(topic, data, settings, record)
        target = shipped_topics_dir() / f"{topic_id}.learned.json"
        layer.write(target)
        print(f"{topic_id}: wrote {target.name} v{layer.version}; cross-validated precision"
              f" {figures.precision:.3f}, recall {figures.recall:.3f}, threshold {layer.threshold:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
