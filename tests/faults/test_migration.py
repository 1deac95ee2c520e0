"""Migration 0012_robustness: sync_run gains ``sent`` (the outbox) and ``heartbeat``, as the models say,
and downgrading removes them again."""
from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import catalog.models  # noqa: F401  (every model in the metadata)
from catalog import create_app
from catalog.cli import run_migrations
from catalog.db import Base, get_db


def test_0012_adds_sent_and_heartbeat_as_the_models_say_and_downgrade_removes_them(empty_database, tmp_path):
    app = create_app({"DATABASE_URL": empty_database, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "m"})
    engine = get_db(app).engine
    try:
        run_migrations(app, "0011_records")
        assert "heartbeat" not in {c["name"] for c in sa.inspect(engine).get_columns("sync_run")}
        run_migrations(app)
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert [d for d in differences if "sync_run" in repr(d)] == []
        run_migrations(app, "0011_records", downgrade=True)
        assert not {"sent", "heartbeat"} & {c["name"] for c in sa.inspect(engine).get_columns("sync_run")}
        run_migrations(app)
    finally:
        engine.dispose()
