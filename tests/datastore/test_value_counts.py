"""Kept counts of common values (issue 17): the total of a filter on an indexed field is exact at any size
and is not counted again, whatever the writes since.

What a reading system notices: ``total`` and ``total_was_estimated`` of ``filters`` on a town. Here a value
is kept above 3 matches (``value_counts.KEEP_ABOVE``) and the estimation threshold is 5, so a town of 14
households would be estimated if it were counted as other fields are. The expected totals come from the
households the test wrote, never from the code's counts.
"""
from __future__ import annotations

import copy
import random
import threading
from collections import Counter

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from catalog import create_app
from catalog.auth.models import User
from catalog.cli import run_migrations
from catalog.datasets.resources import create_resource
from catalog.datasets.service import create_dataset
from catalog.datastore import key_blocks, query, service, value_counts, value_survey
from catalog.datastore.models import Record, ValueCount
from catalog.datastore.record_schemas import create_record_schema
from catalog.db import Base, get_db
from catalog.departments.service import create_department
from schemas.registry import load_schema
from tests.conftest import dataset_values
from tests.schemas.records_samples import households

THRESHOLD = 5
TOWNS = ("城关镇", "江口回族镇", "广货街镇")


@pytest.fixture
def kept_above_three(monkeypatch):
    monkeypatch.setattr(value_counts, "KEEP_ABOVE", 3)


@pytest.fixture
def towns(api, app, make, monkeypatch, sysadmin, kept_above_three):
    """A household table: 14 households in 城关镇, 6 in 江口回族镇, 2 in 广货街镇."""
    department = make.department("ningshan-mzj")
    made = make.dataset(department["id"], name="households-kept", record_schema="household@1",
                        share_type="unconditional", share_condition=None)
    created = api.call("datastore_create", {"resource": {"package_id": made["id"]}}, token=sysadmin.token)
    records = [dict(record, town=TOWNS[0] if number < 14 else TOWNS[1] if number < 20 else TOWNS[2])
               for number, record in enumerate(households(22, seed=41))]
    written = api.call("datastore_upsert", {"resource_id": created.result["resource_id"], "records": records},
                       token=sysadmin.token)
    assert written.status == 200, written.body
    monkeypatch.setitem(app.config, "DATASTORE_TOTAL_ESTIMATION_THRESHOLD", THRESHOLD)
    return {"resource_id": created.result["resource_id"], "token": sysadmin.token,
            "live": {r["household_number"]: r for r in records}}


def _total(api, towns, town: str) -> tuple[int, bool]:
    reply = api.call("datastore_search", {"resource_id": towns["resource_id"], "filters": {"town": town},
                                          "limit": 1}, token=towns["token"])
    assert reply.status == 200, reply.body
    return reply.result["total"], reply.result["total_was_estimated"]


def _kept(db, resource_id: str) -> dict[str, int]:
    return dict(db.execute(sa.select(ValueCount.value, ValueCount.live).where(
        ValueCount.resource_id == resource_id, ValueCount.field == "town")).all())


def _upsert(api, towns, records: list[dict], **params) -> None:
    reply = api.call("datastore_upsert", {"resource_id": towns["resource_id"], "records": records, **params},
                     token=towns["token"])
    assert reply.status == 200, reply.body
    for record in records:
        towns["live"][record["household_number"]] = record


def _delete(api, towns, keys: list[str]) -> None:
    reply = api.call("datastore_delete", {"resource_id": towns["resource_id"],
                                          "filters": {"household_number": keys}}, token=towns["token"])
    assert reply.status == 200, reply.body
    for key in keys:
        towns["live"].pop(key)


def _holding(towns, town: str) -> list[dict]:
    return sorted((r for r in towns["live"].values() if r["town"] == town), key=lambda r: r["household_number"])


def _totals_are_the_households(api, db, towns) -> None:
    expected = Counter(r["town"] for r in towns["live"].values())
    for town in TOWNS:
        assert _total(api, towns, town) == (expected[town], False), town
    # the common towns are kept, each with its live households; the small one is counted, never kept
    assert _kept(db, towns["resource_id"]) == {t: n for t, n in expected.items() if n > 3}


