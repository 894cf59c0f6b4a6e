"""The feeds page (``/feeds``): each feed's state, and feed health above it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from flows.web import queries
from flows.web.context import AppContext
from flows.web.feed_health import feed_health_context
from storage.serialize import feeds_json


def feeds_page(context: AppContext, request: Request) -> Response:
    with context.database.reader() as session:
        feeds = feeds_json(session)
        health = feed_health_context(session, context.settings, context.clock())
    broken = [f for f in feeds if queries.feed_is_broken(f)]
    return context.page(request, "feeds.html", feeds=feeds, broken_ids={f["id"] for f in broken},
                        broken=len(broken), **health)
