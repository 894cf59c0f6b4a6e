"""``database_url`` as users write it, mapped to what SQLAlchemy and the installed driver need.

Hosting providers hand out ``postgres://…`` and ``postgresql://…``; SQLAlchemy knows no
``postgres`` scheme and reads a bare ``postgresql`` as psycopg2, which newswatch does not
install. Both become ``postgresql+psycopg://`` (psycopg 3). Anything else gets a message
that says what is accepted, without repeating the URL (it may hold a password).
"""

from __future__ import annotations

import re

POSTGRES_DRIVER = "psycopg"  # psycopg 3, a dependency of newswatch
ACCEPTED = "use sqlite:///PATH (relative to the config file) or postgresql://USER:PASSWORD@HOST/DATABASE"

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def normalize_database_url(value: str) -> str:
    """The URL with a PostgreSQL scheme mapped to psycopg 3; ValueError for anything else."""
    url = value.strip()
    match = _SCHEME.match(url)
    if not match:
        if url.startswith(("sqlite:", "postgres:", "postgresql:")):
            raise ValueError(f"the scheme needs '://' ({ACCEPTED})")
        hint = f"; for a file, sqlite:///{url}" if url and "://" not in url and ":" not in url else ""
        raise ValueError(f"is not a database URL ({ACCEPTED}){hint}")
    scheme = match.group(1).lower()
    rest = url[match.end():]
    dialect, _, driver = scheme.partition("+")
    if dialect == "sqlite":
        if driver not in ("", "pysqlite"):
            raise ValueError(f"SQLite driver {driver!r} is not installed; use sqlite:///PATH")
        if rest and not rest.startswith("/"):
            raise ValueError(
                f"sqlite://{rest.split('?')[0]} names a host; a file needs three slashes: sqlite:///{rest}"
            )
        if rest == "/":  # (bare sqlite:// is an in-memory database, for tests)
            raise ValueError("names no file; use sqlite:///newswatch.db (relative to the config file)")
        return f"sqlite://{rest}" if not driver else url
    if dialect in ("postgres", "postgresql"):
        if driver not in ("", POSTGRES_DRIVER):
            raise ValueError(
                f"PostgreSQL driver {driver!r} is not installed; use postgresql://… "
                f"(newswatch connects with psycopg 3)"
            )
        if not rest:
            raise ValueError(f"names no database; {ACCEPTED}")
        return f"postgresql+{POSTGRES_DRIVER}://{rest}"
    raise ValueError(f"{scheme}:// databases are not supported; {ACCEPTED}")
