"""Run the reliability suite (tests/reliability) and print what it tried and what survived.

    python scripts/reliability.py                 # the whole suite, then the table
    python scripts/reliability.py -k gzip         # extra arguments go to pytest
    python scripts/reliability.py --markdown      # the table as Markdown (docs/reliability.md)
    python scripts/reliability.py --from report.json   # render a saved run, run nothing

Each row: the case, its outcome (passed / FAILED / skipped), wall time, the peak resident
memory of the test process and its children (and the growth over the test's start), and
the line the case recorded about itself. Exits with pytest's status, so CI fails on a
failed case. PostgreSQL cases run when NEWSWATCH_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REPORT_ENV = "RELIABILITY_REPORT"
NOTE_WIDTH = 110


def run_suite(pytest_args: list[str], report: Path) -> int:
    env = {**os.environ, REPORT_ENV: str(report)}
    command = [sys.executable, "-m", "pytest", "tests/reliability", "-q", "-p", "no:cacheprovider", *pytest_args]
    print("$ " + " ".join(command), flush=True)
    return subprocess.call(command, cwd=REPO, env=env)


def case_name(nodeid: str) -> str:
    """``test_hostile_feeds.py::test_gzip_bomb`` -> ``hostile_feeds: gzip_bomb``."""
    module, _, name = nodeid.partition("::")
    return f"{Path(module).stem.removeprefix('test_')}: {name.removeprefix('test_')}"


def _cells(row: dict[str, object]) -> list[str]:
    outcome = str(row["outcome"])
    return [
        case_name(str(row["case"])),
        "FAILED" if outcome == "failed" else outcome,
        f"{float(row['seconds']):.1f}",  # type: ignore[arg-type]
        f"{float(row['peak_mb']):.0f} (+{float(row['growth_mb']):.0f})",  # type: ignore[arg-type]
        str(row["note"]),
    ]


HEADERS = ["case", "outcome", "time (s)", "peak MB (+growth)", "what was tried, what survived"]


def plain_table(rows: list[dict[str, object]]) -> str:
    cells = [_cells(r) for r in rows]
    for row in cells:
        if len(row[4]) > NOTE_WIDTH:
            row[4] = row[4][: NOTE_WIDTH - 1] + "…"
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(HEADERS)]
    lines = ["  ".join(h.ljust(widths[i]) for i, h in enumerate(HEADERS)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in cells]
    return "\n".join(lines)


def markdown_table(rows: list[dict[str, object]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(cell(c) for c in _cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def totals(rows: list[dict[str, object]]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[str(row["outcome"])] = counts.get(str(row["outcome"]), 0) + 1
    seconds = sum(float(r["seconds"]) for r in rows)  # type: ignore[arg-type]
    peak = max((float(r["peak_mb"]) for r in rows), default=0.0)  # type: ignore[arg-type]
    return (
        f"{len(rows)} cases: {counts.get('passed', 0)} passed, {counts.get('failed', 0)} failed, "
        f"{counts.get('skipped', 0)} skipped; {seconds:.0f} s in cases; highest peak {peak:.0f} MB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--from", dest="source", type=Path, help="render this saved JSON report")
    parser.add_argument("--save", type=Path, help="also keep the JSON report here")
    args, pytest_args = parser.parse_known_args(argv)

    status = 0
    if args.source:
        if not args.source.is_file():
            print(f"error: {args.source}: no such report", file=sys.stderr)
            return 2
        report = args.source
    else:
        report = args.save or Path(tempfile.mkstemp(prefix="reliability-", suffix=".json")[1])
        report.write_text("[]", encoding="utf-8")
        status = run_suite(pytest_args, report)
    try:
        rows = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"error: cannot read the report {report}: {exc}", file=sys.stderr)
        return 2
    if not rows:
        print("error: no case ran", file=sys.stderr)
        return status or 1
    print()
    print(markdown_table(rows) if args.markdown else plain_table(rows))
    print()
    print(totals(rows))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
