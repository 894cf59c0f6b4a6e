"""The digest calendar: when a subscriber's digest period starts and ends, and when the next
one falls due. Pure functions of a :class:`DigestConfig` and a time; no database.

Why here, in ``config/``: the calendar is what a ``digest:`` section (``every``, ``at``,
``timezone``, ``weekday``) means in time. Storage needs it to know which period a queued
digest covers (``storage/deliveries.py``) and tasks need it to preview one
(``tasks/notify/preview.py``); imports flow flows -> tasks -> storage -> config, so the one
place both may import without storage reaching up into tasks is next to the config it reads.

Boundaries are computed in the subscriber's time zone with wall-clock arithmetic, so a
daily 08:00 digest stays at 08:00 local across a DST change (its period is then 23 or 25
hours long); every value returned is an aware UTC datetime.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from config.settings import DigestConfig

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# A little more than one period: probing this far past a boundary finds the next one even
# when a DST change makes the period 23 or 25 hours long.
_PROBE = {
    "daily": timedelta(hours=26),
    "weekly": timedelta(days=7, hours=2),
}
_QUARTER = timedelta(minutes=15)
_QUARTERS_TO_SCAN = 4 * 3  # three hours back: more than any offset change moves a clock
_TICK = timedelta(microseconds=1)  # the smallest step back in time a datetime can take


@dataclass(frozen=True)
class DigestPeriod:
    """The period a digest covers: ``[start, end)``, ``end`` being its boundary."""

    start: datetime
    end: datetime


def latest_digest_boundary(digest: DigestConfig, now: datetime) -> datetime:
    """The most recent moment at or before ``now`` when this digest falls due (UTC).

    Candidates are compared with ``now`` in UTC, not on the wall clock: a digest time inside
    a DST gap or a repeated hour would otherwise count as past while still ahead.
    """
    zone = ZoneInfo(digest.timezone)
    now_utc = aware(now).astimezone(UTC)
    local = now_utc.astimezone(zone)
    hour, minute = _hour_minute(digest)
    if digest.every == "hourly":
        return _latest_hourly(zone, minute, now_utc)
    day = local.date()
    if digest.every == "weekly":
        day -= timedelta(days=(day.weekday() - WEEKDAYS.index(digest.weekday)) % 7)
    candidate = datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)
    if candidate > now_utc:
        step = timedelta(days=7 if digest.every == "weekly" else 1)
        candidate = datetime.combine(day - step, time(hour, minute), tzinfo=zone).astimezone(UTC)
    return candidate


def previous_digest_boundary(digest: DigestConfig, boundary: datetime) -> datetime:
    """The boundary before ``boundary``: where the period ending there starts. On the local
    clock, so a daily period across a DST change is 23 or 25 hours long."""
    return latest_digest_boundary(digest, aware(boundary) - _TICK)


def next_digest_time(digest: DigestConfig, now: datetime) -> datetime:
    """The first digest time strictly after ``now`` (never one in the past)."""
    upcoming = _next_boundary(digest, latest_digest_boundary(digest, now))
    while upcoming <= aware(now):
        upcoming = _next_boundary(digest, upcoming)
    return upcoming


def current_period(
    digest: DigestConfig, now: datetime, covered_until: datetime | None
) -> DigestPeriod:
    """The period whose digest is due (or, before its end, would be) at ``now``.

    It ends at the latest boundary and starts where the last digest stopped
    (``covered_until``), so runs that were missed are covered by one digest and nothing is
    skipped; a subscriber with no digest yet starts one period before the boundary.
    """
    end = latest_digest_boundary(digest, now)
    start = aware(covered_until) if covered_until is not None else previous_digest_boundary(digest, end)
    return DigestPeriod(start=start, end=end)


def period_is_due(period: DigestPeriod, covered_until: datetime | None) -> bool:
    """Whether a digest ending at ``period.end`` has not been covered yet."""
    return covered_until is None or aware(covered_until) < period.end


def digest_key(subscriber_name: str, period_start: datetime) -> str:
    """The delivery key of one subscriber's digest for the period starting at ``period_start``."""
    return f"digest:{subscriber_name}:{aware(period_start).isoformat()}"


def aware(value: datetime) -> datetime:
    """``value`` with UTC attached when it has no zone (as SQLite returns datetimes)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _latest_hourly(zone: ZoneInfo, minute: int, now_utc: datetime) -> datetime:
    # The last instant the local clock showed HH:<minute>. Zone offsets are whole quarters of
    # an hour, so only UTC minutes congruent to ``minute`` mod 15 can qualify: step back
    # through those. In real time, so the repeated hour of a DST change has its digests and
    # a half-hour shift (Lord Howe) gives one 30- or 90-minute period.
    candidate = now_utc.replace(second=0, microsecond=0)
    candidate -= timedelta(minutes=(candidate.minute - minute) % 15)
    return _scan_quarters(zone, minute, candidate, -_QUARTER)


def _next_hourly(zone: ZoneInfo, minute: int, boundary: datetime) -> datetime:
    return _scan_quarters(zone, minute, boundary + _QUARTER, _QUARTER)


def _scan_quarters(zone: ZoneInfo, minute: int, start: datetime, step: timedelta) -> datetime:
    candidate = start
    for _ in range(_QUARTERS_TO_SCAN):
        if candidate.astimezone(zone).minute == minute:
            return candidate
        candidate += step
    raise ValueError(f"time zone {zone.key} shows no minute {minute:02d} near {start}")


def _next_boundary(digest: DigestConfig, boundary: datetime) -> datetime:
    if digest.every == "hourly":
        return _next_hourly(ZoneInfo(digest.timezone), _hour_minute(digest)[1], boundary)
    return latest_digest_boundary(digest, boundary + _PROBE[digest.every])


def _hour_minute(digest: DigestConfig) -> tuple[int, int]:
    hour, minute = digest.at.split(":")
    return int(hour), int(minute)
