"""The one way newswatch reads the time (UTC, aware), so tests can pass their own."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
