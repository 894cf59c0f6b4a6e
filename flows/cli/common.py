"""Helpers every command shares: loading config, opening the database, printing safely."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from config.settings import ConfigError, Settings, load_settings

EXIT_USAGE = 2

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="The YAML config file.", envvar="NEWSWATCH_CONFIG"),
]


class TableOrJson(StrEnum):
    table = "table"
    json = "json"


class TextOrJson(StrEnum):
    text = "text"
    json = "json"


FormatOption = Annotated[TableOrJson, typer.Option("--format", "-f", help="table or json.")]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    typer.echo(f"newswatch: {message}", err=True)
    raise typer.Exit(code)


def settings_from(config: Path | None) -> Settings:
    """Load the config or exit with its one-line message (never a traceback)."""
    try:
        return load_settings(config)
    except ConfigError as exc:
        fail(str(exc))


@contextmanager
def database_session(settings: Settings, *, migrate: bool | None = None) -> Iterator[Any]:
    from storage.db import DatabaseNotReady, open_database

    try:
        db = open_database(settings.resolved_database_url, migrate=migrate)
    except DatabaseNotReady as exc:
        fail(str(exc))
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


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str | None, now: datetime) -> datetime | None:
    """``30d``, ``12h``, ``2w`` or an ISO date/time; None passes through."""
    if not value:
        return None
    match = _DURATION.match(value)
    if match:
        return now - timedelta(**{_UNITS[match.group(2).lower()]: float(match.group(1))})
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        fail(f"--since {value!r}: use a duration like 30d, 12h, 2w or an ISO date")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=now.tzinfo)


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
