"""Alembic environment: runs on the connection handed over by storage.db.upgrade."""

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

from storage.models import Base
from storage.search import include_name

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.begin() as connection:
        _run(connection)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,  # the search engine's own tables and index
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
