"""tasks.notify.channels: email and Slack behind one interface, against a real SMTP server
and a real webhook stand-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest

from config.settings import Settings, SubscriberConfig, load_settings
from storage.deliveries import Channel as StoredChannel
from storage.deliveries import channels_of
from storage.feed_health import FEED_DOWN
from storage.models import Delivery
from tasks.notify.channels import EmailChannel, SlackChannel, Unsendable, channels_for
from tasks.notify.feed_health import FeedNotice, feed_notice
from tasks.notify.outcome import SendError
from tasks.notify.views import MessageView, SourceView, StoryView
from tests.support.slack import WebhookRecorder
from tests.support.smtp import RecordingHandler

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def settings(port: int = 2525, sender: str = "newswatch <alerts@example.org>", smtp: bool = True) -> Settings:
    extra: dict[str, Any] = {}
    if smtp:
        extra["smtp"] = {"host": "127.0.0.1", "port": port, "starttls": False, "from": sender}
    return load_settings(None, database_url="sqlite:///unused.db", **extra)


def subscriber(**fields: Any) -> SubscriberConfig:
    return SubscriberConfig(name="desk", **fields)


def alert_view() -> MessageView:
    story = StoryView(
        story_id=1, title="Minister meets envoy", topics=("uk-us-relations",), score=3.0,
        snippet="The minister met the envoy.", terms=("minister",),
        sources=(SourceView(title="Minister meets envoy", url="https://news.example.org/1",
                            outlet="Example News", feeds=("Example Wire",)),),
        source_count=1,
    )
    return MessageView(kind="alert", subscriber="desk", key="alert:1", stories=(story,))


def down_notice() -> FeedNotice:
    row = Delivery(key=f"{FEED_DOWN}:7:2026-11-27T08:00:00+00:00", channel="email", kind=FEED_DOWN, payload={
        "feed_id": 7, "url": "https://harbour.example.org/feed.xml", "name": "Harbour Times",
        "failing_since": (NOW - timedelta(hours=25)).isoformat(), "status": "http_error",
        "last_error": "HTTP 404",
    })
    return feed_notice(row, "desk", NOW, None)


def test_every_channel_storage_queues_has_a_class_under_its_own_name() -> None:
    channels = channels_for(settings())
    assert set(channels) == set(get_args(StoredChannel)) == {"email", "slack"}
    assert all(channel.name == name for name, channel in channels.items())
    both = subscriber(email=["desk@example.org"], slack_webhook="https://hooks.example.org/x")
    assert channels_of(both) == ["email", "slack"]


def test_email_says_why_it_cannot_send_and_whether_waiting_helps() -> None:
    reachable = subscriber(email=["desk@example.org"])
    assert EmailChannel(settings().smtp).unsendable(reachable) is None
    assert EmailChannel(settings().smtp).unsendable(subscriber()) == Unsendable(
        "the subscriber has no email address any more", can_wait=False
    )
    # The config's fault, not the message's: the row waits for the config to be fixed.
    assert EmailChannel(None).unsendable(reachable) == Unsendable("no smtp: section in the config", can_wait=True)
    no_address = EmailChannel(settings(sender="newswatch").smtp).unsendable(reachable)
    assert no_address == Unsendable("smtp.from is not an email address", can_wait=True)


def test_slack_needs_a_webhook_and_throttles_per_webhook() -> None:
    channel = SlackChannel()
    assert channel.unsendable(subscriber()) == Unsendable("the subscriber has no Slack webhook any more", can_wait=False)
    hooked = subscriber(slack_webhook="https://hooks.example.org/a")
    assert channel.unsendable(hooked) is None
    assert channel.throttle_key(hooked) == "https://hooks.example.org/a"
    assert EmailChannel(settings().smtp).throttle_key(hooked) is None


def test_email_renders_alerts_and_feed_notices_and_sends_them(smtp: tuple[RecordingHandler, int]) -> None:
    handler, port = smtp
    channel = EmailChannel(settings(port).smtp)
    desk = subscriber(email=["desk@example.org"])
    alert = channel.render(alert_view(), desk, NOW)
    notice = channel.render(down_notice(), desk, NOW)
    assert "Minister meets envoy" in str(alert["Subject"])
    assert str(notice["Subject"]) == "[newswatch] Feed down: Harbour Times"
    assert str(alert["To"]) == "desk@example.org" and "alerts@example.org" in str(alert["From"])
    for message in (alert, notice):
        assert channel.send(message, desk).response.startswith("250")
    assert [m.rcpt_tos for m in handler.messages] == [["desk@example.org"], ["desk@example.org"]]
    assert str(handler.messages[1].message["Subject"]) == "[newswatch] Feed down: Harbour Times"


def test_slack_renders_alerts_and_feed_notices_and_posts_them(slack: WebhookRecorder) -> None:
    channel = SlackChannel()
    desk = subscriber(slack_webhook=slack.url)
    alert = channel.render(alert_view(), desk, NOW)
    notice = channel.render(down_notice(), desk, NOW)
    assert alert["blocks"] and notice["text"] == "Feed down: Harbour Times"
    for payload in (alert, notice):
        assert channel.send(payload, desk).response.startswith("HTTP 200")
    assert slack.payloads == [alert, notice]


def test_a_rate_limited_webhook_raises_a_transient_error_with_its_wait(slack: WebhookRecorder) -> None:
    slack.script.append((429, {"Retry-After": "42"}, "rate_limited"))
    with pytest.raises(SendError) as raised:
        SlackChannel().send({"text": "hello"}, subscriber(slack_webhook=slack.url))
    assert raised.value.transient and raised.value.retry_after == 42.0
    assert slack.url not in str(raised.value)  # a webhook is a secret
