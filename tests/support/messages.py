"""Realistic stories for the message tests: several outlets, published times, and evidence
in the stored shape (with or without the newer ``matched_words``/``outlet``/``contribution``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from storage.models import Alert, Delivery, Story
from tests.test_deliver_support import T0, add_article, add_feed

RICH_EVIDENCE: list[dict[str, Any]] = [
    # Strongest first, as the scorer stores it.
    {"text": "The Foreign Secretary met the US ambassador in Washington to discuss the trade deal.",
     "field": "lead", "rule": "meeting", "terms": ["meet*", "=US"], "words": ["met", "US"],
     "matched_words": ["Foreign Secretary", "US ambassador", "trade deal"],
     "outlet": "Harbour Times", "contribution": 7.5},
    {"text": "Officials said talks would continue next week.", "field": "body", "rule": "talks",
     "terms": ["talks"], "words": ["talks"], "matched_words": ["talks"], "outlet": "Daily Ledger",
     "contribution": 2.0},
]
OLD_EVIDENCE: list[dict[str, Any]] = [
    # Before contributions were stored: no order promised, only terms and words.
    {"text": "A minor mention of the embassy.", "field": "body", "rule": "embassy",
     "terms": ["embass*"], "weight": 1.0},
    {"text": "The Prime Minister spoke with the President about NATO.", "field": "lead",
     "rule": "leaders", "terms": ["prime minister", "president"], "weight": 4.0},
]


def add_story(
    session: Session,
    *,
    title: str,
    topic: str = "uk-us-relations",
    outlets: tuple[tuple[str, str], ...] = (("Harbour Times", "Harbour Times"),),
    evidence: list[dict[str, Any]] | None = None,
    score: float = 10.5,
    published: datetime = T0 - timedelta(hours=3),
    baseline: bool = False,
    headlines: tuple[str, ...] = (),
) -> Alert:
    """A story with one article per (outlet, feed name) pair and one alert on ``topic``."""
    story = Story(title=title, first_seen_at=published, last_seen_at=T0, created_at=T0, updated_at=T0)
    session.add(story)
    session.flush()
    for n, (outlet, feed_name) in enumerate(outlets):
        feed = add_feed(session, name=feed_name)
        article = add_article(session, story, feed, title=(headlines[n] if n < len(headlines) else "") or title,
                              site_name=outlet, now=T0)
        article.published_at = published + timedelta(minutes=40 * n)
        article.published_at_source = "feed"
    alert = Alert(
        topic_id=topic, story_id=story.id, title=title, score=score, topic_version="v1",
        evidence=evidence if evidence is not None else RICH_EVIDENCE,
        article_count=story.article_count, baseline=baseline, published_at=published,
        created_at=T0, updated_at=T0,
    )
    session.add(alert)
    session.flush()
    return alert


def alert_delivery(alert: Alert, channel: str = "email") -> Delivery:
    """A delivery row for ``alert`` that is never stored (what preview renders)."""
    return Delivery(key=f"alert:{alert.id}", channel=channel, kind="alert", alert_id=alert.id, payload={})


def digest_delivery(alerts: list[Alert], channel: str = "email") -> Delivery:
    start = T0 - timedelta(days=1)
    return Delivery(
        key=f"digest:desk:{start.isoformat()}", channel=channel, kind="digest",
        payload={"period_start": start.isoformat(), "period_end": T0.isoformat(), "every": "daily",
                 "alert_ids": [a.id for a in alerts], "new_alert_ids": [a.id for a in alerts]},
    )


def sample_digest(session: Session) -> list[Alert]:
    """Four stories on two topics, one of them on both."""
    return [
        add_story(session, title="Foreign Secretary meets US ambassador on trade deal",
                  outlets=(("Harbour Times", "Harbour Times"), ("Daily Ledger", "Ledger World"),
                           ("Capital Wire", "Capital Wire")),
                  headlines=("", "UK and US restart trade talks", "")),
        add_story(session, title="Ministers reject claims of foreign funding in by-election",
                  topic="foreign-campaigning", outlets=(("Daily Ledger", "Daily Ledger"),),
                  evidence=OLD_EVIDENCE, score=7.2),
        add_story(session, title="Embassy staff cuts worry diplomats", outlets=(("Capital Wire", "Capital Wire"),),
                  evidence=OLD_EVIDENCE, score=6.4),
        add_story(session, title="Bot networks amplified campaign posts, researchers say",
                  topic="foreign-campaigning",
                  outlets=(("Harbour Times", "Harbour Times"), ("Tech Desk", "Tech Desk RSS")),
                  score=12.0, evidence=[
                      {"text": "Researchers found a network of bot accounts amplifying posts for the "
                               "campaign, funded from abroad.", "field": "lead", "rule": "bots",
                       "matched_words": ["bot accounts", "amplifying", "funded from abroad"],
                       "outlet": "Tech Desk", "contribution": 9.0}]),
    ]


def update_delivery(session: Session, alert: Alert, channel: str = "email") -> Delivery:
    """The story's first message recorded as sent (showing its first article), and the
    update that follows it after the story grew (not stored)."""
    from storage.models import Subscriber
    from tests.test_deliver_support import grow_alert

    subscriber = Subscriber(name="desk", created_at=T0, updated_at=T0)
    session.add(subscriber)
    session.flush()
    first_article = min(a.id for a in alert.story.articles)
    session.add(Delivery(
        key=f"alert:{alert.id}", subscriber_id=subscriber.id, channel=channel, kind="alert",
        alert_id=alert.id, status="sent", payload={"shown_article_ids": [first_article]},
        created_at=T0, sent_at=T0,
    ))
    grow_alert(session, alert, T0 + timedelta(hours=2), site_name="Capital Wire")
    session.flush()
    session.expire(alert.story)  # its articles, read again with the new one
    return Delivery(key=f"alert:{alert.id}:update:1", subscriber_id=subscriber.id, channel=channel,
                    kind="update", alert_id=alert.id, payload={"thread_key": f"alert:{alert.id}"})
