"""End to end: queued deliveries sent to a real SMTP server and a local Slack stand-in,
with failures injected on both, and a crash between sending and recording."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from config.settings import Settings
from storage.db import Database
from storage.deliveries import enqueue_for_alert, sync_subscribers
from storage.models import Delivery
from tasks.notify import DeliveryHooks, deliver_pending, message_id
from tests.support.slack import WebhookRecorder
from tests.support.smtp import RecordingHandler, smtp_server
from tests.test_deliver_support import (
    T0,
    add_alert,
    grow_alert,
    later,
    make_settings,
    open_test_database,
)

database = pytest.fixture(open_test_database, name="database")


def settings_for(tmp_path: Path, port: int, hook: str | None, **subscriber: Any) -> Settings:
    entry: dict[str, Any] = {"name": "desk", "email": ["desk@example.org"], **subscriber}
    if hook:
        entry["slack_webhook"] = hook
    return make_settings(
        tmp_path,
        smtp={"host": "127.0.0.1", "port": port, "starttls": False, "from": "newswatch <alerts@example.org>",
              "timeout_seconds": 5},
        subscribers=[entry],
        delivery={"retry_base_seconds": 60, "max_attempts": 3},
    )


def queue_alert(database: Database, settings: Settings, **alert: Any) -> int:
    with database.session() as session:
        sync_subscribers(session, settings, T0 - timedelta(days=1))
        row = add_alert(session, **alert)
        enqueue_for_alert(session, row, "new", alert.get("now", T0), settings)
        return row.id


def deliveries(database: Database) -> list[Delivery]:
    with database.session() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def all_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in all_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in all_strings(v)]
    return []


def test_one_story_one_email_and_one_slack_message_then_nothing(
    database: Database, smtp: tuple[RecordingHandler, int], slack: WebhookRecorder, tmp_path: Path
) -> None:
    handler, port = smtp
    settings = settings_for(tmp_path, port, slack.url)
    alert_id = queue_alert(database, settings, articles=2, title="Minister meets envoy")

    summary = deliver_pending(settings, T0, database=database)
    assert (summary.sent, summary.failed, summary.retrying) == (2, 0, 0)
    assert summary.max_unrecorded_seconds > 0

    (received,) = handler.messages
    message = received.message
    assert received.rcpt_tos == ["desk@example.org"]
    assert received.mail_from == "alerts@example.org"
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Message-ID"] == message_id(f"alert:{alert_id}", "desk")
    assert message["Subject"] == "[newswatch] UK–US relations: Minister meets envoy"
    assert message["X-Newswatch-Delivery"] == f"alert:{alert_id}"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for body in (text, html):
        assert "Minister meets envoy" in body
        assert "Example News" in body and "Example Wire" in body
        assert "UK–US relations" in body and "uk-us-relations" not in body
        assert "28 Nov 2026, 09:00 UTC" in body  # the publication date
        assert f"alert:{alert_id}" not in body and "Delivery" not in body  # no internal ids
    # The strongest evidence, with the words found marked (here the query's terms).
    assert '"The *minister* met the US *envoy* in London on Tuesday."' in text
    assert '>minister</strong> met the US <strong' in html
    assert "found: minister, envoy" in text and "found: minister, envoy" in html
    assert "Why: below the threshold: 3; alerts from 6" in text
    assert 'href="https://news.example.org/story-' in html
    # The title opens the first article; the list below names only the other one.
    assert text.count("https://news.example.org/story-") == 2

    (payload,) = slack.payloads
    assert "Minister meets envoy" in payload["text"]
    assert payload["blocks"][0]["type"] == "header"
    sections = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]
    assert "<https://news.example.org/story-" in sections[0]

    rows = deliveries(database)
    assert {r.status for r in rows} == {"sent"}
    assert all(r.attempts == 1 and r.response and r.sent_at == T0 for r in rows)
    assert any(r.response.startswith("250 2.0.0 Ok: queued as") for r in rows)

    again = deliver_pending(settings, T0 + timedelta(hours=1), database=database)
    assert again.describe() == "nothing to send"
    assert len(handler.messages) == 1 and len(slack.payloads) == 1


def test_hostile_feed_text_cannot_inject_headers_html_or_mentions(
    database: Database, smtp: tuple[RecordingHandler, int], slack: WebhookRecorder, tmp_path: Path
) -> None:
    handler, port = smtp
    settings = settings_for(tmp_path, port, slack.url)
    hostile = "<script>alert(1)</script> Envoy & co\r\nBcc: evil@example.net\r\n\r\n@channel <!here>"
    queue_alert(database, settings, title=hostile, site_name="<b>Outlet</b>\nX-Evil: 1",
                snippet="Snippet with <img src=x onerror=alert(2)> and @here and <!channel> & more")

    deliver_pending(settings, T0, database=database)
    (received,) = handler.messages
    message = received.message
    assert received.rcpt_tos == ["desk@example.org"]  # no smuggled Bcc recipient
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
    assert "Bcc: evil@example.net" in message["Subject"]  # kept as inert text on one line
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html and "<img" not in html and "<b>Outlet" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    text = message.get_body(("plain",)).get_content()
    assert "X-Evil: 1" in text and "\nX-Evil" not in text  # folded onto the outlet's line

    (payload,) = slack.payloads
    strings = all_strings(payload)
    for value in strings:
        assert "<!" not in value and "<script" not in value and "<img" not in value
        assert "@channel" not in value and "@here" not in value
    joined = json.dumps(payload)
    assert "&lt;script&gt;" in joined and "&amp; co" in joined


def test_smtp_transient_refusal_is_retried_with_backoff_and_sent_once(
    database: Database, smtp: tuple[RecordingHandler, int], tmp_path: Path
) -> None:
    handler, port = smtp
    settings = settings_for(tmp_path, port, None)
    queue_alert(database, settings)
    handler.refuse_data = "451 4.3.0 Try again later"

    first = deliver_pending(settings, T0, database=database)
    assert (first.sent, first.retrying, first.failed) == (0, 1, 0)
    (row,) = deliveries(database)
    assert row.status == "pending" and row.attempts == 1
    assert row.next_attempt_at == T0 + timedelta(seconds=60)
    assert "451" in (row.error or "") and row.response == "451 4.3.0 Try again later"

    assert deliver_pending(settings, T0 + timedelta(seconds=59), database=database).attempted == 0
    second = deliver_pending(settings, T0 + timedelta(seconds=60), database=database)
    assert second.retrying == 1
    assert deliveries(database)[0].next_attempt_at == T0 + timedelta(seconds=180)  # 60 + 2×60

    handler.refuse_data = None
    third = deliver_pending(settings, T0 + timedelta(seconds=180), database=database)
    assert third.sent == 1
    assert len(handler.messages) == 1
    (row,) = deliveries(database)
    assert row.status == "sent" and row.attempts == 3 and row.error is None


def test_transient_failures_give_up_after_max_attempts(
    database: Database, smtp: tuple[RecordingHandler, int], tmp_path: Path
) -> None:
    handler, port = smtp
    settings = settings_for(tmp_path, port, None)
    settings.delivery.retry_base_seconds = 0  # retry at once, within the same run
    queue_alert(database, settings)
    handler.refuse_rcpt = "450 4.2.1 Mailbox busy"
    summary = deliver_pending(settings, T0, database=database)
    assert (summary.retrying, summary.failed) == (2, 1)
    (row,) = deliveries(database)
    assert row.status == "failed" and row.attempts == 3
    assert "gave up after 3 attempts" in (row.error or "")
    assert handler.messages == []


def test_smtp_permanent_refusal_is_failed_and_visible(
    database: Database, smtp: tuple[RecordingHandler, int], tmp_path: Path
) -> None:
    handler, port = smtp
    settings = settings_for(tmp_path, port, None)
    queue_alert(database, settings)
    handler.refuse_rcpt = "550 5.1.1 No such user"
    summary = deliver_pending(settings, T0, database=database)
    assert (summary.failed, summary.retrying) == (1, 0)
    (row,) = deliveries(database)
    assert row.status == "failed" and "550 5.1.1 No such user" in (row.error or "")
    handler.refuse_rcpt = None
    assert deliver_pending(settings, T0 + timedelta(days=1), database=database).attempted == 0
    assert handler.messages == []


def test_smtp_server_down_is_transient(database: Database, tmp_path: Path) -> None:
    from tests.support.smtp import free_port

    settings = settings_for(tmp_path, free_port(), None)
    queue_alert(database, settings)
    summary = deliver_pending(settings, T0, database=database)
    assert summary.retrying == 1
    assert "cannot reach SMTP server 127.0.0.1" in (deliveries(database)[0].error or "")


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_login(database: Database, tmp_path: Path) -> None:
    with smtp_server(username="newswatch", password="s3cret-pw") as (handler, port):
        settings = settings_for(tmp_path, port, None)
        assert settings.smtp is not None
        settings.smtp.username = "newswatch"
        from pydantic import SecretStr

        settings.smtp.password = SecretStr("wrong")
        queue_alert(database, settings)
        refused = deliver_pending(settings, T0, database=database)
        assert refused.failed == 1 and "535" in (deliveries(database)[0].error or "")
        assert "wrong" not in (deliveries(database)[0].error or "")
        settings.smtp.password = SecretStr("s3cret-pw")
        queue_alert(database, settings, title="Second story")
        assert deliver_pending(settings, T0, database=database).sent == 1
        assert len(handler.messages) == 1


def test_slack_429_honours_retry_after_and_defers_the_webhooks_other_messages(
    database: Database, smtp: tuple[RecordingHandler, int], slack: WebhookRecorder, tmp_path: Path
) -> None:
    _, port = smtp
    settings = settings_for(tmp_path, port, slack.url)
    settings.subscribers[0].email = []
    for title in ("First", "Second", "Third"):
        queue_alert(database, settings, title=title)
    slack.script = [(429, {"Retry-After": "120"}, "rate_limited")]

    first = deliver_pending(settings, T0, database=database)
    assert (first.sent, first.retrying, first.deferred) == (0, 1, 2)
    assert slack.attempts == 1  # nothing else hammered the rate-limited webhook
    rows = deliveries(database)
    assert all(r.status == "pending" and r.next_attempt_at == T0 + timedelta(seconds=120) for r in rows)
    assert [r.attempts for r in rows] == [1, 0, 0]

    assert deliver_pending(settings, T0 + timedelta(seconds=119), database=database).attempted == 0
    second = deliver_pending(settings, T0 + timedelta(seconds=120), database=database)
    assert second.sent == 3
    assert sorted(p["text"].split(": ", 1)[1] for p in slack.payloads) == ["First", "Second", "Third"]


@pytest.mark.parametrize("header", ["inf", "nan", "-inf", "1e999", "-30"])
def test_slack_429_with_an_absurd_retry_after_waits_the_default_and_sends_later(
    database: Database, slack: WebhookRecorder, tmp_path: Path, header: str
) -> None:
    # Before one shared parser, "inf" and "nan" passed Slack's own and crashed in timedelta.
    settings = settings_for(tmp_path, 25, slack.url)
    settings.subscribers[0].email = []
    queue_alert(database, settings, title="Story A")
    slack.script = [(429, {"Retry-After": header}, "rate_limited")]
    first = deliver_pending(settings, T0, database=database)
    assert (first.retrying, first.failed) == (1, 0)
    [row] = deliveries(database)
    assert row.status == "pending" and row.next_attempt_at is not None
    assert T0 < row.next_attempt_at <= T0 + timedelta(hours=6)
    assert deliver_pending(settings, row.next_attempt_at, database=database).sent == 1


def test_slack_500_retries_and_404_fails(
    database: Database, slack: WebhookRecorder, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, 25, slack.url)
    settings.subscribers[0].email = []
    queue_alert(database, settings, title="Story A")
    slack.script = [(500, {}, "internal error")]
    first = deliver_pending(settings, T0, database=database)
    assert first.retrying == 1
    assert deliveries(database)[0].response == "HTTP 500 internal error"
    assert deliver_pending(settings, T0 + timedelta(minutes=1), database=database).sent == 1
    assert len(slack.payloads) == 1

    queue_alert(database, settings, title="Story B")
    slack.script = [(404, {}, "no_service")]
    failed = deliver_pending(settings, T0 + timedelta(minutes=2), database=database)
    assert failed.failed == 1
    row = deliveries(database)[-1]
    assert row.status == "failed" and "no_service" in (row.error or "")
    secret = "secret-token"
    assert all(secret not in (r.error or "") + (r.response or "") for r in deliveries(database))
    assert secret not in json.dumps(failed.as_dict())


def test_crash_between_send_and_record_loses_nothing_and_repeats_only_that_message(
    database: Database, smtp: tuple[RecordingHandler, int], tmp_path: Path
) -> None:
    handler, port = smtp
    settings = settings_for(tmp_path, port, None)
    for title in ("One", "Two", "Three"):
        queue_alert(database, settings, title=title)

    def crash(delivery: Delivery) -> None:
        if "Two" in handler.messages[-1].message["Subject"]:
            raise SystemExit("killed after sending, before recording")

    with pytest.raises(SystemExit):
        deliver_pending(settings, T0, database=database, hooks=DeliveryHooks(after_send=crash),
                        lease_seconds=300)
    assert [r.status for r in deliveries(database)] == ["sent", "sending", "pending"]

    # A run while the lease holds leaves the ambiguous row alone and sends the rest.
    during = deliver_pending(settings, T0 + timedelta(seconds=10), database=database)
    assert during.sent == 1
    assert [r.status for r in deliveries(database)] == ["sent", "sending", "sent"]
    # Once the lease is over the ambiguous message is sent again: the documented window.
    after = deliver_pending(settings, T0 + timedelta(seconds=301), database=database)
    assert after.sent == 1
    subjects = [m.message["Subject"].removeprefix("[newswatch] UK–US relations: ") for m in handler.messages]
    assert sorted(subjects) == ["One", "Three", "Two", "Two"]
    twice = [m.message["Message-ID"] for m in handler.messages if m.message["Subject"].endswith("Two")]
    assert twice[0] == twice[1]  # same Message-ID: mail clients can fold the duplicate
    assert [r.status for r in deliveries(database)] == ["sent", "sent", "sent"]
    assert deliver_pending(settings, T0 + timedelta(hours=1), database=database).attempted == 0


def test_crash_before_sending_sends_exactly_once(
    database: Database, smtp: tuple[RecordingHandler, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, port = smtp
    settings = settings_for(tmp_path, port, None)
    queue_alert(database, settings)
    import tasks.notify.channels as channels

    def die(*args: Any, **kwargs: Any) -> Any:
        raise SystemExit("killed while rendering")

    monkeypatch.setattr(channels, "render_email", die)
    with pytest.raises(SystemExit):
        deliver_pending(settings, T0, database=database, lease_seconds=60)
    monkeypatch.undo()
    assert deliver_pending(settings, T0 + timedelta(seconds=61), database=database).sent == 1
    assert len(handler.messages) == 1


def test_update_after_debounce_is_one_threaded_message_marking_new_sources(
    database: Database, smtp: tuple[RecordingHandler, int], tmp_path: Path
) -> None:
    handler, port = smtp
    settings = settings_for(tmp_path, port, None)
    alert_id = queue_alert(database, settings, title="Envoy row")
    deliver_pending(settings, T0, database=database)
    for hours, outlet in ((1, "Second Paper"), (2, "Third Paper")):
        with database.session() as session:
            from storage.models import Alert

            alert = session.get(Alert, alert_id)
            assert alert is not None
            grow_alert(session, alert, later(hours=hours), site_name=outlet)
            enqueue_for_alert(session, alert, "update", later(hours=hours), settings)
    assert deliver_pending(settings, later(hours=5), database=database).attempted == 0
    assert deliver_pending(settings, later(hours=6), database=database).sent == 1
    first, update = (m.message for m in handler.messages)
    assert update["Subject"] == "[newswatch] Update: Envoy row (+2 sources)"
    assert update["In-Reply-To"] == first["Message-ID"]
    text = update.get_body(("plain",)).get_content()
    assert "[new] Second Paper: Envoy row (follow-up)" in text
    assert "[new] Third Paper: Envoy row (follow-up)" in text
    assert "[new] Example News" not in text


def test_digest_groups_alerts_into_one_message(
    database: Database, smtp: tuple[RecordingHandler, int], slack: WebhookRecorder, tmp_path: Path
) -> None:
    handler, port = smtp
    settings = settings_for(tmp_path, port, slack.url, mode="digest",
                            digest={"every": "daily", "at": "08:00", "timezone": "UTC"})
    with database.session() as session:
        sync_subscribers(session, settings, T0 - timedelta(days=3))
        for n, title in enumerate(("Alpha story", "Beta story", "Gamma story")):
            add_alert(session, title=title, now=T0 - timedelta(hours=n + 2), score=5 - n)
        older = add_alert(session, title="Delta story", now=T0 - timedelta(days=2), score=1)
        grow_alert(session, older, T0 - timedelta(hours=1), site_name="Late Paper")
        add_alert(session, title="Old baseline", now=T0 - timedelta(hours=3), baseline=True)
        add_alert(session, title="Too late", now=T0 + timedelta(minutes=5))

    summary = deliver_pending(settings, T0 + timedelta(minutes=10), database=database)
    assert summary.digests_queued == 1 and summary.sent == 2
    (received,) = handler.messages
    message = received.message
    assert message["Subject"] == "[newswatch] Daily digest, 28 Nov 2026 08:00 UTC: 4 stories"
    text = message.get_body(("plain",)).get_content()
    positions = [text.index(t) for t in ("Alpha story", "Beta story", "Gamma story", "Delta story")]
    assert positions == sorted(positions)  # best score first
    # The older story is in as an update, its new source marked.
    assert "Delta story [updated]" in text
    assert "[new] Late Paper: Delta story (follow-up)" in text
    assert "[new] Example News" not in text and "[new] Alpha" not in text
    assert "Old baseline" not in text and "Too late" not in text
    (payload,) = slack.payloads
    sections = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]
    assert sections[0] == "*UK–US relations*"  # the digest's topic heading, then its stories
    assert sum(1 for text in sections if " story" in text) == 4
    # The next run in the same period sends nothing; the next period picks up "Too late".
    assert deliver_pending(settings, T0 + timedelta(hours=3), database=database).attempted == 0
    nxt = deliver_pending(settings, T0 + timedelta(days=1), database=database)
    assert nxt.sent == 2
    assert "Too late" in handler.messages[-1].message.get_body(("plain",)).get_content()


def test_removed_subscriber_and_missing_smtp_are_recorded_not_sent(
    database: Database, smtp: tuple[RecordingHandler, int], tmp_path: Path
) -> None:
    handler, port = smtp
    settings = settings_for(tmp_path, port, None)
    queue_alert(database, settings)
    no_smtp = settings.model_copy(update={"smtp": None})
    for hours in range(10):  # waiting for the config to be fixed spends no attempts
        summary = deliver_pending(no_smtp, T0 + timedelta(hours=hours), database=database)
        assert summary.deferred == 1 and summary.attempted == 0
    row = deliveries(database)[0]
    assert (row.status, row.attempts, row.error) == ("pending", 0, "no smtp: section in the config")
    gone = settings.model_copy(update={"subscribers": []})
    summary = deliver_pending(gone, T0 + timedelta(hours=11), database=database)
    assert summary.failed == 1
    assert deliveries(database)[0].error == "the subscriber is no longer in the config"
    assert handler.messages == []


def test_a_rendering_bug_fails_that_row_and_the_run_goes_on(
    database: Database, smtp: tuple[RecordingHandler, int], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler, port = smtp
    settings = settings_for(tmp_path, port, None)
    queue_alert(database, settings, title="Breaks the template")
    queue_alert(database, settings, title="Fine")
    import tasks.notify.channels as channels

    real = channels.render_email

    def fragile(view: Any) -> Any:
        if view.stories[0].title == "Breaks the template":
            raise KeyError("missing field")
        return real(view)

    monkeypatch.setattr(channels, "render_email", fragile)
    summary = deliver_pending(settings, T0, database=database)
    assert (summary.sent, summary.failed) == (1, 1)
    failed = deliveries(database)[0]
    assert failed.status == "failed"
    assert failed.error == "could not render the message: KeyError: 'missing field'"
    assert len(handler.messages) == 1

