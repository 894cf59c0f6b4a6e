"""The few places where SQLite and PostgreSQL differ, kept in one module."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, FromClause, Result, Select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignore(
    session: Session, table: FromClause, rows: list[dict[str, Any]], conflict: list[str] | None = None
) -> int:
    """``INSERT … ON CONFLICT (conflict) DO NOTHING``; returns how many rows were new.

    The one insert-or-ignore of newswatch: idempotent inserts that several workers may race
    to. Without ``conflict`` any unique constraint makes a row be skipped.
    """
    if not rows:
        return 0
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        module.insert(table).values(rows).on_conflict_do_nothing(index_elements=conflict)
        .returning(table.c.id)
    )
    # RETURNING counts what was inserted on both databases: psycopg's rowcount does not,
    # and a single-row insert there reports -1.
    return len(session.execute(statement).all())


def affected_rows(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE touched (0 when the driver cannot tell).

    ``Session.execute`` is typed to return a ``Result``; for an UPDATE or DELETE it is a
    ``CursorResult``, the one that knows its ``rowcount``.
    """
    return max(cast("CursorResult[Any]", result).rowcount or 0, 0)


def for_claim(statement: Select[Any], session: Session) -> Select[Any]:
    """Rows a worker claims: locked and skipped by other workers on PostgreSQL.

    SQLite has a single writer, so the claim's UPDATE in the same transaction is enough.
    """
    if session.get_bind().dialect.name == "postgresql":
        return statement.with_for_update(skip_locked=True)
    return statement


ANALYSIS_LOCK = 7_310_001  # an arbitrary, fixed advisory-lock key


def take_analysis_lock(session: Session) -> None:
    """Take the analysis lock, held until the transaction ends: one transaction at a time
    clusters articles into stories, across all workers.

    Two workers that each start a story for two copies of the same article would split
    it; PostgreSQL serialises them on an advisory lock held until commit. SQLite
    transactions already take the write lock when they begin (see storage.db).
    """
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import text

        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ANALYSIS_LOCK})
