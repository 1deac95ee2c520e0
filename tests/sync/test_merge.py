"""The set-based write of a batch (issue 18): unchanged records found by their content hash, change
numbers in commit order under concurrent writers, and no staging table left behind by a killed run.

The first test runs in the rolled-back test transaction on SQLite and PostgreSQL; the others commit for
real on PostgreSQL (several connections, a killed process) and clean up after themselves.
"""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from catalog.auth.models import User
from catalog.datasets.resources import create_resource
from catalog.datasets.service import create_dataset
from catalog.db import Base, get_db
from catalog.departments.service import create_department
from catalog.datastore import query, service
from tests.conftest import dataset_values

ROOT = Path(__file__).resolve().parents[2]
FIELDS = [{"id": "id", "type": "text"}, {"id": "head", "type": "text"}, {"id": "members", "type": "json"}]


def household(number: str, *, relation: str = "之子", phones: list[str] | None = None) -> dict:
    return {"id": number, "head": "罗洋",
            "members": [{"name": "罗洋", "relation": "户主", "phones": phones or ["13800000001"]},
                        {"name": "罗小军", "relation": relation, "working_away": True, "age": 19}]}


def _table(session, name: str):
    admin = User(name=f"{name}-admin", sysadmin=True)
    session.add(admin)
    session.flush()
    dept = create_department(session, admin, name=f"{name}-dept")
    dataset = create_dataset(session, admin, values={**dataset_values(dept.id), "name": f"{name}-dataset"})
    resource = create_resource(session, admin, dataset, values={"url": "http://example.gov.cn/h.csv"}, record=False)
    table = service.create_table(session, admin, resource, fields=FIELDS, primary_key=["id"])
    return admin, table


def _feed(session, table, cursor=None) -> tuple[list[dict], str]:
    page = query.changes(session, table, cursor=cursor, limit=1000)
    return page["changes"], page["next_cursor"]


def test_an_unchanged_record_is_skipped_and_a_change_deep_in_a_nested_list_is_seen(db):
    admin, table = _table(db, "hash")
    first = service.upsert_records(db, admin, table, [household("h1"), household("h2")])
    assert (first["inserted"], first["updated"], first["unchanged"]) == (2, 0, 0)
    _changes, cursor = _feed(db, table)

    # The same records again, written differently (keys in another order, 19 as 19.0): nothing to do,
    # no change number, nothing in the feed.
    reordered = {"members": [{"relation": "户主", "phones": ["13800000001"], "name": "罗洋"},
                             {"age": 19.0, "working_away": True, "relation": "之子", "name": "罗小军"}],
                 "head": "罗洋", "id": "h1"}
    again = service.upsert_records(db, admin, table, [reordered, household("h2")])
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 2)
    assert table.last_seq == 2 and _feed(db, table, cursor)[0] == []

    # One value inside the second member of h1, one phone inside the first member's list of h2:
    # both are changes, each one feed entry carrying the new value.
    changed = service.upsert_records(db, admin, table, [household("h1", relation="之女"),
                                                        household("h2", phones=["13800000001", "0915-1"])])
    assert (changed["inserted"], changed["updated"], changed["unchanged"]) == (0, 2, 0)
    entries, cursor = _feed(db, table, cursor)
    assert [(e["_seq"], e["_key"]) for e in entries] == [(3, "h1"), (4, "h2")]
    assert entries[0]["members"][1]["relation"] == "之女"
    assert entries[1]["members"][0]["phones"] == ["13800000001", "0915-1"]

    # A boolean is not a number (true is not 1), and the order of a list is part of the record.
    swapped = household("h1", relation="之女")
    swapped["members"].reverse()
    as_number = household("h2", phones=["13800000001", "0915-1"])
    as_number["members"][1]["working_away"] = 1
    last = service.upsert_records(db, admin, table, [swapped, as_number])
    assert (last["updated"], last["unchanged"]) == (2, 0)
    assert [e["_key"] for e in _feed(db, table, cursor)[0]] == ["h1", "h2"]


def test_the_stored_hash_not_the_document_decides_what_is_unchanged(db):
    # A document changed behind the DataStore's back (not through a write) keeps its old hash: the next
    # write of the original record is not compared with the document, so it counts as unchanged.
    admin, table = _table(db, "hashonly")
    service.upsert_records(db, admin, table, [household("h1")])
    db.execute(sa.update(service.Record).where(service.Record.resource_id == table.resource_id)
               .values(data={"id": "h1", "head": "someone else", "members": []}))
    result = service.upsert_records(db, admin, table, [household("h1")])
    assert result["unchanged"] == 1 and result["updated"] == 0


# --- PostgreSQL: real commits ---------------------------------------------------------------------


@pytest.fixture
def committed(base_app):
    database = get_db(base_app)
    if database.engine.dialect.name != "postgresql":
        pytest.skip("the merge statement is PostgreSQL's (SQLite writes one connection at a time)")
    with database.session() as session:
        admin, table = _table(session, "merge")
        session.commit()
        ids = {"admin": admin.id, "resource": table.resource_id}
    yield database, ids
    with database.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM dataset_search"))
        for each in reversed(Base.metadata.sorted_tables):
            conn.execute(each.delete())