def test_a_common_town_s_total_is_its_households_exactly_after_every_kind_of_write(api, db, towns):
    assert _kept(db, towns["resource_id"]) == {}
    _totals_are_the_households(api, db, towns)
    assert _kept(db, towns["resource_id"]) == {"城关镇": 14, "江口回族镇": 6}
    in_town = _holding(towns, "城关镇")
    # a batch of distinct keys (the PostgreSQL merge): two households move, one changes something else, one
    # comes again unchanged, one new household
    new = dict(next(households(1, seed=43)), town="城关镇")
    assert new["household_number"] not in towns["live"]
    _upsert(api, towns, [dict(in_town[0], town="江口回族镇"), dict(in_town[1], town="江口回族镇"),
                         dict(in_town[2], grid_worker="新网格员"), in_town[3], new])
    _totals_are_the_households(api, db, towns)
    # deleted, then one of them written again (a tombstone made live) in another town
    _delete(api, towns, [in_town[4]["household_number"], in_town[5]["household_number"],
                         in_town[6]["household_number"]])
    _totals_are_the_households(api, db, towns)
    _upsert(api, towns, [dict(in_town[4], town="广货街镇")])
    _totals_are_the_households(api, db, towns)
    # the other write path: a key twice in a batch (the later one is stored), method insert, method update
    twice = _holding(towns, "江口回族镇")[0]
    batch = [dict(twice, town="城关镇"), dict(twice, town="广货街镇")]
    reply = api.call("datastore_upsert", {"resource_id": towns["resource_id"], "records": batch},
                     token=towns["token"])
    assert reply.status == 200, reply.body
    towns["live"][twice["household_number"]] = batch[-1]
    _totals_are_the_households(api, db, towns)
    inserted = [dict(r, town="城关镇") for r in households(3, seed=47)]
    assert not {r["household_number"] for r in inserted} & set(towns["live"])
    _upsert(api, towns, inserted, method="insert")
    _totals_are_the_households(api, db, towns)
    _upsert(api, towns, [dict(r, town="广货街镇") for r in _holding(towns, "城关镇")[:2]], method="update")
    _totals_are_the_households(api, db, towns)
    # 广货街镇 grew above 3: kept now; then emptied by deletes to 0, and kept at 0
    assert _kept(db, towns["resource_id"])["广货街镇"] == len(_holding(towns, "广货街镇")) > 3
    _delete(api, towns, [r["household_number"] for r in _holding(towns, "广货街镇")])
    assert _total(api, towns, "广货街镇") == (0, False)
    assert _kept(db, towns["resource_id"])["广货街镇"] == 0


def test_a_kept_total_is_read_from_its_row_not_counted(api, db, towns):
    assert _total(api, towns, "城关镇") == (14, False)
    db.execute(sa.update(ValueCount).where(ValueCount.resource_id == towns["resource_id"],
                                           ValueCount.value == "城关镇").values(live=9999))
    db.commit()
    # a write elsewhere (a new table version: no total of the earlier one is reused)
    _upsert(api, towns, [dict(_holding(towns, "江口回族镇")[0], grid_worker="另一网格员")])
    assert _total(api, towns, "城关镇") == (9999, False)


def test_a_filter_of_several_towns_adds_their_kept_and_counted_households(api, db, towns):
    reply = api.call("datastore_search", {"resource_id": towns["resource_id"], "limit": 1, "filters": {
        "town": ["城关镇", "广货街镇", "城关镇", "没有的镇"]}}, token=towns["token"])
    assert reply.status == 200, reply.body
    assert (reply.result["total"], reply.result["total_was_estimated"]) == (16, False)


def test_a_filter_of_kept_and_unkept_towns_adds_both_after_a_write(api, db, towns):
    several = {"town": ["城关镇", "广货街镇", "江口回族镇"]}

    def total():
        reply = api.call("datastore_search", {"resource_id": towns["resource_id"], "limit": 1, "filters": several},
                         token=towns["token"])
        return reply.result["total"], reply.result["total_was_estimated"]

    assert total() == (22, False)
    assert _kept(db, towns["resource_id"]) == {"城关镇": 14, "江口回族镇": 6}
    _upsert(api, towns, [dict(_holding(towns, "城关镇")[0], grid_worker="网格员丙")])  # a new table version
    assert total() == (22, False)  # 城关镇 kept, 广货街镇 counted, 江口回族镇 kept


