"""Migrations 0019 (field indexes for tables made before x-index) and 0025 (the key in those indexes)."""
from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from catalog import create_app
from catalog.auth.models import User
from catalog.cli import run_migrations
from catalog.datasets.resources import create_resource
from catalog.datasets.service import create_dataset
from catalog.db import get_db
from catalog.departments.service import create_department
from catalog.datastore import query, service
from catalog.datastore.models import DatastoreTable
from tests.conftest import dataset_values

MARKED = ("head_id_number", "town")


def _indexes(engine) -> set[str]:
    # From the database's own catalog: SQLAlchemy's reflection skips expression indexes.
    listing = ("SELECT indexname FROM pg_indexes WHERE tablename = 'datastore_record'"
               if engine.dialect.name == "postgresql"
               else "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'datastore_record'")
    with engine.connect() as conn:
        return set(conn.exec_driver_sql(listing).scalars())


@pytest.mark.slow
def test_a_household_table_from_before_gets_its_marks_and_indexes_and_downgrade_drops_them(empty_database, tmp_path):
    app = create_app({"DATABASE_URL": empty_database, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "m"})
    engine = get_db(app).engine
    try:
        # The catalog's rows are made by today's code at the head, then the schema is taken back to 0018
        # (today's code writes to tables of later migrations, such as the search's change log).
        run_migrations(app)
        with get_db(app).session() as session:
            admin = User(name="migrate-admin", sysadmin=True)
            session.add(admin)
            session.flush()
            dept = create_department(session, admin, name="migrate-dept")
            dataset = create_dataset(session, admin, values={**dataset_values(dept.id), "name": "homes",
                                                             "record_schema": "household@1"})
            resource = create_resource(session, admin, dataset, values={"url": "http://example.gov.cn/r"},
                                       record=False)
            table = service.create_table(session, admin, resource)
            # As a table made before x-index: its stored schema without the marks, no field index.
            document = {**table.schema_document, "properties": {
                name: {k: v for k, v in node.items() if k != "x-index"}
                for name, node in table.schema_document["properties"].items()}}
            table.schema_document = document
            session.commit()
            resource_id = resource.id
        run_migrations(app, "0018_catalog_version", downgrade=True)
        with engine.begin() as conn:
            for name in MARKED:
                conn.exec_driver_sql(f"DROP INDEX IF EXISTS {query.field_index_name(name)}")
        assert not {query.field_index_name(n) for n in MARKED} & _indexes(engine)

        run_migrations(app)
        assert {query.field_index_name(n) for n in MARKED} <= _indexes(engine)
        with get_db(app).session() as session:
            stored = session.get(DatastoreTable, resource_id).schema_document["properties"]
        assert {name for name, node in stored.items() if node.get("x-index")} == set(MARKED)

        run_migrations(app, "0018_catalog_version", downgrade=True)
        assert not {query.field_index_name(n) for n in MARKED} & _indexes(engine)
    finally:
        engine.dispose()


def _old_name(name: str) -> str:
    return "ix_datastore_record_field_" + hashlib.sha1(name.encode()).hexdigest()[:16]


@pytest.mark.slow
def test_migration_0025_puts_the_key_into_the_field_indexes_of_existing_tables_and_downgrade_takes_it_out(
        empty_database, tmp_path):
    app = create_app({"DATABASE_URL": empty_database, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "m"})
    engine = get_db(app).engine
    try:
        run_migrations(app)
        with get_db(app).session() as session:
            admin = User(name="migrate-admin", sysadmin=True)
            session.add(admin)
            session.flush()
            dept = create_department(session, admin, name="migrate-dept")
            dataset = create_dataset(session, admin, values={**dataset_values(dept.id), "name": "homes",
                                                             "record_schema": "household@1"})
            resource = create_resource(session, admin, dataset, values={"url": "http://example.gov.cn/r"},
                                       record=False)
            service.create_table(session, admin, resource)
            session.commit()
        new = {query.field_index_name(n) for n in MARKED}
        old = {_old_name(n) for n in MARKED}
        assert new <= _indexes(engine) and not old & _indexes(engine)

        # the database as 0024 left it: the indexes without the key
        run_migrations(app, "0024_search_changes", downgrade=True)
        assert old <= _indexes(engine) and not new & _indexes(engine)

        run_migrations(app)
        assert new <= _indexes(engine) and not old & _indexes(engine)
        listing = ("SELECT indexdef FROM pg_indexes WHERE indexname = :name" if engine.dialect.name == "postgresql"
                   else "SELECT sql FROM sqlite_master WHERE name = :name")
        with engine.connect() as conn:
            definition = conn.scalar(sa.text(listing), {"name": query.field_index_name("town")})
        assert definition.replace(" ", "").rstrip(")").split("WHERE")[0].endswith(",key)"), definition
    finally:
        engine.dispose()
