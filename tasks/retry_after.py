"""``Retry-After``: how long a server asks us to wait, read once for every client we have.

The feed and article fetcher (``tasks.http``) and Slack delivery (``tasks.notify.slack``)
both honour it. A server's value is input like any other: ``inf``, ``nan``, negative
numbers, exponents and absurd dates are refused (None: the caller's own backoff applies),
and a valid value is capped at :data:`MAX_RETRY_AFTER_SECONDS`, so the result always fits
in a ``timedelta`` and in the database.
"""

from __future__ import annotations

import email.utils
import re
from datetime import UTC, datetime

from storage.clock import utcnow

# A week: longer than any server means, short enough that a feed is never lost for good.
MAX_RETRY_AFTER_SECONDS = 7 * 86400.0

# RFC 9110 says delta-seconds (digits); Slack and others send "1.5" too, so decimals pass.
_SECONDS = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,6})?", re.ASCII)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date).

    None when the header is absent or unreadable; otherwise a finite number from 0 to
    :data:`MAX_RETRY_AFTER_SECONDS` (a date in the past means 0).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _SECONDS.fullmatch(text):
        return min(float(text), MAX_RETRY_AFTER_SECONDS)
    if text[0].isdigit() or text[0] in "+-.":
        return None  # "-5", "1e9", "12 s": a malformed number, not a date
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        seconds = (when - (now or utcnow())).total_seconds()
    except OverflowError:
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)
