"""Migration 0015_share_workflow: an existing request keeps its row with empty basis and scenario (shown 未填写)
and a grant with no delivery day; the tables match the models; downgrading removes what it added."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import catalog.models  # noqa: F401  (every model in the metadata)
from catalog import create_app
from catalog.cli import run_migrations
from catalog.db import Base, get_db

NOW = "2026-11-02 08:00:00"


def _seed(conn) -> None:
    """Two departments, a dataset, a request and its grant as they stood before 0015."""
    for department_id, name in (("d1", "gaj"), ("d2", "mzj")):
        conn.execute(sa.text("INSERT INTO department (id, name, title, state, created, modified) "
                             "VALUES (:id, :name, :name, 'active', :t, :t)"), {"id": department_id, "name": name, "t": NOW})
    conn.execute(sa.text("INSERT INTO dataset (id, name, owner_org, private, state, type, extras, related_codes, items, "
                         "metadata_schema, metadata_created, metadata_modified, revision) VALUES ('p1', 'households', "
                         "'d1', false, 'active', 'dataset', '{}', '[]', '[]', 'dataset@1', :t, :t, 1)"), {"t": NOW})
    conn.execute(sa.text("INSERT INTO share_request (id, package_id, organization_id, purpose, fields, status, "
                         "deadline, created) VALUES ('r1', 'p1', 'd2', '核实', '[]', 'approved', '2026-11-16', :t)"),
                 {"t": NOW})
    conn.execute(sa.text("INSERT INTO share_grant (id, package_id, organization_id, request_id, fields, created) "
                         "VALUES ('g1', 'p1', 'd2', 'r1', '[]', :t)"), {"t": NOW})


@pytest.mark.slow
def test_0015_keeps_older_requests_with_empty_basis_and_downgrade_removes_its_tables(empty_database, tmp_path):
    app = create_app({"DATABASE_URL": empty_database, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "m"})
    engine = get_db(app).engine
    try:
        run_migrations(app, "0014_catalog_review")
        with engine.begin() as conn:
            _seed(conn)
        run_migrations(app)
        with engine.connect() as conn:
            request = conn.execute(sa.text("SELECT basis, scenario, paused_days, missing FROM share_request")).one()
            assert tuple(request) == ("", "", 0, None)
            grant = conn.execute(sa.text("SELECT delivery_due, delivered_at, suspended_at FROM share_grant")).one()
            assert tuple(grant) == (None, None, None)
            differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert [d for d in differences if any(t in repr(d) for t in ("share_", "usage"))] == []
        run_migrations(app, "0014_catalog_review", downgrade=True)
        inspector = sa.inspect(engine)
        assert not {"share_usage_record", "share_notice"} & set(inspector.get_table_names())
        assert "basis" not in {c["name"] for c in inspector.get_columns("share_request")}
        assert "delivery_due" not in {c["name"] for c in inspector.get_columns("share_grant")}
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM share_request")).scalar() == 1
        run_migrations(app)
    finally:
        engine.dispose()
