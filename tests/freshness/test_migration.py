"""The migrations up to head (0007 webhooks, deliveries, freshness state; 0008 push jobs) match the
models, and revert to base."""
from __future__ import annotations

import sqlalchemy as sa

from catalog import create_app
from catalog.cli import run_migrations
from catalog.db import Base, get_db

OURS = {"webhook_subscription", "webhook_delivery", "freshness_state"}


def test_upgrade_matches_the_models_and_downgrade_to_base_removes_everything(empty_database, tmp_path):
    import catalog.models  # noqa: F401  (every model in the metadata)
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    app = create_app({"DATABASE_URL": empty_database, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "m"})
    engine = get_db(app).engine
    try:
        run_migrations(app)
        assert OURS <= set(sa.inspect(engine).get_table_names())
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        ours = [d for d in differences if any(table in repr(d) for table in OURS)]
        assert ours == []
        run_migrations(app, "0006_dataset_filter_index", downgrade=True)
        assert not OURS & set(sa.inspect(engine).get_table_names())
        run_migrations(app, "base", downgrade=True)
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
        run_migrations(app)
        assert OURS <= set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
