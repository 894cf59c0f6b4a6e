"""Alerts as CSV, for a spreadsheet: ``/alerts.csv`` and ``newswatch alerts --format csv``.

One row per alert, the columns the alerts list shows. Feed text goes into cells, and a
cell starting with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) would run as a
formula when the file is opened in a spreadsheet: such cells get a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping

from storage.alert_list import StoryFacts
from storage.evidence import strongest_item
from storage.models import Alert
from storage.serialize import iso, story_page_url

COLUMNS = [
    "id", "topic", "topic_name", "title", "published_at", "published_at_source",
    "first_seen_at", "updated_at", "score", "sources", "outlet_count", "outlets",
    "evidence", "url", "first_source_url",
]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SNIPPET_CHARS = 300


def cell(value: object) -> str:
    """Feed text made safe for a spreadsheet cell (never read as a formula)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def evidence_snippet(alert: Alert, limit: int = SNIPPET_CHARS) -> str:
    """The alert's strongest evidence sentence (storage.evidence.strongest_item), on one line."""
    item = strongest_item(alert.evidence)
    if item is None:
        return ""
    text = " ".join(str(item["text"]).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def csv_row(
    alert: Alert, facts: StoryFacts | None, topic_names: Mapping[str, str], base_url: str | None
) -> list[str]:
    outlets = facts.outlets if facts else []
    return [
        str(alert.id),
        cell(alert.topic_id),
        cell(topic_names.get(alert.topic_id, alert.topic_id)),
        cell(alert.title or (alert.story.title if alert.story else "")),
        iso(alert.published_at) or "",
        facts.published_at_source if facts else "fetched",
        iso(alert.created_at) or "",
        iso(alert.updated_at) or "",
        str(round(alert.score, 4)),  # as in the JSON
        str(facts.article_count if facts else alert.article_count),
        str(len(outlets)),
        cell("; ".join(outlets)),
        cell(evidence_snippet(alert)),
        story_page_url(base_url, alert.story_id) or "",
        cell(facts.first_url if facts else ""),
    ]


def csv_lines(rows: Iterable[list[str]], *, header: bool = True) -> Iterator[str]:
    """CSV text (RFC 4180, CRLF line ends), a line at a time, for streaming."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if header:
        writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if header and buffer.getvalue():  # no rows: the header alone
        yield buffer.getvalue()
