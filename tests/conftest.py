"""Suite-wide setup: a throwaway PREFECT_HOME (set before prefect can be imported),
quiet Prefect, and database fixtures for SQLite files and the local PostgreSQL."""

from __future__ import annotations

import os
import signal
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.slack import WebhookRecorder, slack_webhook
from tests.support.smtp import RecordingHandler, smtp_server

# Shared checks: their failed asserts show the values, as in test modules.
pytest.register_assert_rewrite("tests.scale.outcomes")

_PREFECT_HOME = tempfile.mkdtemp(prefix="newswatch-test-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
for _key in [k for k in os.environ if k.startswith("NEWSWATCH_") and not k.startswith("NEWSWATCH_TEST_")]:
    del os.environ[_key]  # a developer's own overrides must not leak into tests (switches stay)

pytest_plugins = ["tests.support.httpserver"]  # the local_site fixture

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
POSTGRES_ENV = "NEWSWATCH_TEST_POSTGRES_URL"


@pytest.fixture(scope="session", autouse=True)
def _no_kept_prefect_server_left() -> Iterator[None]:
    """A default-engine run in this process keeps Prefect's API server for the next one
    (flows/prefect_api.py): tests may share it, and it goes when they end."""
    yield
    from flows.prefect_api import stop_kept_server

    stop_kept_server()
    # A run with other PREFECT_ settings starts a kept server of its own and leaves the
    # earlier one to its idle stop (30 min): none of the suite's may outlive it.
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"flows.run_server" in cmdline.read_bytes() and _PREFECT_HOME.encode() in cmdline.read_bytes():
                os.kill(int(cmdline.parent.name), signal.SIGTERM)
        except (OSError, ValueError):
            pass  # gone meanwhile


def postgres_admin_url() -> str | None:
    """The server to test against: NEWSWATCH_TEST_POSTGRES_URL, else None (tests skip)."""
    return os.environ.get(POSTGRES_ENV) or None


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'newswatch.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A scratch PostgreSQL database, created for the test and dropped after it."""
    admin = postgres_admin_url()
    if not admin:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (set by .ci/run)")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"newswatch_test_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the server named by the variable must be there
        engine.dispose()
        pytest.fail(f"{POSTGRES_ENV} is set but the server refused: {exc}")
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name}
            )
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Both databases: SQLite always, PostgreSQL where the suite is given one."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'newswatch.db'}"
    return request.getfixturevalue("postgres_url")


# A real SMTP server and a Slack webhook stand-in on 127.0.0.1, one per test that asks.
@pytest.fixture
def smtp() -> Iterator[tuple[RecordingHandler, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def slack() -> Iterator[WebhookRecorder]:
    with slack_webhook() as recorder:
        yield recorder
