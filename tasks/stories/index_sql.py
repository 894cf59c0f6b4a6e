"""The story index's hot statements, in each database's own SQL, run through the driver.

``assign_story`` runs a handful of statements per article; through SQLAlchemy each one
cost 0.2–1 ms of Python (statement setup, parameter and result processing per row),
more than the database work. These run on the session's DBAPI connection, inside the
same transaction, with fixed statement text (a list of keys goes as one parameter:
``json_each(?)`` on SQLite, ``unnest``/``ANY`` of a ``bigint[]`` on PostgreSQL), so the
driver's statement cache is hit and one statement posts or reads every key.

Index times are integer UTC epoch seconds and term keys signed 64-bit integers, so
nothing needs converting on the way in or out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection


@dataclass(frozen=True)
class IndexSql:
    """One dialect's statements; ``{keys}`` parameters take :meth:`keys`' result."""

    frequencies: str  # (days, keys) -> (term_key, count) per day; days listed, as they lead the key
    postings: str  # (keys, low, high) -> (key, article_id)
    candidate_rows: str  # (ids) -> article_id, story_id, at, signature, shingle_count, terms, duplicate_of_id
    insert_article: str  # (article_id, story_id, duplicate_of_id, at, shingle_count, signature, terms)
    insert_keys: str  # (article_id, at, keys)
    count_terms: str  # (day, keys): count + 1 for each key on the day, one upsert
    json_arrays: bool  # SQLite takes key lists as JSON text; PostgreSQL as arrays

    def keys(self, values: Iterable[int]) -> Any:
        ordered = sorted(values)  # sorted: concurrent writers lock rows in one order
        return json.dumps(ordered) if self.json_arrays else ordered


_SQLITE = IndexSql(
    frequencies=(
        "SELECT term_key, count FROM story_term_counts"
        " WHERE day IN (SELECT value FROM json_each(?)) AND term_key IN (SELECT value FROM json_each(?))"
    ),
    postings=(
        "SELECT key, article_id FROM story_index_keys"
        " WHERE key IN (SELECT value FROM json_each(?)) AND at BETWEEN ? AND ?"
    ),
    candidate_rows=(
        "SELECT article_id, story_id, at, signature, shingle_count, terms, duplicate_of_id"
        " FROM story_index_articles WHERE article_id IN (SELECT value FROM json_each(?))"
    ),
    insert_article=(
        "INSERT INTO story_index_articles"
        " (article_id, story_id, duplicate_of_id, at, shingle_count, signature, terms)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)"
    ),
    insert_keys=(
        "INSERT INTO story_index_keys (key, article_id, at) SELECT value, ?, ? FROM json_each(?)"
    ),
    # "WHERE true" tells SQLite's parser the ON CONFLICT belongs to the INSERT.
    count_terms=(
        "INSERT INTO story_term_counts (term_key, day, count) SELECT value, ?, 1 FROM json_each(?) WHERE true"
        " ON CONFLICT (day, term_key) DO UPDATE SET count = count + 1"
    ),
    json_arrays=True,
)

_POSTGRESQL = IndexSql(
    frequencies=(
        "SELECT term_key, count FROM story_term_counts"
        " WHERE day = ANY(%s::int[]) AND term_key = ANY(%s::bigint[])"
    ),
    postings=(
        "SELECT key, article_id FROM story_index_keys WHERE key = ANY(%s::bigint[]) AND at BETWEEN %s AND %s"
    ),
    candidate_rows=(
        "SELECT article_id, story_id, at, signature, shingle_count, terms, duplicate_of_id"
        " FROM story_index_articles WHERE article_id = ANY(%s::bigint[])"
    ),
    insert_article=(
        "INSERT INTO story_index_articles"
        " (article_id, story_id, duplicate_of_id, at, shingle_count, signature, terms)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s::json)"
    ),
    insert_keys=(
        "INSERT INTO story_index_keys (key, article_id, at) SELECT k, %s, %s FROM unnest(%s::bigint[]) AS k"
    ),
    count_terms=(
        "INSERT INTO story_term_counts (term_key, day, count) SELECT k, %s, 1 FROM unnest(%s::bigint[]) AS k"
        " ON CONFLICT (day, term_key) DO UPDATE SET count = story_term_counts.count + 1"
    ),
    json_arrays=False,
)

_BY_DIALECT = {"sqlite": _SQLITE, "postgresql": _POSTGRESQL}


class IndexCursor:
    """The index statements on one SQLAlchemy connection's DBAPI cursor (same transaction)."""

    def __init__(self, connection: Connection) -> None:
        name = connection.dialect.name
        if name not in _BY_DIALECT:
            raise ValueError(f"the story index supports SQLite and PostgreSQL, not {name!r}")
        self.sql = _BY_DIALECT[name]
        self._cursor = connection.connection.cursor()

    def close(self) -> None:
        self._cursor.close()

    def rows(self, statement: str, parameters: Sequence[Any]) -> list[tuple[Any, ...]]:
        self._cursor.execute(statement, parameters)
        return list(self._cursor.fetchall())

    def run(self, statement: str, parameters: Sequence[Any]) -> None:
        self._cursor.execute(statement, parameters)


def decode_terms(value: Any) -> dict[str, float]:
    """A stored term vector: SQLite returns JSON text, psycopg an already decoded dict."""
    if value is None:
        return {}
    if isinstance(value, str | bytes):
        loaded: dict[str, float] = json.loads(value)
        return loaded
    return dict(value)
