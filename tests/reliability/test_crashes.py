"""SIGKILL at seeded random points in 20 passes and deliveries, then one clean run: the
database must hold what an uninterrupted run holds, and no message may be sent twice
outside the documented send-to-record window (docs/delivery.md).

The sample news site is served slowly (and the SMTP stand-in answers slowly) so kills land
mid-work; ``RELIABILITY_SEED`` picks another sequence of kill points.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from config.settings import load_settings
from flows.demo import write_demo_config
from flows.demo_server import SampleServer
from storage.clock import utcnow
from storage.db import open_database
from storage.deliveries import DEFAULT_LEASE_SECONDS
from storage.models import Delivery
from tasks.notify import deliver_pending
from tests.reliability.snapshot import differences, duplicates, state
from tests.support.slack import slack_webhook
from tests.support.smtp import smtp_server

REPO = Path(__file__).resolve().parents[2]
RUNS = 20
SEED = int(os.environ.get("RELIABILITY_SEED", "8"))

pytestmark = pytest.mark.slow


def write_config(folder: Path, server: SampleServer, smtp_port: int, webhook: str) -> Path:
    path = write_demo_config(folder, server)
    data = yaml.safe_load(path.read_text())
    data["database_url"] = f"sqlite:///{folder / 'newswatch.db'}"
    data["fetch"].update(extraction_workers=2, article_concurrency=2)
    data["smtp"] = {"host": "127.0.0.1", "port": smtp_port, "starttls": False, "from": "nw <a@example.org>"}
    data["delivery"] = {"baseline_on_first_run": False}
    data["subscribers"] = [
        {"name": "desk", "email": ["desk@example.org"], "slack_webhook": webhook},
        {"name": "usdesk", "topics": ["uk-us-relations"], "email": ["us@example.org"]},
    ]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    open_database(data["database_url"], migrate=True).dispose()
    return path


def slow_down(handler, seconds: float, attempts: list[int]) -> None:
    """Make the SMTP stand-in take ``seconds`` to accept each message (counted in ``attempts``)."""
    accept = handler.handle_DATA

    async def slowly(server, session, envelope):
        attempts[0] += 1
        await asyncio.sleep(seconds)
        return await accept(server, session, envelope)

    handler.handle_DATA = slowly


def cli(command: list[str], config: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "flows.cli", *command, "--config", str(config)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def wait_for_activity(process: subprocess.Popen, activity) -> None:
    before = activity()
    deadline = time.monotonic() + 60
    while process.poll() is None and activity() == before and time.monotonic() < deadline:
        time.sleep(0.01)


def timed(process: subprocess.Popen, activity) -> float:
    """Seconds from ``activity()`` first growing to the process's (successful) exit."""
    wait_for_activity(process, activity)
    started = time.monotonic()
    assert process.wait(timeout=180) == 0
    return time.monotonic() - started


def kill_at_random_point(process: subprocess.Popen, activity, delay: float) -> bool:
    """SIGKILL ``process`` ``delay`` seconds after ``activity()`` first grows; True if killed
    (False: it finished first)."""
    wait_for_activity(process, activity)
    try:
        process.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
        return True


def work_done(config: Path) -> tuple[int, int]:
    """(articles no longer pending, deliveries sent) so far."""
    from sqlalchemy import func

    from storage.models import Article

    database = open_database(load_settings(config).resolved_database_url)
    try:
        with database.session() as session:
            articles = session.scalar(select(func.count(Article.id)).where(Article.status != "pending"))
            sent = session.scalar(select(func.count(Delivery.id)).where(Delivery.status == "sent"))
    finally:
        database.dispose()
    return int(articles or 0), int(sent or 0)


def deliver_after_leases(config: Path) -> None:
    """The next scheduled delivery, once the leases of killed senders have run out."""
    settings = load_settings(config)
    deliver_pending(settings, now=utcnow() + timedelta(seconds=DEFAULT_LEASE_SECONDS + 5))


