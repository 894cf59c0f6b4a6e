"""A process and its descendants, read from /proc (Linux): memory and CPU time, no psutil.

RSS adds up pages the forked extraction workers share with their fork server; PSS splits
each shared page between the processes mapping it, so the PSS sum is what the tree really
costs. Both are reported.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _parents() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants alive now."""
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, []))
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _status_kb(pid: int, path: str, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/{path}").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def rss_kb(pid: int) -> int:
    return _status_kb(pid, "status", "VmRSS:")


def pss_kb(pid: int) -> int:
    return _status_kb(pid, "smaps_rollup", "Pss:")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (not of its children)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def is_prefect_server(pid: int) -> bool:
    line = cmdline(pid)
    return "prefect.server" in line or "uvicorn" in line


@dataclass
class MemoryPeak:
    """Peaks (MiB) seen by a sampler: the pipeline's tree and, apart, Prefect's API server."""

    rss_mib: float = 0.0
    pss_mib: float = 0.0
    main_rss_mib: float = 0.0
    processes: int = 0
    prefect_server_pss_mib: float = 0.0
    samples: int = 0


@dataclass
class MemorySampler:
    """Samples the tree of ``pid`` every ``interval`` seconds in a thread, until ``stop``."""

    pid: int
    interval: float = 0.25
    exclude: Callable[[int], bool] = is_prefect_server
    peak: MemoryPeak = field(default_factory=MemoryPeak)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def start(self) -> MemorySampler:
        self._thread.start()
        return self

    def stop(self) -> MemoryPeak:
        self._stop.set()
        self._thread.join()
        self.sample()  # at least one sample, however short the run
        return self.peak

    def sample(self) -> None:
        pids = tree(self.pid)
        mine = [p for p in pids if not self.exclude(p)]
        others = [p for p in pids if self.exclude(p)]
        peak = self.peak
        peak.samples += 1
        peak.rss_mib = max(peak.rss_mib, sum(rss_kb(p) for p in mine) / 1024)
        peak.pss_mib = max(peak.pss_mib, sum(pss_kb(p) for p in mine) / 1024)
        peak.main_rss_mib = max(peak.main_rss_mib, rss_kb(self.pid) / 1024)
        peak.processes = max(peak.processes, len(mine))
        peak.prefect_server_pss_mib = max(
            peak.prefect_server_pss_mib, sum(pss_kb(p) for p in others) / 1024
        )

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)


def tree_cpu_seconds(pid: int, exclude: Callable[[int], bool] = is_prefect_server) -> float:
    """CPU seconds used so far by the live processes of ``pid``'s tree (not excluded ones)."""
    return sum(cpu_seconds(p) for p in tree(pid) if not exclude(p))


def wall() -> float:
    return time.monotonic()
