"""Migration 0020 hashes the records stored before it, so the first sync after the upgrade skips the
unchanged ones instead of rewriting (and announcing) every record once."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from catalog import create_app
from catalog.auth.models import User
from catalog.cli import run_migrations
from catalog.datasets.resources import create_resource
from catalog.datasets.service import create_dataset
from catalog.db import get_db
from catalog.departments.service import create_department
from catalog.datastore import service
from tests.conftest import dataset_values

RECORDS = 1205  # more than one batch of the backfill (1,000)


def record(i: int) -> dict:
    return {"id": f"h{i:05d}", "score": 2.0 if i % 2 else 7, "members": [{"name": "罗洋", "age": 40 + i % 9}]}


@pytest.mark.slow
def test_records_stored_before_0020_get_hashes_and_a_rewrite_of_them_is_unchanged(empty_database, tmp_path):
    app = create_app({"DATABASE_URL": empty_database, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "m"})
    engine = get_db(app).engine
    try:
        # The catalog's rows are made by today's code at the head, then the schema is taken back to 0019
        # (today's code writes to tables of later migrations, such as the search's change log).
        run_migrations(app)
        with get_db(app).session() as session:
            admin = User(name="migrate-admin", sysadmin=True)
            session.add(admin)
            session.flush()
            dept = create_department(session, admin, name="migrate-dept")
            dataset = create_dataset(session, admin, values={**dataset_values(dept.id), "name": "homes"})
            resource = create_resource(session, admin, dataset, values={"url": "http://example.gov.cn/r"},
                                       record=False)
            service.create_table(session, admin, resource, primary_key=["id"], fields=[
                {"id": "id", "type": "text"}, {"id": "score", "type": "numeric"}, {"id": "members", "type": "json"}])
            session.commit()
            resource_id, admin_id = resource.id, admin.id
        run_migrations(app, "0019_datastore_reads", downgrade=True)
        # Records as the write path before 0020 stored them (its JSON text: keys in the record's order).
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO datastore_record (resource_id, key, seq, deleted, data, updated_at) "
                                 "VALUES (:r, :k, :s, false, :d, CURRENT_TIMESTAMP)"),
                         [{"r": resource_id, "k": record(i)["id"], "s": i + 1,
                           "d": json.dumps(record(i), ensure_ascii=False)} for i in range(RECORDS)])
            conn.execute(sa.text("UPDATE datastore_table SET last_seq = :n WHERE resource_id = :r"),
                         {"n": RECORDS, "r": resource_id})

        run_migrations(app)
        with get_db(app).session() as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(service.Record).where(
                service.Record.content_hash.is_(None))) == 0
            admin, table = session.get(User, admin_id), service.get_table(session, resource_id)
            records = [record(i) for i in range(RECORDS)]
            records[3]["members"][0]["age"] = 99  # the one change
            result = service.upsert_records(session, admin, table, records)
            session.commit()
            assert (result["unchanged"], result["updated"], result["inserted"]) == (RECORDS - 1, 1, 0)
            assert service.get_table(session, resource_id).last_seq == RECORDS + 1  # one feed entry

        run_migrations(app, "0019_datastore_reads", downgrade=True)
        assert "content_hash" not in {c["name"] for c in sa.inspect(engine).get_columns("datastore_record")}
    finally:
        engine.dispose()
