"""What one pass's stages share: database, fetcher, extractor pool, topics, analysis process.

The shell that runs a pass (the Prefect flow in flows/monitor.py, ``newswatch run
--engine plain`` in tasks/pass_driver.py, the CLI) creates a ``Runtime`` from the
settings, hands it to each stage, and closes it when the pass is over:

    with Runtime(settings) as runtime:
        run_pass_plain(runtime)

Each part opens on first use, so a pass with nothing to fetch starts no extraction
workers and a pass with nothing to analyse no analysis process; one runtime opens one
HTTP client, one extractor pool and one compiled topic set however many batches use it.
Thread-safe: batches in worker threads share it.
"""

from __future__ import annotations

import contextlib
import threading
from types import TracebackType
from typing import TYPE_CHECKING

from config.settings import Settings

if TYPE_CHECKING:
    from storage.db import Database
    from tasks.analysis_process import AnalysisProcess
    from tasks.extract import ExtractorPool
    from tasks.http import Fetcher
    from tasks.topics import TopicSet


class RuntimeClosed(RuntimeError):
    """A stage asked a closed runtime for one of its parts."""


class Runtime:
    """The parts of one pass, opened when first asked for and closed together."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()  # two batches asking at once build one part once
        self._closed = False
        self._database: Database | None = None
        self._fetcher: Fetcher | None = None
        self._extractor_pool: ExtractorPool | None = None
        self._topics: TopicSet | None = None
        self._analysis_process: AnalysisProcess | None = None

    def __enter__(self) -> Runtime:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeClosed("this runtime is closed: its pass is over")

    @property
    def database(self) -> Database:
        with self._lock:
            self._check_open()
            if self._database is None:
                from storage.db import open_database

                self._database = open_database(self.settings.resolved_database_url)
            return self._database

    @property
    def fetcher(self) -> Fetcher:
        with self._lock:
            self._check_open()
            if self._fetcher is None:
                from tasks.http import Fetcher, FetchPolicy

                self._fetcher = Fetcher(FetchPolicy.from_settings(self.settings.fetch))
            return self._fetcher

    @property
    def extractor_pool(self) -> ExtractorPool:
        with self._lock:
            self._check_open()
            if self._extractor_pool is None:
                from tasks.extract import ExtractorPool

                fetch = self.settings.fetch
                self._extractor_pool = ExtractorPool(
                    workers=fetch.extraction_workers, timeout_seconds=fetch.extraction_timeout_seconds,
                    fast=fetch.extraction_fast,
                )
            return self._extractor_pool

    @property
    def topics(self) -> TopicSet:
        with self._lock:
            self._check_open()
            if self._topics is None:
                from tasks.topics import load_topics

                self._topics = load_topics(self.settings.topics, self.settings.base_dir)
            return self._topics

    @property
    def analysis_process(self) -> AnalysisProcess:
        with self._lock:
            self._check_open()
            if self._analysis_process is None:
                from tasks.analysis_process import AnalysisProcess

                self._analysis_process = AnalysisProcess()
            return self._analysis_process

    def close(self) -> None:
        """Stop the child processes, close the HTTP client, dispose of the database's
        connections. Best effort for each part: one that fails to close spares the others."""
        with self._lock:
            self._closed = True
            parts = (self._analysis_process, self._extractor_pool, self._fetcher)
            database = self._database
            self._analysis_process = self._extractor_pool = self._fetcher = None
            self._database = self._topics = None
        for part in parts:
            if part is not None:
                with contextlib.suppress(Exception):  # best effort: the pass is over
                    part.close()
        if database is not None:
            database.dispose()
