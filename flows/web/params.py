"""Every query parameter and path segment the web app reads, parsed in one place.

A value a user (or a crawler, or a fuzzer) can get wrong answers HTTP 400 with a
:class:`ParamError` naming the parameter and its valid form; nothing here lets a bad
value reach the database, so no request ends in a 500 or a traceback. Unknown
parameters are ignored (links carry tracking parameters); an empty value is no value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from flows.web import queries
from storage.alert_list import DEFAULT_SORT, MAX_ID, SORTS, AlertQuery, CursorError, decode_cursor
from storage.search import SearchError, parse_search

DEFAULT_PAGE_LIMIT = 50  # alerts per page in the browser
DEFAULT_API_LIMIT = 200  # and in the JSON API, as before pages
MAX_LIMIT = 1000
SHOWN_CHARS = 60  # of a bad value, echoed back in the message

# The alerts list's parameters, in the order links are written.
ALERT_PARAMS = ("q", "topic", "since", "until", "min_score", "sort", "limit", "cursor")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_WHOLE = re.compile(r"[0-9]{1,4}")
_ID = re.compile(r"[0-9]{1,19}")
# A topic id, as the topic language allows them (tasks/topics/loader.py).
_TOPIC_ID = re.compile(r"[a-z0-9][a-z0-9\-]{0,99}")

Params = Mapping[str, Sequence[str]]


class ParamError(ValueError):
    """A parameter with a value the app cannot use; the message names it and its form."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message if message.startswith(f"{name}:") else f"{name}: {message}")
        self.name = name


def shown(value: str) -> str:
    """A bad value as it is quoted back: repr'd (control characters visible) and short."""
    text = value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS] + "…"
    return repr(text)


def multi(params: object) -> dict[str, list[str]]:
    """Query parameters as lists of values (Starlette's QueryParams or a plain dict)."""
    getlist = getattr(params, "getlist", None)
    if getlist is not None:
        return {key: list(getlist(key)) for key in params}  # type: ignore[attr-defined]
    return {key: [v] if isinstance(v, str) else list(v) for key, v in dict(params).items()}  # type: ignore[call-overload]


def one(params: Params, name: str) -> str | None:
    """A single-valued parameter: None when absent or empty; given twice is an error."""
    values = [v for v in params.get(name, ()) if v.strip()]
    if len(values) > 1:
        raise ParamError(name, "given more than once; give it once")
    return values[0].strip() if values else None


def parse_time(name: str, value: str, now: datetime, *, end_of_day: bool = False) -> datetime:
    """``30d``/``12h``/``2w`` back from now, or an ISO date or date-time (UTC by default)."""
    form = "use 2026-11-20, 2026-11-20T08:00 or 30d, 12h, 2w"
    try:
        moment = queries.parse_moment(name, value, now, end_of_day=end_of_day)
        return moment.astimezone(UTC)  # every bound the database sees is UTC and in range
    except queries.FilterError as exc:  # the duration parser's own words: they say what to use
        raise ParamError(name, str(exc)) from None
    except (ValueError, OverflowError):  # a duration or date past what a datetime holds
        raise ParamError(name, f"{shown(value)} is out of range; {form}") from None


def parse_alert_query(
    params: Params, now: datetime, topics: Collection[str], *, default_limit: int
) -> AlertQuery:
    """The alerts list's filters, search, sort and page from query parameters.

    ``topics``: the valid topic ids (configured, or with alerts); any other is an error
    that lists them, never a silently empty list.
    """
    chosen_topics: list[str] = []
    for raw in params.get("topic", ()):
        topic = raw.strip()
        if not topic:
            continue
        if topic not in topics:
            valid = ", ".join(sorted(topics)) or "none configured"
            raise ParamError("topic", f"{shown(topic)} is not a topic here; valid topics: {valid}")
        if topic not in chosen_topics:
            chosen_topics.append(topic)

    since_text, until_text = one(params, "since"), one(params, "until")
    since = parse_time("since", since_text, now) if since_text else None
    until = parse_time("until", until_text, now, end_of_day=True) if until_text else None
    if since and until and since > until:
        raise ParamError("since", "must be before until")

    min_score = None
    score_text = one(params, "min_score")
    if score_text is not None:
        if not _NUMBER.fullmatch(score_text):
            raise ParamError("min_score", f"{shown(score_text)} is not a number; use a number like 4 or 2.5")
        min_score = float(score_text)
        if not math.isfinite(min_score):
            raise ParamError("min_score", f"{shown(score_text)} is not a finite number; use a number like 4 or 2.5")

    limit = default_limit
    limit_text = one(params, "limit")
    if limit_text is not None:
        if not _WHOLE.fullmatch(limit_text) or not 1 <= int(limit_text) <= MAX_LIMIT:
            raise ParamError("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
        limit = int(limit_text)

    search_text = one(params, "q")
    try:
        search = parse_search(search_text, "q") if search_text is not None else None
    except SearchError as exc:
        raise ParamError("q", str(exc)) from None

    sort = one(params, "sort") or DEFAULT_SORT
    if sort not in SORTS:
        raise ParamError("sort", f"{shown(sort)} is not a sort order; valid: {', '.join(SORTS)}")

    cursor = None
    cursor_text = one(params, "cursor")
    if cursor_text is not None:
        try:
            cursor = decode_cursor(cursor_text, sort)
        except CursorError as exc:
            raise ParamError("cursor", f"{exc}; follow the list's own next link, or start from the first page") from None

    return AlertQuery(
        topics=tuple(chosen_topics), since=since, until=until, min_score=min_score,
        search=search, sort=sort, limit=limit, cursor=cursor,
    )


@dataclass(frozen=True)
class ListLinks:
    """Query strings for the alerts list as the user filtered it."""

    values: dict[str, list[str]]  # the list's parameters as given (for forms and links)

    @classmethod
    def of(cls, params: Params) -> ListLinks:
        return cls({k: [v for v in params.get(k, ()) if v.strip()] for k in ALERT_PARAMS if params.get(k)})

    def first(self, name: str) -> str:
        return (self.values.get(name) or [""])[0]

    def query(self, *, drop: Collection[str] = (), **changes: str | None) -> str:
        """The query string of these filters, without ``drop``, with ``changes``."""
        values = {k: v for k, v in self.values.items() if k not in drop and k not in changes}
        for key, value in changes.items():
            if value is not None:
                values[key] = [value]
        pairs = [(k, v) for k in ALERT_PARAMS for v in values.get(k, ())]
        return urlencode(pairs)

    def filtered(self) -> bool:
        return any(k not in ("limit", "cursor", "sort") for k in self.values)


def parse_story_id(value: str) -> int:
    """A story id from a URL path: a whole number from 1 up."""
    if not _ID.fullmatch(value) or not 0 < int(value) <= MAX_ID:
        raise ParamError("story_id", f"{shown(value)} is not a story id; use a whole number from 1 to {MAX_ID}")
    return int(value)


def parse_alert_id(value: str) -> int:
    """An alert id from a URL path: a whole number from 1 up."""
    if not _ID.fullmatch(value) or not 0 < int(value) <= MAX_ID:
        raise ParamError("alert_id", f"{shown(value)} is not an alert id; use a whole number from 1 to {MAX_ID}")
    return int(value)


def parse_topic_id(value: str) -> str:
    """A topic id from a URL path: lower-case letters, digits and hyphens."""
    if not _TOPIC_ID.fullmatch(value):
        raise ParamError(
            "topic_id",
            f"{shown(value)} is not a topic id; topic ids are lower-case letters, digits and "
            "hyphens, up to 100 characters",
        )
    return value
