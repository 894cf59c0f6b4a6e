"""The one outcome type: its words are a contract (stored, counted, shown in JSON)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from config.settings import FeedConfig
from storage.db import open_database
from storage.feeds import FetchRecord, record_fetch, sync_feeds
from storage.models import Feed, FeedFetch
from storage.outcome import FAILURES, HARD_FAILURE, SOFT_FAILURE, Outcome

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
SPACING = {"interval": timedelta(minutes=15), "max_backoff": timedelta(hours=24)}


def test_the_words_are_the_contracts_words() -> None:
    assert [o.value for o in Outcome] == ["ok", "not_modified", "transient", "permanent", "rejected"]
    assert {"transient", "permanent", "rejected"} == FAILURES
    # Counted as "pages_<outcome>" and serialised as the bare word.
    assert f"pages_{Outcome.NOT_MODIFIED}" == "pages_not_modified"
    assert json.dumps({"outcome": Outcome.TRANSIENT}) == '{"outcome": "transient"}'


@pytest.mark.parametrize(
    ("outcome", "soft", "weight"),
    [
        (Outcome.OK, True, 0.0),
        (Outcome.NOT_MODIFIED, False, 0.0),
        (Outcome.TRANSIENT, True, SOFT_FAILURE),
        (Outcome.PERMANENT, False, HARD_FAILURE),
        (Outcome.REJECTED, True, SOFT_FAILURE),
    ],
)
def test_failure_weight(outcome: Outcome, soft: bool, weight: float) -> None:
    assert outcome.failure_weight(soft) == weight
    assert outcome.is_failure == (weight > 0)


def test_a_record_with_a_word_outside_the_vocabulary_is_refused() -> None:
    assert FetchRecord(outcome="not_modified", status="not modified").outcome is Outcome.NOT_MODIFIED
    with pytest.raises(ValueError, match="'failed' is not a valid Outcome"):
        FetchRecord(outcome="failed", status="HTTP 500")


def test_the_database_holds_the_bare_word(database_url: str) -> None:
    db = open_database(database_url, migrate=True)
    with db.session() as session:
        [feed] = sync_feeds(session, [FeedConfig(url="https://example.org/rss")], NOW)
        record_fetch(session, feed.id, FetchRecord(outcome=Outcome.TRANSIENT, status="timeout", soft_failure=True), NOW, **SPACING)
    with db.session() as session:
        stored = session.scalars(select(Feed)).one()
        assert (type(stored.outcome), stored.outcome, stored.failures) == (str, "transient", SOFT_FAILURE)
        assert session.scalars(select(FeedFetch.outcome)).all() == ["transient"]
    db.dispose()
