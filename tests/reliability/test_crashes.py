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
from dataclasses import dataclass
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


@dataclass
class Round:
    kills: dict[str, int]
    progress: list[tuple[int, int]]
    state: dict
    sent: list[tuple[str, str, int]]
    email_ids: list[str]
    received: int


def crash_round(folder: Path, runs: int, rng: random.Random, spans: tuple[float, float], mail, smtp_port: int, hook, sends
) -> Round:
    """``runs`` subprocesses alternating pass and delivery on a fresh database, each killed at
    a random point (from its first request, up to 1.5x / 1.2x the uninterrupted duration), then one
    clean pass and the next delivery after the senders' leases."""
    mail.messages.clear()
    hook.payloads.clear()
    kills = {"run": 0, "deliver": 0}
    progress: list[tuple[int, int]] = []
    with SampleServer(delay_seconds=0.2) as slow:
        config = write_config(folder, slow, smtp_port, hook.url)
        for index in range(runs):
            is_pass = index % 2 == 0
            command = ["run", "--engine", "plain"] if is_pass else ["deliver"]
            # Start-up (imports, worker processes) takes seconds: the random point is measured
            # from the first request the run makes, so the kill lands mid-work.
            activity = (lambda: len(slow.request_log)) if is_pass else (lambda: sends[0] + hook.attempts)
            # Passes up to 1.5x: a pass commits its articles only at the end of its batch, so
            # earlier kills all lose the same work and leave deliveries nothing to interrupt.
            delay = rng.uniform(0.1, 1.5 if is_pass else 1.2) * (spans[0] if is_pass else spans[1])
            if kill_at_random_point(cli(command, config), activity, delay):
                kills[command[0]] += 1
            progress.append(work_done(config))
        final = cli(["run", "--engine", "plain"], config)
        assert final.wait(timeout=120) == 0
        deliver_after_leases(config)
        crashed = state(load_settings(config).resolved_database_url, [slow.base_url])
    database = open_database(load_settings(config).resolved_database_url)
    with database.session() as session:
        rows = session.scalars(select(Delivery).where(Delivery.status == "sent"))
        sent = [(d.channel, d.key, d.subscriber_id) for d in rows]
    database.dispose()
    return Round(
        kills, progress, crashed, sent, [m.message["Message-ID"] for m in mail.messages],
        len(mail.messages) + len(hook.payloads),
    )


def test_kills_in_passes_and_deliveries_end_like_an_uninterrupted_run(tmp_path, reliability) -> None:
    rng = random.Random(SEED)
    started = time.monotonic()
    with smtp_server() as (mail, smtp_port), slack_webhook() as hook:
        sends = [0]
        slow_down(mail, 0.25, sends)
        # The reference: one uninterrupted pass and one delivery, as the same subprocesses, on
        # the same slow site; their durations (from first request to exit) scale the kill
        # points to this machine's speed.
        with SampleServer(delay_seconds=0.2) as server:
            reference_config = write_config(tmp_path / "reference", server, smtp_port, hook.url)
            run_seconds = timed(cli(["run", "--engine", "plain"], reference_config), lambda: len(server.request_log))
            deliver_seconds = timed(cli(["deliver"], reference_config), lambda: sends[0] + hook.attempts)
            reference = state(load_settings(reference_config).resolved_database_url, [server.base_url])
        reference_messages = len(mail.messages) + len(hook.payloads)
        assert reference["alert_deliveries"], "the sample should raise alerts that are delivered"
        # Two rounds of ten on fresh databases: once a round's work is done, later runs in it
        # have nothing left to interrupt.
        rounds = [
            crash_round(tmp_path / f"killed-{n}", RUNS // 2, rng, (run_seconds, deliver_seconds), mail, smtp_port, hook, sends)
            for n in range(2)
        ]
    seconds = time.monotonic() - started

    kills = {k: sum(r.kills[k] for r in rounds) for k in ("run", "deliver")}
    assert kills["run"] >= 3 and sum(kills.values()) >= 5, f"too few kills: {kills}; {[r.progress for r in rounds]}"
    repeats = []
    for result in rounds:
        # Story updates depend on when a delivery ran relative to a story's growth (an alert
        # sent before a later source joined queues an update), so only they may differ.
        unexpected = [line for line in differences(result.state, reference) if not line.startswith("other_")]
        assert not unexpected, "\n".join(unexpected)
        assert not duplicates(result.sent), f"a delivery row twice: {duplicates(result.sent)}"
        extra = result.received - len(result.sent)
        assert extra >= 0, f"{len(result.sent)} rows marked sent but only {result.received} messages arrived"
        # Each killed sender can have had at most one message between 'accepted' and 'recorded'.
        assert extra <= result.kills["deliver"], f"{extra} repeats for {result.kills['deliver']} killed deliveries"
        assert len(set(result.email_ids)) == sum(1 for channel, _, _ in result.sent if channel == "email")
        repeats.append(extra)
    reliability.record(
        f"seed {SEED}: 2 rounds of {RUNS // 2}, kill points up to 1.5x the uninterrupted pass "
        f"({run_seconds:.1f}s) / 1.2x delivery ({deliver_seconds:.1f}s); {kills['run']} passes and "
        f"{kills['deliver']} deliveries killed mid-work of {RUNS}; each round's final state equals the "
        f"uninterrupted run ({len(reference['articles'])} articles, {len(reference['alerts'])} alerts, "
        f"{len(reference['alert_deliveries'])} alert messages, reference sent {reference_messages}); "
        f"messages received minus rows sent per round {repeats} (the window allows one per killed sender); "
        f"updates queued {[len(r.state['other_deliveries']) for r in rounds]}; "
        f"progress (articles, sent) {[r.progress for r in rounds]}; {seconds:.0f}s"
    )
