"""Long-lived things one process shares across tasks: database, fetcher, extractors, topics.

Prefect tasks take plain values (settings), never clients or sessions; they ask here
for the process's instance, so a pass opens one HTTP client, one extractor pool and
one compiled topic set however many batch tasks it runs. ``close_all`` releases them.
"""

from __future__ import annotations

import atexit
import json
import threading
from typing import TYPE_CHECKING, Any

from config.settings import Settings

if TYPE_CHECKING:
    from storage.db import Database
    from tasks.analysis_process import AnalysisProcess
    from tasks.extract import ExtractorPool
    from tasks.http import Fetcher
    from tasks.topics import TopicSet

_lock = threading.RLock()
_cache: dict[tuple[str, str], Any] = {}


def _get(kind: str, key: str, build: Any) -> Any:
    with _lock:
        value = _cache.get((kind, key))
        if value is None:
            value = build()
            _cache[(kind, key)] = value
        return value


def database(settings: Settings) -> Database:
    from storage.db import open_database

    url = settings.resolved_database_url
    return _get("database", url, lambda: open_database(url))


def fetcher(settings: Settings) -> Fetcher:
    from tasks.http import Fetcher, FetchPolicy

    policy = FetchPolicy.from_settings(settings.fetch)
    return _get("fetcher", repr(policy), lambda: Fetcher(policy))


def extractor_pool(settings: Settings) -> ExtractorPool:
    from tasks.extract import ExtractorPool

    fetch = settings.fetch
    key = f"{fetch.extraction_workers}:{fetch.extraction_timeout_seconds}:{fetch.extraction_fast}"
    return _get(
        "extractor", key,
        lambda: ExtractorPool(
            workers=fetch.extraction_workers, timeout_seconds=fetch.extraction_timeout_seconds,
            fast=fetch.extraction_fast,
        ),
    )


def analysis_process() -> AnalysisProcess:
    from tasks.analysis_process import AnalysisProcess

    return _get("analysis", "", AnalysisProcess)


def topic_set(settings: Settings) -> TopicSet:
    from tasks.topics import load_topics

    key = json.dumps(settings.topics, sort_keys=True, default=str) + str(settings.base_dir)
    return _get("topics", key, lambda: load_topics(settings.topics, settings.base_dir))


def close_all() -> None:
    with _lock:
        for (kind, _), value in list(_cache.items()):
            try:
                if kind == "database":
                    value.dispose()
                elif hasattr(value, "close"):
                    value.close()
            except Exception:  # closing is best effort at exit
                pass
        _cache.clear()


atexit.register(close_all)