def test_kills_in_passes_and_deliveries_end_like_an_uninterrupted_run(tmp_path, reliability) -> None:
    rng = random.Random(SEED)
    with smtp_server() as (mail, smtp_port), slack_webhook() as hook:
        sends = [0]
        slow_down(mail, 0.25, sends)
        # The reference: one uninterrupted pass and one delivery, as the same subprocesses, on
        # a slow site; their durations (from first request to exit) scale the kill points to
        # this machine's speed.
        with SampleServer(delay_seconds=0.2) as server:
            reference_config = write_config(tmp_path / "reference", server, smtp_port, hook.url)
            run_seconds = timed(cli(["run", "--engine", "plain"], reference_config), lambda: len(server.request_log))
            deliver_seconds = timed(cli(["deliver"], reference_config), lambda: sends[0] + hook.attempts)
            reference = state(load_settings(reference_config).resolved_database_url, [server.base_url])
        reference_messages = len(mail.messages) + len(hook.payloads)
        assert reference["alert_deliveries"], "the sample should raise alerts that are delivered"
        mail.messages.clear()
        hook.payloads.clear()

        started = time.monotonic()
        kills = {"run": 0, "deliver": 0}
        progress: list[tuple[int, int]] = []
        with SampleServer(delay_seconds=0.2) as slow:
            config = write_config(tmp_path / "killed", slow, smtp_port, hook.url)
            for index in range(RUNS):
                command = ["run", "--engine", "plain"] if index % 2 == 0 else ["deliver"]
                # Start-up (imports, worker processes) takes seconds: the random point is
                # measured from the first request the run makes, so the kill lands mid-work.
                activity = (lambda: len(slow.request_log)) if index % 2 == 0 else (lambda: sends[0] + hook.attempts)
                span = run_seconds if index % 2 == 0 else deliver_seconds
                if kill_at_random_point(cli(command, config), activity, rng.uniform(0.1, 1.2) * span):
                    kills[command[0]] += 1
                progress.append(work_done(config))
            # The clean end: one pass that is not killed, then the next delivery.
            final = cli(["run", "--engine", "plain"], config)
            assert final.wait(timeout=120) == 0
            deliver_after_leases(config)
            crashed = state(load_settings(config).resolved_database_url, [slow.base_url])
        seconds = time.monotonic() - started

        database = open_database(load_settings(config).resolved_database_url)
        with database.session() as session:
            rows = session.scalars(select(Delivery).where(Delivery.status == "sent"))
            sent = [(d.channel, d.key, d.subscriber_id) for d in rows]
        database.dispose()

    assert kills["run"] >= 3 and sum(kills.values()) >= 5, f"too few kills: {kills}; progress {progress}"
    # Story updates depend on when a delivery ran relative to a story's growth (an alert sent
    # before a later source joined queues an update), so only they may differ.
    unexpected = [line for line in differences(crashed, reference) if not line.startswith("other_")]
    assert not unexpected, "\n".join(unexpected)
    assert not duplicates(sent), f"a delivery row twice: {duplicates(sent)}"
    email_ids = [m.message["Message-ID"] for m in mail.messages]
    received = len(mail.messages) + len(hook.payloads)
    repeats = received - len(sent)
    assert repeats >= 0, f"{len(sent)} rows marked sent but only {received} messages arrived"
    # Each killed sender can have had at most one message between 'accepted' and 'recorded'.
    assert repeats <= kills["deliver"], f"{repeats} repeated messages for {kills['deliver']} killed deliveries"
    assert len(set(email_ids)) == sum(1 for channel, _, _ in sent if channel == "email")
    reliability.record(
        f"seed {SEED}: kill points up to 1.2x the uninterrupted run ({run_seconds:.1f}s) / delivery "
        f"({deliver_seconds:.1f}s); {kills['run']} passes and {kills['deliver']} deliveries killed of {RUNS}; "
        f"state equals the uninterrupted run ({len(crashed['articles'])} articles, "
        f"{len(crashed['alerts'])} alerts, {len(crashed['alert_deliveries'])} alert messages, "
        f"{len(crashed['other_deliveries'])} updates; "
        f"reference sent {reference_messages}); {received} messages received for {len(sent)} sent rows "
        f"({repeats} repeats in the window); progress (articles, sent) after each run {progress}; "
        f"{seconds:.0f}s"
    )

