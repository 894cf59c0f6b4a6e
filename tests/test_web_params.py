"""Every route, every parameter: a bad value is a 400 naming the parameter and its form,
never a 500 and never a traceback in the server log, whatever is sent."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from config.settings import load_settings
from flows.web import create_app
from flows.web.params import ALERT_PARAMS
from storage.db import open_database
from tests.test_web_app import NOW, make_settings, seed_database

LIST_ROUTES = ["/", "/api/alerts", "/alerts.csv"]
SEGMENT_ROUTES = ["/stories/{}", "/api/stories/{}", "/topics/{}", "/topics/{}/atom.xml", "/static/{}"]
PLAIN_ROUTES = ["/topics", "/feeds", "/api/feeds"]


class LogRecorder(logging.Handler):
    """Every log record at WARNING or above, and whether any carried a traceback."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings_ = make_settings(tmp_path_factory.mktemp("params"))
    db = open_database(settings_.resolved_database_url, migrate=True)
    seed_database(db)
    db.dispose()
    with TestClient(create_app(settings_, clock=lambda: NOW), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def log() -> Iterator[LogRecorder]:
    recorder = LogRecorder()
    root = logging.getLogger()
    root.addHandler(recorder)
    try:
        yield recorder
    finally:
        root.removeHandler(recorder)


def assert_sound(response, log: LogRecorder, what: str) -> None:
    assert response.status_code in (200, 400, 404), f"{what}: {response.status_code} {response.text[:300]}"
    assert "Traceback" not in response.text, what
    tracebacks = [r for r in log.records if r.exc_info or "Traceback" in r.getMessage()]
    assert not tracebacks, f"{what}: {tracebacks[0].getMessage()}"


# Named 400s ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "parameter", "form"),
    [
        ("/?limit=-5", "limit", "must be a whole number from 1 to 1000"),
        ("/api/alerts?limit=1e3", "limit", "must be a whole number from 1 to 1000"),
        ("/alerts.csv?min_score=NaN", "min_score", "use a number like 4 or 2.5"),
        ("/api/alerts?min_score=-inf", "min_score", "use a number like 4 or 2.5"),
        ("/?since=%00", "since", "use a duration like 30d, 12h, 90m or 2w, or a date like 2026-11-20"),
        ("/api/alerts?until=1e308d", "until", "use a duration like 30d, 12h, 90m or 2w, or a date like 2026-11-20"),
        ("/api/alerts?since=" + "9" * 5000 + "w", "since", "'" + "9" * 60 + "…' is not a date or a duration"),
        ("/api/alerts?topic=" + "x" * 10000, "topic", "valid topics: foreign-campaigning, retired-topic, uk-us-relations"),
        ("/api/alerts?sort=%E2%80%AE", "sort", "valid: published, updated, score"),
        ("/api/alerts?q=" + "a" * 600, "q", "at most 500 characters"),
        ("/api/alerts?cursor=%FF%FE", "cursor", "start from the first page"),
        ("/api/alerts?cursor=W1tdLCBudWxsLCBudWxsXQ", "cursor", "not a cursor from this list"),  # [[], null, null]
        ("/api/alerts?limit=1&limit=2", "limit", "given more than once; give it once"),
        ("/api/stories/-1", "story_id", "use a whole number from 1 to 2147483647"),
        ("/stories/2147483648", "story_id", "use a whole number from 1 to 2147483647"),
        ("/api/stories/%F0%9F%98%80", "story_id", "use a whole number from 1 to"),
        ("/topics/UK-US", "topic_id", "lower-case letters, digits and hyphens"),
        ("/topics/%0A%0D/atom.xml", "topic_id", "lower-case letters, digits and hyphens"),
        ("/topics/" + "a" * 101, "topic_id", "up to 100 characters"),
    ],
)
def test_a_bad_value_is_a_400_naming_the_parameter(client: TestClient, log: LogRecorder, path: str,
                                                     parameter: str, form: str) -> None:
    response = client.get(path)
    assert response.status_code == 400, response.text[:300]
    if path.startswith("/api/"):
        assert response.json()["parameter"] == parameter
        message = response.json()["error"]
    else:
        message = response.text
    assert f"{parameter}:" in message and form in message.replace("&#39;", "'")
    assert len(response.content) < 20_000  # a huge value is not echoed back whole
    assert_sound(response, log, path)


# Anything at all ------------------------------------------------------------------------

NASTY_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=3000),
    st.sampled_from(["\x00", "\r\n", "\u202e", "\ud7ff", "%", "%%", "..", "../../etc/passwd", "*", '"', "-", "'"]),
)
NUMBERS = st.one_of(
    st.integers().map(str),
    st.integers(min_value=10**18, max_value=10**400).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "1e309", "-0", "0x10", "1_000", "١٢", "+1", ".5", "5."]),
)
MOMENTS = st.one_of(
    st.builds(lambda n, u: f"{n}{u}", st.integers(min_value=-10, max_value=10**30), st.sampled_from("smhdwy")),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "2026-02-30", "T", "Z"]),
)


