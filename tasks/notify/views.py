"""What a message says, read from the database: stories, their sources and evidence.

The view models here are plain frozen dataclasses, so rendering (``render.py``) is pure
and tests can render without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.settings import SubscriberConfig
from storage.models import Alert, Article, Delivery, Story
from storage.serialize import article_published, story_page_url
from tasks.notify.evidence import Quote, quote_of, strongest
from tasks.notify.topics import TopicDirectory, score_in_words, topic_name

MAX_SOURCES_SHOWN = 12


@dataclass(frozen=True)
class SourceView:
    title: str
    url: str
    outlet: str
    feeds: tuple[str, ...] = ()
    is_new: bool = False
    published_at: datetime | None = None


@dataclass(frozen=True)
class StoryView:
    story_id: int
    title: str
    topics: tuple[str, ...]
    score: float
    snippet: str
    terms: tuple[str, ...]
    sources: tuple[SourceView, ...]
    source_count: int
    status: str = "new"  # new | updated
    first_seen_at: datetime | None = None
    url: str = ""  # the story's first article
    page_url: str = ""  # the story's page in the web app (web.base_url set): where the title links
    topic_names: tuple[str, ...] = ()  # the topics' names, in the order of ``topics``
    primary_topic: str = ""  # the topic of the strongest alert: where a digest lists the story
    published_at: datetime | None = None
    outlets: tuple[str, ...] = ()
    quote: Quote | None = None  # the strongest evidence, its found words marked
    score_words: str = ""  # "strong match: 10.5; alerts from 6"

    @property
    def new_source_count(self) -> int:
        return sum(1 for source in self.sources if source.is_new)


@dataclass(frozen=True)
class MessageView:
    kind: str  # alert | update | digest
    subscriber: str
    key: str
    stories: tuple[StoryView, ...]
    period_start: datetime | None = None
    period_end: datetime | None = None
    every: str | None = None
    thread_key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def outlet_of(article: Article) -> str:
    if article.site_name and article.site_name.strip():
        return article.site_name.strip()
    for source in article.sources:
        if source.feed is not None and source.feed.name:
            return source.feed.name
    return urlsplit(article.canonical_url or article.url).hostname or "unknown outlet"


def _feed_names(article: Article) -> tuple[str, ...]:
    names: list[str] = []
    for source in article.sources:
        feed = source.feed
        if feed is None:
            continue
        name = feed.name or urlsplit(feed.url).hostname or feed.url
        if name not in names:
            names.append(name)
    return tuple(names)


def story_view(
    alerts: list[Alert],
    *,
    status: str = "new",
    shown_article_ids: set[int] | None = None,
    new_since: datetime | None = None,
    base_url: str | None = None,
    topics: TopicDirectory | None = None,
) -> StoryView:
    """One story as a subscriber sees it: all the alerts it wants on that story, merged.

    Sources are marked new when not in ``shown_article_ids`` (an update after a message)
    or added at or after ``new_since`` (an updated story in a digest).
    """
    best = max(alerts, key=lambda a: (a.score or 0.0, -a.id))
    story: Story = best.story
    articles = list(story.articles)
    seen_urls: set[str] = set()
    sources: list[SourceView] = []
    for article in articles:
        url = article.canonical_url or article.url
        if url in seen_urls:
            continue
        seen_urls.add(url)
        first_entry_title = next((s.entry_title for s in article.sources if s.entry_title), None)
        sources.append(
            SourceView(
                title=(article.title or first_entry_title or url).strip(),
                url=url,
                outlet=outlet_of(article),
                feeds=_feed_names(article),
                published_at=article_published(article)[0],
                is_new=(shown_article_ids is not None and article.id not in shown_article_ids)
                or (new_since is not None and _after(article.created_at, new_since)),
            )
        )
    first_url = sources[0].url if sources else ""
    # New sources first in an update, so the reason for the message is on top.
    sources.sort(key=lambda s: not s.is_new)
    quote = quote_of(best.evidence)
    if quote is not None and not quote.outlet:
        quote = replace(quote, outlet=_outlet_of_evidence(best, articles))
    title = (best.title or story.title or (articles[0].title if articles else None) or "").strip()
    topic_ids = tuple(sorted({a.topic_id for a in alerts}, key=lambda t: topic_name(topics, t).casefold()))
    published = [a.published_at for a in alerts if a.published_at is not None]
    return StoryView(
        story_id=story.id,
        title=title or "(untitled story)",
        topics=topic_ids,
        topic_names=tuple(topic_name(topics, t) for t in topic_ids),
        primary_topic=best.topic_id,
        published_at=min(published) if published else story.first_seen_at,
        outlets=tuple(dict.fromkeys(source.outlet for source in sources)),
        quote=quote,
        score_words=score_in_words(topics, best.topic_id, best.score or 0.0, best.threshold),
        score=max(a.score or 0.0 for a in alerts),
        snippet=quote.text if quote else "",
        terms=quote.words if quote else (),
        sources=tuple(sources[:MAX_SOURCES_SHOWN]),
        source_count=len(sources),
        status=status,
        first_seen_at=story.first_seen_at,
        url=first_url,
        page_url=story_page_url(base_url, story.id) or "",
    )


def _outlet_of_evidence(alert: Alert, articles: list[Article]) -> str:
    """Which outlet the alert's strongest evidence came from, for rows stored before the
    evidence recorded it: the article whose own match holds the same sentence."""
    item = strongest(alert.evidence)
    if item is None:
        return ""
    by_id = {article.id: article for article in articles}
    for match in alert.matches:
        article = by_id.get(match.article_id)
        if article is not None and any(
            isinstance(e, dict) and e.get("text") == item.get("text") for e in match.evidence or []
        ):
            return outlet_of(article)
    return ""


def _wanted(config: SubscriberConfig, alert: Alert) -> bool:
    return (not config.topics or alert.topic_id in config.topics) and (
        (alert.score or 0.0) >= config.min_score
    ) and not alert.baseline


def shown_article_ids(session: Session, delivery: Delivery, story_id: int) -> set[int]:
    """Articles already sent to this subscriber and channel for this story."""
    earlier = session.scalars(
        select(Delivery)
        .join(Alert, Delivery.alert_id == Alert.id)
        .where(
            Delivery.subscriber_id == delivery.subscriber_id,
            Delivery.channel == delivery.channel,
            Delivery.status == "sent",
            Delivery.id != delivery.id,
            Alert.story_id == story_id,
        )
    )
    shown: set[int] = set()
    for row in earlier:
        shown.update(int(i) for i in (row.payload or {}).get("shown_article_ids", []))
    return shown


def message_view(
    session: Session,
    delivery: Delivery,
    config: SubscriberConfig,
    *,
    base_url: str | None = None,
    topics: TopicDirectory | None = None,
) -> MessageView:
    """The message a delivery row stands for, as the data is now.

    ``base_url`` (``web.base_url``): where the web app is, so each story links to its page.
    ``topics``: names and thresholds, so topics read by name and scores in words.
    """
    payload = delivery.payload or {}
    if delivery.kind == "digest":
        ids = [int(i) for i in payload.get("alert_ids", [])]
        new_ids = {int(i) for i in payload.get("new_alert_ids", [])}
        alerts = list(session.scalars(select(Alert).where(Alert.id.in_(ids)))) if ids else []
        by_story: dict[int, list[Alert]] = {}
        for member in sorted(alerts, key=lambda a: ids.index(a.id)):
            by_story.setdefault(member.story_id, []).append(member)
        period_start = _parse_time(payload.get("period_start"))
        stories = tuple(
            story_view(group, status="new", base_url=base_url, topics=topics)
            if any(a.id in new_ids for a in group)
            else story_view(group, status="updated", new_since=period_start, base_url=base_url,
                       topics=topics)
            for group in by_story.values()
        )
        if not stories:
            raise LookupError(f"delivery {delivery.key}: none of its alerts exist any more")
        return MessageView(
            kind="digest",
            subscriber=config.name,
            key=delivery.key,
            stories=stories,
            period_start=period_start,
            period_end=_parse_time(payload.get("period_end")),
            every=payload.get("every"),
        )
    alert = session.get(Alert, delivery.alert_id) if delivery.alert_id is not None else None
    if alert is None:
        raise LookupError(f"delivery {delivery.key}: its alert no longer exists")
    siblings = [
        a
        for a in session.scalars(select(Alert).where(Alert.story_id == alert.story_id))
        if _wanted(config, a)
    ] or [alert]
    shown = shown_article_ids(session, delivery, alert.story_id) if delivery.kind == "update" else None
    view = story_view(siblings, status="updated" if delivery.kind == "update" else "new",
                      shown_article_ids=shown, base_url=base_url, topics=topics)
    return MessageView(
        kind=delivery.kind,
        subscriber=config.name,
        key=delivery.key,
        stories=(view,),
        thread_key=payload.get("thread_key"),
    )


def article_ids_of(session: Session, view: MessageView) -> list[int]:
    """The articles a message showed, recorded when sent so updates can mark what is new."""
    story_ids = [story.story_id for story in view.stories]
    if not story_ids:
        return []
    return list(session.scalars(select(Article.id).where(Article.story_id.in_(story_ids))))


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _after(moment: datetime | None, start: datetime) -> bool:
    if moment is None:
        return False
    aware = moment if moment.tzinfo else moment.replace(tzinfo=start.tzinfo)
    return aware >= start
