"""The child process that serves Prefect's API for ``newswatch run`` (flows/prefect_api.py).

It runs the same application as Prefect's own ephemeral server (``create_app`` with the
ephemeral services) on a socket its parent bound, so the address is known before the
server has even started importing. What differs from Prefect's ephemeral server:

- a run's own server (no ``--keep-seconds``) is stopped by its parent only after every
  task run is recorded, and stops by itself (gracefully, as on SIGTERM) when its parent
  goes away, so a killed run never leaves an orphaned server behind;
- a kept server (``--keep-seconds N --state FILE``) outlives the run that started it and
  stops by itself once no request has been open or made for N seconds, removing its
  state file first (under the runs' lock) so that no run picks a server that is stopping.

    python -m flows.run_server FD [--keep-seconds N --state FILE --lock FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

IDLE_CHECK_SECONDS = 1.0
# The server records a pass; it never does the pass's work. Below the pass's processes in
# the CPU scheduler, its bookkeeping takes a core the pass leaves idle rather than one an
# extraction worker wants, and its idle services (≈ 2 % of a core) yield to anything else
# on the machine (docs/decisions.md).
NICENESS = 10


def _stop_when_parent_exits() -> None:
    # The parent holds the write end of our stdin and never writes: EOF means it is gone.
    with contextlib.suppress(OSError, ValueError):
        sys.stdin.buffer.read()
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's graceful shutdown


class ActivityWatch:
    """An ASGI wrapper that knows when the last request ended and how many are open
    (a run's events websocket stays open for the whole run)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.open = 0
        self.started = False  # idle time counts from the end of start-up (migrations can be long)
        self.last_activity = time.monotonic()
        self._lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._watching_startup(send))
            return
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        with self._lock:
            self.open += 1
        try:
            await self.app(scope, receive, send)
        finally:
            with self._lock:
                self.open -= 1
                self.last_activity = time.monotonic()

    def _watching_startup(self, send: Any) -> Any:
        async def watched(message: Any) -> None:
            if message.get("type") == "lifespan.startup.complete":
                with self._lock:
                    self.started, self.last_activity = True, time.monotonic()
            await send(message)

        return watched

    def idle_for(self) -> float:
        with self._lock:
            return 0.0 if self.open or not self.started else time.monotonic() - self.last_activity


def _stop_when_idle(watch: ActivityWatch, keep_seconds: float, state: Path, lock_path: Path) -> None:
    """Stop gracefully after ``keep_seconds`` without requests; first remove our state
    file under the lock runs take when they look for a kept server."""
    while True:
        time.sleep(IDLE_CHECK_SECONDS)
        if watch.idle_for() < keep_seconds:
            continue
        try:
            with open(lock_path, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if watch.idle_for() < keep_seconds:  # a run checked on us meanwhile
                    continue
                with contextlib.suppress(OSError, ValueError, KeyError):
                    if json.loads(state.read_text())["pid"] == os.getpid():
                        state.unlink()
        except OSError:
            pass  # no lock to take (PREFECT_HOME gone or read-only): stop all the same
        os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's graceful shutdown: services flush
        return


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m flows.run_server")
    parser.add_argument("fd", type=int)
    parser.add_argument("--keep-seconds", type=float, default=0.0)
    parser.add_argument("--state", type=Path)
    parser.add_argument("--lock", type=Path)
    args = parser.parse_args(argv)
    listening = socket.socket(fileno=args.fd)
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    kept = args.keep_seconds > 0 and args.state is not None and args.lock is not None
    if not kept:  # before the imports: a run killed meanwhile must not leave us behind
        threading.Thread(target=_stop_when_parent_exits, name="parent-lifeline", daemon=True).start()
    import uvicorn
    from prefect.server.api.server import create_app

    app: Any = create_app()
    if kept:
        app = watch = ActivityWatch(app)
        threading.Thread(
            target=_stop_when_idle, args=(watch, args.keep_seconds, args.state, args.lock), name="idle-stop", daemon=True
        ).start()
    config = uvicorn.Config(app, lifespan="on", log_level="error")
    uvicorn.Server(config).run(sockets=[listening])


if __name__ == "__main__":
    main(sys.argv[1:])
