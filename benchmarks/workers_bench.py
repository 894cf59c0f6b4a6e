"""One worker against two: the same sharded pass on the native compose stack.

    .venv/bin/python benchmarks/workers_bench.py --feeds 16 --articles 20 --workers 1,2

For each worker count N: fresh scratch databases on the local PostgreSQL
(NEWSWATCH_TEST_POSTGRES_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/postgres),
the stack started as docker-compose.yml names it (tests/scale/cluster.py: Prefect server,
migration, bootstrap, a control worker and N shard workers), then one ``monitor-sharded``
run with N shards over a generated site of FEEDS × ARTICLES pages (benchmarks/pagegen.py,
served from a child process on 127.0.0.1, no politeness delay). Prints, per N:

- pass: from the first shard's start to the last shard's end (Prefect's own run times),
  and articles/s over it;
- end to end: from triggering monitor-sharded to its completion, which adds the
  worker's poll and each flow-run process's start (importing prefect and the flows);
- the article requests the site served (each article once, whatever N) and the rows stored.

No pass/fail: figures. On a 2-core machine two workers share the same two cores, so
expect far less than 2×; see docs/scale-out.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from benchmarks.pagegen import BenchSite, SiteShape  # noqa: E402
from tests.scale.cluster import Cluster, ClusterError  # noqa: E402

DEFAULT_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def write_config(directory: Path, site: BenchSite, per_host_concurrency: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "database_url": "sqlite:///unused.db",  # the cluster sets NEWSWATCH_DATABASE_URL
        "feeds": [{"url": url} for url in site.feed_urls()],
        "fetch": {
            "allow_private_networks": [site.host_port],
            "per_host_delay_seconds": 0,
            "per_host_concurrency": per_host_concurrency,
        },
    }
    path = directory / "newswatch.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def _seconds(run: dict[str, Any], key: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(run[key]).timestamp()


def measure(admin: str, site: BenchSite, workers: int, work: Path, per_host_concurrency: int) -> dict[str, Any]:
    site.reset()
    config = write_config(work / "config", site, per_host_concurrency)
    with Cluster(admin, work / "cluster", config, workers=workers) as cluster:
        before = {r["id"] for r in cluster.runs_of("monitor/monitor")}
        triggered = time.monotonic()
        run = cluster.wait(cluster.start_run("monitor-sharded/monitor-sharded", {"shards": workers}), timeout=1800)
        end_to_end = time.monotonic() - triggered
        if run["state_type"] != "COMPLETED":
            raise ClusterError(f"monitor-sharded ended {run['state_type']}: {run['state']}\n{cluster.logs()}")
        shards = [r for r in cluster.runs_of("monitor/monitor") if r["id"] not in before]
        pass_seconds = max(_seconds(r, "end_time") for r in shards) - min(_seconds(r, "start_time") for r in shards)
        from sqlalchemy import create_engine, func, select

        from storage.models import Alert, Article

        engine = create_engine(cluster.newswatch_database_url)
        try:
            with engine.connect() as connection:
                fetched = connection.scalar(select(func.count()).select_from(Article).where(Article.status == "fetched"))
                articles = connection.scalar(select(func.count()).select_from(Article))
                alerts = connection.scalar(select(func.count()).select_from(Alert))
        finally:
            engine.dispose()
        return {
            "workers": workers,
            "shards_on": sorted(cluster.worker_of(r["name"]) or "?" for r in shards),
            "shard_seconds": sorted(round(r["total_run_time"], 1) for r in shards),
            "pass_seconds": pass_seconds,
            "end_to_end_seconds": end_to_end,
            "startup": dict(cluster.timings),
            "articles": articles,
            "fetched": fetched,
            "alerts": alerts,
            "article_requests": site.stats().get("article_requests", 0),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=16)
    parser.add_argument("--articles", type=int, default=20, help="articles per feed")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare, comma-separated")
    parser.add_argument("--per-host-concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",") if n.strip()]
    if args.feeds < 1 or args.articles < 1 or not counts or min(counts) < 1:
        parser.error("--feeds, --articles and each worker count must be at least 1")
    admin = os.environ.get("NEWSWATCH_TEST_POSTGRES_URL") or DEFAULT_ADMIN
    shape = SiteShape(args.feeds, args.articles)
    print(f"site: {shape.feeds} feeds x {shape.articles_per_feed} = {shape.articles} article pages; "
          f"{os.cpu_count()} CPU cores; PostgreSQL {admin.rsplit('@', 1)[-1]}")
    results = []
    with BenchSite(shape) as site, tempfile.TemporaryDirectory(prefix="newswatch-workers-bench-") as tmp:
        for workers in counts:
            print(f"\n{workers} worker(s): starting the stack…", flush=True)
            try:
                result = measure(admin, site, workers, Path(tmp) / f"w{workers}", args.per_host_concurrency)
            except ClusterError as exc:
                print(f"newswatch workers bench: {workers} worker(s) failed: {str(exc)[:3000]}", file=sys.stderr)
                return 1
            results.append(result)
            print(
                f"  stack up in {sum(result['startup'].values()) - result['startup'].get('server', 0):.0f} s "
                f"after the server's {result['startup'].get('server', 0):.0f} s; shards ran on {result['shards_on']} "
                f"({result['shard_seconds']} s each)"
            )
    print("\nworkers  articles  fetched  requests  alerts  pass s  articles/s  end-to-end s  articles/s")
    for r in results:
        print(
            f"{r['workers']:>7}  {r['articles']:>8}  {r['fetched']:>7}  {r['article_requests']:>8}  {r['alerts']:>6}  "
            f"{r['pass_seconds']:>6.1f}  {r['fetched'] / r['pass_seconds']:>10.1f}  "
            f"{r['end_to_end_seconds']:>12.1f}  {r['fetched'] / r['end_to_end_seconds']:>10.1f}"
        )
    if len(results) > 1:
        base = results[0]
        for r in results[1:]:
            print(
                f"{r['workers']} workers vs {base['workers']}: pass {base['pass_seconds'] / r['pass_seconds']:.2f}x, "
                f"end to end {base['end_to_end_seconds'] / r['end_to_end_seconds']:.2f}x"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
