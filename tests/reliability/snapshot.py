"""The stored state that must not depend on crashes or concurrency, normalised so two runs
against servers on different ports (and with different row ids) compare equal."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select

from storage.db import open_database
from storage.models import Alert, Article, ArticleSource, Delivery, Feed, Story, Subscriber


def state(database_url: str, base_urls: list[str]) -> dict[str, Any]:
    """Articles, sources, stories' member sets, alerts and deliveries, with ``base_urls`` cut
    out of every URL. Lists keep duplicates, so a doubled row shows as a difference."""

    def rel(url: str | None) -> str:
        text = url or ""
        for base in base_urls:
            text = text.replace(base, "")
        return text

    db = open_database(database_url)
    try:
        with db.session() as session:
            members = {
                story.id: tuple(sorted(rel(a.canonical_url) for a in story.articles))
                for story in session.scalars(select(Story))
            }
            alerts = {a.id: (a.topic_id, members.get(a.story_id, ())) for a in session.scalars(select(Alert))}
            names = {s.id: s.name for s in session.scalars(select(Subscriber))}
            deliveries = [
                (names.get(d.subscriber_id), d.channel, d.kind, alerts.get(d.alert_id), d.status)
                for d in session.scalars(select(Delivery))
            ]
            return {
                # Feeds by URL only: whether the last poll said "ok" or "not modified" depends
                # on how many polls there were, not on what was stored.
                "feeds": sorted(rel(f.url) for f in session.scalars(select(Feed))),
                "articles": sorted(
                    (rel(a.canonical_url), a.status, a.content_hash, a.extraction_method, a.version)
                    for a in session.scalars(select(Article))
                ),
                "sources": sorted(
                    (rel(s.feed.url), rel(s.entry_id)) for s in session.scalars(select(ArticleSource))
                ),
                "stories": sorted(m for m in members.values() if m),
                "alerts": sorted(alerts.values()),
                "alert_deliveries": sorted(d for d in deliveries if d[2] == "alert"),
                "other_deliveries": sorted(d for d in deliveries if d[2] != "alert"),
            }
    finally:
        db.dispose()


def duplicates(values: list[Any]) -> list[Any]:
    return [value for value, count in Counter(values).items() if count > 1]


def differences(left: dict[str, Any], right: dict[str, Any]) -> list[str]:
    """Human lines saying where two states differ (empty when equal)."""
    lines = []
    for key in left:
        if left[key] != right.get(key):
            only_left = Counter(map(repr, left[key])) - Counter(map(repr, right.get(key, [])))
            only_right = Counter(map(repr, right.get(key, []))) - Counter(map(repr, left[key]))
            lines.append(f"{key}: only in first {list(only_left)[:3]}, only in second {list(only_right)[:3]}")
    return lines
