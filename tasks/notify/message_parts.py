"""What every message says, whatever its channel: subject, intro, stories grouped by topic.

The email (render.py) and the Slack message (slack_blocks.py) both lay out these parts,
so a subscriber reads the same facts in either.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tasks.notify.evidence import Quote, quote_of
from tasks.notify.text import one_line, safe_link
from tasks.notify.views import MessageView, SourceView, StoryView

MAX_OUTLETS_NAMED = 5


def when(value: datetime | None) -> str:
    """A moment as readers see it in messages: ``28 Nov 2026, 09:00 UTC``."""
    if value is None:
        return ""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%d %b %Y, %H:%M UTC").lstrip("0")


def topic_labels(story: StoryView) -> list[str]:
    """The story's topics by name (ids only when no name is known)."""
    names = story.topic_names if len(story.topic_names) == len(story.topics) else story.topics
    return [one_line(name, 100) for name in names]


def _period_label(view: MessageView) -> str:
    every = {"hourly": "Hourly", "daily": "Daily", "weekly": "Weekly"}.get(view.every or "", "")
    if view.period_end is None:
        return f"{every} digest".strip()
    return f"{every} digest, {view.period_end:%d %b %Y %H:%M} UTC".strip()


def subject_of(view: MessageView) -> str:
    if view.kind == "digest":
        count = len(view.stories)
        text = f"[newswatch] {_period_label(view)}: {count} stor{'y' if count == 1 else 'ies'}"
        return one_line(text, 180)
    story = view.stories[0]
    if view.kind == "update":
        added = story.new_source_count
        more = f" (+{added} source{'s' if added != 1 else ''})" if added else ""
        return one_line(f"[newswatch] Update: {story.title}{more}", 180)
    return one_line(f"[newswatch] {', '.join(topic_labels(story))}: {story.title}", 180)


def intro_of(view: MessageView) -> str:
    if view.kind == "digest":
        start = f"{view.period_start:%d %b %H:%M}" if view.period_start else "the last digest"
        end = f"{view.period_end:%d %b %H:%M} UTC" if view.period_end else "now"
        count = len(view.stories)
        return (
            f"{_period_label(view)} for {one_line(view.subscriber, 80)}: {count} "
            f"stor{'y' if count == 1 else 'ies'} new or updated between {start} and {end}."
        )
    if view.kind == "update":
        return "A story you were alerted to has new sources."
    return "A new story matched your watch topics."


def _quote_of(story: StoryView) -> Quote | None:
    if story.quote is not None:
        return story.quote
    # Views built without stored evidence (tests, old callers): the snippet and its terms.
    return quote_of([{"text": story.snippet, "terms": list(story.terms)}]) if story.snippet else None


def _same_title(a: str, b: str) -> bool:
    def norm(text: str) -> str:
        return re.sub(r"\W+", " ", text).strip().casefold()

    return norm(a) == norm(b)


def _source_context(source: SourceView, story_title: str) -> dict[str, Any]:
    outlet = one_line(source.outlet, 120)
    # A feed named like the outlet adds nothing ("Harbour Times (via Harbour Times)").
    feeds = [one_line(f, 120) for f in source.feeds if f.strip().casefold() != source.outlet.strip().casefold()]
    return {
        "outlet": outlet,
        # The article's own headline only when it says something the story title does not.
        "title": "" if _same_title(source.title, story_title) or source.title == source.url
        else one_line(source.title, 300),
        "url": one_line(source.url, 2048),
        "link": safe_link(source.url),
        "published": when(source.published_at),
        "feeds": feeds,
        "is_new": source.is_new,
    }


def story_context(story: StoryView) -> dict[str, Any]:
    """Everything a story shows, with every string made safe for one line."""
    page = safe_link(story.page_url) if story.page_url else None
    first = safe_link(story.url) if story.url else None
    link = page or first or next((safe_link(s.url) for s in story.sources if safe_link(s.url)), None)
    title = one_line(story.title, 300)
    # The title already opens one article when there is no story page: list only the others.
    others = [s for s in story.sources if page or safe_link(s.url) != link]
    quote = _quote_of(story)
    outlets = [one_line(o, 120) for o in (story.outlets or tuple(s.outlet for s in story.sources))]
    outlets = list(dict.fromkeys(outlets))
    return {
        "story_id": story.story_id,
        "title": title,
        "link": link,
        "page": page,
        "status": story.status,
        "topics": topic_labels(story),
        "published": when(story.published_at or story.first_seen_at),
        "outlets": outlets[:MAX_OUTLETS_NAMED],
        "more_outlets": max(len(outlets) - MAX_OUTLETS_NAMED, 0),
        "quote": [{"text": text, "found": found} for text, found in quote.pieces] if quote else [],
        "quote_text": quote.text if quote else "",
        "quote_outlet": one_line(quote.outlet, 120) if quote else "",
        "words": [one_line(w, 60) for w in quote.words] if quote else [],
        "score": story.score,
        "score_words": one_line(story.score_words or f"score {story.score:.1f}", 120),
        "sources": [_source_context(s, story.title) for s in others],
        "sources_heading": "Sources" if page else "Also reported by",
        "source_count": story.source_count,
        "more": max(story.source_count - len(story.sources), 0),
    }


def topic_groups(view: MessageView) -> list[dict[str, Any]]:
    """The stories by topic (a story under its strongest topic), topics in name order."""
    groups: dict[str, dict[str, Any]] = {}
    for story in view.stories:
        key = story.primary_topic if story.primary_topic in story.topics else (story.topics or ("",))[0]
        names = dict(zip(story.topics, topic_labels(story), strict=True))
        group = groups.setdefault(key, {"name": names.get(key, key) or "Other", "stories": []})
        context = story_context(story)
        # Under its topic's heading a story names only its other topics.
        context["other_topics"] = [name for t, name in names.items() if t != key]
        group["stories"].append(context)
    ordered = sorted(groups.values(), key=lambda g: str(g["name"]).casefold())
    for number, group in enumerate(ordered, start=1):
        group["anchor"] = f"topic-{number}"
    return ordered
