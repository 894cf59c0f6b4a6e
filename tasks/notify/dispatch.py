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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from config.settings import Settings, SubscriberConfig
from storage.clock import utcnow
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
from tasks.notify.channels import Channel, Unsendable, channels_for
from tasks.notify.feed_health import feed_notice
from tasks.notify.outcome import SendError, Sent
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
    return utcnow


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
    owned: Database | None = None
    if database is None:
        database = owned = open_delivery_database(settings)
    run = _DeliveryRun(
        settings, database, clock, hooks or DeliveryHooks(), channels_for(settings), lease_seconds
    )
    try:
        run.summary.digests_queued = prepare(settings, database, clock())
        run.deliver_all(limit)
    finally:
        if owned is not None:
            owned.dispose()
    return run.summary


@dataclass
class _DeliveryRun:
    """One deliver run: what it was handed, and what it learnt on the way."""

    settings: Settings
    db: DatabaseLike
    clock: Callable[[], datetime]
    hooks: DeliveryHooks
    channels: Mapping[str, Channel[Any]]
    lease_seconds: float
    summary: DeliverySummary = field(default_factory=DeliverySummary)
    skipped: set[int] = field(default_factory=set)  # put back this run: not claimed again
    # (channel, throttle key) -> when its provider lets us send again, e.g. a Slack 429.
    throttled: dict[tuple[str, str], datetime] = field(default_factory=dict)
    topics: TopicDirectory | None = None  # loaded once, at the first message

    def deliver_all(self, limit: int | None) -> None:
        configs = {c.name: c for c in self.settings.subscribers}
        while limit is None or self.summary.attempted < limit:
            claimed = self._claim()
            if claimed is None:
                break
            delivery, name = claimed
            if self.topics is None:
                self.topics = topic_directory(self.settings)
            _Attempt(self, delivery, name).carry_out(configs.get(name), self.topics)

    def _claim(self) -> tuple[Delivery, str] | None:
        """The next due row, claimed and committed, with its subscriber's name."""
        with self.db.session() as session:
            delivery = claim_next(
                session, self.clock(), lease_seconds=self.lease_seconds, exclude=self.skipped
            )
            if delivery is None:
                return None
            subscriber = session.get(Subscriber, delivery.subscriber_id)
            return delivery, subscriber.name if subscriber is not None else "?"


class _Done(Exception):
    """Raised by a step of an :class:`_Attempt` once the row's outcome is recorded: the
    steps read top to bottom, and any of them can end the attempt."""


