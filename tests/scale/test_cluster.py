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
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from flows.demo import write_demo_config
from flows.demo_server import SampleServer
from tests.conftest import POSTGRES_ENV, postgres_admin_url
from tests.scale.cluster import Cluster
from tests.scale.outcomes import article_requests, check_first_pass, reference_pass, stored_state

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(540)]


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

                run, shards = cluster.sharded_pass(shards=2)
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

                    second_run, second_shards = cluster.sharded_pass(shards=2)
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

    # Every article page requested once; the same state as one plain pass in one process.
    check_first_pass(first_requests, first, reference)

    # The second sharded pass fetched no article and changed nothing.
    assert second_requests == []
    assert second == first

    print(f"cluster test timings (s): {timings}; total {time.monotonic() - started:.0f} s")
