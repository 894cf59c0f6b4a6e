"""When a story was published: the rule the alerts list, its filters and the JSON share.

An article's publication time comes from its feed entry or from its page (the page wins
when it states one; ``Article.published_at_source`` records which). Where neither gives
one, the time newswatch fetched the article stands in. A publication time later than the
fetch is a feed's clock or time-zone mistake (it is common: local times labelled UTC),
and would pin the story above everything else for hours: the fetch time stands in then
too. A story's publication time is that of its earliest article.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

PublishedSource = Literal["feed", "page", "fetched"]


def effective_published(
    published_at: datetime | None,
    published_at_source: str | None,
    fetched_at: datetime | None,
    created_at: datetime,
) -> tuple[datetime, PublishedSource]:
    """An article's publication time and where it came from (``feed``, ``page``, ``fetched``)."""
    fetched = fetched_at or created_at
    if published_at is not None and published_at <= fetched:
        return published_at, "page" if published_at_source == "page" else "feed"
    return fetched, "fetched"


def earliest_published(
    rows: Iterable[tuple[datetime | None, str | None, datetime | None, datetime]],
) -> tuple[datetime, PublishedSource] | None:
    """The earliest effective publication time of a story's articles (None without any)."""
    times = [effective_published(*row) for row in rows]
    return min(times, key=lambda pair: pair[0]) if times else None
