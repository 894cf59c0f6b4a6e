"""Which Prefect API a one-shot run records its flow in (flows/prefect_api.py): a server the
user named, else one answering on the configured local port, else one an earlier run kept,
else one of its own. Runs through both are exercised end to end by tests/test_run_quiet.py."""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.prefect_api import (
    KEPT_STATE_FILE,
    choose_api,
    kept_server_status,
    prefect_server_answers,
    stop_kept_server,
)
from flows.run_server import NICENESS
from tests.support.httpserver import LocalSite


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_named_server_wins(monkeypatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    api = choose_api("127.0.0.1", free_port())
    assert api.source == "configured" and api.server is None and api.api_url is None


def test_a_prefect_server_on_the_configured_port_is_used(monkeypatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with LocalSite() as site:
        site.route("/api/health", body=b"true", content_type="application/json")
        api = choose_api("127.0.0.1", site.port)
        assert api.source == "local server" and api.server is None
        assert api.api_url == f"http://127.0.0.1:{site.port}/api"
        assert site.paths() == ["/api/health"]


def test_something_else_on_the_port_is_not_taken_for_prefect() -> None:
    with LocalSite() as site:
        site.route("/api/health", body=b"<html>ok</html>", content_type="text/html")
        assert not prefect_server_answers(f"http://127.0.0.1:{site.port}/api")
    assert not prefect_server_answers(f"http://127.0.0.1:{free_port()}/api", timeout=0.5)


# A kept server: each test starts Prefect's API server for real (about 5 CPU s).

GRACEFUL = -signal.SIGTERM  # uvicorn re-raises the signal it stopped on, once it has stopped


@pytest.fixture
def prefect_home(tmp_path, monkeypatch) -> Iterator[Path]:
    """A PREFECT_HOME of the test's own, and no kept server left in it afterwards."""
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    yield tmp_path
    stop_kept_server()


@pytest.mark.slow
def test_a_kept_server_serves_the_next_run_until_stopped(prefect_home) -> None:
    first = choose_api("127.0.0.1", free_port(), keep_seconds=600)
    assert first.source == "own server" and first.server is not None and first.server.kept
    first.server.wait_until_healthy()
    # it records the pass and yields a core to the pass's own processes
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, first.server.pid) == min(own + NICENESS, 19)
    first.run_succeeded = True
    first.close()  # the run ends: a kept server stays
    assert first.server.alive()

    second = choose_api("127.0.0.1", free_port(), keep_seconds=600)
    assert second.source == "kept server" and second.server is not None
    assert (second.server.pid, second.server.api_url) == (first.server.pid, first.server.api_url)
    status = kept_server_status()
    assert status is not None and status["answers"] and status["matches_settings"]

    stopped = stop_kept_server()
    assert stopped is not None and stopped["pid"] == first.server.pid
    # uvicorn's graceful stop ends by re-raising SIGTERM; a kill would say -9
    assert first.server.process is not None and first.server.process.wait(timeout=5) == GRACEFUL
    assert kept_server_status() is None and stop_kept_server() is None


@pytest.mark.slow
def test_a_kept_server_stops_by_itself_when_idle(prefect_home) -> None:
    api = choose_api("127.0.0.1", free_port(), keep_seconds=2)
    assert api.server is not None
    api.server.wait_until_healthy()
    assert (prefect_home / KEPT_STATE_FILE).exists()
    assert api.server.process is not None and api.server.process.wait(timeout=60) == GRACEFUL
    assert not (prefect_home / KEPT_STATE_FILE).exists()  # removed before it stopped
    assert choose_api("127.0.0.1", free_port(), keep_seconds=0).source == "own server"


@pytest.mark.slow
def test_a_run_with_other_prefect_settings_does_not_use_the_kept_server(prefect_home, monkeypatch) -> None:
    kept = choose_api("127.0.0.1", free_port(), keep_seconds=600)
    assert kept.server is not None
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", f"sqlite+aiosqlite:///{prefect_home}/other.db")
    other = choose_api("127.0.0.1", free_port(), keep_seconds=0)
    try:
        assert other.source == "own server" and other.server is not None
        assert other.server.pid != kept.server.pid and not other.server.kept
        assert (prefect_home / KEPT_STATE_FILE).exists()  # the kept one is left to its idle stop
    finally:
        other.close()
    assert other.server.process is not None and other.server.process.poll() is not None


def test_api_server_commands_answer_without_a_kept_server(prefect_home) -> None:
    from typer.testing import CliRunner

    from flows.cli import app

    runner = CliRunner()
    status = runner.invoke(app, ["api-server", "status", "--format", "json"])
    assert status.exit_code == 0 and json.loads(status.stdout)["running"] is False
    stop = runner.invoke(app, ["api-server", "stop"])
    assert stop.exit_code == 0 and stop.stdout.startswith("No kept Prefect API server to stop")


@pytest.mark.slow
def test_a_run_that_fails_does_not_keep_the_server_it_started(prefect_home) -> None:
    api = choose_api("127.0.0.1", free_port(), keep_seconds=600)
    assert api.starts_kept_server and api.server is not None and api.server.process is not None
    api.close()  # run_succeeded was never set: the run failed
    assert api.server.process.poll() is not None and kept_server_status() is None
    assert not (prefect_home / KEPT_STATE_FILE).exists()
