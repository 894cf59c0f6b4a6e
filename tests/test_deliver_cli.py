"""The delivery commands: deliver, subscribers, preview (through the real `newswatch` app)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from flows.cli import app
from storage.deliveries import enqueue_for_alert, sync_subscribers
from tests.support.slack import WebhookRecorder, slack_webhook
from tests.support.smtp import RecordingHandler, smtp_server
from tests.test_deliver_support import add_alert, make_settings

runner = CliRunner()


@pytest.fixture
def servers() -> Iterator[tuple[RecordingHandler, int, WebhookRecorder]]:
    with smtp_server() as (handler, port), slack_webhook() as hook:
        yield handler, port, hook


def write_config(tmp_path: Path, port: int, hook: str, **desk: Any) -> Path:
    config = {
        "database_url": "sqlite:///state.db",
        "smtp": {"host": "127.0.0.1", "port": port, "starttls": False, "username": None,
                 "password": "smtp-pass-do-not-print", "from": "newswatch <alerts@example.org>"},
        "subscribers": [
            {"name": "desk", "topics": ["uk-us-relations"], "email": ["desk@example.org"],
             "slack_webhook": hook, **desk},
            {"name": "morning", "email": "editor@example.org", "mode": "digest",
             "digest": {"every": "daily", "at": "08:00", "timezone": "Europe/London"}},
        ],
    }
    path = tmp_path / "newswatch.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def queue(path: Path, title: str = "Minister meets envoy") -> None:
    from config.settings import load_settings
    from storage.db import open_database

    settings = load_settings(path)
    db = open_database(settings.resolved_database_url)
    now = datetime.now(UTC)
    try:
        with db.session() as session:
            sync_subscribers(session, settings, now - timedelta(days=1))
            alert = add_alert(session, title=title, now=now)
            enqueue_for_alert(session, alert, "new", now, settings)
    finally:
        db.dispose()


def test_deliver_sends_then_has_nothing_to_send(
    servers: tuple[RecordingHandler, int, WebhookRecorder], tmp_path: Path
) -> None:
    handler, port, hook = servers
    path = write_config(tmp_path, port, hook.url)
    first = runner.invoke(app, ["deliver", "--config", str(path)])
    assert first.exit_code == 0, first.output
    assert "nothing to send" in first.output
    queue(path)
    second = runner.invoke(app, ["deliver", "--config", str(path)])
    assert second.exit_code == 0, second.output
    assert "sent 2, failed 0, retrying 0" in second.output
    assert "send-to-record window" in second.output
    assert len(handler.messages) == 1 and len(hook.payloads) == 1
    third = runner.invoke(app, ["deliver", "--config", str(path), "--format", "json"])
    assert json.loads(third.stdout)["sent"] == 0


def test_deliver_lists_failures_without_secrets(
    servers: tuple[RecordingHandler, int, WebhookRecorder], tmp_path: Path
) -> None:
    handler, port, hook = servers
    path = write_config(tmp_path, port, hook.url)
    queue(path)
    hook.script = [(403, {}, "invalid_token")]
    handler.refuse_rcpt = "550 5.1.1 unknown user"
    result = runner.invoke(app, ["deliver", "--config", str(path)])
    assert result.exit_code == 0
    assert "sent 0, failed 2, retrying 0" in result.output
    assert "invalid_token" in result.output and "550 5.1.1 unknown user" in result.output
    assert "secret-token" not in result.output

    listing = runner.invoke(app, ["subscribers", "--config", str(path), "--format", "json"])
    assert listing.exit_code == 0, listing.output
    for secret in ("secret-token", hook.url, "smtp-pass-do-not-print"):
        assert secret not in listing.output
    desk, morning = json.loads(listing.stdout)
    assert desk["name"] == "desk" and desk["channels"] == ["email", "slack"]
    assert desk["failed"] == 2 and desk["sent"] == 0 and desk["last_failure"]
    assert morning["mode"] == "digest" and morning["next_digest_at"]
    table = runner.invoke(app, ["subscribers", "--config", str(path)])
    assert table.exit_code == 0 and "desk" in table.output and "last failure" in table.output
    assert "secret-token" not in table.output


def test_preview_renders_next_message_and_writes_html(
    servers: tuple[RecordingHandler, int, WebhookRecorder], tmp_path: Path
) -> None:
    handler, port, hook = servers
    path = write_config(tmp_path, port, hook.url)
    before_any_run = runner.invoke(app, ["preview", "desk", "--config", str(path)])
    assert before_any_run.exit_code == 2  # a read-only command never creates the database
    assert f"database {tmp_path / 'state.db'}: no such file" in before_any_run.stderr
    assert not (tmp_path / "state.db").exists()
    assert runner.invoke(app, ["db", "upgrade", "--config", str(path)]).exit_code == 0
    empty = runner.invoke(app, ["preview", "desk", "--config", str(path)])
    assert empty.exit_code == 0 and "nothing to preview" in empty.output
    queue(path, title="Envoy <b>summoned</b>")
    out = tmp_path / "preview.html"
    result = runner.invoke(app, ["preview", "desk", "--config", str(path), "--html", str(out)])
    assert result.exit_code == 0, result.output
    assert "Subject: [newswatch] UK–US relations: Envoy <b>summoned</b>" in result.output
    assert "&lt;b&gt;summoned&lt;/b&gt;" in out.read_text(encoding="utf-8")
    slack = runner.invoke(app, ["preview", "desk", "--config", str(path), "--channel", "slack"])
    assert slack.exit_code == 0 and "Envoy &lt;b&gt;summoned" in slack.output
    digest = runner.invoke(app, ["preview", "morning", "--config", str(path)])
    assert digest.exit_code == 0, digest.output
    assert "digest so far" in digest.output and "Envoy <b>summoned</b>" in digest.output
    assert handler.messages == [] and hook.payloads == []  # previews never send


def test_preview_unknown_subscriber_and_bad_config_exit_2(tmp_path: Path) -> None:
    path = write_config(tmp_path, 2525, "https://hooks.slack.example/services/x")
    unknown = runner.invoke(app, ["preview", "nobody", "--config", str(path)])
    assert unknown.exit_code == 2
    assert "no subscriber named 'nobody' (subscribers: desk, morning)" in unknown.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("subscribers:\n  - name: x\n    mode: sometimes\n", encoding="utf-8")
    for command in (["deliver"], ["subscribers"], ["preview", "x"]):
        result = runner.invoke(app, [*command, "--config", str(bad)])
        assert result.exit_code == 2
        assert "subscribers[0].mode" in result.stderr and "Traceback" not in result.output


def test_flow_task_body_runs_deliver_pending(tmp_path: Path) -> None:
    from flows.deliver import deliver_pending_task

    settings = make_settings(tmp_path, database_url=f"sqlite:///{tmp_path / 'flow.db'}")
    result = deliver_pending_task.fn(settings)
    assert result["sent"] == 0 and result["outcomes"] == []


def store_alert(path: Path, **alert: Any) -> int:
    from config.settings import load_settings
    from storage.db import open_database

    db = open_database(load_settings(path).resolved_database_url, migrate=True)
    try:
        with db.session() as session:
            return add_alert(session, now=datetime.now(UTC), **alert).id
    finally:
        db.dispose()


def test_preview_of_a_baseline_alert_renders_it_and_says_it_was_never_delivered(
    servers: tuple[RecordingHandler, int, WebhookRecorder], tmp_path: Path
) -> None:
    handler, port, hook = servers
    path = write_config(tmp_path, port, hook.url)
    alert_id = store_alert(path, title="Envoy recalled", baseline=True)
    # As a subscriber sees it: nothing is queued for a baseline alert …
    assert "nothing to preview" in runner.invoke(app, ["preview", "desk", "--config", str(path)]).output
    # … but the alert itself can be previewed, by id.
    out = tmp_path / "alert.html"
    result = runner.invoke(app, ["preview", "--alert", str(alert_id), "--subscriber", "desk",
                                 "--config", str(path), "--html", str(out)])
    assert result.exit_code == 0, result.output
    assert f"# alert {alert_id} (UK–US relations) as desk would read it (email); a baseline alert" in result.output
    assert "Subject: [newswatch] UK–US relations: Envoy recalled" in result.output
    assert "Why: below the threshold: 3; alerts from 6" in result.output
    assert "Envoy recalled" in out.read_text(encoding="utf-8")
    slack = runner.invoke(app, ["preview", "--alert", str(alert_id), "--channel", "slack", "--config", str(path)])
    assert slack.exit_code == 0, slack.output
    assert "as preview would read it (slack)" in slack.output
    payload = json.loads(slack.stdout.split("\n", 1)[1])
    assert payload["blocks"][0]["text"]["text"] == "UK–US relations: Envoy recalled"
    assert handler.messages == [] and hook.payloads == []  # previews never send


def test_preview_of_a_sent_alert_says_so(
    servers: tuple[RecordingHandler, int, WebhookRecorder], tmp_path: Path
) -> None:
    handler, port, hook = servers
    path = write_config(tmp_path, port, hook.url)
    assert runner.invoke(app, ["db", "upgrade", "--config", str(path)]).exit_code == 0
    queue(path, title="Envoy summoned")
    assert runner.invoke(app, ["deliver", "--config", str(path)]).exit_code == 0
    assert len(handler.messages) == 1
    result = runner.invoke(app, ["preview", "desk", "--alert", "1", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "its email messages: sent" in result.output and "Envoy summoned" in result.output
    assert len(handler.messages) == 1


def test_preview_alert_errors_are_one_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, 2525, "https://hooks.slack.example/services/x")
    alert_id = store_alert(path)
    unknown = runner.invoke(app, ["preview", "--alert", "999", "--config", str(path)])
    assert unknown.exit_code == 2
    assert unknown.stderr == (f"newswatch: no alert with id 999 (alert ids go up to {alert_id}; "
                              "list them with: newswatch alerts)\n")
    nobody = runner.invoke(app, ["preview", "--alert", str(alert_id), "--subscriber", "nobody", "--config", str(path)])
    assert nobody.exit_code == 2 and "no subscriber named 'nobody'" in nobody.stderr
    neither = runner.invoke(app, ["preview", "--config", str(path)])
    assert neither.exit_code == 2 and "give a subscriber name" in neither.stderr
    both = runner.invoke(app, ["preview", "desk", "--subscriber", "morning", "--alert", "1", "--config", str(path)])
    assert both.exit_code == 2 and "two subscribers given" in both.stderr
    for result in (unknown, nobody, neither, both):
        assert "Traceback" not in result.output and len(result.stderr.splitlines()) == 1


def test_preview_of_an_alert_the_subscriber_does_not_follow_says_so_first(tmp_path: Path) -> None:
    path = write_config(tmp_path, 2525, "https://hooks.slack.example/services/x")
    alert_id = store_alert(path, topic="foreign-campaigning", title="Campaign ads bought abroad")
    for channel in ("email", "slack"):
        result = runner.invoke(app, ["preview", "--alert", str(alert_id), "--subscriber", "desk",
                                     "--channel", channel, "--config", str(path)])
        assert result.exit_code == 0, result.output
        assert result.output.splitlines()[0] == (
            "note: desk does not follow foreign-campaigning (Foreign campaigning and election interference):"
            " they would not be sent this alert")
        assert "Campaign ads bought abroad" in result.output  # still rendered: any alert can be previewed
    # A reader of every topic, or of this one, gets no note.
    for reader in ("morning", None):
        args = ["--subscriber", reader] if reader else []
        result = runner.invoke(app, ["preview", "--alert", str(alert_id), *args, "--config", str(path)])
        assert result.exit_code == 0 and result.output.startswith(f"# alert {alert_id} ")
        assert "does not follow" not in result.output


def test_preview_refuses_an_html_path_it_cannot_write_before_rendering(tmp_path: Path) -> None:
    path = write_config(tmp_path, 2525, "https://hooks.slack.example/services/x")
    alert_id = store_alert(path, title="Envoy recalled")
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    for target, message in (
        (tmp_path / "missing" / "x.html", f"the folder {tmp_path / 'missing'} does not exist"),
        (tmp_path / "a-file" / "x.html", f"the folder {tmp_path / 'a-file'} is not a folder"),
        (tmp_path, "is a folder; give a file name"),
    ):
        result = runner.invoke(app, ["preview", "--alert", str(alert_id), "--html", str(target), "--config", str(path)])
        assert result.exit_code == 2, result.output
        assert result.stdout == ""  # nothing rendered first
        assert len(result.stderr.splitlines()) == 1 and message in result.stderr
        assert result.stderr.startswith(f"newswatch: --html {target}: ")
