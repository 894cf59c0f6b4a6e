"""Benchmark: the cost of assign_story per new article with a large archive, and its memory.

    .venv/bin/python benchmarks/stories_bench.py                       # 10k and 100k on SQLite
    .venv/bin/python benchmarks/stories_bench.py --sizes 100000 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

For each archive size N it fills a fresh database with N stored, clustered articles
(synthetic, bulk-inserted: Article and Story rows and the story index exactly as
assign_story leaves them) — *all N inside the story window*, the worst case for the index
(a window normally holds a few days of articles) — then, in a fresh process, clusters new
articles one by one with ``assign_story`` the way the analyse stage does (a batch per
transaction) and prints: time per article (median, p95, mean with commits), Python memory
(tracemalloc peak during the measured phase) and peak RSS. Memory must not grow with N.

New articles are 500-word synthetic bodies over the same Zipf vocabulary as the archive;
a third of them are syndicated copies of an earlier new article, so all three decisions
(new story, near-duplicate, same story) are exercised.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from array import array
from bisect import bisect
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from config.settings import StoriesConfig  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.models import (  # noqa: E402
    Article,
    Base,
    Story,
    StoryIndexArticle,
    StoryTermCount,
)
from tasks.stories.assign import assign_story, prune_story_index  # noqa: E402
from tasks.stories.fingerprint import BANDS, SIGNATURE_SIZE  # noqa: E402
from tasks.stories.terms import DOCUMENTS_KEY, INDEX_TERMS, MAX_TERMS, term_key  # noqa: E402

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
VOCABULARY = 60_000
RAW_TERMS_PER_ARTICLE = 60
ARTICLES_PER_STORY = 3
CHUNK = 20_000


class Zipf:
    """Words w1..wN drawn with probability ~ 1/rank (the shape of real vocabularies)."""

    def __init__(self, size: int, rng: random.Random) -> None:
        self.cumulative = list(accumulate(1.0 / (rank ** 1.05) for rank in range(1, size + 1)))
        self.rng = rng

    def word(self) -> str:
        return f"w{bisect(self.cumulative, self.rng.random() * self.cumulative[-1]) + 1}"

    def words(self, count: int) -> list[str]:
        return [self.word() for _ in range(count)]


def fill(url: str, size: int, seed: int = 7) -> float:
    """Bulk-insert ``size`` stored, clustered articles with their index rows; returns seconds."""
    started = time.perf_counter()
    rng = random.Random(seed)
    zipf = Zipf(VOCABULARY, rng)
    engine = make_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    window = timedelta(hours=StoriesConfig().window_hours)
    term_counts: Counter[tuple[int, int]] = Counter()
    with engine.begin() as connection:
        story_rows = []
        stories = (size + ARTICLES_PER_STORY - 1) // ARTICLES_PER_STORY
        for story_id in range(1, stories + 1):
            at = NOW - window * rng.random()
            story_rows.append({"id": story_id, "title": f"story {story_id}", "first_seen_at": at,
                               "last_seen_at": at, "article_count": ARTICLES_PER_STORY, "membership": [],
                               "created_at": at, "updated_at": at})
        for start in range(0, len(story_rows), CHUNK):
            connection.execute(insert(Story), story_rows[start : start + CHUNK])
        for start in range(0, size, CHUNK):
            articles, index_rows, key_rows = [], [], []
            for article_id in range(start + 1, min(size, start + CHUNK) + 1):
                story_id = (article_id - 1) // ARTICLES_PER_STORY + 1
                at = NOW - window * rng.random()
                terms = zipf.words(RAW_TERMS_PER_ARTICLE)
                vector_terms = list(dict.fromkeys(terms))[:MAX_TERMS]
                vector = {t: round(rng.random(), 5) for t in vector_terms}
                signature = array("I", (rng.getrandbits(32) for _ in range(SIGNATURE_SIZE))).tobytes()
                articles.append({
                    "id": article_id, "canonical_url": f"https://site{article_id % 500}.example/a/{article_id}",
                    "url": f"https://site{article_id % 500}.example/a/{article_id}",
                    "url_key": f"site{article_id % 500}.example/a/{article_id}", "status": "fetched",
                    "title": " ".join(terms[:8]), "text": " ".join(terms), "published_at": at,
                    "fetched_at": at, "story_id": story_id, "analysed_at": at, "created_at": at, "updated_at": at,
                    "extraction_flags": [],
                })
                stamp = _stamp(at)
                index_rows.append({"article_id": article_id, "story_id": story_id, "at": stamp,
                                   "shingle_count": 400, "signature": signature, "terms": vector})
                keys = {rng.getrandbits(63) for _ in range(BANDS)}
                keys |= {term_key(t) for t in vector_terms[:INDEX_TERMS]}
                key_rows.extend((k, article_id, stamp) for k in keys)
                day = (at.date() - datetime(1970, 1, 1, tzinfo=UTC).date()).days
                for t in set(terms):
                    term_counts[(term_key(t), day)] += 1
                term_counts[(DOCUMENTS_KEY, day)] += 1
            connection.execute(insert(Article), articles)
            connection.execute(insert(StoryIndexArticle), index_rows)
            _bulk(connection, "story_index_keys", ("key", "article_id", "at"), key_rows)
        rows = [{"term_key": k, "day": d, "count": c} for (k, d), c in term_counts.items()]
        for start in range(0, len(rows), CHUNK * 5):
            connection.execute(insert(StoryTermCount), rows[start : start + CHUNK * 5])
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            # Rows were inserted with explicit ids: move the sequences past them.
            for table in ("stories", "articles"):
                connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                ))
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - started


def _stamp(moment: datetime) -> int:
    """An index time as the index stores it: whole UTC epoch seconds."""
    return int((moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())


def _bulk(connection, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:  # noqa: ANN001
    """executemany straight to the driver: millions of index rows in seconds, not minutes."""
    mark = "?" if connection.dialect.name == "sqlite" else "%s"
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(mark for _ in columns)})"
    connection.exec_driver_sql(sql, rows)


def new_articles(count: int, seed: int = 11) -> list[tuple[str, str, str]]:
    """(url, title, body) of new articles: two thirds fresh, one third copies of earlier ones."""
    rng = random.Random(seed)
    zipf = Zipf(VOCABULARY, rng)
    made: list[tuple[str, str, str]] = []
    for number in range(count):
        if made and number % 3 == 2:
            _, title, body = made[rng.randrange(len(made))]
            paragraphs = body.split("\n\n")
            copy = "\n\n".join(["By Agency Staff", *paragraphs[:-1], "Republished with permission."])
            made.append((f"https://copy{number}.example/news/{number}", "Copy: " + title, copy))
            continue
        paragraphs = []
        for _ in range(5):
            sentences = []
            for _ in range(4):
                words = zipf.words(25)
                words[0] = words[0].capitalize()
                words[rng.randrange(2, 24)] = f"Name{rng.randrange(5000)}"
                sentences.append(" ".join(words) + ".")
            paragraphs.append(" ".join(sentences))
        made.append((f"https://new{number}.example/news/{number}", " ".join(zipf.words(9)), "\n\n".join(paragraphs)))
    return made


def _cluster(engine, articles: list[tuple[str, str, str]], batch: int, first_second: int) -> tuple[list[float], list[float], float]:  # noqa: ANN001
    """Insert and cluster articles as the analyse stage does; per-article wall and CPU seconds."""
    settings = StoriesConfig()
    wall: list[float] = []
    cpu: list[float] = []
    started = time.perf_counter()
    for start in range(0, len(articles), batch):
        with Session(engine) as session:
            for offset, (link, title, body) in enumerate(articles[start : start + batch]):
                at = NOW + timedelta(seconds=first_second + start + offset)
                article = Article(canonical_url=link, url=link, url_key=link.split("//", 1)[1], status="fetched",
                                  title=title, text=body, published_at=at, fetched_at=at, created_at=at,
                                  updated_at=at)
                session.add(article)
                session.flush()
                began, began_cpu = time.perf_counter(), time.process_time()
                assign_story(session, article, at, settings)
                wall.append(time.perf_counter() - began)
                cpu.append(time.process_time() - began_cpu)
            session.commit()
    return wall, cpu, time.perf_counter() - started


def measure(url: str, count: int, batch: int) -> dict[str, float]:
    """Cluster ``count`` new articles timed, then more under tracemalloc for memory."""
    engine = make_engine(url)
    articles = new_articles(count * 2)
    timed, traced = articles[:count], [(f"{u}-m", t, b) for u, t, b in articles[count:]]
    _cluster(engine, timed[:20], batch, 0)  # warm caches and compiled statements
    wall, cpu, total = _cluster(engine, timed[20:], batch, 100)
    gc.collect()
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    _cluster(engine, traced, batch, 10_000)
    peak = tracemalloc.get_traced_memory()[1] - baseline
    tracemalloc.stop()
    engine.dispose()
    wall.sort()
    cpu.sort()
    return {
        "median_ms": statistics.median(wall) * 1000,
        "p95_ms": wall[int(0.95 * (len(wall) - 1))] * 1000,
        "cpu_median_ms": statistics.median(cpu) * 1000,
        "cpu_mean_ms": statistics.fmean(cpu) * 1000,
        "mean_with_insert_and_commit_ms": total / len(wall) * 1000,
        "tracemalloc_peak_kib": peak / 1024,
        "peak_rss_mib": _peak_rss_kib() / 1024,
    }


def _peak_rss_kib() -> float:
    """This process's peak resident set (VmHWM; ru_maxrss would include the parent's, kept across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    except OSError:
        pass
    import resource

    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _scratch_postgres(admin: str) -> tuple[str, str]:
    name = f"newswatch_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin).set(database=name).render_as_string(hide_password=False), name


