"""Evaluate story clustering on the written evaluation set; exit non-zero below the floors.

    .venv/bin/python scripts/eval_stories.py            # figures at the configured thresholds
    .venv/bin/python scripts/eval_stories.py --sweep    # and a grid of thresholds
    .venv/bin/python scripts/eval_stories.py --duplicate-threshold 0.7 --story-threshold 0.3

Each item goes through what the pipeline does: the store (one article per canonical URL or
URL key), then ``tasks.stories.assign.assign_story`` on a real SQLite database, in publication
order. Figures, pairwise over items:

- copies: pairs of the same event among originals, syndicated copies and URL variants —
  recall (put in one story) and precision of all "same story" decisions;
- retellings: pairs of the same event where one side was written independently (recall);
- distinct same-subject pairs kept apart (different events, one subject);
- alerts per true story: how many stories each event produced (1 is one alert per topic).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from stories_evalset import EvalItem, load_items  # noqa: E402

from config.settings import StoriesConfig  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.models import Article, Base, StoryIndexArticle  # noqa: E402
from tasks.stories.assign import assign_story  # noqa: E402
from tasks.stories.fingerprint import TextSignature, duplicate_similarity  # noqa: E402
from tasks.stories.terms import cosine  # noqa: E402
from tasks.urls import canonical_url, story_url_key  # noqa: E402

FLOORS = {"copies_precision": 0.98, "copies_recall": 0.95, "distinct_apart": 0.95}


@dataclass
class Run:
    items: list[EvalItem]
    story_of: dict[str, int]  # item id -> predicted story id
    article_of: dict[str, int]  # item id -> article id
    reasons: Counter[str]
    features: dict[int, tuple[TextSignature, dict[str, float]]]  # article id -> index features


def run(items: list[EvalItem], settings: StoriesConfig) -> Run:
    """Store and cluster every item in publication order on a fresh SQLite database."""
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'eval.db'}")
        Base.metadata.create_all(engine)
        story_of: dict[str, int] = {}
        article_of: dict[str, int] = {}
        reasons: Counter[str] = Counter()
        with Session(engine) as session:
            for item in items:
                fetched = item.published_at + timedelta(minutes=10)
                article = _store(session, item, fetched)
                if article.story_id is None:
                    assignment = assign_story(session, article, fetched, settings)
                    reasons[assignment.reason.split(" (")[0].split(" of article")[0].split(" as article")[0]] += 1
                else:
                    reasons["same article (merged by the store)"] += 1
                story_of[item.item_id] = article.story_id  # type: ignore[assignment]
                article_of[item.item_id] = article.id
            session.commit()
            features = {
                row.article_id: (TextSignature.from_bytes(row.signature, row.shingle_count), dict(row.terms))
                for row in session.scalars(select(StoryIndexArticle))
            }
        engine.dispose()
    return Run(items, story_of, article_of, reasons, features)


def _store(session: Session, item: EvalItem, fetched) -> Article:  # noqa: ANN001
    """What the article store does: one article per canonical URL or URL key."""
    canonical, key = canonical_url(item.url), story_url_key(item.url)
    existing = session.scalar(
        select(Article).where((Article.canonical_url == canonical) | (Article.url_key == key)).limit(1)
    )
    if existing is not None:
        return existing
    article = Article(
        canonical_url=canonical, url=item.url, url_key=key, final_url=item.final_url, status="fetched",
        title=item.title, text=item.text, published_at=item.published_at, fetched_at=fetched,
        created_at=fetched, updated_at=fetched,
    )
    session.add(article)
    session.flush()
    return article


@dataclass
class Figures:
    copies_precision: float
    copies_recall: float
    retelling_recall: float
    distinct_apart: float
    overall_precision: float
    alerts_per_story: Counter[int]
    counts: dict[str, int]


def measure(result: Run) -> Figures:
    tp = fp = 0
    copy_pairs = copy_joined = 0
    retell_pairs = retell_joined = 0
    distinct_pairs = distinct_apart = 0
    copy_fp = copy_tp = 0
    for a, b in combinations(result.items, 2):
        predicted = result.story_of[a.item_id] == result.story_of[b.item_id]
        same = a.story == b.story
        both_copies = a.is_copy and b.is_copy
        if predicted:
            tp += same
            fp += not same
            if both_copies:
                copy_tp += same
                copy_fp += not same
        if same and both_copies:
            copy_pairs += 1
            copy_joined += predicted
        elif same:
            retell_pairs += 1
            retell_joined += predicted
        elif a.subject == b.subject:
            distinct_pairs += 1
            distinct_apart += not predicted
    stories_per_event: dict[str, set[int]] = defaultdict(set)
    for item in result.items:
        stories_per_event[item.story].add(result.story_of[item.item_id])
    return Figures(
        copies_precision=copy_tp / max(copy_tp + copy_fp, 1),
        copies_recall=copy_joined / max(copy_pairs, 1),
        retelling_recall=retell_joined / max(retell_pairs, 1),
        distinct_apart=distinct_apart / max(distinct_pairs, 1),
        overall_precision=tp / max(tp + fp, 1),
        alerts_per_story=Counter(len(s) for s in stories_per_event.values()),
        counts={"copy_pairs": copy_pairs, "retelling_pairs": retell_pairs, "distinct_pairs": distinct_pairs,
                "predicted_same_pairs": tp + fp},
    )


def similarity_table(result: Run) -> dict[str, list[tuple[float, float]]]:
    """(duplicate similarity, story cosine) of article pairs, by what the pair truly is."""
    by_article: dict[int, EvalItem] = {}
    for item in result.items:
        by_article.setdefault(result.article_of[item.item_id], item)
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for (ia, a), (ib, b) in combinations(sorted(by_article.items(), key=lambda kv: kv[0]), 2):
        sig_a, vec_a = result.features[ia]
        sig_b, vec_b = result.features[ib]
        pair = (duplicate_similarity(sig_a, sig_b), cosine(vec_a, vec_b)[0])
        if a.story == b.story:
            groups["copy" if a.is_copy and b.is_copy else "retelling"].append(pair)
        elif a.subject == b.subject:
            groups["distinct same subject"].append(pair)
        else:
            groups["different subject"].append(pair)
    return groups


def _quantiles(values: list[float]) -> str:
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1)))]  # noqa: E731
    return (f"min {ordered[0]:.2f}  p05 {pick(0.05):.2f}  median {statistics.median(ordered):.2f}  "
            f"p95 {pick(0.95):.2f}  max {ordered[-1]:.2f}")


def report(figures: Figures, result: Run, settings: StoriesConfig) -> None:
    items = result.items
    print(f"evaluation set: {len(items)} items, {len({i.story for i in items})} true stories, "
          f"{len({i.subject for i in items})} subjects, {len(set(result.article_of.values()))} stored articles")
    print(f"thresholds: duplicate {settings.duplicate_threshold}, story {settings.story_threshold}, "
          f"window {settings.window_hours:g} h")
    print(f"copies:     precision {figures.copies_precision:.4f}  recall {figures.copies_recall:.4f}  "
          f"({figures.counts['copy_pairs']} same-event copy pairs)")
    print(f"retellings: recall {figures.retelling_recall:.4f}  ({figures.counts['retelling_pairs']} pairs)")
    print(f"all pairs:  precision {figures.overall_precision:.4f}  "
          f"({figures.counts['predicted_same_pairs']} pairs put in one story)")
    print(f"distinct same-subject pairs kept apart: {figures.distinct_apart:.4f}  "
          f"({figures.counts['distinct_pairs']} pairs)")
    spread = ", ".join(f"{n} stor{'y' if n == 1 else 'ies'}: {c}" for n, c in sorted(figures.alerts_per_story.items()))
    print(f"stories (alerts per topic) produced per true story: {spread}")
    print("decisions: " + ", ".join(f"{reason}: {count}" for reason, count in result.reasons.most_common()))


def report_similarities(result: Run) -> None:
    print("pairwise similarities of stored articles (duplicate = body containment; story = cosine):")
    for group, pairs in sorted(similarity_table(result).items()):
        print(f"  {group:22s} n={len(pairs):5d}  duplicate {_quantiles([p[0] for p in pairs])}")
        print(f"  {'':22s} {'':7s}  story     {_quantiles([p[1] for p in pairs])}")
    table = similarity_table(result)
    copies = [p[0] for p in table["copy"]]
    others = [p[0] for g, pairs in table.items() if g != "copy" for p in pairs]
    print("near-duplicate detector alone (share of stored copy pairs / of all other pairs at or above):")
    for threshold in (0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        caught = sum(v >= threshold for v in copies) / max(len(copies), 1)
        false = sum(v >= threshold for v in others)
        print(f"  duplicate_threshold {threshold:.1f}: copies {caught:.3f}, other pairs {false}/{len(others)}")


def sweep(items: list[EvalItem], base: StoriesConfig) -> None:
    print("\nthreshold sweep (copies precision / recall, retelling recall, distinct kept apart):")
    for duplicate in (0.5, 0.6, 0.7, 0.8, 0.9):
        for story in (0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
            settings = base.model_copy(update={"duplicate_threshold": duplicate, "story_threshold": story})
            f = measure(run(items, settings))
            print(f"  duplicate {duplicate:.2f} story {story:.2f}:  {f.copies_precision:.3f} / "
                  f"{f.copies_recall:.3f}  retell {f.retelling_recall:.3f}  apart {f.distinct_apart:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duplicate-threshold", type=float)
    parser.add_argument("--story-threshold", type=float)
    parser.add_argument("--window-hours", type=float)
    parser.add_argument("--sweep", action="store_true", help="also print a grid of thresholds")
    parser.add_argument("--similarities", action="store_true", help="print pairwise similarity quantiles")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in {"duplicate_threshold": args.duplicate_threshold,
                                   "story_threshold": args.story_threshold,
                                   "window_hours": args.window_hours}.items() if v is not None}
    try:
        settings = StoriesConfig(**overrides)
    except ValueError as exc:
        print(f"invalid threshold: {exc}", file=sys.stderr)
        return 2
    items = load_items()
    result = run(items, settings)
    figures = measure(result)
    report(figures, result, settings)
    if args.similarities:
        report_similarities(result)
    if args.sweep:
        sweep(items, settings)
    failed = [f"{name} {getattr(figures, name):.4f} < {floor}" for name, floor in FLOORS.items()
              if getattr(figures, name) < floor]
    if failed:
        print("BELOW FLOOR: " + "; ".join(failed), file=sys.stderr)
        return 1
    print("all floors met: " + ", ".join(f"{k} >= {v}" for k, v in FLOORS.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
