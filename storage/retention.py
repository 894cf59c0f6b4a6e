"""Retention: old articles that no alert needs, and old fetch history, are deleted.

Articles of a story that raised an alert are kept with it: an alert's provenance is the
product. Deleting is batched so a large backlog never holds one huge transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from storage.dialect import affected_rows
from storage.models import Alert, Article, FeedFetch, Story

BATCH = 1000


@dataclass
class PruneCounts:
    articles: int = 0
    stories: int = 0
    feed_fetches: int = 0


def prune(session: Session, older_than: datetime) -> PruneCounts:
    """Delete articles first seen before ``older_than`` that no alert's story contains."""
    counts = PruneCounts()
    alerted = exists().where(Alert.story_id == Article.story_id)
    while True:
        ids = list(
            session.scalars(
                select(Article.id)
                .where(Article.created_at < older_than, ~alerted, Article.status != "pending")
                .limit(BATCH)
            )
        )
        if not ids:
            break
        session.execute(delete(Article).where(Article.id.in_(ids)))
        counts.articles += len(ids)
    lonely = ~exists().where(Article.story_id == Story.id) & ~exists().where(Alert.story_id == Story.id)
    counts.stories = affected_rows(session.execute(delete(Story).where(Story.last_seen_at < older_than, lonely)))
    counts.feed_fetches = affected_rows(session.execute(delete(FeedFetch).where(FeedFetch.fetched_at < older_than)))
    return counts
