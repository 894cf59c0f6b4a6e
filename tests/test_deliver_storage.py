"""storage.deliveries: who gets which row, baselines, debounce, digests, claims."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.db import Database, open_database
from storage.deliveries import (
    claim_next,
    enqueue_due_digests,
    enqueue_for_alert,
    record_failure,
    record_sent,
    subscriber_states,
    sync_subscribers,
)
from storage.models import Delivery, Subscriber
from tests.test_deliver_support import (
    T0,
    add_alert,
    grow_alert,
    later,
    make_settings,
)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """SQLite always; PostgreSQL too when the suite is given a server (conftest)."""
    db = open_database(database_url, migrate=True)
    yield db
    db.dispose()

HOOK = "https://hooks.slack.example/services/T/B/x"


def desk(**extra: object) -> dict[str, object]:
    return {"name": "desk", "email": ["desk@example.org"], "slack_webhook": HOOK, **extra}


def rows(session) -> list[Delivery]:
    return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def test_new_alert_queues_one_row_per_channel_once(database: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, subscribers=[desk()])
    with database.session() as session:
        sync_subscribers(session, settings, T0 - timedelta(days=1))
        alert = add_alert(session)
        assert enqueue_for_alert(session, alert, "new", T0, settings) == 2
        assert enqueue_for_alert(session, alert, "new", T0, settings) == 0  # idempotent
        assert sorted((d.key, d.channel, d.kind) for d in rows(session)) == [
            (f"alert:{alert.id}", "email", "alert"),
            (f"alert:{alert.id}", "slack", "alert"),
        ]


def test_baseline_alerts_and_alerts_before_subscriber_queue_nothing(
    database: Database, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, subscribers=[desk()])
    with database.session() as session:
        baseline = add_alert(session, baseline=True)
        assert enqueue_for_alert(session, baseline, "new", T0, settings) == 0
        old = add_alert(session, now=T0 - timedelta(hours=2))
        # The subscriber is first seen now: the older alert is its baseline.
        sync_subscribers(session, settings, T0)
        assert enqueue_for_alert(session, old, "update", T0, settings) == 0
        fresh = add_alert(session, now=later(minutes=5))
        assert enqueue_for_alert(session, fresh, "new", later(minutes=5), settings) == 2
        assert {d.alert_id for d in rows(session)} == {fresh.id}


def test_baseline_can_be_switched_off(database: Database, tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, subscribers=[desk()], delivery={"baseline_on_first_run": False}
    )
    with database.session() as session:
        old = add_alert(session, now=T0 - timedelta(hours=2))
        sync_subscribers(session, settings, T0)
        assert enqueue_for_alert(session, old, "update", T0, settings) == 2


def test_topic_filter_min_score_and_digest_mode(database: Database, tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        subscribers=[
            desk(name="uk", topics=["uk-us-relations"], slack_webhook=None),
            desk(name="picky", min_score=5, slack_webhook=None),
            desk(name="later", mode="digest", slack_webhook=None),
        ],
    )
    with database.session() as session:
        sync_subscribers(session, settings, T0 - timedelta(days=1))
        other_topic = add_alert(session, topic="foreign-campaigning", score=9)
        low = add_alert(session, score=2)
        assert enqueue_for_alert(session, other_topic, "new", T0, settings) == 1  # picky only
        assert enqueue_for_alert(session, low, "new", T0, settings) == 1  # uk only
        names = {s.id: s.name for s in session.scalars(select(Subscriber))}
        assert sorted((names[d.subscriber_id], d.alert_id) for d in rows(session)) == sorted(
            [("picky", other_topic.id), ("uk", low.id)]
        )


def test_updates_are_debounced_per_story(database: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, subscribers=[desk(slack_webhook=None)])
    with database.session() as session:
        sync_subscribers(session, settings, T0 - timedelta(days=1))
        alert = add_alert(session)
        enqueue_for_alert(session, alert, "new", T0, settings)
        # Growth while the first message is still queued adds nothing: it will show it.
        grow_alert(session, alert, later(minutes=1))
        assert enqueue_for_alert(session, alert, "update", later(minutes=1), settings) == 0
        (first,) = rows(session)
        record_sent(session, first.id, later(minutes=2), "250 ok")
        # Two updates within the window: one update row, held until the window ends.
        grow_alert(session, alert, later(hours=1))
        assert enqueue_for_alert(session, alert, "update", later(hours=1), settings) == 1
        grow_alert(session, alert, later(hours=2))
        assert enqueue_for_alert(session, alert, "update", later(hours=2), settings) == 0
        update_row = rows(session)[-1]
        assert update_row.kind == "update"
        assert update_row.key == f"alert:{alert.id}:update:1"
        assert update_row.not_before == later(hours=6, minutes=2)
        assert update_row.payload["thread_key"] == f"alert:{alert.id}"


def test_second_topic_on_same_story_is_an_update_not_a_second_story(
    database: Database, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, subscribers=[desk(slack_webhook=None)])
    with database.session() as session:
        sync_subscribers(session, settings, T0 - timedelta(days=1))
        first = add_alert(session, topic="uk-us-relations")
        enqueue_for_alert(session, first, "new", T0, settings)
        second = add_alert(session, topic="foreign-campaigning", story=first.story)
        assert enqueue_for_alert(session, second, "new", T0, settings) == 0  # first still queued
        record_sent(session, rows(session)[0].id, later(minutes=1), "250 ok")
        third_topic = add_alert(session, topic="other", story=first.story, now=later(hours=7))
        assert enqueue_for_alert(session, third_topic, "new", later(hours=7), settings) == 1
        assert rows(session)[-1].kind == "update"
        assert rows(session)[-1].not_before is None  # the window is over


def test_digest_is_queued_once_per_period_with_new_and_updated_alerts(
    database: Database, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path,
        subscribers=[desk(mode="digest", digest={"every": "daily", "at": "08:00"})],
    )
    with database.session() as session:
        sync_subscribers(session, settings, T0 - timedelta(days=3))
        old = add_alert(session, title="Older story", now=T0 - timedelta(days=2))
        grow_alert(session, old, T0 - timedelta(hours=5))  # updated inside the period
        new = add_alert(session, title="New story", now=T0 - timedelta(hours=3))
        add_alert(session, title="Baseline", now=T0 - timedelta(hours=3), baseline=True)
        add_alert(session, title="Not yet", now=T0 + timedelta(minutes=30))
        # Immediate enqueueing ignores digest subscribers.
        assert enqueue_for_alert(session, new, "new", T0, settings) == 0
        due = enqueue_due_digests(session, settings, T0)
        assert len(due) == 1
        assert sorted(due[0].alert_ids) == sorted([old.id, new.id])
        assert due[0].period_start == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
        assert due[0].period_end == datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
        digests = rows(session)
        assert {d.channel for d in digests} == {"email", "slack"}
        assert {d.key for d in digests} == {"digest:desk:2026-11-27T08:00:00+00:00"}
        assert digests[0].payload["new_alert_ids"] == [new.id]
        # Running again in the same period queues nothing more.
        assert enqueue_due_digests(session, settings, T0 + timedelta(hours=1)) == []
        assert len(rows(session)) == 2


def test_empty_period_sends_nothing_but_moves_on(database: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, subscribers=[desk(mode="digest", slack_webhook=None)])
    with database.session() as session:
        sync_subscribers(session, settings, T0 - timedelta(days=3))
        assert enqueue_due_digests(session, settings, T0) == []
        assert rows(session) == []
        subscriber = session.scalars(select(Subscriber)).one()
        assert subscriber.last_digest_at == datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def test_claims_are_exclusive_and_abandoned_leases_are_retaken(
    database: Database, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, subscribers=[desk(slack_webhook=None)])
    with database.session() as session:
        sync_subscribers(session, settings, T0 - timedelta(days=1))
        enqueue_for_alert(session, add_alert(session), "new", T0, settings)
    with database.session() as session:
        claimed = claim_next(session, T0, lease_seconds=60)
        assert claimed is not None and claimed.status == "sending" and claimed.attempts == 1
    with database.session() as session:
        assert claim_next(session, T0 + timedelta(seconds=30), lease_seconds=60) is None
        again = claim_next(session, T0 + timedelta(seconds=61), lease_seconds=60)
        assert again is not None and again.id == claimed.id and again.attempts == 2
        record_failure(session, again.id, T0, error="451 later", response="451 later",
                       retry_at=T0 + timedelta(minutes=5))
    with database.session() as session:
        assert claim_next(session, T0 + timedelta(minutes=4)) is None
        third = claim_next(session, T0 + timedelta(minutes=5))
        assert third is not None and third.attempts == 3
        record_sent(session, third.id, T0 + timedelta(minutes=5), "250 ok")
    with database.session() as session:
        assert claim_next(session, T0 + timedelta(days=1)) is None


def test_removed_subscriber_becomes_inactive(database: Database, tmp_path: Path) -> None:
    with database.session() as session:
        sync_subscribers(session, make_settings(tmp_path, subscribers=[desk()]), T0)
        sync_subscribers(session, make_settings(tmp_path, subscribers=[]), later(hours=1))
        (row,) = session.scalars(select(Subscriber))
        assert row.active is False and row.baseline_at == T0


def test_growth_while_a_message_is_in_flight_is_not_lost(database: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, subscribers=[desk(slack_webhook=None)])
    with database.session() as session:
        sync_subscribers(session, settings, T0 - timedelta(days=1))
        alert = add_alert(session)
        enqueue_for_alert(session, alert, "new", T0, settings)
    with database.session() as session:
        claimed = claim_next(session, T0)  # rendered and being sent
        assert claimed is not None
    with database.session() as session:
        alert = session.get(type(alert), alert.id)
        grow_alert(session, alert, later(minutes=1))
        assert enqueue_for_alert(session, alert, "update", later(minutes=1), settings) == 1
        update_row = rows(session)[-1]
        assert update_row.kind == "update" and update_row.not_before == later(hours=6, minutes=1)



def test_subscriber_state_shows_a_future_digest_and_the_one_due_now(database: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, subscribers=[
        {"name": "morning", "email": "e@example.org", "mode": "digest",
         "digest": {"every": "daily", "at": "08:00", "timezone": "UTC"}}])
    with database.session() as session:
        sync_subscribers(session, settings, T0 - timedelta(days=2))  # T0 is 09:00: 08:00 has passed
        (state,) = subscriber_states(session, settings, T0)
        assert state.next_digest_at == datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
        assert state.digest_due_at == datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
        enqueue_due_digests(session, settings, T0)
        (state,) = subscriber_states(session, settings, T0)
        assert state.next_digest_at == datetime(2026, 11, 29, 8, 0, tzinfo=UTC) and state.digest_due_at is None