WRITERS, BATCHES, KEYS = 2, 25, 40


def test_two_writers_merging_the_same_keys_number_changes_in_commit_order(committed):
    """Both writers rewrite the same 40 keys in every batch (distinct keys within a batch: the merge
    path). Each batch's changes must get one unbroken range of numbers above every batch committed
    before it, and each key must hold the value of the last batch that wrote it."""
    database, ids = committed
    ranges: list[tuple[int, int, int, int]] = []  # (first seq, last seq, writer, batch)
    errors: list[Exception] = []
    guard = threading.Lock()

    def writer(number: int) -> None:
        try:
            for batch in range(BATCHES):
                with database.session() as session:
                    table = service.get_table(session, ids["resource"])
                    records = [{"id": f"k{i:02d}", "head": f"w{number}-b{batch}", "members": [{"i": i}]}
                               for i in range(KEYS)]
                    result = service.upsert_records(session, None, table, records, check_auth=False)
                    assert result["updated"] + result["inserted"] == KEYS, result
                    last = table.last_seq
                    session.commit()
                with guard:
                    ranges.append((last - KEYS + 1, last, number, batch))
        except Exception as exc:  # surfaced by the test
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors

    ranges.sort()
    assert [r[:2] for r in ranges] == [(b * KEYS + 1, (b + 1) * KEYS) for b in range(WRITERS * BATCHES)], \
        "change numbers overlap or leave a gap"
    assert len({(w, b) for _f, _l, w, b in ranges}) == WRITERS * BATCHES
    _first, _last, final_writer, final_batch = ranges[-1]
    with database.session() as session:
        stored = session.execute(sa.text("SELECT key, seq, data->>'head' FROM datastore_record "
                                         "WHERE resource_id = :r ORDER BY key"), {"r": ids["resource"]}).all()
        table = service.get_table(session, ids["resource"])
        changes, _cursor = _feed(session, table)
    assert len(stored) == KEYS
    # the batch with the highest numbers committed last: its values are the ones kept, its numbers stored
    assert {head for _k, _s, head in stored} == {f"w{final_writer}-b{final_batch}"}
    assert sorted(seq for _k, seq, _h in stored) == list(range(ranges[-1][0], ranges[-1][1] + 1))
    assert [c["_seq"] for c in changes] == sorted(seq for _k, seq, _h in stored)


CHILD = """
import sys, time
from catalog import create_app
from catalog.db import get_db
from catalog.datastore import service
app = create_app({"DATABASE_URL": sys.argv[1], "INSTANCE_PATH": sys.argv[2], "SECRET_KEY": "k", "BROKER_URL": None})
with get_db(app).session() as session:
    for batch in range(2):
        table = service.get_table(session, sys.argv[3])
        records = [{"id": f"r{i}", "head": "h", "members": [{"i": i}]} for i in range(batch * 300, batch * 300 + 300)]
        result = service.upsert_records(session, None, table, records, check_auth=False)
        if batch == 0:
            session.commit()
    print("merged", result["inserted"], flush=True)
    time.sleep(120)  # killed here: the second batch merged, not committed
"""

STAGES = "SELECT count(*) FROM pg_class WHERE relname = 'datastore_stage' AND relpersistence = 't'"


def test_a_run_killed_after_its_merge_leaves_no_staging_table_and_only_its_committed_batch(committed, tmp_path):
    """A writer commits one batch (its connection now holds the staging table), merges a second and is
    killed before committing it: the staging table goes with the connection, the first batch stays,
    the second leaves no record, no change number and no lock behind."""
    database, ids = committed
    with database.engine.connect() as conn:
        before = conn.execute(sa.text(STAGES)).scalar_one()
    url = database.engine.url.render_as_string(hide_password=False)
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, str(tmp_path), ids["resource"]],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = child.stdout.readline()
        assert line.split() == ["merged", "300"], line + child.stderr.read()
        with database.engine.connect() as conn:
            assert conn.execute(sa.text(STAGES)).scalar_one() == before + 1  # the child's, while it lives
        child.kill()
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)

    deadline = time.monotonic() + 20
    while True:
        with database.engine.connect() as conn:
            left = conn.execute(sa.text(STAGES)).scalar_one()
        if left == before or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert left == before, "the killed run's staging table outlived its connection"

    second = [{"id": f"r{i}", "head": "h", "members": [{"i": i}]} for i in range(300, 600)]
    with database.session() as session:
        table = service.get_table(session, ids["resource"])
        changes, _cursor = _feed(session, table)
        assert table.last_seq == 300 and [c["_key"] for c in changes] == [f"r{i}" for i in range(300)]
        assert session.scalar(sa.select(sa.func.count()).select_from(service.Record)) == 300
        # the table's lock went with the killed connection: the second batch is written whole, once
        result = service.upsert_records(session, None, table, second, check_auth=False)
        session.commit()
        assert result["inserted"] == 300 and service.get_table(session, ids["resource"]).last_seq == 600
