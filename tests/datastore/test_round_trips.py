"""Round trips on PostgreSQL (catalog/db.py ``_fold_round_trips``, issue 17): a transaction's BEGIN travels with
its first statement, and a statement held back (``db.HOLD_BACK``, the access log's entry) with the next one or
the COMMIT. What a reader or an auditor would notice if that went wrong: a transaction that is not one (its
writes kept after a rollback), a connection left in autocommit, a held-back write lost, reordered or committed
after its transaction failed, or a logged read whose entry is not there.

SQLite has no round trips (the database is in the process): these run on PostgreSQL only.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from bench.common import household_dataset
from catalog import create_app
from catalog.auth.models import User
from catalog.auth.service import create_token
from catalog.cli import run_migrations
from catalog.datasets.resources import create_resource
from catalog.datastore import service
from catalog.db import HOLD_BACK, get_db, make_engine
from tests.conftest import fresh_postgres_database

HELD = {HOLD_BACK: True}


@pytest.fixture(scope="module")
def engine():
    """An engine as the app makes it, on a database of its own (the tests commit)."""
    with fresh_postgres_database("catalog_round_trips") as url:
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (id integer PRIMARY KEY, note text)")
        yield engine
        engine.dispose()


@pytest.fixture(autouse=True)
def empty(engine):
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM t")


def stored(engine) -> list[int]:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT id FROM t ORDER BY id")).scalars().all()


def insert(conn, ident: int, *, held: bool = False) -> None:
    statement = sa.text("INSERT INTO t (id, note) VALUES (:id, 'x')")
    conn.execute(statement.execution_options(**HELD) if held else statement, {"id": ident})


def test_a_transaction_begun_with_its_first_statement_is_rolled_back_whole(engine):
    with engine.connect() as conn:
        insert(conn, 1)
        insert(conn, 2)
        conn.rollback()
        assert stored(engine) == []
        assert conn.connection.driver_connection.autocommit is False  # the next transaction begins again
        insert(conn, 3)
        conn.commit()
    assert stored(engine) == [3]


def test_a_failing_first_statement_fails_its_transaction_and_the_connection_goes_on(engine):
    with engine.begin() as conn:
        insert(conn, 1)
    with engine.connect() as conn:
        with pytest.raises(sa.exc.IntegrityError):
            insert(conn, 1)
        conn.rollback()
        insert(conn, 2)
        insert(conn, 3)
        conn.rollback()
        insert(conn, 4)
        conn.commit()
    assert stored(engine) == [1, 4]


def test_other_readers_do_not_see_a_transaction_before_its_commit(engine):
    with engine.connect() as conn:
        insert(conn, 1)
        assert stored(engine) == []
        conn.commit()
    assert stored(engine) == [1]


def test_a_held_back_insert_is_committed_with_the_commit_and_dropped_by_a_rollback(engine):
    with engine.connect() as conn:
        insert(conn, 1)
        insert(conn, 2, held=True)
        conn.commit()
        insert(conn, 3)
        insert(conn, 4, held=True)
        conn.rollback()
        insert(conn, 5)
        conn.commit()
    assert stored(engine) == [1, 2, 5]


def test_a_held_back_insert_comes_before_the_statements_after_it(engine):
    with engine.connect() as conn:
        insert(conn, 1)
        insert(conn, 2, held=True)
        assert conn.execute(sa.text("SELECT count(*) FROM t WHERE id > :floor"), {"floor": 0}).scalar() == 2
        insert(conn, 3, held=True)
        conn.execute(sa.text("UPDATE t SET note = 'seen' WHERE id = 3"))  # no parameters: sent on its own
        insert(conn, 4, held=True)
        conn.execute(sa.text("UPDATE t SET note = 'many' WHERE id = :id"), [{"id": 4}, {"id": 1}])
        conn.commit()
    with engine.connect() as conn:
        notes = dict(conn.execute(sa.text("SELECT id, note FROM t")).all())
    assert notes == {1: "many", 2: "x", 3: "seen", 4: "many"}


def test_a_held_back_insert_that_fails_fails_the_commit_and_nothing_is_kept(engine):
    with engine.begin() as conn:
        insert(conn, 1)
    with engine.connect() as conn:
        insert(conn, 2)
        insert(conn, 1, held=True)  # the key is taken: the error comes with the commit
        with pytest.raises(sa.exc.IntegrityError):
            conn.commit()
        conn.rollback()
        insert(conn, 3)
        conn.commit()
    assert stored(engine) == [1, 3]


def test_a_held_back_insert_inside_a_savepoint_rolled_back_is_gone(engine):
    with engine.connect() as conn:
        insert(conn, 1)
        savepoint = conn.begin_nested()
        insert(conn, 2, held=True)
        savepoint.rollback()
        conn.commit()
    assert stored(engine) == [1]


def test_a_held_back_insert_outside_a_transaction_is_written_at_once(engine):
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        insert(conn, 1, held=True)
        assert stored(engine) == [1]


def round_trips(trace: str) -> int:
    """Times the client waited on the server: each Sync (extended protocol) or Query (simple protocol) it sent."""
    sent = [line.split("\t") for line in trace.splitlines()]
    return sum(1 for parts in sent if "F" in parts and parts[parts.index("F") + 2].split()[0] in ("Sync", "Query"))


def test_a_logged_key_lookup_takes_five_round_trips_and_its_entry_is_committed(tmp_path):
    """BEGIN with the token's query, then the table, the page, the chain head, and the entry with COMMIT."""
    with fresh_postgres_database("catalog_round_trips_api") as url:
        app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "test",
                          "AUDIT_CHECKPOINT_PATH": str(tmp_path / "checkpoint.json")})
        run_migrations(app)
        database = get_db(app)
        with database.session() as session:
            admin = User(name="reader-admin", sysadmin=True)
            session.add(admin)
            session.flush()
            dataset = household_dataset(session, admin, department_name="ningshan-mzj",
                                        department_title="宁陕县民政局")
            resource = create_resource(session, admin, dataset, values={"name": "住户", "url": "http://localhost/ds"},
                                       record=False)
            table = service.create_table(session, admin, resource)
            resource_id = resource.id
            _token, secret = create_token(session, None, user=admin, name="t", check_auth=False)
            session.commit()
        client = app.test_client()
        headers = {"Authorization": secret}
        search = {"resource_id": resource_id, "filters": {"household_number": "610923100201010001"}}
        assert client.post("/api/3/action/datastore_search", json=search, headers=headers).status_code == 200
        path = tmp_path / "trace"
        with open(path, "w") as sink:
            def on_checkout(dbapi_connection, _record, _proxy):
                dbapi_connection.pgconn.trace(sink.fileno())

            def on_checkin(dbapi_connection, _record):
                dbapi_connection.pgconn.untrace()

            sa.event.listen(database.engine, "checkout", on_checkout)
            sa.event.listen(database.engine, "checkin", on_checkin)
            try:
                response = client.post("/api/3/action/datastore_search", json=search, headers=headers)
            finally:
                sa.event.remove(database.engine, "checkout", on_checkout)
                sa.event.remove(database.engine, "checkin", on_checkin)
        assert response.status_code == 200 and response.get_json()["result"]["records"] == []
        trace = path.read_text()
        assert round_trips(trace) == 5, trace
        with database.engine.connect() as conn:
            entries = conn.execute(sa.text("SELECT seq, action, resource_id FROM access_log ORDER BY seq")).all()
        assert [tuple(e) for e in entries] == [(seq, "datastore_search", resource_id) for seq in (1, 2)]
        database.engine.dispose()
