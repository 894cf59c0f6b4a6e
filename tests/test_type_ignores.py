"""Every ``type: ignore`` the type checker sees names its error code and says why."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECKED = ["storage", "tasks", "config"]  # [tool.mypy] files in pyproject.toml
IGNORE = re.compile(r"#\s*type:\s*ignore(?P<codes>\[[a-z-]+(?:,\s*[a-z-]+)*\])?(?P<rest>.*)$")


def ignores_without_code_or_reason() -> list[str]:
    found = []
    for package in CHECKED:
        for path in sorted((REPO / package).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                match = IGNORE.search(line)
                if match and (not match["codes"] or not re.match(r"\s+#\s*\S", match["rest"])):
                    found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    return found


def test_the_pattern_tells_a_reasoned_ignore_from_a_bare_one() -> None:
    assert IGNORE.search("x = 1  # type: ignore[arg-type]  # the stub is too narrow")["codes"]
    assert not IGNORE.search("x = 1  # type: ignore")["codes"]
    assert not re.match(r"\s+#\s*\S", IGNORE.search("x = 1  # type: ignore[misc]")["rest"])


def test_every_type_ignore_names_its_code_and_reason() -> None:
    assert ignores_without_code_or_reason() == []
