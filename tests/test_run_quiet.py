"""`newswatch run` with its default engine, as a user runs it: no traceback and no error line
on stderr, on a small config and on one with more than a thousand feeds, and every flow
run fully recorded by Prefect (each task run in a final state), so nothing was cut short
when the API server stopped: the run's own, stopped at its end (``keep_server_minutes: 0``),
or the kept one the later runs used, stopped by ``newswatch api-server stop``."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from flows.demo import write_demo_config
from flows.demo_server import SampleServer
from tests.support.httpserver import LocalSite

# Each run starts Prefect's API server (about 5 CPU s): slow on a busy machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

NEWSWATCH = str(Path(sys.executable).with_name("newswatch"))
ERROR_LINE = re.compile(r"(?i)traceback|error|exception|critical")
BIG = 1_100  # feeds


def unused_port() -> int:
    """A port nothing listens on, so the run never finds a Prefect server to borrow."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def newswatch(args: list[str], prefect_home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSWATCH_"))}
    env.update({"PREFECT_HOME": str(prefect_home), "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300"})
    return subprocess.run([NEWSWATCH, *args], capture_output=True, text=True, env=env, cwd=str(cwd), timeout=600)


@pytest.fixture
def stop_kept_server() -> Iterator[Callable[[Path], None]]:
    """Stops the kept server of each PREFECT_HOME given, and again at the end whatever happened."""
    homes: list[Path] = []

    def stop(home: Path) -> None:
        homes.append(home)
        done = newswatch(["api-server", "stop"], home, home)
        assert done.returncode == 0 and "Stopped the kept Prefect API server" in done.stdout, done.stdout + done.stderr

    yield stop
    for home in homes:
        newswatch(["api-server", "stop"], home, home)


def run(config: Path, prefect_home: Path) -> subprocess.CompletedProcess[str]:
    done = newswatch(["run", "--config", str(config)], prefect_home, config.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    noise = [line for line in done.stderr.splitlines() if ERROR_LINE.search(line)]
    assert not noise, "\n".join(done.stderr.splitlines()[:40])
    return done


def summary_line(done: subprocess.CompletedProcess[str], prefix: str) -> str:
    return next(line for line in done.stdout.splitlines() if line.startswith(prefix))


def recorded_runs(prefect_home: Path) -> tuple[int, dict[str, int]]:
    """Completed monitor flow runs, and task runs by state, in Prefect's own database."""
    with sqlite3.connect(prefect_home / "prefect.db") as db:
        flows = db.execute(
            "SELECT count(*) FROM flow_run JOIN flow ON flow.id = flow_run.flow_id "
            "WHERE flow.name = 'monitor' AND flow_run.state_type = 'COMPLETED'"
        ).fetchone()[0]
        tasks = dict(db.execute("SELECT state_type, count(*) FROM task_run GROUP BY state_type").fetchall())
    return flows, tasks


def with_unused_prefect_port(config: Path) -> Path:
    data = yaml.safe_load(config.read_text())
    data["schedule"] = {"server_port": unused_port()}  # the default: keep the run's own server
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


def test_passes_over_the_sample_print_nothing_alarming_and_are_recorded_whole(tmp_path, stop_kept_server) -> None:
    home = tmp_path / "prefect"
    home.mkdir()
    with SampleServer() as server:
        config = with_unused_prefect_port(write_demo_config(tmp_path / "sample", server))
        first = run(config, home)
        again = [run(config, home) for _ in range(2)]
    assert "14 new, 14 extracted" in summary_line(first, "articles:")
    assert "stays up 30 min after its last use" in first.stderr  # the first run says it keeps its server
    for done in again:
        assert "0 new, 0 extracted" in summary_line(done, "articles:")
        assert "stays up" not in done.stderr  # the later ones used it
    stop_kept_server(home)  # gracefully: what its recorder still held is written first
    flows, tasks = recorded_runs(home)
    assert flows == 3
    assert set(tasks) == {"COMPLETED"} and tasks["COMPLETED"] >= 3 * 4


def feed_xml(index: int, article_url: str | None) -> str:
    item = (
        f"<item><title>Council story {index}</title><link>{article_url}</link>"
        f"<guid>story-{index}</guid><pubDate>Mon, 23 Nov 2026 10:00:00 GMT</pubDate></item>"
        if article_url else ""
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {index}</title>'
        f"<link>http://example.org/{index}</link><description>d</description>{item}</channel></rss>"
    )


def article_html(index: int) -> str:
    body = " ".join(
        f"Councillors in district {index} met on Tuesday to discuss the budget for roads, schools and "
        f"the harbour, sentence {n}." for n in range(12)
    )
    return f"<html><head><title>Council story {index}</title></head><body><article><h1>Council story {index}</h1><p>{body}</p></article></body></html>"


def test_a_thousand_feeds_pass_prints_nothing_alarming_and_is_recorded_whole(tmp_path) -> None:
    home = tmp_path / "prefect"
    with LocalSite() as site:
        feeds = []
        for index in range(BIG):
            article = None
            if index % 50 == 0:  # a few articles too, so extraction and analysis run
                site.route(f"/a/{index}.html", body=article_html(index), content_type="text/html; charset=utf-8")
                article = site.url(f"/a/{index}.html")
            site.route(f"/f/{index}.xml", body=feed_xml(index, article), content_type="application/rss+xml")
            feeds.append({"url": site.url(f"/f/{index}.xml")})
        config = tmp_path / "big" / "newswatch.yaml"
        config.parent.mkdir()
        config.write_text(yaml.safe_dump({
            "database_url": "sqlite:///newswatch.db",
            "feeds": feeds,
            "fetch": {"allow_private_networks": [site.allow_rule], "per_host_delay_seconds": 0, "per_host_concurrency": 32},
            # The run's own server, stopped at its end once it has recorded every task run.
            "schedule": {"server_port": unused_port(), "keep_server_minutes": 0},
        }))
        first = run(config, home)
        second = run(config, home)
    assert summary_line(first, "feeds:").startswith(f"feeds: {BIG} ok")
    assert f"{BIG // 50} new, {BIG // 50} extracted" in summary_line(first, "articles:")
    assert summary_line(second, "feeds:").startswith(f"feeds: 0 ok, {BIG} not modified")
    assert not (home / "newswatch-run-server.json").exists()  # nothing kept
    flows, tasks = recorded_runs(home)
    assert flows == 2
    assert set(tasks) == {"COMPLETED"} and tasks["COMPLETED"] >= 2 * (BIG // 50)