def test_two_tables_of_the_same_towns_keep_and_move_their_own_counts(api, db, make, sysadmin, towns):
    department = make.department("ningshan-gaj")
    made = make.dataset(department["id"], name="households-elsewhere", record_schema="household@1",
                        share_type="unconditional", share_condition=None)
    created = api.call("datastore_create", {"resource": {"package_id": made["id"]}}, token=sysadmin.token)
    other = {"resource_id": created.result["resource_id"], "token": sysadmin.token, "live": {}}
    # the other table: 6 households of 城关镇, 2 of them deleted before anything is kept (a kept count holds
    # live records only), and 4 of 江口回族镇
    records = [dict(r, town="城关镇" if n < 6 else "江口回族镇") for n, r in enumerate(households(10, seed=71))]
    _upsert(api, other, records)
    _delete(api, other, [records[0]["household_number"], records[1]["household_number"]])
    assert _total(api, towns, "城关镇") == (14, False)
    assert _total(api, other, "城关镇") == (4, False)
    assert _total(api, other, "江口回族镇") == (4, False)
    assert _kept(db, towns["resource_id"]) == {"城关镇": 14}
    assert _kept(db, other["resource_id"]) == {"城关镇": 4, "江口回族镇": 4}
    # writes to one table move its own counts only
    _upsert(api, other, [dict(records[6], town="城关镇")])
    _delete(api, towns, [_holding(towns, "城关镇")[0]["household_number"]])
    assert _kept(db, towns["resource_id"]) == {"城关镇": 13}
    assert _kept(db, other["resource_id"]) == {"城关镇": 5, "江口回族镇": 3}
    assert _total(api, other, "城关镇") == (5, False)
    assert _total(api, towns, "城关镇") == (13, False)


def test_a_table_defined_again_with_other_fields_forgets_its_counts_and_a_dropped_one_loses_them(
        api, db, sysadmin, towns):
    assert _total(api, towns, "城关镇") == (14, False)
    table = service.get_table(db, towns["resource_id"])
    admin = db.get(User, sysadmin.id)
    service.create_table(db, admin, table.resource, record_schema="household@1")  # the same schema again
    db.commit()
    assert _kept(db, towns["resource_id"]) == {"城关镇": 14}
    # defined by a schema without the town's index (its totals counted, nothing kept), then by household@1 again
    plain = copy.deepcopy(load_schema("records", "household", 1))
    plain["properties"]["town"] = {k: v for k, v in plain["properties"]["town"].items() if k != "x-index"}
    ref, _made = create_record_schema(db, admin, name="household-plain", document=plain, owner_org=None)
    service.create_table(db, admin, service.get_table(db, towns["resource_id"]).resource, record_schema=ref)
    db.commit()
    assert _kept(db, towns["resource_id"]) == {}
    one = _holding(towns, "江口回族镇")[0]
    _upsert(api, towns, [dict(one, grid_worker="网格员甲")])  # a new table version: its totals found anew
    assert _total(api, towns, "城关镇")[1] is True  # counted up to twice the threshold, then estimated
    assert _kept(db, towns["resource_id"]) == {}
    service.create_table(db, admin, service.get_table(db, towns["resource_id"]).resource,
                         record_schema="household@1")
    db.commit()
    # (the estimate above is given again for a few more writes, as any estimate of this process: a new search)
    again = api.call("datastore_search", {"resource_id": towns["resource_id"], "filters": {"town": ["城关镇"]},
                                          "limit": 1}, token=towns["token"])
    assert (again.result["total"], again.result["total_was_estimated"]) == (14, False)  # kept again
    assert _kept(db, towns["resource_id"]) == {"城关镇": 14}
    dropped = api.call("datastore_delete", {"resource_id": towns["resource_id"]}, token=towns["token"])
    assert dropped.status == 200, dropped.body
    assert _kept(db, towns["resource_id"]) == {}


# --- kept before anyone asks: the scheduler's tick after a load -------------------------------------

