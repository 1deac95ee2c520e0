"""Alembic environment: migrates the database of the catalog app (CATALOG_DATABASE_URL)."""
from __future__ import annotations

from alembic import context

from catalog.db import Base
from catalog import models  # noqa: F401  (imports every model so autogenerate sees them)

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run against the connection handed over by ``catalog db upgrade``, or the app's engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from catalog import create_app
    from catalog.db import get_db

    engine = get_db(create_app()).engine
    with engine.connect() as connection:
        _run(connection)
        connection.commit()


def _include_object(obj, name, type_, reflected, compare_to) -> bool:
    # The search index is dialect-specific SQL (FTS5 / tsvector), not a model.
    return not (type_ == "table" and name.startswith("dataset_search"))


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      include_object=_include_object,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `catalog db upgrade`")
run_migrations_online()
