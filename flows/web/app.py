"""The read-only web app: alerts, stories, topics and feeds as pages, Atom and JSON.

``create_app(settings)`` returns a Starlette app; ``newswatch web`` serves it with uvicorn.
Endpoints are plain (sync) functions, run in Starlette's thread pool, each with its own
short database session. Nothing here writes to the database, and prefect is never imported.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from config.settings import Settings
from flows.web import queries
from flows.web.atom import topic_atom
from flows.web.charts import alerts_per_day_svg
from flows.web.render import from_iso, highlight, iso_attr, outlet, path_segment, safe_href, when
from flows.web.security import SECURITY_HEADERS, GuardMiddleware
from storage.clock import utcnow
from storage.db import Database, open_database
from storage.serialize import alert_json, alerts_json, article_json, feeds_json, story_json

HERE = Path(__file__).resolve().parent
CHART_DAYS = 30


def template_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=when, iso=iso_attr, from_iso=from_iso, highlight=highlight,
        safe_href=safe_href, outlet=outlet, segment=path_segment,
    )
    return env


def raw_definition(topic: Any, max_bytes: int = 200_000) -> str | None:
    """The topic's YAML as its author wrote it, when its file holds just this topic."""
    path = Path(topic.file) if topic.file else None
    try:
        if path is None or not path.is_file() or path.stat().st_size > max_bytes:
            return None
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return text if isinstance(data, dict) and data.get("id") == topic.id else None