def test_the_scheduler_tick_keeps_a_loaded_table_s_common_towns_before_any_read(
        api, app, db, make, monkeypatch, sysadmin, kept_above_three):
    # key blocks of 4-8 records: the tick's sample (the first record of each block) holds about 20 records
    monkeypatch.setattr(key_blocks, "BLOCK", 4)
    monkeypatch.setattr(key_blocks, "MOST", 8)
    monkeypatch.setattr(key_blocks, "FEWEST", 2)
    monkeypatch.setattr(value_survey, "LOOK_AFTER", 100)
    department = make.department("ningshan-mzj")
    made = make.dataset(department["id"], name="households-loaded", record_schema="household@1",
                        share_type="unconditional", share_condition=None)
    created = api.call("datastore_create", {"resource": {"package_id": made["id"]}}, token=sysadmin.token)
    resource_id = created.result["resource_id"]
    # 60 households in each of two towns, 3 in a third (not above 3: never kept)
    records = [dict(r, town=TOWNS[0] if n < 60 else TOWNS[1] if n < 120 else TOWNS[2])
               for n, r in enumerate(households(123, seed=61))]
    for start in range(0, 123, 41):
        assert api.call("datastore_upsert", {"resource_id": resource_id, "records": records[start:start + 41]},
                        token=sysadmin.token).status == 200
    towns = {"resource_id": resource_id, "token": sysadmin.token}
    assert _kept(db, resource_id) == {}
    assert value_survey.look_over_lagging(db) == 2
    assert _kept(db, resource_id) == {"城关镇": 60, "江口回族镇": 60}
    assert service.get_table(db, resource_id).values_seq == 123
    monkeypatch.setattr(value_survey, "look_over", lambda *args: pytest.fail("looked over again"))
    assert value_survey.look_over_lagging(db) == 0  # looked over up to its last change: not again
    # the first read of each town finds it kept: nothing is counted
    monkeypatch.setattr(value_counts, "keep", lambda *args: pytest.fail("a kept town counted again"))
    assert _total(api, towns, "城关镇") == (60, False)
    assert _total(api, towns, "江口回族镇") == (60, False)


# --- while others write (PostgreSQL: writers and readers at once) -----------------------------------

def _new_table(session: Session, name: str):
    admin = User(name=f"{name}-admin", sysadmin=True)
    session.add(admin)
    session.flush()
    dept = create_department(session, admin, name=f"{name}-dept")
    dataset = create_dataset(session, admin, values={**dataset_values(dept.id), "name": f"{name}-dataset",
                                                     "record_schema": "household@1"})
    resource = create_resource(session, admin, dataset, values={"url": "http://example.gov.cn/r.csv"},
                               record=False)
    return admin, service.create_table(session, admin, resource)


def _counted(session, resource_id: str, town: str) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Record).where(
        Record.resource_id == resource_id, Record.deleted.is_(False), Record.data["town"].as_string() == town))


@pytest.fixture
def committed(base_app, kept_above_three):
    """A committed household table of 120 records, half in each of two towns; everything removed afterwards."""
    database = get_db(base_app)
    if database.engine.dialect.name != "postgresql":
        pytest.skip("one writer at a time on SQLite: nothing runs beside a write")
    with database.session() as session:
        admin, table = _new_table(session, "kept-race")
        records = [dict(r, town=TOWNS[n % 2]) for n, r in enumerate(households(120, seed=53))]
        service.upsert_records(session, admin, table, records)
        session.commit()
        ids = {"admin": admin.id, "resource": table.resource_id}
    yield database, ids, records
    with database.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM dataset_search"))
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.mark.slow
def test_kept_counts_stay_the_households_of_each_snapshot_while_writers_move_them_and_readers_keep_them(committed):
    database, ids, records = committed
    keys = [r["household_number"] for r in records]
    errors: list = []
    done = threading.Event()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _round in range(30):
                with database.session() as session:
                    writer_admin = session.get(User, ids["admin"])
                    table = service.get_table(session, ids["resource"])
                    moved = rng.sample(records, 8)
                    batch = [dict(r, town=rng.choice(TOWNS)) for r in moved]
                    if rng.random() < 0.3:  # through the other write path: a key twice
                        batch.append(dict(batch[0], town=rng.choice(TOWNS)))
                    service.upsert_records(session, writer_admin, table, batch)
                    if rng.random() < 0.4:
                        service.delete_records(session, writer_admin, table,
                                               [Record.key.in_(rng.sample(keys, 3))])
                    session.commit()
        except Exception as exc:  # surfaced by the test
            errors.append(exc)

    keeps = [0]

    def forgetter() -> None:  # values forgotten again and again: each is kept anew while writers write
        try:
            while not done.is_set():
                with database.session() as session:
                    value_counts.forget(session, ids["resource"])
                    session.commit()
                with database.session() as session:
                    table = service.get_table(session, ids["resource"])
                    for town in TOWNS:
                        query.field_total(session, table, "town", [town])
                    keeps[0] += len(value_counts.kept(session, ids["resource"]).get("town", ()))
                    session.commit()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in (1, 2)]
    threads.append(threading.Thread(target=forgetter))
    for thread in threads:
        thread.start()
    checked = 0
    try:
        while any(thread.is_alive() for thread in threads[:2]) or checked < 10:
            with database.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
                with Session(bind=conn) as session:
                    kept = dict(session.execute(sa.select(ValueCount.value, ValueCount.live).where(
                        ValueCount.resource_id == ids["resource"])).all())
                    for town, live in kept.items():
                        assert live == _counted(session, ids["resource"], town), (town, kept)
                    checked += bool(kept)
    finally:
        done.set()
        for thread in threads:
            thread.join(60)
    assert not errors, errors
    assert keeps[0] >= 10 and checked >= 10, (keeps, checked)
    with database.session() as session:
        table = service.get_table(session, ids["resource"])
        for town in TOWNS:
            assert query.field_total(session, table, "town", [town]) == _counted(session, ids["resource"], town)
        session.commit()


