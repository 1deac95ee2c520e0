"""Paging by cursor while others write: every record present from the start comes exactly once.

With offset paging, a record written before the reader's position pushes every later record one
place down, and one of them comes twice (a record deleted there makes one skipped). The cursor
continues after the last key read, so rewrites and new keys elsewhere move nothing. These tests
commit for real (the writer and the reader are separate connections) and clean up afterwards.
"""
from __future__ import annotations

import threading
from collections import Counter

import pytest
import sqlalchemy as sa

from catalog.auth.models import User
from catalog.datasets.resources import create_resource
from catalog.datasets.service import create_dataset
from catalog.db import Base, get_db
from catalog.departments.service import create_department
from catalog.datastore import query, service
from tests.conftest import dataset_values

START = 300


@pytest.fixture
def committed(base_app):
    """A committed table of START records keyed k0000…; everything removed afterwards."""
    database = get_db(base_app)
    with database.session() as session:
        admin = User(name="paging-admin", sysadmin=True)
        session.add(admin)
        session.flush()
        dept = create_department(session, admin, name="paging-dept")
        dataset = create_dataset(session, admin, values={**dataset_values(dept.id), "name": "paging-dataset"})
        resource = create_resource(session, admin, dataset, values={"url": "http://example.gov.cn/r.csv"},
                                   record=False)
        table = service.create_table(session, admin, resource, fields=[{"id": "id", "type": "text"},
                                                                       {"id": "value", "type": "int"}],
                                     primary_key=["id"])
        # Even keys from the start: the writer's new keys (odd) fall between them, before and after the reader.
        service.upsert_records(session, admin, table, [{"id": f"k{2 * i:04d}", "value": 0} for i in range(START)])
        session.commit()
        ids = {"admin": admin.id, "resource": resource.id}
    yield database, ids
    with database.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM dataset_search"))
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.mark.slow
def test_pages_by_cursor_neither_skip_nor_repeat_a_record_while_a_writer_inserts_and_rewrites(committed):
    database, ids = committed
    errors: list = []
    reading = threading.Event()
    done = threading.Event()

    def writer():
        try:
            reading.wait(10)
            for batch in range(30):
                with database.session() as session:
                    admin = session.get(User, ids["admin"])
                    table = service.get_table(session, ids["resource"])
                    # New odd keys all over the key range, and rewrites of existing even keys.
                    fresh = [{"id": f"k{(batch * 20 + 7 * i) % (2 * START) | 1:04d}", "value": batch}
                             for i in range(10)]
                    rewritten = [{"id": f"k{(batch * 38 + 14 * i) % (2 * START):04d}", "value": batch + 1}
                                 for i in range(10)]
                    service.upsert_records(session, admin, table, fresh + rewritten)
                    session.commit()
        except Exception as exc:  # surfaced by the test
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    seen: list[str] = []
    cursor = None
    while True:
        with database.session() as session:
            table = service.get_table(session, ids["resource"])
            page = query.search_records(session, table, limit=7, cursor=cursor, include_total=False)
        reading.set()
        seen.extend(r["id"] for r in page["records"])
        if not page["records"]:
            break
        cursor = page["next_cursor"]
    thread.join(60)
    assert not errors, errors
    assert done.is_set()
    counts = Counter(seen)
    assert [key for key, n in counts.items() if n > 1] == []
    assert {f"k{2 * i:04d}" for i in range(START)} <= set(counts)
    assert seen == sorted(seen)
