"""Stories, articles and alerts written through the real write path (``record_matches``).

For tests of what reads alerts (search, pages, export): the rows are the ones a pass
writes, search documents and publication times included.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count

from sqlalchemy.orm import Session

from config.settings import Settings
from storage.alerts import MatchRecord, record_matches
from storage.models import Alert, Article, Story

_serial = count(1)


def add_article(
    session: Session,
    story: Story,
    *,
    title: str,
    text: str,
    now: datetime,
    published_at: datetime | None = None,
    published_at_source: str | None = None,
    site_name: str | None = None,
) -> Article:
    n = next(_serial)
    url = f"https://outlet{n}.example/news/{n}"
    article = Article(
        canonical_url=url, url=url, status="fetched", title=title, text=text, site_name=site_name,
        published_at=published_at,
        published_at_source=published_at_source or ("feed" if published_at else None),
        fetched_at=now, story_id=story.id, created_at=now, updated_at=now, analysed_at=now,
    )
    session.add(article)
    story.article_count = (story.article_count or 0) + 1
    story.last_seen_at = now
    session.flush()
    return article


def raise_alert(
    session: Session,
    settings: Settings,
    *,
    topic: str,
    title: str,
    text: str,
    evidence: str,
    now: datetime,
    published_at: datetime | None = None,
    score: float = 5.0,
) -> Alert:
    """A new story of one article that matched ``topic``: its alert, as a pass raises it."""
    story = Story(title=title, first_seen_at=now, last_seen_at=now, article_count=0,
                  membership=[], created_at=now, updated_at=now)
    session.add(story)
    session.flush()
    article = add_article(session, story, title=title, text=text, now=now, published_at=published_at)
    match = MatchRecord(topic, score, "v1", [{"text": evidence, "field": "body", "start": 0, "end": len(evidence),
                                              "rule": "test rule", "terms": []}])
    record_matches(session, article, [match], now, settings, joined_story=True, new_story=True)
    return session.query(Alert).filter_by(topic_id=topic, story_id=story.id).one()


def join_story(
    session: Session, settings: Settings, alert: Alert, *, title: str, text: str, now: datetime,
    published_at: datetime | None = None, matches: list[MatchRecord] | None = None,
) -> Article:
    """Another article joins the alert's story (matching no topic unless ``matches``)."""
    story = session.get(Story, alert.story_id)
    assert story is not None
    article = add_article(session, story, title=title, text=text, now=now, published_at=published_at)
    record_matches(session, article, matches or [], now + timedelta(seconds=1), settings, joined_story=True)
    return article
