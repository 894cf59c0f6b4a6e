"""Two passes at once on one database, then two ``deliver`` runs at once: the state equals a
single uninterrupted pass (no duplicate rows) and every message is sent exactly once.

Runs on PostgreSQL (the deployment database for several workers; skipped without
NEWSWATCH_TEST_POSTGRES_URL) and on SQLite.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from config.settings import load_settings
from flows.demo_server import SampleServer
from storage.db import open_database
from storage.models import Delivery
from tasks.notify import deliver_pending
from tasks.pass_driver import run_pass_plain
from tasks.runtime import Runtime
from tests.reliability.snapshot import differences, duplicates, state
from tests.reliability.test_crashes import cli, slow_down, write_config
from tests.support.slack import slack_webhook
from tests.support.smtp import smtp_server

pytestmark = pytest.mark.slow


def with_database(path, url):
    import yaml

    data = yaml.safe_load(path.read_text())
    data["database_url"] = url
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    open_database(url, migrate=True).dispose()
    return path


def test_two_passes_and_two_deliveries_at_once(tmp_path, database_url, reliability) -> None:
    with smtp_server() as (mail, smtp_port), slack_webhook() as hook:
        with SampleServer() as server:
            reference_config = write_config(tmp_path / "reference", server, smtp_port, hook.url)
            with Runtime(load_settings(reference_config)) as runtime:
                run_pass_plain(runtime)
            deliver_pending(load_settings(reference_config))
            reference = state(load_settings(reference_config).resolved_database_url, [server.base_url])
        mail.messages.clear()
        hook.payloads.clear()

        sends = [0]
        slow_down(mail, 0.1, sends)
        with SampleServer(delay_seconds=0.1) as slow:
            config = with_database(write_config(tmp_path / "both", slow, smtp_port, hook.url), database_url)
            started = time.monotonic()
            passes = [cli(["run", "--engine", "plain"], config) for _ in range(2)]
            codes = [p.wait(timeout=180) for p in passes]
            pass_seconds = time.monotonic() - started
            assert codes == [0, 0], f"a pass failed: exit codes {codes}"
            page_requests = [p for p in slow.request_log if not p.startswith("/feeds/")]
            started = time.monotonic()
            senders = [cli(["deliver"], config) for _ in range(2)]
            codes = [p.wait(timeout=180) for p in senders]
            deliver_seconds = time.monotonic() - started
            assert codes == [0, 0], f"a delivery run failed: exit codes {codes}"
            both = state(database_url, [slow.base_url])

    unexpected = differences(both, reference)
    assert not unexpected, "\n".join(unexpected)
    assert not duplicates(page_requests), f"pages fetched twice: {duplicates(page_requests)}"
    database = open_database(database_url)
    with database.session() as session:
        sent = [(d.channel, d.key, d.subscriber_id) for d in session.scalars(select(Delivery).where(Delivery.status == "sent"))]
    database.dispose()
    email_ids = [m.message["Message-ID"] for m in mail.messages]
    assert not duplicates(email_ids), f"emails sent twice: {duplicates(email_ids)}"
    assert len(mail.messages) + len(hook.payloads) == len(sent) == len(reference["alert_deliveries"])
    kind = database_url.split(":", 1)[0]
    reliability.record(
        f"{kind}: 2 passes at once in {pass_seconds:.0f}s, state equals one pass "
        f"({len(both['articles'])} articles, {len(both['alerts'])} alerts), each page fetched once; "
        f"2 deliver runs at once in {deliver_seconds:.0f}s: {len(sent)} messages, each sent once"
    )
