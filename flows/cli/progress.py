"""What a pass shows while it works, on stderr: a live line on a terminal, a plain log line
every few seconds otherwise (cron mail, CI logs), nothing with ``--quiet``.

The counts come from ``tasks.progress``; a thread reads them, so the pass itself never
waits for the display.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

from tasks.progress import PassProgress, ProgressSnapshot, track

LOG_EVERY_SECONDS = 10.0
LIVE_REFRESH_PER_SECOND = 4


class ProgressMode(StrEnum):
    live = "live"
    log = "log"
    quiet = "quiet"


def choose_mode(quiet: bool) -> ProgressMode:
    if quiet:
        return ProgressMode.quiet
    return ProgressMode.live if sys.stderr.isatty() else ProgressMode.log


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def describe(snapshot: ProgressSnapshot) -> str:
    """One line: how far the pass has got and about how long is left."""
    if snapshot.note:
        return f"{snapshot.note} · {_duration(snapshot.elapsed)} elapsed"
    parts = [
        f"feeds {snapshot.feeds_polled:,}/{snapshot.feeds_due:,} polled",
        f"articles {snapshot.articles_found:,} new, {snapshot.articles_fetched:,} fetched, "
        f"{snapshot.articles_extracted:,} extracted, {snapshot.articles_analysed:,} analysed"
        + (f", {snapshot.articles_failed:,} not extracted" if snapshot.articles_failed else ""),
        f"{_duration(snapshot.elapsed)} elapsed",
    ]
    if snapshot.seconds_left is not None:
        parts.append(f"about {_duration(snapshot.seconds_left)} left")
    return " · ".join(parts)


@contextmanager
def show_progress(mode: ProgressMode) -> Iterator[PassProgress]:
    """Track one pass and show its progress in ``mode`` until the block ends."""
    with track() as counts:
        if mode is ProgressMode.quiet:
            yield counts
            return
        stop = threading.Event()
        show = _live if mode is ProgressMode.live else _log
        thread = threading.Thread(target=show, args=(counts, stop), name="progress", daemon=True)
        thread.start()
        try:
            yield counts
        finally:
            stop.set()
            thread.join(timeout=5)


def _live(counts: PassProgress, stop: threading.Event) -> None:
    from rich.console import Console
    from rich.live import Live
    from rich.spinner import Spinner

    console = Console(stderr=True)
    spinner = Spinner("dots", text=describe(counts.snapshot()))
    # transient: the line goes away at the end, and the summary takes its place.
    with Live(spinner, console=console, transient=True, refresh_per_second=LIVE_REFRESH_PER_SECOND):
        while not stop.wait(1 / LIVE_REFRESH_PER_SECOND):
            spinner.update(text=describe(counts.snapshot()))


def _log(counts: PassProgress, stop: threading.Event) -> None:
    while not stop.wait(LOG_EVERY_SECONDS):
        print(f"newswatch: {describe(counts.snapshot())}", file=sys.stderr, flush=True)
