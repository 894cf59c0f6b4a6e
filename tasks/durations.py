"""Durations and moments as people type them: ``30d``, ``12h``, ``2w`` or an ISO date.

One parser for every "since"/"until" a command or a web page takes. It is bounded: a
duration longer than :data:`MAX_DURATION` or a date beyond what ``datetime`` holds is a
:class:`DurationError` with a message a person can act on, never an ``OverflowError``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

# A century reaches back before any stored article; beyond it a duration is a typo.
MAX_DURATION_DAYS = 36_500
MAX_DURATION = timedelta(days=MAX_DURATION_DAYS)

_DURATION = re.compile(r"\s*([0-9]{1,12}(?:\.[0-9]{1,6})?)\s*([smhdw])\s*", re.IGNORECASE | re.ASCII)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
FORMS = "a duration like 30d, 12h, 90m or 2w, or a date like 2026-11-20 or 2026-11-20T08:00"


def _shown(text: str, limit: int = 60) -> str:
    """A bad value as an error quotes it: repr'd (control characters visible) and short."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


class DurationError(ValueError):
    """The text is not a duration or a date we accept; the message says which forms are."""


def parse_duration(text: str) -> timedelta:
    """``30d`` → 30 days (units s, m, h, d, w; decimals allowed), at most a century."""
    match = _DURATION.fullmatch(text or "")
    if not match:
        raise DurationError(f"{_shown(text)} is not a duration; use {FORMS}")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    if seconds > MAX_DURATION.total_seconds():
        raise DurationError(f"{_shown(text)} is too long; use at most {MAX_DURATION_DAYS}d")
    return timedelta(seconds=seconds)


def parse_moment(text: str, now: datetime, *, end_of_day: bool = False) -> datetime:
    """A duration before ``now``, or an ISO date or date-time (UTC when it names no zone).

    A bare date used as an upper bound (``end_of_day``) means the end of that day. The
    result is in UTC.
    """
    value = (text or "").strip()
    if _DURATION.fullmatch(value):
        return (now - parse_duration(value)).astimezone(UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise DurationError(f"{_shown(text)} is not a date or a duration; use {FORMS}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        if end_of_day and len(value) == 10:  # a date without a time: include the whole day
            parsed += timedelta(days=1) - timedelta(microseconds=1)
        return parsed.astimezone(UTC)
    except OverflowError:
        raise DurationError(f"{_shown(text)} is out of range; use a date between 0001-01-02 and 9999-12-30") from None
