"""The one way newswatch reads the time of day (UTC, aware), so tests can pass their own.

Every wall-clock reading goes through :func:`utcnow`; code that takes a ``now`` argument
gets it from here (config/ sits below storage/, so its functions are handed ``now``).
Durations and deadlines are another matter: they read ``time.monotonic`` (a pass's
seconds, its progress and time left, the fetcher's deadlines and per-host gaps, the
extraction workers' timeouts, waits for a server), because a wall clock that is set back
or forward while they run would stretch or cut them. tests/test_clock.py keeps it so.
"""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
