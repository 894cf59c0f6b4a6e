"""config.digest_calendar: digest periods in the subscriber's time zone, pure functions only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from config.digest_calendar import (
    current_period,
    digest_key,
    latest_digest_boundary,
    next_digest_time,
    period_is_due,
    previous_digest_boundary,
)
from config.settings import DigestConfig

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)  # a Saturday
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def test_digest_boundaries_follow_the_local_clock() -> None:
    daily = DigestConfig(every="daily", at="08:00", timezone="Europe/London")
    # 28 Nov: London is on GMT, so 08:00 local is 08:00 UTC.
    assert latest_digest_boundary(daily, datetime(2026, 11, 28, 7, 59, tzinfo=UTC)) == datetime(
        2026, 11, 27, 8, 0, tzinfo=UTC
    )
    assert latest_digest_boundary(daily, datetime(2026, 11, 28, 8, 0, tzinfo=UTC)) == datetime(
        2026, 11, 28, 8, 0, tzinfo=UTC
    )
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # BST: 08:00 local is 07:00 UTC
    assert latest_digest_boundary(daily, summer) == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    weekly = DigestConfig(every="weekly", at="09:30", timezone="UTC", weekday="mon")
    # 28 Nov 2026 is a Saturday; the last Monday was 23 Nov.
    assert latest_digest_boundary(weekly, T0) == datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    hourly = DigestConfig(every="hourly", at="00:15", timezone="UTC")
    assert latest_digest_boundary(hourly, T0) == datetime(2026, 11, 28, 8, 15, tzinfo=UTC)


def test_a_period_across_the_autumn_change_is_25_hours_and_the_spring_one_23() -> None:
    daily = DigestConfig(every="daily", at="08:00", timezone="Europe/London")
    # Clocks go back on 25 Oct 2026 (BST -> GMT).
    autumn = current_period(daily, datetime(2026, 10, 25, 12, 0, tzinfo=UTC), None)
    assert autumn.start == datetime(2026, 10, 24, 7, 0, tzinfo=UTC)
    assert autumn.end == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)
    assert autumn.end - autumn.start == timedelta(hours=25)
    # Clocks go forward on 29 Mar 2026 (GMT -> BST).
    spring = current_period(daily, datetime(2026, 3, 29, 12, 0, tzinfo=UTC), None)
    assert spring.end - spring.start == timedelta(hours=23)
    for boundary in (autumn.start, autumn.end, spring.start, spring.end):
        assert boundary.astimezone(LONDON).strftime("%H:%M") == "08:00"


def test_a_weekly_period_across_a_dst_change_keeps_its_local_time() -> None:
    # New York leaves DST on 1 Nov 2026, a Sunday: the week ending Monday 2 Nov is 169 hours.
    weekly = DigestConfig(every="weekly", at="07:00", timezone="America/New_York", weekday="mon")
    period = current_period(weekly, datetime(2026, 11, 2, 15, 0, tzinfo=UTC), None)
    assert period.end == datetime(2026, 11, 2, 12, 0, tzinfo=UTC)  # 07:00 EST
    assert period.start == datetime(2026, 10, 26, 11, 0, tzinfo=UTC)  # 07:00 EDT
    assert period.end - period.start == timedelta(days=7, hours=1)
    assert previous_digest_boundary(weekly, period.end) == period.start


def test_hourly_digests_keep_coming_every_real_hour_through_the_repeated_hour() -> None:
    hourly = DigestConfig(every="hourly", at="00:15", timezone="Europe/London")
    # 25 Oct 2026: 01:00-02:00 local happens twice (00:00-01:00 UTC in BST, then in GMT).
    now = datetime(2026, 10, 25, 1, 10, tzinfo=UTC)  # 01:10 GMT, the second 01:10
    assert latest_digest_boundary(hourly, now) == datetime(2026, 10, 25, 0, 15, tzinfo=UTC)  # 01:15 BST
    assert next_digest_time(hourly, now) == datetime(2026, 10, 25, 1, 15, tzinfo=UTC)  # 01:15 GMT


def test_the_next_digest_across_the_spring_change_is_at_the_local_time() -> None:
    daily = DigestConfig(every="daily", at="08:00", timezone="Europe/London")
    assert next_digest_time(daily, datetime(2026, 3, 28, 9, 0, tzinfo=UTC)) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    # At the boundary itself, and just after it, the next one is tomorrow's.
    for now in (datetime(2026, 11, 28, 8, 0, tzinfo=UTC), datetime(2026, 11, 28, 8, 1, tzinfo=UTC)):
        assert next_digest_time(daily, now) == datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    hourly = DigestConfig(every="hourly", at="00:15")
    assert next_digest_time(hourly, datetime(2026, 11, 28, 9, 20, tzinfo=UTC)) == datetime(2026, 11, 28, 10, 15, tzinfo=UTC)
    weekly = DigestConfig(every="weekly", at="09:00", weekday="mon")
    assert next_digest_time(weekly, T0) == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


digest_configs = st.builds(
    DigestConfig,
    every=st.sampled_from(["hourly", "daily", "weekly"]),
    at=st.sampled_from(["00:00", "01:30", "02:30", "08:00", "23:59"]),  # 01:30/02:30: hours DST skips or repeats
    timezone=st.sampled_from(["UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe"]),
    weekday=st.sampled_from(["mon", "wed", "sun"]),
)
moments = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)


@given(digest_configs, moments)
def test_the_next_digest_is_never_in_the_past_and_within_one_period(digest: DigestConfig, now: datetime) -> None:
    upcoming = next_digest_time(digest, now)
    latest = latest_digest_boundary(digest, now)
    assert latest <= now < upcoming
    # Lord Howe's clocks move by half an hour: its hourly periods are 30 to 90 minutes.
    longest = {"hourly": timedelta(hours=1.5), "daily": timedelta(hours=25), "weekly": timedelta(days=7, hours=1)}
    assert upcoming - latest <= longest[digest.every]
    # Nothing falls due in between: the boundary just before the next one is the latest.
    assert latest_digest_boundary(digest, upcoming - timedelta(microseconds=1)) == latest


@given(digest_configs, moments)
def test_the_period_ends_at_or_before_now_and_starts_one_period_earlier(digest: DigestConfig, now: datetime) -> None:
    period = current_period(digest, now, None)
    assert period.start < period.end <= now
    assert latest_digest_boundary(digest, period.end) == period.end  # a boundary itself
    assert latest_digest_boundary(digest, period.end - timedelta(microseconds=1)) == period.start
    assert next_digest_time(digest, period.start) == period.end  # nothing due in between


def test_a_period_starts_where_the_last_digest_stopped() -> None:
    daily = DigestConfig(every="daily", at="08:00")
    missed = datetime(2026, 11, 25, 8, 0)  # naive, as SQLite returns it: read as UTC
    period = current_period(daily, T0, missed)
    assert period.start == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # three days in one digest
    assert period.end == datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    assert period_is_due(period, missed)
    assert period_is_due(period, None)
    assert not period_is_due(period, period.end)
    assert not period_is_due(period, T0)  # switched to digests after the boundary


def test_a_digest_key_names_the_subscriber_and_the_period_start() -> None:
    start = datetime(2026, 11, 28, 8, 0, tzinfo=LONDON)
    assert digest_key("desk", start) == "digest:desk:2026-11-28T08:00:00+00:00"
    assert digest_key("desk", datetime(2026, 11, 28, 8, 0)) == digest_key("desk", start.astimezone(UTC))


def test_a_digest_time_inside_a_dst_gap_is_never_reported_as_past_while_ahead() -> None:
    # 02:30 does not exist in New York on 8 Mar 2026; Lord Howe skips 02:00-02:30 on 4 Oct 2026.
    cases = [
        (DigestConfig(every="daily", at="02:30", timezone="America/New_York"), datetime(2026, 3, 8, 5, 0, tzinfo=UTC)),
        (DigestConfig(every="hourly", at="00:15", timezone="Australia/Lord_Howe"), datetime(2026, 10, 3, 14, 0, tzinfo=UTC)),
    ]
    for digest, start in cases:
        for step in range(0, 5 * 60, 5):
            now = start + timedelta(minutes=step)
            latest, upcoming = latest_digest_boundary(digest, now), next_digest_time(digest, now)
            assert latest <= now < upcoming, (digest, now)
            assert latest_digest_boundary(digest, upcoming - timedelta(microseconds=1)) == latest
