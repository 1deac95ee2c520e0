"""Pages by ``offset`` from the counted key blocks (issue 17): every page is the page a plain
``ORDER BY key OFFSET n LIMIT m`` gives over the same snapshot, after any write, and while others write.

A reader paging a table by ``offset`` (CKAN's way, kept beside the cursor) notices a record skipped or
shown twice, or a page that differs from what the table holds. The blocks are made small here (a few
records each) so that a few hundred records split and merge them many times over.
"""
from __future__ import annotations

import random
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from catalog import create_app
from catalog.auth.models import User
from catalog.cli import run_migrations
from catalog.datasets.resources import create_resource
from catalog.datasets.service import create_dataset
from catalog.db import Base, get_db
from catalog.departments.service import create_department
from catalog.datastore import key_blocks, query, service
from catalog.datastore.models import KeyBlock, Record
from tests.conftest import dataset_values


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 4 records (split above 8, merged below 2), and every offset read from the blocks."""
    monkeypatch.setattr(key_blocks, "BLOCK", 4)
    monkeypatch.setattr(key_blocks, "MOST", 8)
    monkeypatch.setattr(key_blocks, "FEWEST", 2)
    monkeypatch.setattr(query, "DEEP_OFFSET", 1)


def _new_table(session, name: str):
    admin = User(name=f"{name}-admin", sysadmin=True)
    session.add(admin)
    session.flush()
    dept = create_department(session, admin, name=f"{name}-dept")
    dataset = create_dataset(session, admin, values={**dataset_values(dept.id), "name": f"{name}-dataset"})
    resource = create_resource(session, admin, dataset, values={"url": "http://example.gov.cn/r.csv"},
                               record=False)
    table = service.create_table(session, admin, resource, fields=[{"id": "id", "type": "text"},
                                                                   {"id": "value", "type": "int"}],
                                 primary_key=["id"])
    return admin, table


def _plain(session, resource_id: str, offset: int, limit: int) -> list[str]:
    return list(session.scalars(sa.select(Record.key).where(Record.resource_id == resource_id,
                                                            Record.deleted.is_(False))
                                .order_by(Record.key).offset(offset).limit(limit)))


def _by_offset(session, table, offset: int, limit: int) -> list[str]:
    return [r["id"] for r in query.search_records(session, table, offset=offset, limit=limit,
                                                  include_total=False)["records"]]


def _blocks_hold_their_counts(session, resource_id: str) -> None:
    """Each block's count is the live records from its low key up to the next block's."""
    blocks = session.execute(sa.select(KeyBlock.low_key, KeyBlock.live).where(KeyBlock.resource_id == resource_id)
                             .order_by(KeyBlock.low_key)).all()
    assert blocks and blocks[0].low_key == ""
    for (low, live), after in zip(blocks, [*blocks[1:], None]):
        inside = [Record.resource_id == resource_id, Record.deleted.is_(False), Record.key >= low]
        if after is not None:
            inside.append(Record.key < after.low_key)
        assert session.scalar(sa.select(sa.func.count()).select_from(Record).where(*inside)) == live, low


def _every_page_is_the_plain_page(session, table, count: int) -> None:
    for limit in (1, 3, 7):
        for offset in range(0, count + 3):
            assert _by_offset(session, table, offset, limit) == _plain(session, table.resource_id, offset, limit), \
                (offset, limit)


def _keys(numbers) -> list[dict]:
    return [{"id": f"k{n:05d}", "value": n} for n in numbers]


def _live(session, resource_id: str) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Record).where(
        Record.resource_id == resource_id, Record.deleted.is_(False)))


def test_pages_by_offset_are_the_plain_pages_after_inserts_deletes_revivals_and_a_new_table(app, db, small_blocks):
    rng = random.Random(26)
    admin, table = _new_table(db, "blocks")
    resource = table.resource
    numbers = rng.sample(range(10_000), 240)
    # new keys in random order, in batches (the PostgreSQL merge), then one batch through the other write
    # path (a key twice in a batch, and method insert)
    for start in range(0, 200, 50):
        service.upsert_records(db, admin, table, _keys(numbers[start:start + 50]))
    service.upsert_records(db, admin, table, _keys(numbers[200:220]) + _keys(numbers[200:201]))
    service.upsert_records(db, admin, table, _keys(numbers[220:240]), method="insert")
    db.flush()
    _blocks_hold_their_counts(db, table.resource_id)
    assert db.scalar(sa.select(sa.func.count()).select_from(KeyBlock).where(
        KeyBlock.resource_id == table.resource_id)) >= 240 // 8
    _every_page_is_the_plain_page(db, table, 240)

    # deletions here and there, and a whole stretch (blocks emptied and merged)
    gone = sorted(numbers)[40:120] + rng.sample(sorted(numbers)[120:], 30)
    service.delete_records(db, admin, table, [Record.key.in_([f"k{n:05d}" for n in gone])])
    _blocks_hold_their_counts(db, table.resource_id)
    _every_page_is_the_plain_page(db, table, 240 - len(gone))

    # deleted keys written again (the tombstones revived) beside new keys and updates of live ones
    back = gone[::3]
    fresh = rng.sample(sorted(set(range(10_000)) - set(numbers)), 40)
    kept = [n for n in numbers if n not in gone][:20]
    service.upsert_records(db, admin, table, _keys(back + fresh) + [{"id": f"k{n:05d}", "value": -1} for n in kept])
    _blocks_hold_their_counts(db, table.resource_id)
    count = 240 - len(gone) + len(back) + len(fresh)
    assert _live(db, table.resource_id) == count
    _every_page_is_the_plain_page(db, table, count)
    everything = query.search_records(db, table, offset=5, limit=2, total_threshold=10)
    assert everything["total"] == count and not everything.get("total_was_estimated")

    # the table dropped and made again: a new generation whose blocks start from nothing
    service.drop_table(db, admin, table)
    db.flush()
    assert db.scalar(sa.select(sa.func.count()).select_from(KeyBlock).where(
        KeyBlock.resource_id == resource.id)) == 0
    table = service.create_table(db, admin, resource, fields=[{"id": "id", "type": "text"},
                                                              {"id": "value", "type": "int"}], primary_key=["id"])
    service.upsert_records(db, admin, table, _keys(range(500, 530)))
    _blocks_hold_their_counts(db, table.resource_id)
    _every_page_is_the_plain_page(db, table, 30)


def test_keys_in_rising_order_split_the_last_block_and_every_page_still_holds(app, db, small_blocks):
    admin, table = _new_table(db, "rising")
    for start in range(0, 90, 30):  # each batch lands beyond every key so far: the last block takes it all
        service.upsert_records(db, admin, table, _keys(range(start, start + 30)))
    _blocks_hold_their_counts(db, table.resource_id)
    _every_page_is_the_plain_page(db, table, 90)
    service.delete_records(db, admin, table, [Record.key >= "k00010"])  # all but the first ten
    _blocks_hold_their_counts(db, table.resource_id)
    _every_page_is_the_plain_page(db, table, 10)


def test_a_page_by_offset_through_the_api_is_the_plain_page_with_an_exact_total(api, app, db, small_blocks,
                                                                              sysadmin, make):
    department = make.department("offset-dept")
    made = make.dataset(department["id"], name="offset-table")
    created = api.call("datastore_create", {"resource": {"package_id": made["id"]}, "primary_key": ["id"],
                                            "fields": [{"id": "id", "type": "text"}, {"id": "value", "type": "int"}]},
                       token=sysadmin.token)
    resource_id = created.result["resource_id"]
    assert api.call("datastore_upsert", {"resource_id": resource_id, "records": _keys(range(0, 120, 2))},
                    token=sysadmin.token).status == 200
    assert api.call("datastore_delete", {"resource_id": resource_id, "filters": {"id": ["k00010", "k00012"]}},
                    token=sysadmin.token).status == 200
    assert api.call("datastore_upsert", {"resource_id": resource_id, "records": _keys([1, 11, 111])},
                    token=sysadmin.token).status == 200
    for offset in (0, 5, 20, 44, 58, 60, 61, 70):
        page = api.call("datastore_search", {"resource_id": resource_id, "offset": offset, "limit": 5,
                                             "total_estimation_threshold": 10}, token=sysadmin.token)
        assert page.status == 200, page.body
        assert [r["id"] for r in page.result["records"]] == _plain(db, resource_id, offset, 5)
        assert page.result["total"] == 61 and not page.result.get("total_was_estimated")


# --- while others write (committed for real, PostgreSQL) ------------------------------------------

START = 400


@pytest.fixture
def committed(base_app, small_blocks):
    """A committed table of START records keyed k00000, k00002, …; everything removed afterwards."""
    database = get_db(base_app)
    with database.session() as session:
        admin, table = _new_table(session, "offset-paging")
        service.upsert_records(session, admin, table, _keys(range(0, 2 * START, 2)))
        session.commit()
        ids = {"admin": admin.id, "resource": table.resource_id}
    yield database, ids
    with database.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM dataset_search"))
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


def _postgres_only(database) -> None:
    if database.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers: SQLite takes one writer at a time and every transaction whole")


def _write(database, ids, *, add=(), delete=()) -> None:
    with database.session() as session:
        admin = session.get(User, ids["admin"])
        table = service.get_table(session, ids["resource"])
        if add:
            service.upsert_records(session, admin, table, _keys(add))
        if delete:
            service.delete_records(session, admin, table, [Record.key.in_([f"k{n:05d}" for n in delete])])
        session.commit()


def test_a_page_read_after_writes_that_followed_the_table_s_read_is_the_plain_page(committed):
    """A request reads the table, then its page: writes committed in between (keys added before the offset,
    keys deleted) must show in the page as they show in the plain query after them."""
    database, ids = committed
    _postgres_only(database)
    with database.session() as session:
        table = service.get_table(session, ids["resource"])
        assert _by_offset(session, table, 300, 5) == _plain(session, ids["resource"], 300, 5)
        session.commit()  # READ COMMITTED: the next statement sees what was committed since
        _write(database, ids, add=range(1, 201, 2), delete=range(0, 60, 2))
        page = _by_offset(session, table, 300, 5)  # the table object as read before the writes
        assert page == _plain(session, ids["resource"], 300, 5)
        assert page == [f"k{n:05d}" for n in sorted({*range(60, 2 * START, 2), *range(1, 201, 2)})[300:305]]


@pytest.mark.slow
def test_pages_by_offset_while_writers_add_and_delete_keys_are_the_plain_pages_of_their_snapshot(committed):
    database, ids = committed
    _postgres_only(database)
    errors: list = []
    done = threading.Event()

    def writer(seed: int):
        rng = random.Random(seed)
        try:
            for _batch in range(25):
                fresh = rng.sample(range(1, 4 * START, 2), 15)
                _write(database, ids, add=fresh + rng.sample(range(0, 2 * START, 2), 5),
                       delete=rng.sample(range(0, 4 * START), 20))
        except Exception as exc:  # surfaced by the test
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in (1, 2)]
    for thread in threads:
        thread.start()
    rng, compared = random.Random(3), 0
    try:
        while any(thread.is_alive() for thread in threads) or compared < 20:
            # one snapshot for the page and for the plain query beside it
            with database.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
                with Session(bind=conn) as session:
                    table = service.get_table(session, ids["resource"])
                    live = _live(session, ids["resource"])
                    offset, limit = rng.randrange(0, live + 5), rng.choice((1, 10, 50))
                    assert _by_offset(session, table, offset, limit) == _plain(session, ids["resource"], offset,
                                                                               limit), (offset, limit)
                    _blocks_hold_their_counts(session, ids["resource"])
            compared += 1
    finally:
        done.set()
        for thread in threads:
            thread.join(60)
    assert not errors, errors
    assert compared >= 20


# --- the migration --------------------------------------------------------------------------------

@pytest.mark.slow
def test_migration_0026_counts_the_blocks_of_existing_tables_and_writes_go_on_from_them(empty_database, tmp_path):
    app = create_app({"DATABASE_URL": empty_database, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "m"})
    database = get_db(app)
    try:
        run_migrations(app)
        with database.session() as session:
            admin, table = _new_table(session, "migrate")
            ids = {"admin": admin.id, "resource": table.resource_id}
            empty = service.create_table(session, admin, create_resource(
                session, admin, table.resource.dataset, values={"url": "http://example.gov.cn/empty.csv"},
                record=False), fields=[{"id": "id", "type": "text"}], primary_key=["id"]).resource_id
            session.commit()
        _write(database, ids, add=range(0, 5000, 2))
        _write(database, ids, delete=range(0, 5000, 6))
        live = 2500 - len(range(0, 5000, 6))
        run_migrations(app, "0025_datastore_field_key_indexes", downgrade=True)
        assert "datastore_key_block" not in sa.inspect(database.engine).get_table_names()
        run_migrations(app)
        with database.session() as session:
            blocks = session.execute(sa.select(KeyBlock.low_key, KeyBlock.live).where(
                KeyBlock.resource_id == ids["resource"]).order_by(KeyBlock.low_key)).all()
            assert blocks[0].low_key == "" and [b.live for b in blocks] == [1000, live - 1000]
            assert session.execute(sa.select(KeyBlock.low_key, KeyBlock.live).where(
                KeyBlock.resource_id == empty)).all() == [("", 0)]
            _blocks_hold_their_counts(session, ids["resource"])
        _write(database, ids, add=range(1, 41, 2), delete=range(2, 40, 6))
        with database.session() as session:
            table = service.get_table(session, ids["resource"])
            _blocks_hold_their_counts(session, ids["resource"])
            count = _live(session, ids["resource"])
            for offset in (0, 999, 1000, 1001, count - 1):
                assert _by_offset(session, table, offset, 10) == _plain(session, ids["resource"], offset, 10)
    finally:
        database.engine.dispose()
