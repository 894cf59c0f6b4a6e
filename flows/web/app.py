"""The web app: alerts, stories, topics and feeds as pages, Atom and JSON.

``create_app(settings)`` returns a Starlette app; ``newswatch web`` serves it with uvicorn.
Endpoints are plain (sync) functions, run in Starlette's thread pool, each with its own
short reader session (a snapshot that never takes SQLite's write lock, so browsing never
holds up a pass). Nothing here writes to the database; the only writes, a signed-in
person's verdicts, live in ``flows/web/feedback_views.py``. Prefect is never imported.
Parameters are parsed in ``flows/web/params.py``; links are built in ``flows/web/links.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from config.settings import Settings
from flows.web import queries
from flows.web.accounts import Accounts
from flows.web.atom import topic_atom
from flows.web.charts import responsive_alerts_per_day_svg
from flows.web.feed_health import feed_health_context
from flows.web.feedback_views import feedback_routes, viewer_context
from flows.web.links import Links
from flows.web.params import (
    DEFAULT_API_LIMIT,
    DEFAULT_PAGE_LIMIT,
    ListLinks,
    ParamError,
    multi,
    parse_alert_query,
    parse_story_id,
    parse_topic_id,
)
from flows.web.render import (
    from_iso,
    highlight,
    iso_attr,
    outlet,
    path_segment,
    safe_href,
    snippet,
    when,
)
from flows.web.security import SECURITY_HEADERS, GuardMiddleware
from storage.alert_list import AlertQuery, count_alerts, find_alerts, story_facts
from storage.clock import utcnow
from storage.db import Database, open_database
from storage.export import csv_lines, csv_row
from storage.feedback import current_feedback
from storage.models import Article
from storage.serialize import (
    alert_json,
    alerts_json,
    article_json,
    article_published,
    feeds_json,
    story_json,
)

HERE = Path(__file__).resolve().parent
CHART_DAYS = 30
CSV_BATCH = 500  # alerts per query while /alerts.csv streams


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
        safe_href=safe_href, outlet=outlet, segment=path_segment, snippet=snippet,
        published=article_published,
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
    """The web app over ``settings``' database (opened now; DatabaseNotReady if unusable).

    SignInSetupError when people are configured (web.users) without web.secret_key."""
    web = settings.web
    accounts = Accounts(web.users, web.secret_key.get_secret_value() if web.secret_key else None)
    db = database or open_database(settings.resolved_database_url)
    owns_database = database is None
    env = template_environment()
    catalog = TopicCatalog(settings)
    links = Links(settings.web)
    base_url = settings.web.base_url

    def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(name).render(
            request=request, nav=name, root=links.root, **viewer_context(accounts, request), **context
        )
        return HTMLResponse(html, status_code=status_code)

    def not_found(what: str) -> HTTPException:
        return HTTPException(404, detail=f"There is no {what}.")

    def topic_choices(session: Any) -> list[str]:
        return sorted(set(catalog.topics) | set(queries.topic_ids_with_alerts(session)))

    def topic_names() -> dict[str, str]:
        return {k: t.name for k, t in catalog.topics.items()}

    def topic_labels() -> Any:
        """Topic names and scores in words (tasks/topics/labels.py) for what readers see."""
        from tasks.topics.labels import TopicLabels

        return TopicLabels(catalog.topics.values())

    def alert_query(request: Request, session: Any, default_limit: int) -> AlertQuery:
        return parse_alert_query(
            multi(request.query_params), clock(), topic_choices(session), default_limit=default_limit
        )

    # Pages ---------------------------------------------------------------------------

    def alerts_page(request: Request) -> Response:
        given = multi(request.query_params)
        list_links = ListLinks.of(given)
        with db.reader() as session:
            topics = topic_choices(session)
            context: dict[str, Any] = {
                "topics": topics, "topic_names": topic_names(), "form": list_links,
                "json_href": f"{links.root}/api/alerts?{list_links.query()}".rstrip("?"),
                "csv_href": f"{links.root}/alerts.csv?{list_links.query(drop=('cursor', 'limit'))}".rstrip("?"),
            }
            try:
                query = parse_alert_query(given, clock(), topics, default_limit=DEFAULT_PAGE_LIMIT)
            except ParamError as exc:
                return page(request, "alerts.html", status_code=400, error=str(exc), alerts=[],
                            facts={}, total=0, next_href=None, first_href=None, searched=None, **context)
            found = find_alerts(session, query)
            return page(
                request, "alerts.html", error=None, alerts=found.alerts,
                facts=story_facts(session, [a.story_id for a in found.alerts]),
                total=count_alerts(session, query), searched=query.search,
                next_href=(
                    f"{links.root}/?{list_links.query(cursor=found.next_cursor.encode())}"
                    if found.next_cursor else None
                ),
                first_href=f"{links.root}/?{list_links.query(drop=('cursor',))}".rstrip("?") if query.cursor else None,
                **context,
            )

    def story_page(request: Request) -> Response:
        story_id = parse_story_id(request.path_params["story_id"])
        with db.reader() as session:
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
            labels = topic_labels()
            explained = {a.id: labels.explain(a.topic_id, a.score, a.threshold) for a in view.alerts}
            return page(request, "story.html", view=view, story=view.story, matches=matches,
                        topics=catalog.topics, joined=joined, explained=explained,
                        topic_names={a.topic_id: labels.name(a.topic_id) for a in view.alerts},
                        feedback=current_feedback(session, [a.id for a in view.alerts]))

    def topics_page(request: Request) -> Response:
        with db.reader() as session:
            rows = [
                (topic_id, catalog.topics.get(topic_id), queries.topic_alert_count(session, topic_id))
                for topic_id in topic_choices(session)
            ]
        return page(request, "topics.html", rows=rows, topics_error=catalog.error)

    def known_topic(session: Any, topic_id: str) -> Any:
        """The topic's definition (None for a retired topic that still has alerts); 404 otherwise."""
        topic = catalog.topics.get(topic_id)
        if topic is None and topic_id not in queries.topic_ids_with_alerts(session):
            valid = ", ".join(topic_choices(session)) or "none"
            raise HTTPException(404, detail=f"There is no topic {topic_id!r}; topics: {valid}.")
        return topic

    def topic_page(request: Request) -> Response:
        topic_id = parse_topic_id(request.path_params["topic_id"])
        today = clock().date()
        with db.reader() as session:
            topic = known_topic(session, topic_id)
            total = queries.topic_alert_count(session, topic_id)
            days = queries.alerts_per_day(session, topic_id, today - timedelta(days=CHART_DAYS - 1), today)
            latest = find_alerts(session, AlertQuery(topics=(topic_id,), limit=20)).alerts
            normalised = (
                yaml.safe_dump(topic.definition, sort_keys=False, allow_unicode=True, width=100)
                if topic is not None and topic.definition else None
            )
            return page(
                request, "topic.html", topic_id=topic_id, topic=topic, total=total,
                chart=responsive_alerts_per_day_svg(days, label=f"Alerts per day of publication, last {CHART_DAYS} days"),
                chart_total=sum(c for _, c in days), chart_days=CHART_DAYS,
                alerts=latest, facts=story_facts(session, [a.story_id for a in latest]),
                topic_names=topic_names(), normalised=normalised, topics_error=catalog.error,
                raw=raw_definition(topic) if topic is not None else None,
            )

    def feeds_page(request: Request) -> Response:
        with db.reader() as session:
            feeds = feeds_json(session)
            health = feed_health_context(session, settings, clock())
        broken = [f for f in feeds if queries.feed_is_broken(f)]
        return page(request, "feeds.html", feeds=feeds, broken_ids={f["id"] for f in broken},
                    broken=len(broken), **health)

    # Atom ----------------------------------------------------------------------------

    def topic_feed(request: Request) -> Response:
        topic_id = parse_topic_id(request.path_params["topic_id"])
        segment = path_segment(topic_id)
        with db.reader() as session:
            topic = known_topic(session, topic_id)
            # Newest raised or updated first (not by publication): a reader polling the feed
            # sees every new alert, even one about a story published days ago.
            alerts = find_alerts(session, AlertQuery(topics=(topic_id,), sort="updated", limit=50)).alerts
            originals: dict[int, list[str]] = {}
            for story_id, url in session.execute(
                select(Article.story_id, Article.canonical_url)
                .where(Article.story_id.in_({a.story_id for a in alerts}))
                .order_by(Article.id)
            ):
                originals.setdefault(story_id, []).append(url)
            body = topic_atom(
                topic_id=topic_id,
                topic_name=topic.name if topic else topic_id,
                alerts=alerts,
                self_url=links.url(request, f"/topics/{segment}/atom.xml"),
                topic_url=links.url(request, f"/topics/{segment}"),
                story_url=lambda a: links.url(request, f"/stories/{a.story_id}"),
                related_urls=lambda a: originals.get(a.story_id, []),
                now=clock(),
            )
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    # JSON and CSV --------------------------------------------------------------------

    def api_alerts(request: Request) -> Response:
        list_links = ListLinks.of(multi(request.query_params))
        with db.reader() as session:
            query = alert_query(request, session, DEFAULT_API_LIMIT)
            found = find_alerts(session, query)
            body = alerts_json(session, found.alerts, base_url=base_url, labels=topic_labels())
        headers = {}
        if found.next_cursor is not None:
            target = links.url(request, f"/api/alerts?{list_links.query(cursor=found.next_cursor.encode())}")
            headers["Link"] = f'<{target}>; rel="next"'
        return JSONResponse(body, headers=headers)

    def alerts_csv(request: Request) -> Response:
        with db.reader() as session:
            query = alert_query(request, session, DEFAULT_API_LIMIT)
        cap = query.limit if "limit" in ListLinks.of(multi(request.query_params)).values else None
        names = topic_names()

        def rows() -> Any:
            # A short reader session per batch: the response streams in whichever threads
            # Starlette gives it, and the cursor carries on where the last batch ended.
            current, left = replace(query, limit=CSV_BATCH), cap
            while left is None or left > 0:
                with db.reader() as session:
                    found = find_alerts(session, current)
                    batch = found.alerts if left is None else found.alerts[:left]
                    facts = story_facts(session, [a.story_id for a in batch])
                    lines = [csv_row(a, facts.get(a.story_id), names, base_url) for a in batch]
                yield from lines
                left = None if left is None else left - len(batch)
                if found.next_cursor is None:
                    return
                current = replace(current, cursor=found.next_cursor)

        return StreamingResponse(
            csv_lines(rows()), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="newswatch-alerts.csv"'},
        )

    def api_story(request: Request) -> Response:
        story_id = parse_story_id(request.path_params["story_id"])
        with db.reader() as session:
            view = queries.get_story(session, story_id)
            if view is None:
                raise not_found(f"story {story_id}")
            return JSONResponse({
                **story_json(view.story),
                "articles": [article_json(a, with_text=False) for a in view.articles],
                "alerts": [alert_json(session, a, base_url=base_url, labels=topic_labels()) for a in view.alerts],
                "deliveries": [queries.delivery_json(d) for d in view.deliveries],
            })

    def api_feeds(request: Request) -> Response:
        with db.reader() as session:
            return JSONResponse(feeds_json(session))

    # Errors --------------------------------------------------------------------------

    def error_response(request: Request, status: int, message: str, parameter: str | None = None) -> Response:
        if request.url.path.startswith("/api/"):
            body: dict[str, Any] = {"error": message}
            if parameter:
                body["parameter"] = parameter
            return JSONResponse(body, status_code=status)
        if request.url.path.endswith(".csv"):
            return PlainTextResponse(f"{status}: {message}\n", status_code=status)
        return page(request, "error.html", status_code=status, status=status, message=message)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = exc.detail if exc.status_code == 404 and exc.detail != "Not Found" else {
            404: "There is no such page.",
        }.get(exc.status_code, str(exc.detail))
        return error_response(request, exc.status_code, message)

    async def param_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ParamError)
        return error_response(request, 400, str(exc), exc.name)

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
        Route("/alerts.csv", alerts_csv, name="alerts_csv"),
        Route("/stories/{story_id}", story_page, name="story"),
        Route("/topics", topics_page, name="topics"),
        Route("/topics/{topic_id}", topic_page, name="topic"),
        Route("/topics/{topic_id}/atom.xml", topic_feed, name="topic_atom"),
        Route("/feeds", feeds_page, name="feeds"),
        Route("/api/alerts", api_alerts, name="api_alerts"),
        Route("/api/stories/{story_id}", api_story, name="api_story"),
        Route("/api/feeds", api_feeds, name="api_feeds"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        *feedback_routes(db, accounts, page, links.root, secure=(web.base_url or "").startswith("https:")),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(
            GuardMiddleware,
            username=web.username,
            password=web.password.get_secret_value() if web.password else None,
            writable=accounts.enabled,
        )],
        exception_handlers={HTTPException: http_error, ParamError: param_error, 500: server_error},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = db
    return app
