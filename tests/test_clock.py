"""storage/clock.py is the one wall clock: no other module reads the time of day itself."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("config", "storage", "tasks", "flows")
WALL_CLOCK = re.compile(r"\b(?:datetime\.(?:now|utcnow|today)|date\.today|time\.time)\(")
THE_CLOCK = Path("storage/clock.py")
# Modules whose own rework routes them through storage.clock; listed so that no new one
# slips in meanwhile. Remove an entry once its module is clean.
PENDING: dict[Path, str] = {}


def wall_clock_readers() -> dict[Path, list[int]]:
    found: dict[Path, list[int]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if relative == THE_CLOCK or "migrations" in relative.parts:
                continue
            lines = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if WALL_CLOCK.search(line)]
            if lines:
                found[relative] = lines
    return found


def test_only_storage_clock_reads_the_wall_clock() -> None:
    readers = wall_clock_readers()
    unexpected = {str(path): lines for path, lines in readers.items() if path not in PENDING}
    assert not unexpected, f"read the time through storage.clock.utcnow instead: {unexpected}"


def test_the_pattern_finds_what_it_looks_for() -> None:
    assert WALL_CLOCK.search("stamp = datetime.now(UTC)")
    assert WALL_CLOCK.search("expires = int(time.time()) + 60")
    assert not WALL_CLOCK.search("started = time.monotonic()")
    assert not WALL_CLOCK.search("now = utcnow()")
