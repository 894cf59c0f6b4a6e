"""The one Retry-After parser the fetcher and Slack delivery share: bounded, finite, or None."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasks import http
from tasks.notify import slack
from tasks.retry_after import MAX_RETRY_AFTER_SECONDS, parse_retry_after

NOW = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)


def test_seconds_and_http_dates() -> None:
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after(" 1.5 ", NOW) == 1.5  # Slack sends decimals
    assert parse_retry_after("0", NOW) == 0.0
    assert parse_retry_after("Sat, 28 Nov 2026 09:02:00 GMT", NOW) == 120.0
    assert parse_retry_after("Sat, 28 Nov 2026 08:00:00 GMT", NOW) == 0.0  # in the past


@pytest.mark.parametrize(
    "value",
    [None, "", "  ", "soon", "inf", "Infinity", "nan", "NaN", "-inf", "-5", "+5", "1e3", "1e999",
     ".5", "12 s", "0x10", "٣", "Sat, 99 Nov 2026 09:02:00 GMT", "\x00"],
)
def test_unreadable_values_are_none(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None


@pytest.mark.parametrize(
    "value", ["999999999999999", "86400000", "Fri, 31 Dec 9999 23:59:59 GMT"]
)
def test_huge_values_are_capped(value: str) -> None:
    assert parse_retry_after(value, NOW) == MAX_RETRY_AFTER_SECONDS


@given(st.text(max_size=40))
def test_any_header_gives_none_or_a_finite_bounded_number(value: str) -> None:
    seconds = parse_retry_after(value, NOW)
    if seconds is not None:
        assert math.isfinite(seconds) and 0 <= seconds <= MAX_RETRY_AFTER_SECONDS
        timedelta(seconds=seconds)  # always fits


def test_the_fetcher_and_slack_use_the_same_parser() -> None:
    assert http.parse_retry_after is parse_retry_after
    assert slack.parse_retry_after is parse_retry_after
