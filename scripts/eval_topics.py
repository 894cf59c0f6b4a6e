"""Precision, recall and F1 of the shipped topics on the labelled development set.

    .venv/bin/python scripts/eval_topics.py [--labels FILE] [--min-precision 0.9] [--min-recall 0.85] [--json]

The set lives beside the checkout (../shared/data/topics-dev/articles.jsonl) and is never
copied into the project; without it the script says so and exits 0. It exits 1 when any
topic falls below a floor, and also checks that the seed article matches both topics.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tasks.topics import Document, load_topics  # noqa: E402
from tasks.topics.evaluation import LabelsError, evaluate, read_labels, render_scores  # noqa: E402

DEV_SET = ROOT.parent / "shared" / "data" / "topics-dev"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, default=DEV_SET / "articles.jsonl")
    parser.add_argument("--seed", type=Path, default=DEV_SET / "seed-article.txt")
    parser.add_argument("--min-precision", type=float, default=0.90)
    parser.add_argument("--min-recall", type=float, default=0.85)
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
    scores = evaluate(topics, articles)
    failures = [
        f"{s.topic_id}: precision {s.precision:.3f} < {args.min_precision}" for s in scores if s.precision < args.min_precision
    ] + [f"{s.topic_id}: recall {s.recall:.3f} < {args.min_recall}" for s in scores if s.recall < args.min_recall]

    seed_topics: list[str] = []
    if args.seed.exists():
        title, _, body = args.seed.read_text(encoding="utf-8").strip().partition("\n")
        seed_topics = sorted(m.topic_id for m in topics.match(Document(title=title, body=body)))
        missing = sorted({t.id for t in topics.topics} - set(seed_topics))
        if missing:
            failures.append(f"the seed article does not match: {', '.join(missing)}")

    if args.json:
        print(json.dumps({"articles": len(articles), "topics": [s.to_dict() for s in scores],
                          "seed_matches": seed_topics, "failures": failures}, indent=2))
    else:
        print(f"{len(articles)} labelled articles from {args.labels}")
        print(render_scores(scores))
        if args.seed.exists():
            print(f"seed article matches: {', '.join(seed_topics) or 'nothing'}")
        for failure in failures:
            print(f"BELOW FLOOR: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