def test_a_reader_of_an_older_snapshot_counts_the_whole_value_and_keeps_nothing(committed):
    """A total read in a REPEATABLE READ transaction cannot keep a count (its snapshot may miss writes committed
    before it took the table's lock): it counts the value's records and leaves it unkept."""
    database, ids, records = committed
    with database.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        with Session(bind=conn) as session:
            table = service.get_table(session, ids["resource"])
            assert query.field_total(session, table, "town", [TOWNS[0]]) == 60
            session.commit()
    with database.session() as session:
        assert value_counts.kept(session, ids["resource"]) == {}
        table = service.get_table(session, ids["resource"])
        assert query.field_total(session, table, "town", [TOWNS[0]]) == 60  # read committed: kept now
        session.commit()
        assert value_counts.counts(session, ids["resource"], "town", [TOWNS[0]]) == {TOWNS[0]: 60}


# --- the migration --------------------------------------------------------------------------------

@pytest.mark.slow
def test_migration_0028_keeps_the_common_values_of_existing_tables_and_writes_move_them(empty_database, tmp_path):
    app = create_app({"DATABASE_URL": empty_database, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "m"})
    database = get_db(app)
    try:
        run_migrations(app)
        with database.session() as session:
            admin, table = _new_table(session, "migrate-kept")
            records = [dict(r, town=TOWNS[0] if n < 1004 else TOWNS[1]) for n, r in
                       enumerate(households(1010, seed=59))]
            service.upsert_records(session, admin, table, records)
            service.delete_records(session, admin, table, [Record.key.in_(
                [r["household_number"] for r in records[:2]])])
            session.commit()
            ids = {"admin": admin.id, "resource": table.resource_id}
        run_migrations(app, "0027_search_member_index", downgrade=True)
        assert "datastore_value_count" not in sa.inspect(database.engine).get_table_names()
        run_migrations(app)
        with database.session() as session:
            # 1,002 live households of 城关镇 (above 1,000: kept); 6 of 江口回族镇 (not)
            assert session.execute(sa.select(ValueCount.field, ValueCount.value, ValueCount.live).where(
                ValueCount.resource_id == ids["resource"])).all() == [("town", "城关镇", 1002)]
            admin = session.get(User, ids["admin"])
            table = service.get_table(session, ids["resource"])
            assert table.values_seq == table.last_seq == 1012  # looked over: the tick leaves it until it grows
            service.upsert_records(session, admin, table, [dict(r, town=TOWNS[1]) for r in records[2:7]])
            session.commit()
        with database.session() as session:
            assert session.scalar(sa.select(ValueCount.live).where(ValueCount.resource_id == ids["resource"])) == 997
            table = service.get_table(session, ids["resource"])
            found = query.search_records(session, table, filters={"town": "城关镇"}, limit=1, total_threshold=10)
            assert (found["total"], found.get("total_was_estimated", False)) == (997, False)
    finally:
        database.engine.dispose()
