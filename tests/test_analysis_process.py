"""The analysis process: same results as analysing in-process, errors and deaths reported,
restarted when needed, and gone when its parent is (real child processes, SQLite files)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.settings import Settings, load_settings
from flows.demo import write_demo_config
from flows.demo_server import SampleServer
from storage.db import open_database
from storage.models import Alert, Article, Story
from tasks.analysis_process import AnalysisFailed, AnalysisProcess
from tasks.pass_driver import run_pass_plain
from tasks.runtime import Runtime

pytestmark = pytest.mark.timeout(120)
REPO = Path(__file__).resolve().parents[1]


@contextmanager
def session_of(settings: Settings) -> Iterator[Session]:
    database = open_database(settings.resolved_database_url)
    try:
        with database.session() as session:
            yield session
    finally:
        database.dispose()


def settings_for(directory: Path, **overrides: object) -> Settings:
    directory.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{directory / 'newswatch.db'}"
    open_database(url, migrate=True).dispose()
    path = directory / "newswatch.yaml"
    path.write_text(yaml.safe_dump({"database_url": url, **overrides}))
    return load_settings(path)


def stored_outcome(settings: Settings, base_url: str) -> list[tuple[str, tuple[str, ...]]]:
    with session_of(settings) as session:
        assert session.scalar(select(Article.id).where(Article.analysed_at.is_(None))) is None
        return sorted(
            (alert.topic_id, tuple(sorted(a.canonical_url.replace(base_url, "") for a in alert.story.articles)))
            for alert in session.scalars(select(Alert))
        )


def test_a_pass_analysed_in_the_child_stores_what_in_process_analysis_stores(tmp_path) -> None:
    outcomes = {}
    for in_child in (True, False):
        with SampleServer() as server:
            path = write_demo_config(tmp_path / str(in_child), server)
            data = yaml.safe_load(path.read_text())
            data["fetch"]["analysis_process"] = in_child
            path.write_text(yaml.safe_dump(data))
            settings = load_settings(path)
            open_database(settings.resolved_database_url, migrate=True).dispose()
            with Runtime(settings) as runtime:
                summary = run_pass_plain(runtime)
                outcomes[in_child] = (summary["alerts_new"], stored_outcome(settings, server.base_url))
                child = runtime.analysis_process
                if in_child:
                    assert child.starts == 1 and child.pid not in (None, os.getpid())
                else:
                    assert child.starts == 0  # never started
            assert child.pid is None  # closing the runtime stopped the child
    assert outcomes[True][0] > 0
    assert outcomes[True] == outcomes[False]


def test_an_error_in_the_child_comes_back_with_its_traceback_and_the_child_lives_on(tmp_path) -> None:
    good = settings_for(tmp_path / "good")
    broken = settings_for(tmp_path / "broken")
    Path(broken.resolved_database_url.removeprefix("sqlite:///")).write_bytes(b"not a database " * 100)
    process = AnalysisProcess()
    try:
        with pytest.raises(AnalysisFailed, match="(?s)analysis failed in the analysis process.*Traceback"):
            process.analyse(broken, 10)
        assert process.analyse(good, 10)["articles_analysed"] == 0
        assert process.starts == 1
    finally:
        process.close()


def test_a_dead_child_is_reported_and_replaced_on_the_next_batch(tmp_path) -> None:
    settings = settings_for(tmp_path)
    process = AnalysisProcess()
    try:
        process.analyse(settings, 10)
        first = process.pid
        os.kill(first, signal.SIGKILL)
        time.sleep(0.2)
        assert process.analyse(settings, 10)["articles_analysed"] == 0
        assert process.starts == 2 and process.pid != first
    finally:
        process.close()
    assert process.pid is None


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status  # exited, waiting for a reaper


def add_unanalysed_articles(settings: Settings, count: int) -> None:
    import random

    from storage.clock import utcnow

    rng = random.Random(3)
    words = ["minister", "election", "campaign", "trade", "envoy", "harbour", "council", "budget", "vote", "rally", "court"]
    now = utcnow()
    with session_of(settings) as session:
        for i in range(count):
            text = " ".join(rng.choice(words) for _ in range(500))
            session.add(Article(
                canonical_url=f"https://news.example/{i}", url=f"https://news.example/{i}", status="fetched",
                title=" ".join(rng.choice(words) for _ in range(8)), text=text, language="en",
                fetched_at=now, created_at=now, updated_at=now,
            ))


def test_a_child_killed_mid_batch_leaves_nothing_and_the_batch_runs_again_in_a_new_one(tmp_path) -> None:
    settings = settings_for(tmp_path)
    add_unanalysed_articles(settings, 400)  # seconds of analysis in one transaction
    process = AnalysisProcess()
    outcome: dict[str, object] = {}

    def run() -> None:
        outcome["summary"] = process.analyse(settings, 1000)

    worker = threading.Thread(target=run)
    try:
        worker.start()
        deadline = time.monotonic() + 20
        while process.pid is None and time.monotonic() < deadline:
            time.sleep(0.01)
        first = process.pid
        time.sleep(0.5)  # well into the batch
        os.kill(first, signal.SIGKILL)
        worker.join(timeout=60)
        assert not worker.is_alive()
        assert outcome["summary"]["articles_analysed"] == 400
        assert process.starts == 2 and process.pid != first
    finally:
        process.close()
    with session_of(settings) as session:
        analysed = session.scalar(select(func.count(Article.id)).where(Article.analysed_at.is_not(None)))
        used = session.scalar(select(func.count(func.distinct(Article.story_id))))
        stories = session.scalar(select(func.count(Story.id)))
    assert analysed == 400
    assert stories == used  # no story left behind by the killed attempt


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")
def test_the_child_exits_mid_batch_when_its_parent_is_killed_and_keeps_nothing(tmp_path) -> None:
    settings = settings_for(tmp_path)
    add_unanalysed_articles(settings, 600)  # seconds of analysis in one transaction
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(f"""
        import sys, threading, time
        sys.path.insert(0, {str(REPO)!r})
        from config.settings import load_settings
        from tasks.analysis_process import AnalysisProcess

        if __name__ == "__main__":
            process = AnalysisProcess()
            settings = load_settings({str(tmp_path / 'newswatch.yaml')!r})
            threading.Thread(target=process.analyse, args=(settings, 1000), daemon=True).start()
            while process.pid is None:
                time.sleep(0.01)
            time.sleep(0.5)  # well into the batch
            print(process.pid, flush=True)
            time.sleep(120)
    """))
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        assert not _gone(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while not _gone(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(child), "the analysis process outlived its parent"
    finally:
        parent.kill()
        parent.wait()
    with session_of(settings) as session:
        analysed = session.scalar(select(func.count(Article.id)).where(Article.analysed_at.is_not(None)))
    assert analysed == 0, "the killed batch was committed instead of rolled back"