def cursor_like(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30)),
    lambda children: st.lists(children, max_size=4),
    max_leaves=8,
)
CURSORS = st.one_of(
    st.builds(lambda s, v, i: cursor_like([s, v, i]), st.sampled_from(["published", "updated", "score", "x"]),
              st.one_of(MOMENTS, NUMBERS, JSONISH), st.one_of(st.integers(), JSONISH)),
    JSONISH.map(cursor_like),
    NASTY_TEXT,
)
VALUES = {
    "q": st.one_of(NASTY_TEXT, st.sampled_from(['"', '"a', "-", "-a", "ab*", "a*", '-"x y"*', "steel -steel"])),
    "topic": st.one_of(NASTY_TEXT, st.sampled_from(["uk-us-relations", "retired-topic"])),
    "since": st.one_of(MOMENTS, NUMBERS, NASTY_TEXT),
    "until": st.one_of(MOMENTS, NUMBERS, NASTY_TEXT),
    "min_score": st.one_of(NUMBERS, NASTY_TEXT),
    "limit": st.one_of(NUMBERS, NASTY_TEXT),
    "sort": st.one_of(st.sampled_from(["published", "updated", "score"]), NASTY_TEXT),
    "cursor": CURSORS,
}
PARAMS = st.lists(
    st.one_of(
        st.sampled_from(ALERT_PARAMS).flatmap(lambda name: VALUES[name].map(lambda v: (name, v))),
        st.tuples(NASTY_TEXT, NASTY_TEXT),  # names the app does not know
    ),
    max_size=6,
)
SEGMENTS = st.one_of(NUMBERS, NASTY_TEXT, st.sampled_from(["1", "2", "uk-us-relations", "style.css", "0"]))


def drive(client: TestClient, log: LogRecorder, route: str, params: list[tuple[str, str]]) -> None:
    log.records.clear()
    response = client.get(route, params=params)
    assert_sound(response, log, f"{route} {params!r}"[:500])


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(LIST_ROUTES + PLAIN_ROUTES), params=PARAMS)
def test_list_routes_never_fail_on_any_query(client: TestClient, log: LogRecorder, route: str,
                                             params: list[tuple[str, str]]) -> None:
    drive(client, log, route, params)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(SEGMENT_ROUTES), segment=SEGMENTS, params=PARAMS)
def test_path_segments_never_fail(client: TestClient, log: LogRecorder, route: str, segment: str,
                                  params: list[tuple[str, str]]) -> None:
    drive(client, log, route.format(quote(segment, safe="")), params)


@pytest.mark.postgres
def test_every_route_on_postgresql_never_fails(postgres_url: str, tmp_path: Path) -> None:
    """PostgreSQL refuses what SQLite takes (NUL characters, numbers past bigint): the same
    checks, against it."""
    settings_ = load_settings(None, base_dir=tmp_path, database_url=postgres_url)
    db = open_database(postgres_url, migrate=True)
    seed_database(db)
    recorder = LogRecorder()
    logging.getLogger().addHandler(recorder)
    try:
        with TestClient(create_app(settings_, database=db, clock=lambda: NOW), raise_server_exceptions=False) as pg:

            @settings(max_examples=150, deadline=None)
            @given(route=st.sampled_from(LIST_ROUTES + [r.format("{}") for r in SEGMENT_ROUTES]),
                   segment=SEGMENTS, params=PARAMS)
            def run(route: str, segment: str, params: list[tuple[str, str]]) -> None:
                drive(pg, recorder, route.format(quote(segment, safe="")), params)

            run()
            for path in ("/api/alerts?q=%00steel", "/api/alerts?topic=%00", "/api/stories/2147483647",
                         "/stories/2147483648", "/api/stories/99999999999999999999",
                         "/api/alerts?min_score=1e308", "/api/alerts?since=0001-01-01"):
                drive(pg, recorder, path, [])
    finally:
        logging.getLogger().removeHandler(recorder)
        db.dispose()


@settings(max_examples=2000, deadline=None)
@given(value=st.one_of(JSONISH.map(cursor_like), CURSORS, st.text(max_size=300)),
       sort=st.sampled_from(["published", "updated", "score"]))
def test_any_cursor_decodes_or_is_refused_cleanly(value: str, sort: str) -> None:
    from storage.alert_list import CursorError, decode_cursor

    try:
        cursor = decode_cursor(value, sort)
    except CursorError:
        return
    assert cursor.sort == sort and 0 < cursor.id <= 2**31 - 1
    assert decode_cursor(cursor.encode(), sort) == cursor  # what it hands out, it takes back
