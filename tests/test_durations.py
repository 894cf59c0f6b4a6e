"""The one duration parser behind every --since, `since` and `until`: bounded, never an OverflowError."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasks.durations import MAX_DURATION, DurationError, parse_duration, parse_moment

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30d", timedelta(days=30)), ("12h", timedelta(hours=12)), (" 2W ", timedelta(weeks=2)),
     ("90m", timedelta(minutes=90)), ("45s", timedelta(seconds=45)), ("1.5d", timedelta(hours=36)),
     ("36500d", MAX_DURATION), ("0d", timedelta(0))],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["99999999999d", "36501d", "5300w", "1e400d", "99999999999999999999999h"]
)
def test_too_long_or_too_many_digits_is_a_clear_error(text: str) -> None:
    with pytest.raises(DurationError, match=r"too long|not a duration"):
        parse_duration(text)
    with pytest.raises(DurationError):
        parse_moment(text, NOW)


@pytest.mark.parametrize("text", ["", "d", "-3d", "3 days", "3y", "nan", "infd", "٣d", "3d\x00"])
def test_other_text_is_an_error_naming_the_forms(text: str) -> None:
    with pytest.raises(DurationError, match="30d"):
        parse_moment(text, NOW)


def test_moments() -> None:
    assert parse_moment("12h", NOW) == NOW - timedelta(hours=12)
    assert parse_moment("2026-11-20", NOW) == datetime(2026, 11, 20, tzinfo=UTC)
    assert parse_moment("2026-11-20", NOW, end_of_day=True) == datetime(2026, 11, 20, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_moment("2026-11-20T08:00+01:00", NOW) == datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
    assert parse_moment("2026-11-20T08:00Z", NOW).tzinfo == UTC


@pytest.mark.parametrize("text", ["0001-01-01T00:00+01:00", "9999-12-31T23:59-05:00"])
def test_dates_at_the_edge_of_the_calendar_are_errors_not_overflows(text: str) -> None:
    with pytest.raises(DurationError, match="out of range"):
        parse_moment(text, NOW, end_of_day=True)


def test_the_last_day_of_the_calendar_still_works() -> None:
    assert parse_moment("9999-12-31", NOW, end_of_day=True) == datetime.max.replace(tzinfo=UTC)


@given(st.text(max_size=30))
def test_any_text_gives_a_utc_moment_or_a_duration_error(text: str) -> None:
    try:
        moment = parse_moment(text, NOW, end_of_day=True)
    except DurationError:
        return
    assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0)
