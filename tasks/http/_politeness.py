"""Per-host politeness: at most N requests in flight per host, and a minimum gap between
the starts of requests to the same host."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator


class HostGate:
    """At most ``concurrency`` requests in flight per host, starts at least ``delay`` apart."""

    def __init__(
        self,
        concurrency: int,
        delay: float,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self._concurrency = max(1, concurrency)
        self._delay = max(0.0, delay)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._hosts: dict[str, tuple[threading.Semaphore, threading.Lock, list[float]]] = {}

    def _state(self, host: str) -> tuple[threading.Semaphore, threading.Lock, list[float]]:
        with self._lock:
            state = self._hosts.get(host)
            if state is None:
                state = (threading.Semaphore(self._concurrency), threading.Lock(), [float("-inf")])
                self._hosts[host] = state
            return state

    @contextlib.contextmanager
    def slot(self, host: str) -> Iterator[None]:
        semaphore, lock, next_start = self._state(host)
        # Take the concurrency slot first, then the start time: two requests released by the
        # semaphore at once must still start a delay apart.
        with semaphore:
            with lock:
                now = self._clock()
                start = max(now, next_start[0])
                next_start[0] = start + self._delay
            if start > now:
                self._sleep(start - now)
            yield
