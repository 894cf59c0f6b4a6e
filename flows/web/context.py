"""What every view is given: the app's settings, database, templates, links, accounts and topics.

Views (``flows/web/views/``) are plain functions ``view(context, request)``; the routes
table (``flows/web/routes.py``) binds each to the one ``AppContext`` that ``create_app``
builds. Nothing here is global: two apps in one process (the tests make many) share nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from anyio import CapacityLimiter
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session as DbSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse

from config.settings import Settings
from flows.web import queries
from flows.web.accounts import CONCURRENT_PASSWORD_CHECKS, COOKIE_NAME, Accounts, Session
from flows.web.links import Links
from flows.web.params import multi, parse_alert_query
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
from flows.web.topic_catalog import TopicCatalog
from storage.alert_list import AlertQuery
from storage.clock import utcnow
from storage.db import Database
from storage.serialize import article_published

TEMPLATES = Path(__file__).resolve().parent / "templates"


def template_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
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


def session_of(accounts: Accounts, request: Request) -> Session | None:
    """The browser's signed session (anonymous or a person's), or None."""
    return accounts.read_session(request.cookies.get(COOKIE_NAME))


def viewer_context(accounts: Accounts, request: Request) -> dict[str, Any]:
    """What every page needs to show sign-in state and to carry a CSRF token in its forms."""
    session = session_of(accounts, request)
    return {
        "sign_in_enabled": accounts.enabled,
        "viewer": session.user if session else None,
        "csrf_token": accounts.csrf_token(session) if session else "",
    }


def not_found(what: str) -> HTTPException:
    return HTTPException(404, detail=f"There is no {what}.")


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    database: Database
    templates: Environment
    links: Links
    accounts: Accounts
    catalog: TopicCatalog
    clock: Callable[[], datetime] = utcnow
    # Worker threads the sign-in's password checks may use at once (flows/web/feedback_views.py).
    password_checks: CapacityLimiter = field(default_factory=lambda: CapacityLimiter(CONCURRENT_PASSWORD_CHECKS))

    @property
    def base_url(self) -> str | None:
        return self.settings.web.base_url

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over HTTPS when the app is reached over HTTPS."""
        return (self.settings.web.base_url or "").startswith("https:")

    def page(self, request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        """The template ``name`` rendered with the navigation and sign-in state every page has."""
        html = self.templates.get_template(name).render(
            request=request, nav=name, root=self.links.root,
            **viewer_context(self.accounts, request), **context,
        )
        return HTMLResponse(html, status_code=status_code)

    def topic_choices(self, session: DbSession) -> list[str]:
        """Configured topics and retired ones that still have alerts."""
        return sorted(set(self.catalog.topics) | set(queries.topic_ids_with_alerts(session)))

    def topic_names(self) -> dict[str, str]:
        return {k: t.name for k, t in self.catalog.topics.items()}

    def topic_labels(self) -> Any:
        """Topic names and scores in words (tasks/topics/labels.py) for what readers see."""
        from tasks.topics.labels import TopicLabels

        return TopicLabels(self.catalog.topics.values())

    def alert_query(self, request: Request, session: DbSession, default_limit: int) -> AlertQuery:
        return parse_alert_query(
            multi(request.query_params), self.clock(), self.topic_choices(session),
            default_limit=default_limit,
        )

    def known_topic(self, session: DbSession, topic_id: str) -> Any:
        """The topic's definition (None for a retired topic that still has alerts); 404 otherwise."""
        topic = self.catalog.topics.get(topic_id)
        if topic is None and topic_id not in queries.topic_ids_with_alerts(session):
            valid = ", ".join(self.topic_choices(session)) or "none"
            raise HTTPException(404, detail=f"There is no topic {topic_id!r}; topics: {valid}.")
        return topic
