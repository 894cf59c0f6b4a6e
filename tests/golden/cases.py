"""Golden extraction cases: tests/golden/<name>.json names the input (a page written for
this project, optional feed entry fields or an Atom file) and holds the expected fields.

Each JSON file has three parts:
- "input": url, html_file (or null: the page could not be fetched), charset (the HTTP
  header's), entry_title / entry_content / entry_summary, or feed_file (an Atom/RSS file
  whose first entry supplies them);
- "checks": hand-written: phrases the text must and must not contain (never regenerated);
- "expected": the fields extraction produced when last reviewed (scripts/regen_golden.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.extract import Extracted, ExtractionInput

GOLDEN_DIR = Path(__file__).resolve().parent
TEXT_EDGE_CHARS = 80


@dataclass(frozen=True)
class GoldenCase:
    name: str
    path: Path
    data: dict[str, Any]

    @property
    def checks(self) -> dict[str, list[str]]:
        return self.data.get("checks", {})

    @property
    def expected(self) -> dict[str, Any] | None:
        return self.data.get("expected")


def load_cases() -> list[GoldenCase]:
    cases = []
    for path in sorted(GOLDEN_DIR.glob("*.json")):
        cases.append(GoldenCase(path.stem, path, json.loads(path.read_text(encoding="utf-8"))))
    return cases


def build_input(case: GoldenCase) -> ExtractionInput:
    spec = case.data["input"]
    fields = {
        "entry_title": spec.get("entry_title"),
        "entry_content": spec.get("entry_content"),
        "entry_summary": spec.get("entry_summary"),
    }
    if spec.get("feed_file"):
        fields = _first_entry_fields(GOLDEN_DIR / spec["feed_file"])
    html_file = spec.get("html_file")
    html = (GOLDEN_DIR / html_file).read_bytes() if html_file else None
    return ExtractionInput(url=spec["url"], html=html, charset=spec.get("charset"), **fields)


def _first_entry_fields(feed_path: Path) -> dict[str, str | None]:
    import feedparser  # only the feed-file cases need it

    entry = feedparser.parse(feed_path.read_bytes()).entries[0]
    content = entry.get("content") or []
    return {
        "entry_title": entry.get("title"),
        "entry_content": content[0].get("value") if content else None,
        "entry_summary": entry.get("summary"),
    }


def observed_fields(result: Extracted) -> dict[str, Any]:
    """The fields of a result that golden files pin down."""
    return {
        "method": result.method,
        "flags": sorted(result.flags),
        "title": result.title,
        "author": result.author,
        "published_at": result.published_at.isoformat() if result.published_at else None,
        "language": result.language,
        "site_name": result.site_name,
        "canonical_url": result.canonical_url,
        "error": result.error,
        "text_prefix": result.text[:TEXT_EDGE_CHARS],
        "text_suffix": result.text[-TEXT_EDGE_CHARS:],
        "text_length": len(result.text),
        "content_hash": result.content_hash,
    }


def check_failures(case: GoldenCase, result: Extracted) -> list[str]:
    """Hand-written checks the result breaks, in words."""
    failures = []
    for phrase in case.checks.get("contains", []):
        if phrase not in result.text:
            failures.append(f"text lacks {phrase!r}")
    for phrase in case.checks.get("not_contains", []):
        if phrase in result.text:
            failures.append(f"text contains {phrase!r}")
    return failures
