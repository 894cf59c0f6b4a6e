"""The web app: alerts, stories, topics and feeds as pages, Atom and JSON.

``create_app(settings)`` returns a Starlette app; ``newswatch web`` serves it with uvicorn.
It builds one ``AppContext`` (flows/web/context.py) and hands it to the routes table
(flows/web/routes.py), which binds each view (flows/web/views/, flows/web/feedback_views.py)
to it. Views are plain functions, the read-only ones sync (run in Starlette's thread pool),
each with its own short reader session (a snapshot that never takes SQLite's write lock, so
browsing never holds up a pass). Nothing writes to the database but a signed-in person's
verdicts (flows/web/feedback_views.py). Prefect is never imported. Parameters are parsed in
flows/web/params.py; links are built in flows/web/links.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from starlette.applications import Starlette
from starlette.middleware import Middleware

from config.settings import Settings
from flows.web.accounts import Accounts
from flows.web.context import AppContext, template_environment
from flows.web.links import Links
from flows.web.routes import exception_handlers, routes
from flows.web.security import GuardMiddleware
from flows.web.topic_catalog import TopicCatalog
from storage.clock import utcnow
from storage.db import Database, open_database


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Starlette:
    """The web app over ``settings``' database (opened now; DatabaseNotReady if unusable).

    SignInSetupError when people are configured (web.users) without web.secret_key."""
    web = settings.web
    # Checked before the database is opened, so a setup error leaves nothing open.
    accounts = Accounts(web.users, web.secret_key.get_secret_value() if web.secret_key else None, clock=clock)
    db = database or open_database(settings.resolved_database_url)
    context = AppContext(
        settings=settings, database=db, templates=template_environment(), links=Links(web),
        accounts=accounts, catalog=TopicCatalog(settings), clock=clock,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if database is None:  # opened here, so closed here
            db.dispose()

    app = Starlette(
        routes=routes(context),
        middleware=[Middleware(
            GuardMiddleware,
            username=web.username,
            password=web.password.get_secret_value() if web.password else None,
            writable=accounts.enabled,
        )],
        exception_handlers=exception_handlers(context),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = db
    app.state.context = context
    return app
