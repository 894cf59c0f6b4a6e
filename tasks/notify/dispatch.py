"""Sending what is due: claim a delivery, render it, send it, record the outcome.

The exactly-once argument, step by step (see docs/delivery.md):

1. A row is claimed in its own committed transaction: ``sending`` with a lease.
2. The message is rendered and sent, with no transaction open.
3. The outcome is committed at once: ``sent`` (with the provider's answer), back to
   ``pending`` with a next-attempt time (transient), or ``failed`` (permanent).

If the process dies between 2 and 3 the row stays ``sending``; when the lease runs out the
next run sends it again (at-least-once inside that window). The window is the time from
the provider's answer to the commit of ``sent``; every run measures it
(:attr:`DeliverySummary.max_unrecorded_seconds`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Protocol

from config.settings import Settings, SubscriberConfig
from storage.deliveries import (
    DEFAULT_LEASE_SECONDS,
    claim_next,
    enqueue_due_digests,
    record_failure,
    record_sent,
    release,
    sync_subscribers,
)
from storage.feed_health import FEED_HEALTH_KINDS, enqueue_feed_health
from storage.models import Delivery, Subscriber
from tasks.notify.feed_health import feed_notice_message
from tasks.notify.mail import envelope_sender, send_email
from tasks.notify.outcome import SendError, Sent
from tasks.notify.render import build_email, render_email, render_slack
from tasks.notify.slack import post_to_slack
from tasks.notify.topics import TopicDirectory, topic_directory
from tasks.notify.views import MessageView, article_ids_of, message_view

if TYPE_CHECKING:
    from storage.db import Database


class DatabaseLike(Protocol):
    def session(self) -> Any: ...


@dataclass
class DeliveryHooks:
    """Test seams. ``after_send`` runs after the provider accepted, before it is recorded:
    raising there simulates a crash inside the duplicate window."""

    after_send: Callable[[Delivery], None] | None = None


@dataclass
class DeliverySummary:
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    deferred: int = 0  # put back untouched, e.g. its Slack webhook is rate-limited
    digests_queued: int = 0
    max_unrecorded_seconds: float = 0.0
    outcomes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.sent + self.failed + self.retrying

    def describe(self) -> str:
        if not self.attempted and not self.deferred:
            return "nothing to send"
        parts = [f"sent {self.sent}", f"failed {self.failed}", f"retrying {self.retrying}"]
        if self.deferred:
            parts.append(f"deferred {self.deferred}")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "retrying": self.retrying,
            "deferred": self.deferred,
            "digests_queued": self.digests_queued,
            "max_unrecorded_seconds": round(self.max_unrecorded_seconds, 6),
            "outcomes": self.outcomes,
        }


def _clock(now: datetime | None) -> Callable[[], datetime]:
    if now is not None:
        fixed = now if now.tzinfo else now.replace(tzinfo=UTC)
        return lambda: fixed
    return lambda: datetime.now(UTC)


def open_delivery_database(settings: Settings) -> Database:
    from storage.db import open_database

    return open_database(settings.resolved_database_url)


MAX_RETRY_DELAY_SECONDS = 6 * 3600.0


def retry_delay(attempts: int, base_seconds: float, retry_after: float | None = None) -> float:
    """Exponential backoff (base, 2×base, 4×base …, at most 6 h), never sooner than the
    server asked."""
    delay = min(base_seconds * (2.0 ** min(max(attempts - 1, 0), 30)), MAX_RETRY_DELAY_SECONDS)
    return max(delay, retry_after or 0.0)


def prepare(settings: Settings, database: DatabaseLike, now: datetime) -> int:
    """Bring subscribers up to date and queue the digests (and feed health notices) that are
    due; returns digests queued."""
    with database.session() as session:
        sync_subscribers(session, settings, now)
        digests = len(enqueue_due_digests(session, settings, now))
        enqueue_feed_health(session, settings, now)
        return digests


def deliver_pending(
    settings: Settings,
    now: datetime | None = None,
    *,
    limit: int | None = None,
    database: DatabaseLike | None = None,
    hooks: DeliveryHooks | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> DeliverySummary:
    """Send every due delivery (at most ``limit``) and record each outcome."""
    clock = _clock(now)
    hooks = hooks or DeliveryHooks()
    owned: Database | None = None
    if database is None:
        database = owned = open_delivery_database(settings)
    db = database
    summary = DeliverySummary()
    try:
        summary.digests_queued = prepare(settings, db, clock())
        configs = {c.name: c for c in settings.subscribers}
        topics: TopicDirectory | None = None  # loaded once, at the first message
        skipped: set[int] = set()
        blocked_webhooks: dict[str, datetime] = {}
        while limit is None or summary.attempted < limit:
            with db.session() as session:
                delivery = claim_next(session, clock(), lease_seconds=lease_seconds, exclude=skipped)
                if delivery is None:
                    break
                subscriber = session.get(Subscriber, delivery.subscriber_id)
                name = subscriber.name if subscriber is not None else "?"
            if topics is None:
                topics = topic_directory(settings)
            _deliver_one(
                settings, db, delivery, configs.get(name), name, clock, hooks, summary,
                skipped, blocked_webhooks, topics,
            )
    finally:
        if owned is not None:
            owned.dispose()
    return summary


def _deliver_one(
    settings: Settings,
    db: DatabaseLike,
    delivery: Delivery,
    config: SubscriberConfig | None,
    name: str,
    clock: Callable[[], datetime],
    hooks: DeliveryHooks,
    summary: DeliverySummary,
    skipped: set[int],
    blocked_webhooks: dict[str, datetime],
    topics: TopicDirectory,
) -> None:
    outcome: dict[str, Any] = {"id": delivery.id, "key": delivery.key, "subscriber": name,
                               "channel": delivery.channel}
    summary.outcomes.append(outcome)
    max_attempts = settings.delivery.max_attempts

    def fail(error: str, *, transient: bool, response: str | None = None,
             retry_after: float | None = None) -> None:
        retry_at = None
        if transient and delivery.attempts < max_attempts:
            delay = retry_delay(delivery.attempts, settings.delivery.retry_base_seconds, retry_after)
            retry_at = clock() + timedelta(seconds=delay)
        if transient and retry_at is None:
            error = f"{error} (gave up after {delivery.attempts} attempts)"
        with db.session() as session:
            record_failure(session, delivery.id, clock(), error=error, response=response,
                           retry_at=retry_at)
        outcome.update(status="retrying" if retry_at else "failed", error=error)
        if retry_at:
            summary.retrying += 1
            outcome["next_attempt_at"] = retry_at.isoformat()
        else:
            summary.failed += 1

    if delivery.attempts > max_attempts:
        # Claimed again after dying mid-send more often than we retry anything.
        fail("abandoned while sending too many times", transient=False)
        return
    problem, can_wait = _unsendable(settings, config, delivery) or (None, False)
    if problem is not None and can_wait:
        # Not the message's fault: wait without spending attempts, so fixing the config
        # later still sends it.
        retry_at = clock() + timedelta(seconds=max(settings.delivery.retry_base_seconds, 60.0))
        with db.session() as session:
            release(session, delivery.id, retry_at, problem)
        skipped.add(delivery.id)
        summary.deferred += 1
        outcome.update(status="deferred", error=problem, next_attempt_at=retry_at.isoformat())
        return
    if problem is not None:
        fail(problem, transient=False)
        return
    assert config is not None

    webhook = config.slack_webhook.get_secret_value() if config.slack_webhook else ""
    if delivery.channel == "slack" and webhook in blocked_webhooks:
        with db.session() as session:
            release(session, delivery.id, blocked_webhooks[webhook], "waiting: Slack rate limit")
        skipped.add(delivery.id)
        summary.deferred += 1
        outcome.update(status="deferred")
        return

    try:
        with db.session() as session:
            row = session.get(Delivery, delivery.id)
            assert row is not None
            view: MessageView | None = None
            payload_after: dict[str, Any] | None = None  # a feed notice shows no alert
            if row.kind not in FEED_HEALTH_KINDS:
                view = message_view(session, row, config, base_url=settings.web.base_url, topics=topics)
                # What this message shows, stored with "sent" so a later update can mark what is new.
                payload_after = {**(row.payload or {}), "shown_article_ids": sorted(article_ids_of(session, view))}
    except LookupError as exc:
        fail(str(exc), transient=False)
        return

    try:
        prepared = _prepare_message(settings, config, delivery, view, clock())
    except Exception as exc:  # a rendering bug must not stop the other deliveries
        fail(f"could not render the message: {exc.__class__.__name__}: {exc}", transient=False)
        return

    try:
        sent = _transmit(settings, config, delivery, prepared)
    except SendError as exc:
        fail(str(exc), transient=exc.transient, response=exc.response, retry_after=exc.retry_after)
        if delivery.channel == "slack" and exc.retry_after and exc.transient:
            blocked_webhooks[webhook] = clock() + timedelta(seconds=exc.retry_after)
        return

    if hooks.after_send is not None:
        hooks.after_send(delivery)
    with db.session() as session:
        record_sent(session, delivery.id, clock(), sent.response, payload_after)
    window = time.perf_counter() - sent.accepted_at
    summary.max_unrecorded_seconds = max(summary.max_unrecorded_seconds, window)
    summary.sent += 1
    outcome.update(status="sent", response=sent.response, unrecorded_ms=round(window * 1000, 3))


def _unsendable(
    settings: Settings, config: SubscriberConfig | None, delivery: Delivery
) -> tuple[str, bool] | None:
    """Why this row cannot be sent as the config stands, and whether waiting may help."""
    if config is None:
        return "the subscriber is no longer in the config", False
    if delivery.channel == "email":
        if not config.email:
            return "the subscriber has no email address any more", False
        if settings.smtp is None:
            return "no smtp: section in the config", True
        if "@" not in envelope_sender(settings.smtp):
            return "smtp.from is not an email address", True
    elif delivery.channel == "slack":
        if config.slack_webhook is None or not config.slack_webhook.get_secret_value().strip():
            return "the subscriber has no Slack webhook any more", False
    else:
        return f"unknown channel {delivery.channel!r}", False
    return None


def _prepare_message(
    settings: Settings, config: SubscriberConfig, delivery: Delivery, view: MessageView | None,
    now: datetime,
) -> EmailMessage | dict[str, Any]:
    if view is None:  # a feed health notice (storage/feed_health.py)
        return feed_notice_message(settings, config, delivery, now)
    if delivery.channel == "email":
        assert settings.smtp is not None
        return build_email(
            view, render_email(view), sender=settings.smtp.from_, recipients=config.email, date=now,
        )
    return render_slack(view)


def _transmit(
    settings: Settings, config: SubscriberConfig, delivery: Delivery,
    prepared: EmailMessage | dict[str, Any],
) -> Sent:
    if isinstance(prepared, EmailMessage):
        assert settings.smtp is not None
        return send_email(settings.smtp, prepared, config.email)
    assert config.slack_webhook is not None
    return post_to_slack(config.slack_webhook.get_secret_value(), prepared)