class TopicCatalog:
    """The configured topic definitions, loaded once; a broken definition is reported, not fatal."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._topics: dict[str, Any] | None = None
        self.error: str | None = None

    @property
    def topics(self) -> dict[str, Any]:
        if self._topics is None:
            from tasks.topics import TopicDefinitionError, load_topics

            try:
                found = load_topics(self.settings.topics, self.settings.base_dir)
                self._topics = {t.id: t for t in found.topics}
            except TopicDefinitionError as exc:
                self.error = str(exc)
                self._topics = {}
        return self._topics


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Starlette:
    """The web app over ``settings``' database (opened now; DatabaseNotReady if unusable)."""
    db = database or open_database(settings.resolved_database_url)
    owns_database = database is None
    env = template_environment()
    catalog = TopicCatalog(settings)

    def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(name).render(request=request, nav=name, **context)
        return HTMLResponse(html, status_code=status_code)

    def not_found(what: str) -> HTTPException:
        return HTTPException(404, detail=f"There is no {what}.")

    def params(request: Request) -> dict[str, str]:
        return {k: v for k, v in request.query_params.items()}

    def topic_choices(session: Any) -> list[str]:
        return sorted(set(catalog.topics) | set(queries.topic_ids_with_alerts(session)))

    # Pages ---------------------------------------------------------------------------

    def alerts_page(request: Request) -> Response:
        values = params(request)
        error = None
        try:
            filters = queries.parse_alert_filter(values, clock())
        except queries.FilterError as exc:
            error, filters = str(exc), None
        with db.session() as session:
            alerts = queries.find_alerts(session, filters) if filters else []
            counts = queries.story_article_counts(session, [a.story_id for a in alerts])
            return page(
                request, "alerts.html", status_code=400 if error else 200,
                alerts=alerts, counts=counts, error=error, values=values,
                topics=topic_choices(session), limit=filters.limit if filters else None,
                topic_names={k: t.name for k, t in catalog.topics.items()},
            )

    def story_page(request: Request) -> Response:
        story_id = request.path_params["story_id"]
        with db.session() as session:
            view = queries.get_story(session, story_id)
            if view is None:
                raise not_found(f"story {story_id}")
            matches = {
                alert.id: {m.article_id: m for m in alert.matches} for alert in view.alerts
            }
            joined = {
                m.get("article_id"): str(m.get("reason") or "")
                for m in view.story.membership or [] if isinstance(m, dict)
            }
            return page(request, "story.html", view=view, story=view.story, matches=matches,
                        topics=catalog.topics, joined=joined)

    def topics_page(request: Request) -> Response:
        with db.session() as session:
            rows = [
                (topic_id, catalog.topics.get(topic_id), queries.topic_alert_count(session, topic_id))
                for topic_id in topic_choices(session)
            ]
        return page(request, "topics.html", rows=rows, topics_error=catalog.error)

    def topic_page(request: Request) -> Response:
        topic_id = request.path_params["topic_id"]
        topic = catalog.topics.get(topic_id)
        today = clock().date()
        with db.session() as session:
            total = queries.topic_alert_count(session, topic_id)
            if topic is None and total == 0:
                raise not_found(f"topic {topic_id!r}")
            days = queries.alerts_per_day(session, topic_id, today - timedelta(days=CHART_DAYS - 1), today)
            latest = queries.find_alerts(session, queries.AlertFilter(topic=topic_id, limit=20))
            counts = queries.story_article_counts(session, [a.story_id for a in latest])
            normalised = (
                yaml.safe_dump(topic.definition, sort_keys=False, allow_unicode=True, width=100)
                if topic is not None and topic.definition else None
            )
            return page(
                request, "topic.html", topic_id=topic_id, topic=topic, total=total,
                chart=alerts_per_day_svg(days, label=f"Alerts per day, last {CHART_DAYS} days"),
                chart_total=sum(c for _, c in days), chart_days=CHART_DAYS,
                alerts=latest, counts=counts, normalised=normalised, topics_error=catalog.error,
                raw=raw_definition(topic) if topic is not None else None,
            )

    def feeds_page(request: Request) -> Response:
        with db.session() as session:
            feeds = feeds_json(session)
        broken = [f for f in feeds if queries.feed_is_broken(f)]
        return page(request, "feeds.html", feeds=feeds, broken_ids={f["id"] for f in broken},
                    broken=len(broken))

    # Atom ----------------------------------------------------------------------------

    def topic_feed(request: Request) -> Response:
        topic_id = request.path_params["topic_id"]
        topic = catalog.topics.get(topic_id)
        with db.session() as session:
            alerts = queries.find_alerts(session, queries.AlertFilter(topic=topic_id, limit=50))
            if topic is None and not alerts:
                raise not_found(f"topic {topic_id!r}")
            body = topic_atom(
                topic_id=topic_id,
                topic_name=topic.name if topic else topic_id,
                alerts=alerts,
                self_url=str(request.url.replace(query="", fragment="")),
                topic_url=str(request.url_for("topic", topic_id=topic_id)),
                story_url=lambda a: str(request.url_for("story", story_id=a.story_id)),
                now=clock(),
            )
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    # JSON ----------------------------------------------------------------------------

    def api_alerts(request: Request) -> Response:
        try:
            filters = queries.parse_alert_filter(params(request), clock())
        except queries.FilterError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        with db.session() as session:
            alerts = queries.find_alerts(session, filters)
            return JSONResponse(alerts_json(session, alerts))

    def api_story(request: Request) -> Response:
        story_id = request.path_params["story_id"]
        with db.session() as session:
            view = queries.get_story(session, story_id)
            if view is None:
                raise not_found(f"story {story_id}")
            return JSONResponse({
                **story_json(view.story),
                "articles": [article_json(a, with_text=False) for a in view.articles],
                "alerts": [alert_json(session, a) for a in view.alerts],
                "deliveries": [queries.delivery_json(d) for d in view.deliveries],
            })

    def api_feeds(request: Request) -> Response:
        with db.session() as session:
            return JSONResponse(feeds_json(session))

    # Errors --------------------------------------------------------------------------

    def error_response(request: Request, status: int, message: str) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status_code=status)
        return page(request, "error.html", status_code=status, status=status, message=message)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = exc.detail if exc.status_code == 404 and exc.detail != "Not Found" else {
            404: "There is no such page.",
        }.get(exc.status_code, str(exc.detail))
        return error_response(request, exc.status_code, message)

    async def server_error(request: Request, exc: Exception) -> Response:
        # Raised errors bypass the guard middleware (Starlette answers them outermost).
        response = error_response(request, 500, "Something went wrong; see the server log.")
        for key, value in SECURITY_HEADERS:
            response.headers[key.decode()] = value.decode()
        return response

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if owns_database:
            db.dispose()

    routes = [
        Route("/", alerts_page, name="alerts"),
        Route("/stories/{story_id:int}", story_page, name="story"),
        Route("/topics", topics_page, name="topics"),
        Route("/topics/{topic_id}", topic_page, name="topic"),
        Route("/topics/{topic_id}/atom.xml", topic_feed, name="topic_atom"),
        Route("/feeds", feeds_page, name="feeds"),
        Route("/api/alerts", api_alerts, name="api_alerts"),
        Route("/api/stories/{story_id:int}", api_story, name="api_story"),
        Route("/api/feeds", api_feeds, name="api_feeds"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    web = settings.web
    app = Starlette(
        routes=routes,
        middleware=[Middleware(
            GuardMiddleware,
            username=web.username,
            password=web.password.get_secret_value() if web.password else None,
        )],
        exception_handlers={HTTPException: http_error, 500: server_error},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = db
    return app
