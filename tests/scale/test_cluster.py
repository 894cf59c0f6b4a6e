"""The compose stack, natively: a sharded pass over two workers, end to end.

A Prefect server on the local PostgreSQL, the migration, the bootstrap (pools, limits,
automations, prefect.yaml's deployments), a control worker and two shard workers, all
started as the commands docker-compose.yml names (tests/scale/cluster.py). The test
triggers ``monitor-sharded`` over the bundled sample and checks that the two shards ran
on two workers, every article was fetched and stored once, every alert stored once, and
that a second sharded pass fetches nothing.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from flows.demo import write_demo_config
from flows.demo_server import SampleServer, read_expected_pages
from storage.models import Alert, AlertMatch, Article
from tests.conftest import POSTGRES_ENV, postgres_admin_url
from tests.scale.cluster import Cluster

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(540)]

SHARDED = "monitor-sharded/monitor-sharded"
EXPECTED = read_expected_pages()


def article_requests(server: SampleServer) -> list[str]:
    """Article pages requested, by path: the server ignores query strings, and an article
    carried by two feeds is listed once with tracking parameters."""
    paths = [urlsplit(target).path for target in server.requests_made()]
    return [path for path in paths if not path.startswith("/feeds/")]


def sharded_pass(cluster: Cluster, shards: int) -> tuple[dict, list[dict]]:
    """Trigger monitor-sharded and wait; returns its run and the monitor runs it started."""
    before = {run["id"] for run in cluster.runs_of("monitor/monitor")}
    run = cluster.wait(cluster.start_run(SHARDED, {"shards": shards}), timeout=240)
    shards_run = [r for r in cluster.runs_of("monitor/monitor") if r["id"] not in before]
    return run, shards_run


def test_a_sharded_pass_on_two_workers_processes_everything_once(tmp_path: Path) -> None:
    admin = postgres_admin_url()
    if not admin:
        pytest.skip(f"the cluster test needs PostgreSQL: set {POSTGRES_ENV} (set by .ci/run)")
    started = time.monotonic()
    with SampleServer() as server:
        reference = reference_pass(tmp_path / "reference", server)
        server.clear_log()
        config = write_demo_config(tmp_path / "config", server)
        # The sample is tiny: no politeness delay, so the pass is about the cluster.
        document = yaml.safe_load(config.read_text())
        document["fetch"]["per_host_delay_seconds"] = 0
        config.write_text(yaml.safe_dump(document, sort_keys=False))

        with Cluster(admin, tmp_path / "cluster", config, workers=2) as cluster:
            try:
                # The workers answer on the health endpoint compose's healthcheck calls.
                for name, url in cluster.health_urls.items():
                    assert httpx.get(url, timeout=5).status_code == 200, name

                run, shards = sharded_pass(cluster, shards=2)
                assert run["state_type"] == "COMPLETED", run["state"]
                assert sorted((r["parameters"]["shard_index"], r["parameters"]["shard_count"]) for r in shards) == [(0, 2), (1, 2)]
                assert all(r["state_type"] == "COMPLETED" for r in shards), [r["state"] for r in shards]
                # --limit 1 per shard worker: the two shards ran on two workers at once.
                ran_on = sorted(cluster.worker_of(r["name"]) or "?" for r in shards)
                assert ran_on == ["worker-0", "worker-1"], ran_on
                assert cluster.worker_of(run["name"]) == "control-worker"

                first_requests = article_requests(server)
                server.clear_log()
                engine = create_engine(cluster.newswatch_database_url)
                try:
                    with Session(engine) as session:
                        first = stored_state(session, server.base_url)

                    second_run, second_shards = sharded_pass(cluster, shards=2)
                    assert second_run["state_type"] == "COMPLETED", second_run["state"]
                    assert len(second_shards) == 2
                    second_requests = article_requests(server)
                    with Session(engine) as session:
                        second = stored_state(session, server.base_url)
                finally:
                    engine.dispose()
            except Exception:
                print(cluster.logs())  # pytest shows it with the failure
                raise
            timings = dict(cluster.timings)

    # Every article page was requested once, by one of the shards.
    expected_paths = sorted(page.path for page in EXPECTED)
    counts = Counter(first_requests)
    assert sorted(counts) == expected_paths
    assert [path for path, n in counts.items() if n > 1] == []

    # One row per article, all fetched and analysed.
    assert first["articles"] == len(EXPECTED)
    assert first["statuses"] == {"fetched": len(EXPECTED)}
    assert first["unanalysed"] == 0

    # The same articles, stories and alerts as one plain pass in one process: sharding
    # over two workers changed nothing and stored nothing twice.
    assert first == reference
    # One alert per (topic, story), and no two alerts of a topic share an article.
    assert first["alerts"] > 0 and first["repeated_alert_keys"] == 0
    assert first["duplicate_matches"] == 0

    # The second sharded pass fetched no article and changed nothing.
    assert second_requests == []
    assert second == first

    print(f"cluster test timings (s): {timings}; total {time.monotonic() - started:.0f} s")


def reference_pass(directory: Path, server: SampleServer) -> dict:
    """The stored state after one plain pass (no Prefect, one process) over the sample."""
    from config.settings import load_settings
    from storage.db import open_database
    from tasks import resources
    from tasks.pass_driver import run_pass_plain

    config = write_demo_config(directory, server)
    database_url = f"sqlite:///{directory / 'reference.db'}"
    document = yaml.safe_load(config.read_text())
    document["database_url"] = database_url
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    open_database(database_url, migrate=True).dispose()
    try:
        run_pass_plain(load_settings(config))
    finally:
        resources.close_all()
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            return stored_state(session, server.base_url)
    finally:
        engine.dispose()


def stored_state(session: Session, base_url: str) -> dict:
    """What a pass stored, by sample path (so two servers' ports compare equal)."""

    def path(url: str) -> str:
        return url.removeprefix(base_url)

    articles = list(session.scalars(select(Article)))
    alerts = list(session.scalars(select(Alert).order_by(Alert.id)))
    stories: dict[int | None, set[str]] = {}
    for article in articles:
        stories.setdefault(article.story_id, set()).add(path(article.canonical_url))
    alert_articles = []
    for alert in alerts:
        urls = session.scalars(
            select(Article.canonical_url).join(AlertMatch, AlertMatch.article_id == Article.id)
            .where(AlertMatch.alert_id == alert.id)
        )
        alert_articles.append((alert.topic_id, tuple(sorted(path(u) for u in urls))))
    matches_per_topic_article = session.execute(
        select(Alert.topic_id, AlertMatch.article_id, func.count())
        .join(AlertMatch, AlertMatch.alert_id == Alert.id)
        .group_by(Alert.topic_id, AlertMatch.article_id)
        .having(func.count() > 1)
    ).all()
    return {
        "articles": len(articles),
        "statuses": dict(Counter(a.status for a in articles)),
        "unanalysed": sum(1 for a in articles if a.analysed_at is None),
        "alerts": len(alerts),
        "repeated_alert_keys": len(alerts) - len({(a.topic_id, a.story_id) for a in alerts}),
        "alert_articles": sorted(alert_articles),
        "duplicate_matches": len(matches_per_topic_article),
        "stories": sorted(sorted(members) for members in stories.values()),
        "articles_by_path": sorted((path(a.canonical_url), a.status, a.content_hash, a.extraction_method) for a in articles),
    }
