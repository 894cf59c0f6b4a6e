"""The alerts list (``/``) and the same list as CSV (``/alerts.csv``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from flows.web.context import AppContext
from flows.web.params import (
    DEFAULT_API_LIMIT,
    DEFAULT_PAGE_LIMIT,
    ListLinks,
    ParamError,
    multi,
    parse_alert_query,
)
from storage.alert_list import AlertQuery, count_alerts, find_alerts, story_facts
from storage.export import csv_lines, csv_row

CSV_BATCH = 500  # alerts per query while /alerts.csv streams


def alerts_page(context: AppContext, request: Request) -> Response:
    given = multi(request.query_params)
    list_links = ListLinks.of(given)
    root = context.links.root
    with context.database.reader() as session:
        topics = context.topic_choices(session)
        shared: dict[str, Any] = {
            "topics": topics, "topic_names": context.topic_names(), "form": list_links,
            "json_href": f"{root}/api/alerts?{list_links.query()}".rstrip("?"),
            "csv_href": f"{root}/alerts.csv?{list_links.query(drop=('cursor', 'limit'))}".rstrip("?"),
        }
        try:
            query = parse_alert_query(given, context.clock(), topics, default_limit=DEFAULT_PAGE_LIMIT)
        except ParamError as exc:
            return context.page(request, "alerts.html", status_code=400, error=str(exc), alerts=[],
                                facts={}, total=0, next_href=None, first_href=None, searched=None, **shared)
        found = find_alerts(session, query)
        return context.page(
            request, "alerts.html", error=None, alerts=found.alerts,
            facts=story_facts(session, [a.story_id for a in found.alerts]),
            total=count_alerts(session, query), searched=query.search,
            next_href=(
                f"{root}/?{list_links.query(cursor=found.next_cursor.encode())}"
                if found.next_cursor else None
            ),
            first_href=f"{root}/?{list_links.query(drop=('cursor',))}".rstrip("?") if query.cursor else None,
            **shared,
        )


def alerts_csv(context: AppContext, request: Request) -> Response:
    with context.database.reader() as session:
        query = context.alert_query(request, session, DEFAULT_API_LIMIT)
    cap = query.limit if "limit" in ListLinks.of(multi(request.query_params)).values else None
    return StreamingResponse(
        csv_lines(_csv_rows(context, query, cap, context.topic_names())), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="newswatch-alerts.csv"'},
    )


def _csv_rows(
    context: AppContext, query: AlertQuery, cap: int | None, names: dict[str, str]
) -> Iterator[list[str]]:
    """The rows of every alert ``query`` finds (at most ``cap``), a batch per query."""
    # A short reader session per batch: the response streams in whichever threads
    # Starlette gives it, and the cursor carries on where the last batch ended.
    current, left = replace(query, limit=CSV_BATCH), cap
    while left is None or left > 0:
        with context.database.reader() as session:
            found = find_alerts(session, current)
            batch = found.alerts if left is None else found.alerts[:left]
            facts = story_facts(session, [a.story_id for a in batch])
            lines = [csv_row(a, facts.get(a.story_id), names, context.base_url) for a in batch]
        yield from lines
        left = None if left is None else left - len(batch)
        if found.next_cursor is None:
            return
        current = replace(current, cursor=found.next_cursor)
