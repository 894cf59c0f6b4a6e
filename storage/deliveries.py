"""Deliveries: who gets which message, queued in the database, claimed with leases.

A delivery row is one message to one subscriber on one channel (email or Slack). Rows are
written idempotently (a unique key per message) so re-running a pass or a deliver run never
queues a message twice. The life of a row::

    pending --claim--> sending --sent--> sent
       ^                  |  \\--permanent failure / attempts exhausted--> failed
       +--transient-------+
    sending with an expired lease (the process died mid-send) --claim--> sending again

Immediate subscribers get one message per story: the first alert of a story queues an
``alert`` row; later growth (more sources, another topic) queues at most one ``update`` row
per story per debounce window. Digest subscribers get one ``digest`` row per period,
computed by :func:`enqueue_due_digests` when the period is over.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

# The digest calendar (when a period starts and ends) is pure and lives next to the config
# it reads; this module only records which period each digest covered.
from config.digest_calendar import (
    aware,
    current_period,
    digest_key,
    next_digest_time,
    period_is_due,
)
from config.settings import Settings, SubscriberConfig
from storage.dialect import insert_ignore
from storage.models import Alert, Delivery, Subscriber

Channel = Literal["email", "slack"]
# How long a claim protects a row being sent; longer than any SMTP/HTTP timeout we use.
DEFAULT_LEASE_SECONDS = 300.0
DUE_STATUSES = ("pending", "sending")


# Subscribers ------------------------------------------------------------------------------


def channels_of(config: SubscriberConfig) -> list[Channel]:
    """The channels a subscriber has configured, in a fixed order."""
    channels: list[Channel] = []
    if config.email:
        channels.append("email")
    if config.slack_webhook is not None and config.slack_webhook.get_secret_value().strip():
        channels.append("slack")
    return channels


def sync_subscribers(session: Session, settings: Settings, now: datetime) -> None:
    """Upsert the subscribers of the config; mark the ones no longer configured inactive.

    A new subscriber's ``baseline_at`` is ``now`` when ``delivery.baseline_on_first_run``:
    alerts older than that are never sent to it, so adding a subscriber is not a flood.
    """
    rows = {row.name: row for row in session.scalars(select(Subscriber))}
    for config in settings.subscribers:
        row = rows.get(config.name)
        if row is None:
            insert_ignore(
                session,
                Subscriber.__table__,
                [{
                    "name": config.name,
                    "mode": config.mode,
                    "topics": list(config.topics),
                    "active": True,
                    "baseline_at": now if settings.delivery.baseline_on_first_run else None,
                    # A digest starts from its next period boundary, not from the epoch.
                    "last_digest_at": None,
                    "created_at": now,
                    "updated_at": now,
                }],
            )
            continue
        changed = row.mode != config.mode or list(row.topics or []) != list(config.topics)
        if changed or not row.active:
            if row.mode != config.mode and config.mode == "digest":
                # Switching to digests: what was already sent immediately is not repeated.
                row.last_digest_at = now
            row.mode = config.mode
            row.topics = list(config.topics)
            row.active = True
            row.updated_at = now
    configured = {c.name for c in settings.subscribers}
    for name, row in rows.items():
        if name not in configured and row.active:
            row.active = False
            row.updated_at = now
    session.flush()


def _subscriber_rows(session: Session, settings: Settings, now: datetime) -> dict[str, Subscriber]:
    rows = {row.name: row for row in session.scalars(select(Subscriber))}
    if any(c.name not in rows or not rows[c.name].active for c in settings.subscribers):
        sync_subscribers(session, settings, now)
        rows = {row.name: row for row in session.scalars(select(Subscriber))}
    return rows


def wants_alert(config: SubscriberConfig, row: Subscriber, alert: Alert) -> bool:
    """Whether this subscriber is to hear about this alert at all (topic, score, baseline)."""
    if alert.baseline:
        return False
    if config.topics and alert.topic_id not in config.topics:
        return False
    if (alert.score or 0.0) < config.min_score:
        return False
    return not (row.baseline_at is not None and aware(alert.created_at) < aware(row.baseline_at))


# Immediate messages -----------------------------------------------------------------------


def enqueue_for_alert(
    session: Session,
    alert: Alert,
    event: Literal["new", "update"],
    now: datetime,
    settings: Settings,
) -> int:
    """Queue the messages an alert change calls for; returns how many rows were added.

    Called in the transaction that creates (``new``) or grows (``update``) the alert, so the
    alert and its deliveries commit together. Baseline alerts queue nothing.
    """
    if alert.baseline or not settings.subscribers:
        return 0
    if alert.id is None:
        session.flush()
    rows = _subscriber_rows(session, settings, now)
    debounce = timedelta(hours=settings.delivery.update_debounce_hours)
    added = 0
    for config in settings.subscribers:
        row = rows.get(config.name)
        if row is None or config.mode != "immediate" or not wants_alert(config, row, alert):
            continue
        for channel in channels_of(config):
            added += _enqueue_story_message(session, row, channel, alert, event, now, debounce)
    return added


def _enqueue_story_message(
    session: Session,
    subscriber: Subscriber,
    channel: Channel,
    alert: Alert,
    event: str,
    now: datetime,
    debounce: timedelta,
) -> int:
    earlier = session.execute(
        select(Delivery.key, Delivery.kind, Delivery.status, Delivery.sent_at)
        .join(Alert, Delivery.alert_id == Alert.id)
        .where(
            Delivery.subscriber_id == subscriber.id,
            Delivery.channel == channel,
            Delivery.kind.in_(("alert", "update")),
            Alert.story_id == alert.story_id,
        )
        .order_by(Delivery.id)
    ).all()
    payload: dict[str, Any] = {
        "event": event,
        "story_id": alert.story_id,
        "topic_id": alert.topic_id,
        "article_count": alert.article_count,
    }
    if not earlier:
        key, kind, not_before = f"alert:{alert.id}", "alert", None
        payload["thread_key"] = key
    else:
        if any(row.status == "pending" for row in earlier):
            # A queued message renders the story as it is when sent: it will show this too.
            return 0
        sent_times = [aware(row.sent_at) for row in earlier if row.sent_at is not None]
        if any(row.status == "sending" for row in earlier):
            # One is in flight, rendered before this change: count it as sent just now.
            sent_times.append(now)
        not_before = max(sent_times) + debounce if sent_times else None
        if not_before is not None and not_before <= now:
            not_before = None
        updates = sum(1 for row in earlier if row.kind == "update")
        key, kind = f"alert:{alert.id}:update:{updates + 1}", "update"
        payload["thread_key"] = earlier[0].key
    return insert_ignore(
        session,
        Delivery.__table__,
        [{
            "key": key,
            "subscriber_id": subscriber.id,
            "channel": channel,
            "kind": kind,
            "alert_id": alert.id,
            "status": "pending",
            "attempts": 0,
            "not_before": not_before,
            "payload": payload,
            "created_at": now,
        }],
    )


# Digests ----------------------------------------------------------------------------------


def digest_alerts(
    session: Session,
    config: SubscriberConfig,
    row: Subscriber,
    start: datetime,
    end: datetime,
) -> list[Alert]:
    """Alerts created or updated in [start, end) that this subscriber wants, best first."""
    query = select(Alert).where(
        Alert.baseline.is_(False),
        Alert.created_at < end,
        or_(Alert.updated_at >= start, Alert.created_at >= start),
    )
    if config.topics:
        query = query.where(Alert.topic_id.in_(config.topics))
    if row.baseline_at is not None:
        query = query.where(Alert.created_at >= row.baseline_at)
    query = query.where(Alert.score >= config.min_score).order_by(Alert.score.desc(), Alert.id)
    return list(session.scalars(query))


@dataclass(frozen=True)
class DueDigest:
    subscriber: str
    period_start: datetime
    period_end: datetime
    alert_ids: list[int]


def enqueue_due_digests(session: Session, settings: Settings, now: datetime) -> list[DueDigest]:
    """Queue one digest per digest subscriber and channel whose period has ended.

    A period with nothing in it sends nothing, but still counts as done. When runs were
    missed, one digest covers everything since the last one, so nothing is skipped.
    """
    rows = _subscriber_rows(session, settings, now)
    queued: list[DueDigest] = []
    for config in settings.subscribers:
        row = rows.get(config.name)
        if row is None or config.mode != "digest":
            continue
        period = current_period(config.digest, now, row.last_digest_at)
        if not period_is_due(period, row.last_digest_at):
            continue
        start, end = period.start, period.end
        alerts = digest_alerts(session, config, row, start, end)
        if alerts:
            ids = [alert.id for alert in alerts]
            new_ids = [alert.id for alert in alerts if aware(alert.created_at) >= start]
            payload = {
                "period_start": start.isoformat(),
                "period_end": end.isoformat(),
                "every": config.digest.every,
                "alert_ids": ids,
                "new_alert_ids": new_ids,
            }
            for channel in channels_of(config):
                insert_ignore(
                    session,
                    Delivery.__table__,
                    [{
                        "key": digest_key(config.name, start),
                        "subscriber_id": row.id,
                        "channel": channel,
                        "kind": "digest",
                        "alert_id": None,
                        "status": "pending",
                        "attempts": 0,
                        "payload": payload,
                        "created_at": now,
                    }],
                )
            queued.append(DueDigest(config.name, start, end, ids))
        row.last_digest_at = end
        row.updated_at = now
    session.flush()
    return queued


# Claims and outcomes ----------------------------------------------------------------------


def _due_condition(now: datetime) -> Any:
    pending = and_(
        Delivery.status == "pending",
        or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
        or_(Delivery.not_before.is_(None), Delivery.not_before <= now),
    )
    # A row left "sending" by a process that died: its lease has run out.
    abandoned = and_(Delivery.status == "sending", Delivery.lease_until < now)
    return or_(pending, abandoned)


def claim_next(
    session: Session,
    now: datetime,
    *,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    exclude: Iterable[int] = (),
) -> Delivery | None:
    """Claim one due delivery for this worker: mark it ``sending`` with a lease.

    One statement, ``UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING id``: on PostgreSQL
    the inner SELECT is ``FOR UPDATE SKIP LOCKED`` so concurrent workers never wait on or
    take each other's rows; on SQLite the UPDATE takes the write lock first, so no reader
    can be upgraded into a "database is locked" error. The caller commits right after,
    before sending.
    """
    excluded = list(exclude)
    pick = select(Delivery.id).where(_due_condition(now)).order_by(Delivery.id).limit(1)
    if excluded:
        pick = pick.where(Delivery.id.not_in(excluded))
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    statement = (
        update(Delivery)
        .where(Delivery.id == pick.scalar_subquery(), _due_condition(now))
        .values(
            status="sending",
            lease_until=now + timedelta(seconds=lease_seconds),
            attempts=Delivery.attempts + 1,
        )
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    delivery_id = session.execute(statement).scalar_one_or_none()
    if delivery_id is None:
        return None
    return session.get(Delivery, delivery_id, populate_existing=True)


def record_sent(
    session: Session,
    delivery_id: int,
    now: datetime,
    response: str,
    payload: dict[str, Any] | None = None,
) -> None:
    """One UPDATE, so the moment between "sent" and "recorded" stays as short as it can."""
    values: dict[str, Any] = {
        "status": "sent", "sent_at": now, "lease_until": None, "response": response, "error": None,
    }
    if payload is not None:
        values["payload"] = payload
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def record_failure(
    session: Session,
    delivery_id: int,
    now: datetime,
    *,
    error: str,
    response: str | None,
    retry_at: datetime | None,
) -> None:
    """A failed attempt: back to ``pending`` until ``retry_at``, or ``failed`` when None."""
    values: dict[str, Any] = {"lease_until": None, "error": error, "response": response}
    if retry_at is None:
        values.update(status="failed", next_attempt_at=None)
    else:
        values.update(status="pending", next_attempt_at=retry_at)
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def release(session: Session, delivery_id: int, retry_at: datetime, note: str) -> None:
    """Give a claimed row back without counting an attempt (e.g. its webhook is rate-limited)."""
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(
            status="pending",
            lease_until=None,
            next_attempt_at=retry_at,
            attempts=func.max(Delivery.attempts - 1, 0)
            if session.get_bind().dialect.name == "sqlite"
            else func.greatest(Delivery.attempts - 1, 0),
            error=note,
        )
        .execution_options(synchronize_session=False)
    )


# Helpers ----------------------------------------------------------------------------------


# Reading state (for `newswatch subscribers` and `newswatch preview`) ----------------------


@dataclass(frozen=True)
class SubscriberState:
    name: str
    configured: bool
    stored: bool
    active: bool
    mode: str
    topics: list[str]
    channels: list[str]
    counts: dict[str, int]
    last_sent_at: datetime | None
    last_failure: str | None
    last_failure_at: datetime | None
    next_digest_at: datetime | None  # the next digest time, always after ``now``
    baseline_at: datetime | None
    # A period that has ended but whose digest is not queued yet: the next deliver run sends it.
    digest_due_at: datetime | None = None


def subscriber_states(session: Session, settings: Settings, now: datetime) -> list[SubscriberState]:
    """Every configured or stored subscriber with its delivery counts; no secrets."""
    rows = {row.name: row for row in session.scalars(select(Subscriber))}
    configs = {c.name: c for c in settings.subscribers}
    counts: dict[int, dict[str, int]] = {}
    for subscriber_id, status, count in session.execute(
        select(Delivery.subscriber_id, Delivery.status, func.count()).group_by(
            Delivery.subscriber_id, Delivery.status
        )
    ):
        counts.setdefault(subscriber_id, {})[status] = count
    states: list[SubscriberState] = []
    for name in list(configs) + sorted(n for n in rows if n not in configs):
        config, row = configs.get(name), rows.get(name)
        last_sent = last_failure = None
        if row is not None:
            last_sent = session.scalar(
                select(func.max(Delivery.sent_at)).where(
                    Delivery.subscriber_id == row.id, Delivery.status == "sent"
                )
            )
            last_failure = session.execute(
                select(Delivery.error, Delivery.created_at)
                .where(
                    Delivery.subscriber_id == row.id,
                    Delivery.error.is_not(None),
                    Delivery.status.in_(("failed", "pending")),
                )
                .order_by(Delivery.id.desc())
                .limit(1)
            ).first()
        mode = config.mode if config else (row.mode if row else "immediate")
        next_digest = due = None
        if config is not None and config.mode == "digest":
            covered = row.last_digest_at if row is not None else None
            period = current_period(config.digest, now, covered)
            next_digest = next_digest_time(config.digest, now)
            # A period ended and not yet covered: the next deliver run sends its digest.
            due = period.end if row is not None and period_is_due(period, covered) else None
        states.append(
            SubscriberState(
                name=name,
                configured=config is not None,
                stored=row is not None,
                active=config is not None,
                mode=mode,
                topics=list(config.topics if config else (row.topics if row else [])),
                channels=list(channels_of(config)) if config else [],
                counts=counts.get(row.id, {}) if row is not None else {},
                last_sent_at=aware(last_sent) if last_sent else None,
                last_failure=last_failure[0] if last_failure else None,
                last_failure_at=aware(last_failure[1]) if last_failure else None,
                next_digest_at=next_digest,
                baseline_at=aware(row.baseline_at) if row is not None and row.baseline_at else None,
                digest_due_at=due,
            )
        )
    return states


def next_pending_delivery(
    session: Session, subscriber_name: str, channel: str
) -> Delivery | None:
    """The first not-yet-sent message of a subscriber on a channel (pending or in flight)."""
    return session.scalar(
        select(Delivery)
        .join(Subscriber, Delivery.subscriber_id == Subscriber.id)
        .where(
            Subscriber.name == subscriber_name,
            Delivery.channel == channel,
            Delivery.status.in_(DUE_STATUSES),
        )
        .order_by(Delivery.id)
        .limit(1)
    )


def digest_so_far(
    session: Session, settings: Settings, config: SubscriberConfig, now: datetime
) -> tuple[datetime, datetime, list[Alert]]:
    """What the subscriber's next digest holds if the period ended now (read-only)."""
    row = session.scalar(select(Subscriber).where(Subscriber.name == config.name))
    if row is None:
        row = Subscriber(
            name=config.name,
            baseline_at=now if settings.delivery.baseline_on_first_run else None,
        )
    start = current_period(config.digest, now, row.last_digest_at).start
    return start, now, digest_alerts(session, config, row, start, now)
