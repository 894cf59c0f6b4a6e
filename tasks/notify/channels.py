"""Delivery channels: email and Slack, each a small class behind one interface.

``dispatch.py`` claims a delivery row, works out what it says (an alert's
:class:`MessageView`, or a :class:`FeedNotice`) and hands that to the row's channel, which
knows the rest: whether the subscriber can be reached on it as the config stands, how a
message looks there, how it is sent, and what a provider's "slow down" applies to. Adding
a channel is one class here and one entry in :func:`channels_for`; dispatch has no
``if channel == …`` of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Protocol, TypeVar

from config.settings import Settings, SmtpConfig, SubscriberConfig
from tasks.notify.feed_health import FeedNotice, feed_notice_email, feed_notice_slack
from tasks.notify.mail import envelope_sender, send_email
from tasks.notify.outcome import Sent
from tasks.notify.render import build_email, render_email
from tasks.notify.slack import post_to_slack
from tasks.notify.slack_blocks import render_slack
from tasks.notify.views import MessageView

# What a message is about: an alert, an update or a digest (a view of stories read from
# the database), or a feed's down/back notice (built from its delivery row alone).
Content = MessageView | FeedNotice
MessageT = TypeVar("MessageT")


@dataclass(frozen=True)
class Unsendable:
    """Why a row cannot be sent as the config stands."""

    reason: str
    # True when the config, not the message, is at fault: the row waits without spending
    # attempts, so fixing the config later still sends it.
    can_wait: bool


class Channel(Protocol[MessageT]):
    """One way of reaching a subscriber. ``MessageT`` is what :meth:`render` makes and
    :meth:`send` takes (an :class:`EmailMessage`, a Slack payload)."""

    @property
    def name(self) -> str:
        """The ``deliveries.channel`` value this class handles."""
        ...

    @property
    def throttle_note(self) -> str:
        """The note on a row put back because its :meth:`throttle_key` is told to wait."""
        ...

    def unsendable(self, subscriber: SubscriberConfig) -> Unsendable | None: ...

    def render(self, content: Content, subscriber: SubscriberConfig, now: datetime) -> MessageT: ...

    def send(self, message: MessageT, subscriber: SubscriberConfig) -> Sent:
        """Hand the message over; raises :class:`tasks.notify.outcome.SendError`."""
        ...

    def throttle_key(self, subscriber: SubscriberConfig) -> str | None:
        """What a provider's "retry after" applies to (every row sent there waits), or None
        when this channel has no such thing."""
        ...


@dataclass(frozen=True)
class EmailChannel:
    """Email through the SMTP server of the config's ``smtp:`` section."""

    smtp: SmtpConfig | None
    name = "email"
    throttle_note = ""

    def unsendable(self, subscriber: SubscriberConfig) -> Unsendable | None:
        if not subscriber.email:
            return Unsendable("the subscriber has no email address any more", can_wait=False)
        if self.smtp is None:
            return Unsendable("no smtp: section in the config", can_wait=True)
        if "@" not in envelope_sender(self.smtp):
            return Unsendable("smtp.from is not an email address", can_wait=True)
        return None

    def render(self, content: Content, subscriber: SubscriberConfig, now: datetime) -> EmailMessage:
        sender, recipients = self._server().from_, subscriber.email
        if isinstance(content, FeedNotice):
            return feed_notice_email(content, sender=sender, recipients=recipients, date=now)
        return build_email(content, render_email(content), sender=sender, recipients=recipients, date=now)

    def send(self, message: EmailMessage, subscriber: SubscriberConfig) -> Sent:
        return send_email(self._server(), message, subscriber.email)

    def throttle_key(self, subscriber: SubscriberConfig) -> str | None:
        return None  # an SMTP 4xx is retried per message; there is no server-wide wait

    def _server(self) -> SmtpConfig:
        if self.smtp is None:  # unsendable() says so first; this guards a direct call
            raise ValueError("no smtp: section in the config")
        return self.smtp


@dataclass(frozen=True)
class SlackChannel:
    """A Slack incoming webhook per subscriber."""

    name = "slack"
    throttle_note = "waiting: Slack rate limit"

    def unsendable(self, subscriber: SubscriberConfig) -> Unsendable | None:
        if not _webhook(subscriber).strip():
            return Unsendable("the subscriber has no Slack webhook any more", can_wait=False)
        return None

    def render(self, content: Content, subscriber: SubscriberConfig, now: datetime) -> dict[str, Any]:
        if isinstance(content, FeedNotice):
            return feed_notice_slack(content)
        return render_slack(content)

    def send(self, message: dict[str, Any], subscriber: SubscriberConfig) -> Sent:
        return post_to_slack(_webhook(subscriber), message)

    def throttle_key(self, subscriber: SubscriberConfig) -> str | None:
        # A 429 limits the webhook, not the message: its other rows wait too.
        return _webhook(subscriber)


def _webhook(subscriber: SubscriberConfig) -> str:
    return subscriber.slack_webhook.get_secret_value() if subscriber.slack_webhook else ""


def channels_for(settings: Settings) -> dict[str, Channel[Any]]:
    """Every channel, by the name stored in ``deliveries.channel``."""
    channels: list[Channel[Any]] = [EmailChannel(settings.smtp), SlackChannel()]
    return {channel.name: channel for channel in channels}
