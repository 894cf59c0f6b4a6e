"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage.db import current_revision, head_revision, open_database
from storage.models import Base
from storage.search import include_name


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    db = open_database(database_url, migrate=True)
    try:
        assert current_revision(db.engine) == head_revision()
        with db.engine.connect() as connection:
            # The search engine's own objects (FTS5 tables, the GIN index) are not in the models.
            context = MigrationContext.configure(connection, opts={"include_name": include_name})
            drift = compare_metadata(context, Base.metadata)
        assert drift == [], f"models and migrations differ: {drift}"
    finally:
        db.dispose()