class _Attempt:
    """One claimed delivery on its way to an outcome: sent, retrying, failed or deferred."""

    def __init__(self, run: _DeliveryRun, delivery: Delivery, subscriber: str) -> None:
        self.run = run
        self.delivery = delivery
        self.outcome: dict[str, Any] = {
            "id": delivery.id, "key": delivery.key, "subscriber": subscriber,
            "channel": delivery.channel,
        }
        run.summary.outcomes.append(self.outcome)

    def carry_out(self, config: SubscriberConfig | None, topics: TopicDirectory) -> None:
        try:
            config, channel = self._check(config)
            view, payload_after = self._view(config, topics)
            message = self._render(channel, view, config)
            sent = self._send(channel, message, config)
        except _Done:
            return
        self._record_sent(sent, payload_after)

    def _check(self, config: SubscriberConfig | None) -> tuple[SubscriberConfig, Channel[Any]]:
        """The subscriber and channel to send with, once nothing stands in the way."""
        delivery, run = self.delivery, self.run
        if delivery.attempts > run.settings.delivery.max_attempts:
            # Claimed again after dying mid-send more often than we retry anything.
            raise self._fail("abandoned while sending too many times", transient=False)
        channel = run.channels.get(delivery.channel)
        problem = _unsendable(config, channel, delivery.channel)
        if problem is not None and problem.can_wait:
            raise self._wait_for_config(problem.reason)
        if problem is not None:
            raise self._fail(problem.reason, transient=False)
        assert config is not None and channel is not None  # _unsendable checked both
        key = channel.throttle_key(config)
        if key is not None and (channel.name, key) in run.throttled:
            raise self._put_back(run.throttled[(channel.name, key)], channel.throttle_note)
        return config, channel

    def _view(
        self, config: SubscriberConfig, topics: TopicDirectory
    ) -> tuple[MessageView | None, dict[str, Any] | None]:
        """What an alert, update or digest shows, and the payload to store with "sent";
        ``(None, None)`` for a feed notice, which is built from its row when rendered."""
        try:
            with self.run.db.session() as session:
                row = session.get(Delivery, self.delivery.id)
                assert row is not None
                if row.kind in FEED_HEALTH_KINDS:
                    return None, None
                view = message_view(
                    session, row, config, base_url=self.run.settings.web.base_url, topics=topics
                )
                # What this message shows, stored with "sent" so a later update can mark what is new.
                shown = sorted(article_ids_of(session, view))
                return view, {**(row.payload or {}), "shown_article_ids": shown}
        except LookupError as exc:
            raise self._fail(str(exc), transient=False) from None

    def _render(self, channel: Channel[Any], view: MessageView | None, config: SubscriberConfig) -> Any:
        now = self.run.clock()
        try:
            base_url = self.run.settings.web.base_url
            # A feed notice is built from its row here, so a malformed one fails as unrenderable.
            content = view if view is not None else feed_notice(self.delivery, config.name, now, base_url)
            return channel.render(content, config, now)
        except Exception as exc:  # a rendering bug must not stop the other deliveries
            error = f"could not render the message: {exc.__class__.__name__}: {exc}"
            raise self._fail(error, transient=False) from None

    def _send(self, channel: Channel[Any], message: Any, config: SubscriberConfig) -> Sent:
        try:
            return channel.send(message, config)
        except SendError as exc:
            done = self._fail(str(exc), transient=exc.transient, response=exc.response,
                              retry_after=exc.retry_after)
            key = channel.throttle_key(config)
            if key is not None and exc.retry_after and exc.transient:
                wait = timedelta(seconds=exc.retry_after)
                self.run.throttled[(channel.name, key)] = self.run.clock() + wait
            raise done from None

    def _record_sent(self, sent: Sent, payload_after: dict[str, Any] | None) -> None:
        run = self.run
        if run.hooks.after_send is not None:
            run.hooks.after_send(self.delivery)
        with run.db.session() as session:
            record_sent(session, self.delivery.id, run.clock(), sent.response, payload_after)
        window = time.perf_counter() - sent.accepted_at
        run.summary.max_unrecorded_seconds = max(run.summary.max_unrecorded_seconds, window)
        run.summary.sent += 1
        self.outcome.update(status="sent", response=sent.response, unrecorded_ms=round(window * 1000, 3))

    def _fail(
        self, error: str, *, transient: bool, response: str | None = None,
        retry_after: float | None = None,
    ) -> _Done:
        """Record a failed attempt: retried later when transient and attempts remain."""
        run, delivery, policy = self.run, self.delivery, self.run.settings.delivery
        retry_at = None
        if transient and delivery.attempts < policy.max_attempts:
            delay = retry_delay(delivery.attempts, policy.retry_base_seconds, retry_after)
            retry_at = run.clock() + timedelta(seconds=delay)
        if transient and retry_at is None:
            error = f"{error} (gave up after {delivery.attempts} attempts)"
        with run.db.session() as session:
            record_failure(session, delivery.id, run.clock(), error=error, response=response,
                           retry_at=retry_at)
        self.outcome.update(status="retrying" if retry_at else "failed", error=error)
        if retry_at:
            run.summary.retrying += 1
            self.outcome["next_attempt_at"] = retry_at.isoformat()
        else:
            run.summary.failed += 1
        return _Done()

    def _wait_for_config(self, problem: str) -> _Done:
        """Not the message's fault: wait without spending attempts, so fixing the config
        later still sends it."""
        retry_at = self.run.clock() + timedelta(
            seconds=max(self.run.settings.delivery.retry_base_seconds, 60.0)
        )
        self._release(retry_at, problem)
        self.outcome.update(status="deferred", error=problem, next_attempt_at=retry_at.isoformat())
        return _Done()

    def _put_back(self, until: datetime, note: str) -> _Done:
        """Its provider asked us to wait (e.g. a rate-limited Slack webhook)."""
        self._release(until, note)
        self.outcome.update(status="deferred")
        return _Done()

    def _release(self, until: datetime, note: str) -> None:
        with self.run.db.session() as session:
            release(session, self.delivery.id, until, note)
        self.run.skipped.add(self.delivery.id)
        self.run.summary.deferred += 1


def _unsendable(
    config: SubscriberConfig | None, channel: Channel[Any] | None, channel_name: str
) -> Unsendable | None:
    """Why this row cannot be sent as the config stands, if it cannot."""
    if config is None:
        return Unsendable("the subscriber is no longer in the config", can_wait=False)
    if channel is None:
        return Unsendable(f"unknown channel {channel_name!r}", can_wait=False)
    return channel.unsendable(config)
