"""Every route of the web app, declared in one table.

``ROUTES`` names each path, its route name (templates and tests refer to it), the methods
it answers and its view; ``routes(context)`` binds each view to the app's ``AppContext``.
docs/web.md lists the same table, and tests/test_web_routes.py checks that it does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from flows.web import feedback_views
from flows.web.context import AppContext
from flows.web.params import ParamError
from flows.web.views import alerts, api, atom_feed, errors, feeds, story, topics

View = Callable[[AppContext, Request], Response | Awaitable[Response]]
STATIC = Path(__file__).resolve().parent / "static"
READ = ("GET", "HEAD")


@dataclass(frozen=True)
class RouteSpec:
    path: str
    name: str
    view: View
    methods: tuple[str, ...] = READ


ROUTES: tuple[RouteSpec, ...] = (
    # Pages
    RouteSpec("/", "alerts", alerts.alerts_page),
    RouteSpec("/stories/{story_id}", "story", story.story_page),
    RouteSpec("/topics", "topics", topics.topics_page),
    RouteSpec("/topics/{topic_id}", "topic", topics.topic_page),
    RouteSpec("/feeds", "feeds", feeds.feeds_page),
    # CSV, Atom and JSON
    RouteSpec("/alerts.csv", "alerts_csv", alerts.alerts_csv),
    RouteSpec("/topics/{topic_id}/atom.xml", "topic_atom", atom_feed.topic_feed),
    RouteSpec("/api/alerts", "api_alerts", api.api_alerts),
    RouteSpec("/api/stories/{story_id}", "api_story", api.api_story),
    RouteSpec("/api/feeds", "api_feeds", api.api_feeds),
    # Signing in and verdicts (404 while no people are configured)
    RouteSpec("/sign-in", "sign_in_form", feedback_views.sign_in_form),
    RouteSpec("/sign-in", "sign_in", feedback_views.sign_in, ("POST",)),
    RouteSpec("/sign-out", "sign_out", feedback_views.sign_out, ("POST",)),
    RouteSpec("/alerts/{alert_id}/feedback", "give_verdict", feedback_views.give_verdict, ("POST",)),
)
STATIC_PATH, STATIC_NAME = "/static", "static"


def routes(context: AppContext) -> list[BaseRoute]:
    """The app's routes, each view bound to ``context``, and the static files."""
    bound: list[BaseRoute] = [
        Route(spec.path, partial(spec.view, context), methods=list(spec.methods), name=spec.name)
        for spec in ROUTES
    ]
    return [*bound, Mount(STATIC_PATH, StaticFiles(directory=STATIC), name=STATIC_NAME)]


def exception_handlers(context: AppContext) -> Mapping[Any, Callable[..., Any]]:
    """Errors answered as the request asked (errors.py): a 4xx, a bad parameter, a 500."""
    return {
        HTTPException: partial(errors.http_error, context),
        ParamError: partial(errors.param_error, context),
        500: partial(errors.server_error, context),
    }
