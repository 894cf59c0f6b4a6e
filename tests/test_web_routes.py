"""docs/web.md's routes table lists exactly the routes the app serves, with their views.

Every route is declared in flows/web/routes.py; the docs repeat that table for readers, so
a route added, renamed, moved or pointed at another view on one side only fails here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from flows.web import create_app
from flows.web.routes import ROUTES
from storage.db import open_database
from tests.test_web_app import make_settings

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "web.md"
Row = tuple[str, str, str, str]  # name, path, methods, view


def documented_routes() -> list[Row]:
    """The rows of the table under docs/web.md's "## Routes" heading."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## Routes\n", 1)[1].split("\n## ", 1)[0]
    rows: list[Row] = []
    for line in section.splitlines():
        cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and line.startswith("|") and cells[0] not in ("name", "---"):
            name, path, methods, view = cells
            rows.append((name, path, methods, view))
    return rows


def view_name(endpoint: object) -> str:
    """``flows/web/views/story.py:story_page`` for a view bound with functools.partial."""
    while isinstance(endpoint, functools.partial):
        endpoint = endpoint.func
    module = getattr(endpoint, "__module__", "")
    return f"{module.replace('.', '/')}.py:{getattr(endpoint, '__qualname__', '')}"


def served_routes(app: Starlette) -> list[Row]:
    rows: list[Row] = []
    for route in app.routes:
        if isinstance(route, Route):
            methods = ", ".join(sorted(set(route.methods or ()) - {"HEAD"}))
            rows.append((route.name, route.path, methods, view_name(route.endpoint)))
        elif isinstance(route, Mount):
            # The static files: the "view" is the directory they are served from.
            directory = Path(getattr(route.app, "directory", "")).resolve().relative_to(REPO)
            rows.append((route.name or "", route.path, "GET", f"{directory.as_posix()}/"))
    return rows


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starlette]:
    settings = make_settings(tmp_path_factory.mktemp("routes"))
    db = open_database(settings.resolved_database_url, migrate=True)
    try:
        yield create_app(settings, database=db)
    finally:
        db.dispose()


def test_the_docs_list_exactly_the_routes_the_app_serves(app: Starlette) -> None:
    documented = documented_routes()
    assert documented, "docs/web.md has no routes table under '## Routes'"
    served = served_routes(app)
    assert sorted(set(documented) - set(served)) == [], "docs/web.md lists routes the app does not serve"
    assert sorted(set(served) - set(documented)) == [], "routes missing from docs/web.md's routes table"
    assert len(documented) == len(served), "a route is listed twice in docs/web.md"


def test_every_route_is_declared_in_the_routes_table(app: Starlette) -> None:
    declared = {(spec.name, spec.path) for spec in ROUTES}
    served = {(route.name, route.path) for route in app.routes if isinstance(route, Route)}
    assert served == declared
    names = [spec.name for spec in ROUTES]
    assert len(names) == len(set(names)), "two routes share a name"


def test_every_view_lives_in_a_view_module_not_in_create_app(app: Starlette) -> None:
    views = {view_name(route.endpoint) for route in app.routes if isinstance(route, Route)}
    assert all(re.fullmatch(r"flows/web/(views/\w+|feedback_views)\.py:\w+", v) for v in views), views
