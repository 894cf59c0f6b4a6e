"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage.db import current_revision, head_revision, open_database
from storage.models import Base


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    db = open_database(database_url, migrate=True)
    try:
        assert current_revision(db.engine) == head_revision()
        with db.engine.connect() as connection:
            drift = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert drift == [], f"models and migrations differ: {drift}"
    finally:
        db.dispose()


def test_head_revision_read_from_the_files_is_alembics() -> None:
    from storage.db import _alembic_head_revision

    assert head_revision() == _alembic_head_revision() != ""
