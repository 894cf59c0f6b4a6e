"""Which Prefect API a one-shot run records its flow in (flows/prefect_api.py): a server the
user named, else one answering on the configured local port, else one of its own. The own
server itself is exercised end to end by tests/test_run_quiet.py."""

from __future__ import annotations

import socket

from flows.prefect_api import choose_api, prefect_server_answers
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
