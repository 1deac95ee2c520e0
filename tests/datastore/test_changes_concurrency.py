"""The change feed under concurrent writers: every change seen exactly once, no gap, no duplicate.

These tests commit for real (several connections must see each other's work), so they clean the
database themselves afterwards instead of relying on the rolled-back test transaction.
"""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from catalog.auth.models import User
from catalog.datasets.resources import create_resource
from catalog.datasets.service import create_dataset
from catalog.db import Base, get_db
from catalog.departments.service import create_department
from catalog.datastore import query, service
from tests.conftest import dataset_values

WRITERS, BATCHES, BATCH = 4, 15, 20


@pytest.fixture
def committed(base_app):
    """A committed department, dataset, resource and DataStore table; everything removed afterwards."""
    database = get_db(base_app)
    with database.session() as session:
        admin = User(name="feed-admin", sysadmin=True)
        session.add(admin)
        session.flush()
        dept = create_department(session, admin, name="feed-dept")
        dataset = create_dataset(session, admin, values={**dataset_values(dept.id), "name": "feed-dataset"})
        resource = create_resource(session, admin, dataset, values={"url": "http://example.gov.cn/r.csv"},
                                   record=False)
        service.create_table(session, admin, resource, fields=[{"id": "id", "type": "text"},
                                                                {"id": "value", "type": "int"}],
                             primary_key=["id"])
        session.commit()
        ids = {"admin": admin.id, "resource": resource.id}
    yield database, ids
    with database.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM dataset_search"))
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


def _writer(database, ids, writer: int, errors: list) -> None:
    try:
        for batch in range(BATCHES):
            with database.session() as session:
                admin = session.get(User, ids["admin"])
                table = service.get_table(session, ids["resource"])
                # Half new keys, half rewrites of this writer's earlier keys: inserts and updates.
                records = [{"id": f"w{writer}-{(batch * BATCH + i) // 2}", "value": batch * 1000 + i}
                           for i in range(BATCH)]
                service.upsert_records(session, admin, table, records)
                session.commit()
    except Exception as exc:  # surfaced by the test
        errors.append(exc)


def test_concurrent_writers_and_a_reader_see_every_change_once(committed):
    database, ids = committed
    errors: list = []
    seen: list[tuple[int, str]] = []
    done = threading.Event()

    def reader():
        cursor = None
        while True:
            finished = done.is_set()
            with database.session() as session:
                table = service.get_table(session, ids["resource"])
                page = query.changes(session, table, cursor=cursor, limit=37)
            seen.extend((c["_seq"], c["_key"]) for c in page["changes"])
            cursor = page["next_cursor"]
            if finished and not page["changes"]:
                return

    threads = [threading.Thread(target=_writer, args=(database, ids, w, errors)) for w in range(WRITERS)]
    pull = threading.Thread(target=reader)
    pull.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    pull.join(timeout=60)
    assert not errors, errors

    with database.session() as session:
        stored = session.execute(sa.text(
            "SELECT seq, key FROM datastore_record WHERE resource_id = :r ORDER BY seq"), {"r": ids["resource"]}).all()
    seqs = [s for s, _k in seen]
    assert len(seqs) == len(set(seqs)), "a change was delivered twice"
    assert seqs == sorted(seqs), "changes came out of order"
    # Every record's latest change was delivered (older versions of a key are superseded in place).
    assert {(s, k) for s, k in stored} <= set(seen), "a change was missed"
    assert len(stored) == WRITERS * BATCHES * BATCH // 2
