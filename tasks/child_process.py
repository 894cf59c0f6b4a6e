"""What newswatch's child processes share: how they start, and their request loop.

Extraction workers (tasks/extraction/pool.py) and the analysis process
(tasks/analysis_process.py) both start from one fork server and answer their parent's
requests over a pipe, one at a time, until the parent says stop or goes away.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

# Imported once in the fork server, so each child starts as a cheap fork with trafilatura
# loaded and warmed up. "__main__" (multiprocessing's own default) spares each child
# re-running the main module's imports, e.g. the CLI's.
_PRELOAD = ["__main__", "tasks.extraction.warmup"]


def worker_context() -> Any:
    """The start method for newswatch's child processes: a fork server (each child a cheap
    fork with trafilatura loaded; safe in a process that runs threads), else spawn."""
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


def name_process(name: str) -> None:
    """Name this process for ps, top and the benchmarks (Linux; 15 characters at most)."""
    with contextlib.suppress(OSError), open("/proc/self/comm", "w") as comm:
        comm.write(name[:15])


def serve_requests(conn: Connection, handle: Callable[[Any], Any]) -> None:
    """Answer each message on ``conn`` with ``handle(message)``, in order, until the parent
    sends None, closes its end, or can no longer be written to."""
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        reply = handle(message)
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return
