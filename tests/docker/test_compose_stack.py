"""The compose stack in Docker, end to end: `make compose-test` (scripts/compose_test.sh).

The image built from the Dockerfile runs every service of docker-compose.yml that
newswatch provides (tests/docker/stack.py: host networking, the machine's PostgreSQL,
free ports). The test triggers the ``monitor-sharded`` and ``deliver`` deployments over
the bundled sample and checks what the native cluster test checks (tests/scale/outcomes.py):
the two shards ran on the two shard workers, every article page was requested once, the
stored state equals one plain pass in one process, then every alert reached a local SMTP
server once and a second delivery sends nothing. It also reads the alerts through the web
app, and checks that every container runs as the image's own user.

It builds nothing itself: scripts/compose_test.sh builds the images first.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from flows.demo import write_demo_config
from flows.demo_server import SampleServer
from storage.models import Alert
from tests.conftest import POSTGRES_ENV, postgres_admin_url
from tests.docker.stack import ComposeStack
from tests.scale.outcomes import (
    article_requests,
    check_delivered_once,
    check_first_pass,
    reference_pass,
    stored_state,
)
from tests.support.smtp import smtp_server

ENABLE = "NEWSWATCH_TEST_COMPOSE"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.timeout(1200),
    pytest.mark.skipif(
        os.environ.get(ENABLE) != "1",
        reason=f"builds images and runs containers: `make compose-test` runs it ({ENABLE}=1)",
    ),
]

DELIVER = "deliver/deliver"
SUBSCRIBER = "desk@example.org"


def write_stack_config(folder: Path, server: SampleServer) -> Path:
    """The folder mounted at /config: the sample's feeds, one subscriber by email. SMTP
    comes from the compose file's environment (SMTP_HOST, SMTP_PORT)."""
    config = write_demo_config(folder, server)
    document = yaml.safe_load(config.read_text())
    document.pop("database_url")  # NEWSWATCH_DATABASE_URL, as in docker/config/newswatch.yaml
    document["fetch"]["cluster_article_batches"] = True  # as docker/config/newswatch.yaml
    document["subscribers"] = [{"name": "desk", "email": SUBSCRIBER, "mode": "immediate"}]
    # The first pass's alerts are sent (by default a new subscriber starts from now).
    document["delivery"] = {"baseline_on_first_run": False}
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    # The containers' user is not this one: the folder must be readable by anyone.
    folder.chmod(0o755)
    config.chmod(0o644)
    return config


def test_the_compose_stack_runs_a_sharded_pass_and_delivers_once(tmp_path: Path) -> None:
    admin = postgres_admin_url()
    if not admin:
        pytest.fail(f"the compose stack test needs PostgreSQL: set {POSTGRES_ENV}")
    started = time.monotonic()
    with SampleServer() as server, smtp_server() as (mail, smtp_port):
        reference = reference_pass(tmp_path / "reference", server)
        server.clear_log()
        config = write_stack_config(tmp_path / "config", server)

        with ComposeStack(admin, tmp_path / "stack", config.parent, smtp_port) as stack:
            try:
                # Every container runs as the image's own user, not root.
                for container in stack.containers():
                    if container["service"] in ("migrate", "bootstrap"):
                        assert stack.inspect(container["id"])["State"]["ExitCode"] == 0
                        continue
                    assert stack.inspect(container["id"])["Config"]["User"] == "newswatch", container["name"]
                    assert stack.exec(container["id"], "id", "-u").strip() != "0", container["name"]
                shard_workers = sorted(c["name"] for c in stack.shard_workers())
                assert len(shard_workers) == 2, shard_workers

                pass_started = time.monotonic()
                run, shards = stack.sharded_pass(shards=2, timeout=300)
                stack.timings["sharded pass"] = round(time.monotonic() - pass_started, 1)
                assert run["state_type"] == "COMPLETED", run["state"]
                assert sorted((r["parameters"]["shard_index"], r["parameters"]["shard_count"]) for r in shards) == [(0, 2), (1, 2)]
                assert all(r["state_type"] == "COMPLETED" for r in shards), [r["state"] for r in shards]
                # --limit 1 per shard worker: the two shards ran on the two shard workers.
                assert sorted(stack.worker_of(r["name"]) or "?" for r in shards) == shard_workers
                control = [c["name"] for c in stack.containers() if c["service"] == "control-worker"]
                assert stack.worker_of(run["name"]) in control

                requests = article_requests(server)
                engine = create_engine(stack.databases.url("newswatch"))
                try:
                    with Session(engine) as session:
                        state = stored_state(session, server.base_url)
                        alert_ids = sorted(session.scalars(select(Alert.id)))

                    deliver_started = time.monotonic()
                    delivered = stack.wait(stack.start_run(DELIVER, {}), timeout=180)
                    stack.timings["deliver"] = round(time.monotonic() - deliver_started, 1)
                    assert delivered["state_type"] == "COMPLETED", delivered["state"]
                    received = [m.message["X-Newswatch-Delivery"] for m in mail.messages]
                    assert all(m.rcpt_tos == [SUBSCRIBER] for m in mail.messages)
                    with Session(engine) as session:
                        check_delivered_once(received, session)

                    # A second delivery finds nothing left to send.
                    again = stack.wait(stack.start_run(DELIVER, {}), timeout=180)
                    assert again["state_type"] == "COMPLETED", again["state"]
                    assert [m.message["X-Newswatch-Delivery"] for m in mail.messages] == received
                finally:
                    engine.dispose()

                # The web app, published on its port from .env, shows the same alerts.
                answer = httpx.get(f"http://127.0.0.1:{stack.web_port}/api/alerts", timeout=30)
                assert answer.status_code == 200
                assert sorted(alert["id"] for alert in answer.json()) == alert_ids
                page = httpx.get(f"http://127.0.0.1:{stack.web_port}/", timeout=30)
                assert page.status_code == 200 and "newswatch" in page.text.lower()
            except Exception:
                print(stack.logs())  # pytest shows it with the failure
                raise
    timings = dict(stack.timings)

    # Every article page requested once; the same state as one plain pass in one process.
    check_first_pass(requests, state, reference)
    assert received, "the sample's alerts were sent"
    # Nothing of the stack is left: `down` removed every container, one-off ones included.
    assert stack.left_behind == []
    assert stack.containers() == []
    print(f"compose stack timings (s): {timings}; total {time.monotonic() - started:.0f} s")
