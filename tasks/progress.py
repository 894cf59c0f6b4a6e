"""How far the running pass has got: counts the stages add to as they go, and an estimate
of the time left. The command line shows them (flows/cli/progress.py); nothing here prints.

The stages run in the pass's own process (the Prefect engine runs tasks in its threads),
so one process-wide ``PassProgress`` sees them all. ``track()`` makes a fresh one current
for the length of a pass; outside it, counting goes to an instance nobody reads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

COUNTS = (
    "feeds_due", "feeds_polled", "articles_found", "articles_fetched", "articles_extracted",
    "articles_failed", "articles_analysed",
)


@dataclass(frozen=True)
class ProgressSnapshot:
    elapsed: float
    feeds_due: int
    feeds_polled: int
    articles_found: int  # new articles the feeds named so far
    articles_fetched: int  # pages downloaded
    articles_extracted: int
    articles_failed: int  # failed, rejected or left for a retry
    articles_analysed: int
    seconds_left: float | None  # None until there is a rate to go by
    note: str = ""  # what the pass waits for before its first stage, if anything

    @property
    def articles_done(self) -> int:
        return self.articles_extracted + self.articles_failed


class PassProgress:
    """Thread-safe counters of one pass."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(COUNTS, 0)
        self._started = self._now()
        self._first_article_at: float | None = None
        self.note = ""

    def _now(self) -> float:
        return self._clock()

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                self._counts[name] += value
            if self._first_article_at is None and (counts.get("articles_extracted") or counts.get("articles_failed")):
                self._first_article_at = self._now()

    def set_feeds_due(self, count: int) -> None:
        with self._lock:
            self._counts["feeds_due"] = count
            self.note = ""

    def snapshot(self) -> ProgressSnapshot:
        with self._lock:
            counts = dict(self._counts)
            now = self._now()
            first = self._first_article_at
        left = _seconds_left(counts, now, first)
        return ProgressSnapshot(elapsed=now - self._started, seconds_left=left, note=self.note, **counts)


def _seconds_left(counts: dict[str, int], now: float, first_article_at: float | None) -> float | None:
    """Articles still to come (those found, plus as many per feed for the feeds not yet
    polled) at the rate articles have been finishing; analysis runs alongside and ends
    moments after the last article."""
    done = counts["articles_extracted"] + counts["articles_failed"]
    if first_article_at is None or done == 0 or now <= first_article_at:
        return None
    polled, due = counts["feeds_polled"], counts["feeds_due"]
    found = counts["articles_found"]
    expected = found + (found / polled * max(due - polled, 0) if polled else 0)
    rate = done / (now - first_article_at)
    return max(expected - done, 0) / rate


_current = PassProgress()
_current_lock = threading.Lock()


def current() -> PassProgress:
    """The pass being tracked (stages add to it)."""
    return _current


@contextmanager
def track() -> Iterator[PassProgress]:
    """A fresh ``PassProgress`` for one pass, current until the block ends."""
    global _current
    with _current_lock:
        previous, _current = _current, PassProgress()
    try:
        yield _current
    finally:
        with _current_lock:
            _current = previous
