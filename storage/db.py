"""Engine, sessions and migrations, the same code on SQLite and PostgreSQL.

A new SQLite database is migrated automatically when opened; a server database is
migrated by ``newswatch db upgrade`` (or the compose file's one-shot migrate service),
and opening one that is behind raises :class:`DatabaseNotReady` with that advice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class DatabaseNotReady(Exception):
    """The database cannot be used as it is; the message says what to do."""


@dataclass
class Database:
    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends normally and rolls back otherwise."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A session for reading only: on SQLite its transaction does not take the write
        lock (a plain deferred BEGIN on a WAL snapshot), so long reads never hold up
        writers. Nothing it changes is committed."""
        session = self._readers()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    @cached_property
    def _readers(self) -> sessionmaker[Session]:
        return sessionmaker(self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN (pysqlite's own handling would defer it).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the CLI, the web app) work while a pass writes; the busy timeout
    # makes concurrent writers wait instead of failing with "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


READ_ONLY = "newswatch_read_only"


def _begin_immediate(connection: Any) -> None:
    # Take SQLite's write lock when a transaction starts, not at its first write: a
    # transaction that read first and writes later would otherwise fail at once with
    # "database is locked" when another connection wrote in between (WAL snapshots).
    # Database.reader() sessions never write, so they read a snapshot without the lock.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def sqlite_path(url: str) -> Path | None:
    """The file a ``sqlite:///…`` URL names (None for other URLs and in-memory databases)."""
    if not url.startswith("sqlite") or ":///" not in url:
        return None
    path = url.split(":///", 1)[1].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def make_engine(url: str, *, create: bool = True, **kwargs: Any) -> Engine:
    """An engine for ``url``; ``create`` makes a SQLite file's folder when it is missing."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None and create:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


_REVISION = re.compile(r"^(down_)?revision\b[^=\n]*=\s*(.+)$", re.MULTILINE)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


def head_revision() -> str:
    """The newest migration's id. Read from the revision files' ``revision`` and
    ``down_revision`` lines: importing alembic to ask it costs ~0.3 s of CPU on every
    command; alembic answers only when the files do not name exactly one head."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in MIGRATIONS_DIR.joinpath("versions").glob("*.py"):
        for down, value in _REVISION.findall(script.read_text(encoding="utf-8")):
            (parents if down else revisions).update(_QUOTED.findall(value))
    heads = revisions - parents
    if len(heads) == 1:
        return heads.pop()
    return _alembic_head_revision()


def _alembic_head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    if not inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as connection:
        from sqlalchemy import text

        row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
    return row[0] if row else None


def upgrade(engine: Engine) -> str:
    """Bring the database to the newest schema; returns the revision it is at."""
    from alembic import command

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return head_revision()


def open_database(
    url: str, *, migrate: bool | None = None, create: bool = True, **engine_kwargs: Any
) -> Database:
    """Open ``url``; ``migrate=None`` migrates SQLite automatically and checks servers.

    ``create=False`` is for commands that only read: a SQLite file (or its folder) that
    does not exist is never created, and a database without newswatch's schema is an
    error instead of getting one.
    """
    path = sqlite_path(url)
    if not create and path is not None and not path.is_file():
        where = "no such file" if path.parent.is_dir() else f"no such folder {path.parent}"
        raise DatabaseNotReady(
            f"database {path}: {where}; check database_url in the config, "
            "or run `newswatch run --config FILE` first to create it"
        )
    engine = make_engine(url, create=create, **engine_kwargs)
    sqlite = engine.dialect.name == "sqlite"
    try:
        current = current_revision(engine)
    except Exception as exc:  # connection refused, bad credentials, missing database …
        engine.dispose()
        raise DatabaseNotReady(f"cannot connect to the database: {_short(exc)}") from None
    if current is None and not create:
        engine.dispose()
        where = f"database {path}" if path is not None else "the database"
        raise DatabaseNotReady(
            f"{where} has no newswatch tables; check database_url in the config, "
            "or run `newswatch run --config FILE` (or `newswatch db upgrade`) first"
        )
    if current != head_revision():
        if migrate or (migrate is None and sqlite):
            upgrade(engine)
        else:
            engine.dispose()
            state = "has no newswatch schema" if current is None else f"is at revision {current}"
            raise DatabaseNotReady(
                f"the database {state}; run `newswatch db upgrade --config FILE` first"
            )
    return Database(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))


def _short(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__
