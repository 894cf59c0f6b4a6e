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


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def role(pid: int, root: int) -> str:
    """What a process of newswatch's tree is: main, extraction, analysis, fork server,
    Prefect's API server (the run's own), or other."""
    if pid == root:
        return "main"
    name = comm(pid)
    if name == "nw-extractor":
        return "extraction"
    if name == "nw-analysis":
        return "analysis"
    if is_prefect_server(pid) or "flows.run_server" in cmdline(pid):
        return "prefect server"
    if "forkserver" in cmdline(pid):
        return "fork server"
    return "other"


@dataclass
class TreeSampler:
    """Samples ``pid``'s tree every ``interval`` s until ``stop``: CPU seconds per role
    (each process's last reading, so processes that ended still count, up to the last
    ``interval``) and peak PSS, newswatch's processes apart from Prefect's API server."""

    pid: int
    interval: float = 0.2
    cpu_by_pid: dict[int, float] = field(default_factory=dict)
    role_by_pid: dict[int, str] = field(default_factory=dict)
    peak_pss_mib: float = 0.0
    peak_prefect_server_pss_mib: float = 0.0
    peak_processes: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)

    def start(self) -> TreeSampler:
        self._thread.start()
        return self

    def stop(self) -> TreeSampler:
        self._stop.set()
        self._thread.join()
        return self

    def sample(self) -> None:
        newswatch = server = 0
        pids = tree(self.pid)
        for pid in pids:
            if self.role_by_pid.get(pid) not in ("main", "prefect server", "extraction", "analysis"):
                self.role_by_pid[pid] = role(pid, self.pid)  # a fresh fork names itself a moment later
            seconds = cpu_seconds(pid)
            if seconds:
                self.cpu_by_pid[pid] = max(seconds, self.cpu_by_pid.get(pid, 0.0))
            if self.role_by_pid[pid] == "prefect server":
                server += pss_kb(pid)
            else:
                newswatch += pss_kb(pid)
        self.peak_pss_mib = max(self.peak_pss_mib, newswatch / 1024)
        self.peak_prefect_server_pss_mib = max(self.peak_prefect_server_pss_mib, server / 1024)
        self.peak_processes = max(self.peak_processes, len(pids))

    def cpu_by_role(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for pid, seconds in self.cpu_by_pid.items():
            name = self.role_by_pid.get(pid, "other")
            totals[name] = totals.get(name, 0.0) + seconds
        return totals

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)
