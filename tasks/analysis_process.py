"""Analysis in a process of its own, so it runs beside downloads instead of taking turns.

Story clustering and topic matching are pure-Python CPU work. Run in the pass's main
process they hold its GIL for most of each batch, while the threads that download
pages, store results and feed the extraction workers wait their turn: the cores idle.
In a child process the same work runs on a core of its own. Batches go one at a time
(analysis is serialised anyway), each in the child's own database transaction.

The child ends when the parent does: a lifeline pipe that the parent never writes to
reaches end-of-file when the parent exits or is killed, and the child exits at once,
so its open transaction rolls back and the next pass analyses the batch again. A child
that dies under a living parent (killed, out of memory) costs a retry of its batch in a
new child, not the pass.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import traceback
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from config.settings import Settings
from tasks.child_process import name_process, serve_requests, worker_context
from tasks.summary import StageSummary

if TYPE_CHECKING:
    from storage.db import Database
    from tasks.topics import TopicSet

log = logging.getLogger("newswatch.analysis")


class AnalysisFailed(Exception):
    """A batch did not complete: the child raised, or died. Nothing of the batch was kept."""


class _ChildDied(Exception):
    def __init__(self, exit_code: int | None) -> None:
        super().__init__(f"exit code {exit_code}")
        self.exit_code = exit_code


class AnalysisProcess:
    """Runs ``tasks.analysis.analyse`` in a child process, one batch at a time.

    The child starts on the first call and is started again whenever it is found dead.
    Thread-safe: concurrent callers take turns.
    """

    def __init__(self, mp_context: Any = None) -> None:
        self._context = mp_context or worker_context()
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._lifeline: Connection | None = None
        self._process: Any = None
        self.starts = 0  # children started (for tests and summaries)

    def analyse(self, settings: Settings, limit: int) -> StageSummary:
        """One batch in the child. A child that dies during it (killed, out of memory)
        leaves nothing of it committed; the batch then runs once more in a new child, and
        only a second death raises."""
        try:
            kind, value = self._request((settings, limit))
        except _ChildDied as died:
            log.warning("the analysis process died (exit code %s) during a batch; "
                        "trying the batch again in a new one", died.exit_code)
            try:
                kind, value = self._request((settings, limit))
            except _ChildDied as again:
                raise AnalysisFailed(
                    f"the analysis process died twice (exit code {again.exit_code}); its batch "
                    "was rolled back and is analysed again by the next pass"
                ) from again
        if kind == "error":
            raise AnalysisFailed(f"analysis failed in the analysis process:\n{value}")
        summary: StageSummary = value  # the child answers ("ok", summary) or ("error", text)
        return summary

    def _request(self, message: tuple[Settings, int]) -> tuple[str, Any]:
        with self._lock:
            conn = self._running()
            try:
                conn.send(message)
                reply: tuple[str, Any] = conn.recv()
                return reply
            except (EOFError, OSError) as exc:
                raise _ChildDied(self._stop(kill=True)) from exc

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def close(self) -> None:
        with self._lock:
            self._stop(kill=False)

    def _running(self) -> Connection:
        if self._process is not None and self._process.is_alive() and self._conn is not None:
            return self._conn
        self._stop(kill=True)
        parent_conn, child_conn = self._context.Pipe(duplex=True)
        lifeline_read, lifeline_write = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=_serve, args=(child_conn, lifeline_read), name="newswatch-analysis", daemon=True
        )
        process.start()
        child_conn.close()
        lifeline_read.close()
        self._conn, self._lifeline, self._process = parent_conn, lifeline_write, process
        self.starts += 1
        return self._conn

    def _stop(self, *, kill: bool) -> int | None:
        process, conn, lifeline = self._process, self._conn, self._lifeline
        self._process = self._conn = self._lifeline = None
        if process is None:
            return None
        if kill:
            process.kill()
        elif conn is not None:
            with contextlib.suppress(OSError):
                conn.send(None)
        process.join(timeout=10.0)
        if process.is_alive():
            process.kill()
            process.join(timeout=5.0)
        for end in (conn, lifeline):
            if end is not None:
                end.close()
        exit_code: int | None = process.exitcode
        return exit_code


def _serve(conn: Connection, lifeline: Connection) -> None:
    """The child's loop: (settings, limit) in, ("ok", summary) or ("error", text) out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    name_process("nw-analysis")
    threading.Thread(target=_exit_with_parent, args=(lifeline,), daemon=True).start()
    opened = _Opened()
    try:
        serve_requests(conn, lambda message: _analyse_request(message, opened))
    finally:
        opened.close()


class _Opened:
    """The child's database and compiled topics, opened on first use for each settings."""

    def __init__(self) -> None:
        self._databases: dict[str, Database] = {}
        self._topics: dict[str, TopicSet] = {}

    def database(self, settings: Settings) -> Database:
        from storage.db import open_database

        url = settings.resolved_database_url
        if url not in self._databases:
            self._databases[url] = open_database(url)
        return self._databases[url]

    def topics(self, settings: Settings) -> TopicSet:
        from tasks.topics import load_topics

        key = json.dumps(settings.topics, sort_keys=True, default=str) + str(settings.base_dir)
        if key not in self._topics:
            self._topics[key] = load_topics(settings.topics, settings.base_dir)
        return self._topics[key]

    def close(self) -> None:
        for database in self._databases.values():
            database.dispose()


def _analyse_request(message: tuple[Settings, int], opened: _Opened) -> tuple[str, Any]:
    from tasks.analysis import analyse

    settings, limit = message
    try:
        return "ok", analyse(opened.database(settings), opened.topics(settings), settings, limit=limit)
    except Exception:
        return "error", traceback.format_exc()


def _exit_with_parent(lifeline: Connection) -> None:
    with contextlib.suppress(EOFError, OSError):
        lifeline.recv()
    os._exit(1)  # the parent is gone: drop the open transaction (it rolls back)