def _drop_postgres(admin: str, name: str) -> None:
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                           {"n": name})
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    engine.dispose()


def run_size(url: str, size: int, count: int, batch: int) -> None:
    seconds = fill(url, size)
    # Measured in a fresh process, so memory figures do not include the fill.
    done = subprocess.run(
        [sys.executable, __file__, "--measure", url, "--count", str(count), "--batch", str(batch)],
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        print(f"measuring {size:,d} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
        return
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    pruned, prune_seconds = prune_half(url)
    dialect = url.split(":", 1)[0].split("+", 1)[0]
    print(f"{dialect:10s} archive {size:>7,d} (all in window; filled in {seconds:5.1f} s): "
          f"assign_story wall median {figures['median_ms']:.2f} ms, p95 {figures['p95_ms']:.2f} ms; "
          f"CPU median {figures['cpu_median_ms']:.2f} ms, mean {figures['cpu_mean_ms']:.2f} ms; "
          f"wall mean with insert+commit {figures['mean_with_insert_and_commit_ms']:.2f} ms; "
          f"tracemalloc peak {figures['tracemalloc_peak_kib']:.0f} KiB; peak RSS {figures['peak_rss_mib']:.0f} MiB; "
          f"prune_story_index of half the window ({pruned:,d} articles) {prune_seconds:.2f} s",
          flush=True)


def prune_half(url: str) -> tuple[int, float]:
    """Prune the older half of the window (the once-a-pass upkeep): articles left, seconds."""
    engine = make_engine(url)
    window = timedelta(hours=StoriesConfig().window_hours)
    started = time.perf_counter()
    with Session(engine) as session:
        pruned = prune_story_index(session, NOW - window / 2)
        session.commit()
    engine.dispose()
    return pruned, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="archive sizes, comma-separated")
    parser.add_argument("--count", type=int, default=600, help="new articles clustered per size")
    parser.add_argument("--batch", type=int, default=100, help="articles per transaction")
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server (a scratch database is used)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.count, args.batch)))
        return 0
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        print(f"--sizes must be numbers separated by commas, not {args.sizes!r}", file=sys.stderr)
        return 2
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load:.1f}; "
          f"{args.count} new articles per size, {args.batch} per transaction "
          "(CPU time is this process only: on SQLite that is all the work)")
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            run_size(f"sqlite:///{Path(folder) / f'bench_{size}.db'}", size, args.count, args.batch)
    if args.postgres:
        for size in sizes:
            url, name = _scratch_postgres(args.postgres)
            try:
                run_size(url, size, args.count, args.batch)
            finally:
                _drop_postgres(args.postgres, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
