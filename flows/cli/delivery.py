"""``newswatch deliver``, ``newswatch subscribers`` and ``newswatch preview``.

Secrets (SMTP password, Slack webhook URLs) are never printed: channels are shown by name.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flows.cli.common import (
    ConfigOption,
    FormatOption,
    TableOrJson,
    command_group,
    fail,
    open_database_or_fail,
    print_json,
    print_table,
    settings_from,
    terminal_safe,
)
from storage.clock import utcnow

if TYPE_CHECKING:
    from storage.deliveries import SubscriberState
    from tasks.notify.preview import Preview

app = command_group("Delivery: deliver, subscribers, preview.")


class Channel(StrEnum):
    email = "email"
    slack = "slack"


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


@app.command("deliver")
def deliver_command(
    config: ConfigOption = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Send at most N messages.")] = None,
    output: FormatOption = TableOrJson.table,
) -> None:
    """Send pending alerts, updates and due digests by email and Slack."""
    from tasks.notify import deliver_pending

    settings = settings_from(config, "deliver")
    db = open_database_or_fail(settings)
    try:
        summary = deliver_pending(settings, limit=limit, database=db)
    finally:
        db.dispose()
    if output is TableOrJson.json:
        print_json(summary.as_dict())
        return
    if summary.digests_queued:
        typer.echo(f"digests due: {summary.digests_queued}")
    typer.echo(summary.describe())
    for outcome in summary.outcomes:
        if outcome.get("status") in ("failed", "retrying"):
            where = f"{outcome['subscriber']} {outcome['channel']} {outcome['key']}"
            retry = f" (next try {outcome['next_attempt_at']})" if outcome.get("next_attempt_at") else ""
            typer.echo(f"  {outcome['status']}: {terminal_safe(where, 80)}: "
                       f"{terminal_safe(outcome.get('error'), 160)}{retry}")
    if summary.sent:
        typer.echo(f"longest send-to-record window: {summary.max_unrecorded_seconds * 1000:.1f} ms")


def _state_dict(state: SubscriberState) -> dict[str, Any]:
    return {
        "name": state.name,
        "state": "active" if state.configured else "removed from config",
        "mode": state.mode,
        "topics": state.topics or ["(all)"],
        "channels": state.channels,
        "pending": state.counts.get("pending", 0) + state.counts.get("sending", 0),
        "sent": state.counts.get("sent", 0),
        "failed": state.counts.get("failed", 0),
        "last_sent_at": state.last_sent_at.isoformat() if state.last_sent_at else None,
        "last_failure": state.last_failure,
        "last_failure_at": state.last_failure_at.isoformat() if state.last_failure_at else None,
        "next_digest_at": state.next_digest_at.isoformat() if state.next_digest_at else None,
        "digest_due_at": state.digest_due_at.isoformat() if state.digest_due_at else None,
        "baseline_at": state.baseline_at.isoformat() if state.baseline_at else None,
    }


@app.command("subscribers")
def subscribers_command(
    config: ConfigOption = None,
    output: FormatOption = TableOrJson.table,
) -> None:
    """Subscribers: state, channels, last delivery, failures (never secrets)."""
    from storage.deliveries import subscriber_states

    settings = settings_from(config, "subscribers")
    db = open_database_or_fail(settings, read_only=True)
    try:
        with db.session() as session:
            states = subscriber_states(session, settings, utcnow())
    finally:
        db.dispose()
    rows = [_state_dict(s) for s in states]
    if output is TableOrJson.json:
        print_json(rows)
        return
    if not rows:
        typer.echo("no subscribers configured (add a subscribers: section to the config)")
        return
    print_table(
        ["name", "state", "mode", "channels", "pending", "sent", "failed", "last sent", "next digest"],
        [
            [r["name"], r["state"], r["mode"], ",".join(r["channels"]) or "-", r["pending"], r["sent"],
             r["failed"], _when(s.last_sent_at), _when(s.next_digest_at)]
            for r, s in zip(rows, states, strict=True)
        ],
        widths=[30, 20, 9, 12, 7, 6, 6, 20, 20],
    )
    for r, s in zip(rows, states, strict=True):
        if s.digest_due_at is not None:
            typer.echo(f"{terminal_safe(r['name'], 30)}: the digest for the period ending "
                       f"{_when(s.digest_due_at)} goes out at the next deliver run")
        if r["last_failure"]:
            typer.echo(f"{terminal_safe(r['name'], 30)}: last failure {r['last_failure_at'] or ''}: "
                       f"{terminal_safe(r['last_failure'], 200)}")


@app.command("preview")
def preview_command(
    subscriber: Annotated[str | None, typer.Argument(help="The subscriber's name from the config.")] = None,
    config: ConfigOption = None,
    channel: Annotated[Channel, typer.Option("--channel", help="email or slack.")] = Channel.email,
    alert: Annotated[int | None, typer.Option(
        "--alert", help="Render this stored alert (any delivery state, baseline alerts too).")] = None,
    subscriber_option: Annotated[str | None, typer.Option(
        "--subscriber", help="As this subscriber reads it (with --alert; default: every topic).")] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Write the HTML email to this file.")] = None,
) -> None:
    """Render the subscriber's next message (or the digest so far), or any stored alert
    with --alert ID, without sending it."""
    from tasks.notify.preview import NoSuchAlert, NothingToPreview, preview, preview_alert

    if subscriber and subscriber_option and subscriber != subscriber_option:
        fail(f"two subscribers given ({subscriber!r} and --subscriber {subscriber_option!r}): give one")
    name = subscriber_option or subscriber
    if name is None and alert is None:
        fail("give a subscriber name (newswatch preview NAME) or an alert (newswatch preview --alert ID)")
    if alert is not None and alert < 1:
        fail(f"--alert {alert}: an alert id is a positive number (list them with: newswatch alerts)")
    if html is not None:
        _check_writable(html)
    settings = settings_from(config, "preview")
    chosen = next((s for s in settings.subscribers if s.name == name), None)
    if name is not None and chosen is None:
        names = ", ".join(s.name for s in settings.subscribers) or "none configured"
        fail(f"no subscriber named {name!r} (subscribers: {names})")
    db = open_database_or_fail(settings, read_only=True)
    try:
        with db.session() as session:
            if alert is not None:
                result = preview_alert(session, settings, alert, channel.value, chosen)
            else:
                assert chosen is not None
                result = preview(session, settings, chosen, channel.value, utcnow())
    except NothingToPreview as exc:
        typer.echo(str(exc))
        return
    except NoSuchAlert as exc:
        fail(str(exc))
    finally:
        db.dispose()
    _print_preview(result, channel, html)


def _check_writable(html: Path) -> None:
    """Refuse an --html path that cannot be written before printing the whole preview."""
    folder = html.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        fail(f"--html {html}: the folder {folder} {what}; give a file in an existing folder")
    if html.is_dir():
        fail(f"--html {html}: is a folder; give a file name, e.g. {html / 'preview.html'}")
    if not os.access(folder, os.W_OK):
        fail(f"--html {html}: the folder {folder} is not writable; give a file in a folder you can write to")


def _print_preview(result: Preview, channel: Channel, html: Path | None) -> None:
    if result.note:
        typer.echo(terminal_safe(result.note, 300))
    typer.echo(f"# {terminal_safe(result.description, 300)}")
    if channel is Channel.slack:
        typer.echo(json.dumps(result.slack, indent=2, ensure_ascii=False))
        return
    assert result.email is not None
    typer.echo(f"Subject: {terminal_safe(result.email.subject)}")
    typer.echo("")
    for line in result.email.text.splitlines():
        typer.echo(terminal_safe(line))
    if html is not None:
        try:
            html.write_text(result.email.html, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {html}: {exc.strerror or exc}")
        typer.echo(f"# HTML written to {html}")
