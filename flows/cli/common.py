"""Helpers every command shares: loading config, opening the database, printing safely."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from config.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from tasks.topics import TopicSet

EXIT_USAGE = 2

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="The YAML config file (or set NEWSWATCH_CONFIG).", envvar="NEWSWATCH_CONFIG"),
]

RequiredConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The YAML config file (database and topics).", envvar="NEWSWATCH_CONFIG"),
]


class TableOrJson(StrEnum):
    table = "table"
    json = "json"


class TextOrJson(StrEnum):
    text = "text"
    json = "json"


FormatOption = Annotated[TableOrJson, typer.Option("--format", "-f", help="table or json.")]
TextFormatOption = Annotated[TextOrJson, typer.Option("--format", "-f", help="text or json.")]
LimitOption = Annotated[
    int | None, typer.Option(min=1, max=1_000_000_000, help="At most this many (newest first).")
]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def command_group(help: str, **options: Any) -> typer.Typer:
    """A Typer for one module's commands, with the settings every part of the CLI shares."""
    settings: dict[str, Any] = {
        "no_args_is_help": True,
        "add_completion": False,
        "pretty_exceptions_enable": False,
        # Plain help and errors: flags read as flags (--all / --no-all, not "--all <bool>"),
        # and a usage error is one "Error: …" line, not a box that wraps it.
        "rich_markup_mode": None,
    }
    return typer.Typer(help=help, **{**settings, **options})


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    typer.echo(f"newswatch: {message}", err=True)
    raise typer.Exit(code)


CONFIG_ENV = "NEWSWATCH_CONFIG"


def missing_config_message(command: str) -> str:
    """What to say when ``command`` is given no config file."""
    here = Path("newswatch.yaml")
    hint = (
        f"; there is one here: --config {here}" if here.is_file()
        else "; `newswatch demo` writes an example to newswatch-demo/newswatch.yaml"
    )
    return f"{command} needs a config file: pass --config FILE or set {CONFIG_ENV}=FILE{hint}"


def settings_from(config: Path | None, command: str | None = None) -> Settings:
    """Load the config or exit with its one-line message (never a traceback).

    With ``command``, a config file is required (the command would otherwise run on
    defaults: no feeds, ./newswatch.db); without, the defaults serve.
    """
    if config is not None and not str(config).strip():
        config = None  # NEWSWATCH_CONFIG= (set but empty) names no file
    if config is None and command is not None:
        fail(missing_config_message(command))
    try:
        return load_settings(config)
    except ConfigError as exc:
        from_environment = config is not None and os.environ.get(CONFIG_ENV, "").strip() == str(config)
        fail(f"{exc} (the file named by {CONFIG_ENV})" if from_environment else str(exc))


def topics_from(settings: Settings) -> TopicSet:
    """The config's topics (its ``topics:`` setting, or the shipped ones), or exit with one line."""
    from tasks.topics import TopicDefinitionError, load_topics

    try:
        return load_topics(settings.topics, settings.base_dir)
    except TopicDefinitionError as exc:
        message = str(exc)
        if message.endswith("no such file or folder"):
            message += "; check topics: in the config (relative paths start at the config file's folder)"
        fail(message)


def topic_labels(settings: Settings) -> Any:
    """How alerts name their topics (tasks/topics/labels.py). A broken topic definition
    leaves the ids standing in for names: the alerts are what was asked for."""
    from tasks.topics import TopicDefinitionError, load_topics
    from tasks.topics.labels import TopicLabels

    try:
        return TopicLabels(load_topics(settings.topics, settings.base_dir).topics)
    except TopicDefinitionError:
        return TopicLabels([])


def open_database_or_fail(settings: Settings, *, read_only: bool = False, migrate: bool | None = None) -> Any:
    """The configured database, or exit with one line. ``read_only`` commands never create
    a database, a SQLite file or its folder: a missing one is an error naming the path."""
    from storage.db import DatabaseNotReady, open_database

    try:
        return open_database(settings.resolved_database_url, migrate=migrate, create=not read_only)
    except DatabaseNotReady as exc:
        fail(str(exc))


def check_topic(session: Any, settings: Settings, topic: str) -> None:
    """``--topic`` must name a configured topic or one with stored alerts."""
    from sqlalchemy import select

    from storage.models import Alert

    configured = {t.id for t in topics_from(settings).topics}
    known = configured | set(session.scalars(select(Alert.topic_id).distinct()))
    if topic not in known:
        fail(f"--topic {topic!r}: no such topic (known: {', '.join(sorted(known)) or 'none'})")


@contextmanager
def read_session(settings: Settings) -> Iterator[Any]:
    """A session that reads the configured database and keeps nothing (a dry run): never
    creating or migrating it, rolled back at the end whatever happened."""
    db = open_database_or_fail(settings, read_only=True, migrate=False)
    try:
        with db.reader() as session:
            yield session
    finally:
        db.dispose()


@contextmanager
def database_session(settings: Settings, *, read_only: bool = False, migrate: bool | None = None) -> Iterator[Any]:
    db = open_database_or_fail(settings, read_only=read_only, migrate=migrate)
    try:
        with db.session() as session:
            yield session
    finally:
        db.dispose()


def terminal_safe(value: Any, limit: int | None = None) -> str:
    """Feed text for a terminal: no control characters or escape sequences, one line."""
    text = "" if value is None else str(value)
    text = _CONTROL.sub(" ", text.replace("\r", " ").replace("\n", " ").replace("\t", " "))
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    return text


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], widths: Sequence[int] | None = None) -> None:
    cells = [[terminal_safe(c, widths[i] if widths else None) for i, c in enumerate(row)] for row in rows]
    sizes = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    typer.echo("  ".join(h.ljust(sizes[i]) for i, h in enumerate(headers)).rstrip())
    typer.echo("  ".join("-" * s for s in sizes))
    for row in cells:
        typer.echo("  ".join(c.ljust(sizes[i]) for i, c in enumerate(row)).rstrip())


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def parse_since(value: str | None, now: datetime, option: str = "--since") -> datetime | None:
    """``30d``, ``12h``, ``2w`` or an ISO date/time (see tasks.durations); None passes through."""
    if not value:
        return None
    from tasks.durations import DurationError, parse_moment

    try:
        return parse_moment(value, now)
    except DurationError as exc:
        fail(f"{option} {exc}")


def quiet_prefect_environment() -> None:
    """Defaults that keep a one-shot local run fast and free of Prefect noise.

    Set before prefect is imported; a user's own settings win.
    """
    defaults = {
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_LOGGING_LOG_PRINTS": "false",
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
