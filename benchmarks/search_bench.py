"""Benchmark: full-text search over alerts, its write cost and its query time.

    .venv/bin/python benchmarks/search_bench.py                      # 2,000 alerts on SQLite
    .venv/bin/python benchmarks/search_bench.py --alerts 10000 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Builds N alerts through the real write path (``record_matches``: one new story of one
article, then two more articles joining it; 600-word synthetic bodies over a Zipf
vocabulary), timing the search indexing inside it, then times the alerts list's first
page (50 alerts, with its count) for searches of different shapes, median of 15 runs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

import storage.alerts  # noqa: E402
from config.settings import load_settings  # noqa: E402
from storage.alert_list import AlertQuery, count_alerts, find_alerts  # noqa: E402
from storage.db import open_database  # noqa: E402
from storage.models import Article, SearchDocument  # noqa: E402
from storage.search import parse_search  # noqa: E402
from tests.support.alerts import join_story, raise_alert  # noqa: E402

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SEARCHES = {
    "common word": "government",
    "rare word": "w4711",
    "two words": "minister tariffs",
    "phrase": '"trade talks"',
    "prefix": "negotiat*",
    "words, phrase, exclusion": 'steel "trade talks" -brexit',
}
BASE_WORDS = ["government", "minister", "tariffs", "trade", "talks", "steel", "negotiators", "brexit",
              "election", "campaign", "president", "ambassador", "summit", "deal", "london", "washington"]


def vocabulary(size: int = 30_000) -> tuple[list[str], list[float]]:
    words = BASE_WORDS + [f"w{i}" for i in range(size - len(BASE_WORDS))]
    weights = [1 / (rank + 1) ** 1.05 for rank in range(len(words))]
    return words, weights


def body(rng: random.Random, words: list[str], weights: list[float], length: int = 600) -> str:
    chosen = rng.choices(words, weights, k=length)
    return ". ".join(" ".join(chosen[i : i + 15]).capitalize() for i in range(0, length, 15)) + "."


class Timer:
    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def wrap(self, function):  # type: ignore[no-untyped-def]
        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1
        return timed


def build(url: str, alerts: int, tmp: Path) -> dict[str, float]:
    db = open_database(url, migrate=True)
    settings = load_settings(None, base_dir=tmp)
    words, weights = vocabulary()
    rng = random.Random(16)
    indexing = Timer()
    for name in ("index_article", "index_alert", "index_story_articles"):
        setattr(storage.alerts, name, indexing.wrap(getattr(storage.alerts, name)))
    start = time.perf_counter()
    for batch in range(0, alerts, 200):
        with db.session() as session:
            for n in range(batch, min(batch + 200, alerts)):
                at = NOW - timedelta(minutes=n)
                alert = raise_alert(session, settings, topic=rng.choice(["uk-us-relations", "foreign-campaigning"]),
                                    title=" ".join(rng.choices(words, weights, k=8)), text=body(rng, words, weights),
                                    evidence=" ".join(rng.choices(words, weights, k=20)), now=at, published_at=at)
                for _ in range(2):
                    join_story(session, settings, alert, title=" ".join(rng.choices(words, weights, k=8)),
                               text=body(rng, words, weights), now=at)
    total = time.perf_counter() - start
    with db.reader() as session:
        documents = session.scalar(select(func.count(SearchDocument.id))) or 0
        articles = session.scalar(select(func.count(Article.id))) or 0
    db.dispose()
    return {"write_seconds": total, "index_seconds": indexing.seconds, "articles": articles,
            "documents": documents, "index_ms_per_article": 1000 * indexing.seconds / max(articles, 1)}


def measure(url: str) -> dict[str, tuple[float, int]]:
    db = open_database(url)
    results: dict[str, tuple[float, int]] = {}
    try:
        for label, search in SEARCHES.items():
            query = AlertQuery(search=parse_search(search), limit=50)
            times = []
            for _ in range(15):
                with db.reader() as session:
                    start = time.perf_counter()
                    page = find_alerts(session, query)
                    total = count_alerts(session, query)
                    times.append(time.perf_counter() - start)
            results[label] = (1000 * statistics.median(times), total)
            assert len(page.alerts) == min(50, total)
    finally:
        db.dispose()
    return results


def report(name: str, built: dict[str, float], timings: dict[str, tuple[float, int]]) -> None:
    print(f"\n{name}: {built['articles']:.0f} articles in alerted stories, {built['documents']:.0f} search documents")
    print(f"  writing alerts and articles: {built['write_seconds']:.1f} s, of which search indexing "
          f"{built['index_seconds']:.1f} s ({built['index_ms_per_article']:.2f} ms per article)")
    print(f"  {'search':<28} {'first page + count':>18} {'alerts found':>13}")
    for label, (ms, total) in timings.items():
        print(f"  {label:<28} {ms:>15.1f} ms {total:>13}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--postgres", help="an admin URL: a scratch database is created and dropped")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        url = f"sqlite:///{tmp / 'bench.db'}"
        built = build(url, args.alerts, tmp)
        report(f"SQLite ({(tmp / 'bench.db').stat().st_size / 1e6:.0f} MB file)", built, measure(url))
        if args.postgres:
            name = f"newswatch_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                scratch = admin.url.set(database=name).render_as_string(hide_password=False)
                built = build(scratch, args.alerts, tmp)
                report("PostgreSQL", built, measure(scratch))
            finally:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()


if __name__ == "__main__":
    main()
