"""``newswatch feedback``: record a person's verdict on an alert (relevant or not)."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from flows.cli.common import (
    ConfigOption,
    command_group,
    database_session,
    fail,
    settings_from,
    terminal_safe,
)

app = command_group("A person's verdict on an alert.")


def os_user() -> str:
    """Who is at the keyboard, as the operating system knows them ("" if it cannot say)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return ""


@app.command("feedback")
def feedback_command(
    alert_id: Annotated[int, typer.Argument(help="The alert's id (`newswatch alerts` lists them).", min=1, max=2**31 - 1)],
    verdict: Annotated[str, typer.Argument(help="relevant or not-relevant.", metavar="relevant|not-relevant")],
    config: ConfigOption = None,
    note: Annotated[str | None, typer.Option("--note", help="Why, in a few words (kept with the verdict).")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who gives the verdict (default: the OS user).")] = None,
) -> None:
    """Record a verdict on an alert: was it relevant to its topic?

    A later verdict by the same person replaces theirs; the earlier one is kept in the
    history. `topics eval --feedback` turns the verdicts into precision per topic."""
    from storage.clock import utcnow
    from storage.feedback import FeedbackError, check_name, check_verdict, record_verdict

    try:
        check_verdict(verdict)
        name = check_name(by if by is not None else os_user())
    except FeedbackError as exc:
        message = str(exc)
        fail(message if by is not None or "verdict" in message else "cannot tell who you are: give --by NAME")
    settings = settings_from(config, "feedback")
    try:
        with database_session(settings, read_only=True) as session:
            row = record_verdict(session, alert_id, verdict, name, utcnow(), note=note)
            topic = row.topic_id
    except FeedbackError as exc:
        fail(str(exc))
    typer.echo(f"alert {alert_id} ({terminal_safe(topic, 80)}): {verdict}, by {terminal_safe(name, 80)}")
