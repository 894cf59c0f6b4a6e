"""Rewrite the "expected" part of tests/golden/*.json from what extraction produces now.

Run it after an intended change, then review the diff (git diff tests/golden) before
committing. Hand-written "checks" are kept as they are; any they now fail are listed and
the script exits 1.

    .venv/bin/python scripts/regen_golden.py [NAME ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tasks.extract import extract_article  # noqa: E402
from tests.golden.cases import build_input, check_failures, load_cases, observed_fields  # noqa: E402


def main(names: list[str]) -> int:
    cases = [case for case in load_cases() if not names or case.name in names]
    if names and len(cases) != len(set(names)):
        known = ", ".join(case.name for case in load_cases())
        print(f"unknown case name; known: {known}", file=sys.stderr)
        return 2
    failed = False
    for case in cases:
        result = extract_article(build_input(case))
        observed = observed_fields(result)
        changed = sorted(k for k, v in observed.items() if (case.expected or {}).get(k) != v)
        data = {**case.data, "expected": observed}
        case.path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        status = f"changed: {', '.join(changed)}" if changed else "unchanged"
        print(f"{case.name}: method={result.method} flags={list(result.flags)} {status}")
        for failure in check_failures(case, result):
            failed = True
            print(f"  CHECK FAILED: {failure}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
