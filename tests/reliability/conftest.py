"""The reliability suite's recorder: per test, its outcome, duration, peak memory and the
one-line account of what it tried and what survived (``reliability.record("…")``).

Peak memory is sampled (every 20 ms) as the resident set of this process *and* its
descendants (extractor workers, CLI subprocesses), read from /proc, so a case that
balloons in a worker still shows. The rows are written as JSON for ``scripts/reliability.py`` to print when ``RELIABILITY_REPORT`` names a file.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found.extend(int(p) for p in handle.read().split())
        except OSError:
            continue
    return found


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(root: int | None = None) -> int:
    """Resident bytes of ``root`` (this process) and every process below it."""
    total, stack, seen = 0, [root or os.getpid()], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += _rss(pid)
        stack.extend(_children(pid))
    return total


class PeakSampler:
    """Samples :func:`tree_rss` in a thread; ``peak`` is the highest seen since ``start``."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.baseline = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> PeakSampler:
        self.baseline = self.peak = tree_rss()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, tree_rss())

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.peak = max(self.peak, tree_rss())

    @property
    def growth(self) -> int:
        return max(self.peak - self.baseline, 0)


@dataclass
class CaseRecord:
    """What one test reports about itself, plus what the plugin measures."""

    sampler: PeakSampler
    notes: list[str] = field(default_factory=list)

    def record(self, text: str) -> None:
        """Say, in a line, what was tried and what survived (shown in the table)."""
        self.notes.append(text)

    def peak_growth_mb(self) -> float:
        """Peak resident memory (process tree) above this test's start, so far."""
        self.sampler.peak = max(self.sampler.peak, tree_rss())
        return self.sampler.growth / 2**20


REPORT_ENV = "RELIABILITY_REPORT"  # where to write the rows as JSON
_RECORDS_KEY = pytest.StashKey[CaseRecord]()
_rows: list[dict[str, object]] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    sampler = PeakSampler().start()
    record = item.stash.get(_RECORDS_KEY, None)
    if record is not None:
        record.sampler = sampler
    started = time.monotonic()
    try:
        return (yield)
    finally:
        sampler.stop()
        item.user_properties.append(("reliability_seconds", time.monotonic() - started))
        item.user_properties.append(("reliability_peak_mb", sampler.peak / 2**20))
        item.user_properties.append(("reliability_growth_mb", sampler.growth / 2**20))


@pytest.fixture
def reliability(request: pytest.FixtureRequest) -> CaseRecord:
    """The case's recorder: ``reliability.record("what survived")``."""
    record = CaseRecord(PeakSampler())
    request.node.stash[_RECORDS_KEY] = record
    return record


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    report: pytest.TestReport = yield
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        props = dict(item.user_properties)
        record = item.stash.get(_RECORDS_KEY, None)
        note = "; ".join(record.notes) if record else ""
        if not note:  # a case without a recorder says what it checks in its docstring
            doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
            note = " ".join(doc.split())
        if report.failed:
            message = report.longreprtext.strip().splitlines()
            failure = next((line for line in message if line.startswith("E ")), message[-1] if message else "")
            note = f"FAILED: {failure[1:].strip()[:300]}" + (f" ({note})" if note else "")
        elif report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            note = f"skipped: {reason}"
        _rows.append({
            "case": item.nodeid.split("tests/reliability/", 1)[-1],
            "outcome": report.outcome,
            "seconds": round(float(props.get("reliability_seconds", report.duration)), 2),
            "peak_mb": round(float(props.get("reliability_peak_mb", 0.0)), 1),
            "growth_mb": round(float(props.get("reliability_growth_mb", 0.0)), 1),
            "note": note,
        })
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get(REPORT_ENV)
    if target:
        Path(target).write_text(json.dumps(_rows, indent=1), encoding="utf-8")
