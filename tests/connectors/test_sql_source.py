"""The sql source on a SQLite file and on PostgreSQL: keyset pages over (cursor, key), incremental
runs, resuming after a crash, state types, query mode, errors."""
from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest
import sqlalchemy as sa

from connectors import Mapping, Row, SourceError, Stream, TransientSourceError
from connectors.sources import get
from connectors.sources.sql import decode_state, encode_state
from tests.connectors.helpers import MemoryTarget, sync

PG_ENV = "CATALOG_TEST_POSTGRES_URL"
BASE = dt.datetime(2026, 1, 3, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _pg_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url:
        return None
    parsed = sa.engine.make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """(url, engine, table) with a fresh, uniquely named petitions table; dropped afterwards."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'department.db'}"
    else:
        url = _pg_url()
        if url is None:
            pytest.skip(f"set {PG_ENV} to run the sql source tests on PostgreSQL")
    engine = sa.create_engine(url)
    name = f"connectors_petition_{uuid.uuid4().hex[:10]}"
    table = sa.Table(name, sa.MetaData(),
                     sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                     sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
                     sa.Column("title", sa.String(100)),
                     sa.Column("amount", sa.Numeric(10, 2)))
    table.create(engine)
    try:
        yield url, engine, table
    finally:
        table.drop(engine)
        engine.dispose()


def fill(engine, table, ids, *, group=7, title="诉求", minutes=0):
    """Rows whose updated_at repeats in groups of ``group`` ids (ties across page boundaries)."""
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"id": i, "updated_at": BASE + dt.timedelta(minutes=minutes + i // group),
                                       "title": f"{title}{i}", "amount": f"{i}.50"} for i in ids])


MAPPING = Mapping.from_config({"datetimes": ["updated_at"], "numbers": ["amount"]})


#: the test server's login is the postgres superuser, which the source refuses unless told
#: (the refusal itself: tests/security/test_sync_sources.py); harmless for SQLite
SUPERUSER_OK = {"allow_superuser": True}


def config(url, table, **extra):
    return {**SUPERUSER_OK, "url": url, "table": table.name, "cursor_field": "updated_at", "primary_key": "id",
            "page_size": 4, **extra}


def run(url, table, target, **options):
    return sync(get("sql"), config(url, table, **options.pop("source", {})), target, mapping=MAPPING,
                mode="incremental", **options)


def test_pages_ordered_by_cursor_then_key_read_every_row_once(db):
    url, engine, table = db
    fill(engine, table, range(1, 31))
    items = list(get("sql").read(config(url, table), Stream(table.name), None))
    rows = [item for item in items if isinstance(item, Row)]
    assert [r.data["id"] for r in rows] == list(range(1, 31))
    assert [r.row_number for r in rows] == list(range(1, 31))
    assert items[-1].state["key"] == 30 and len(items) == 60  # a checkpoint after every row


def test_incremental_reads_only_rows_after_the_state_including_ties_on_the_cursor(db):
    url, engine, table = db
    fill(engine, table, range(1, 21))
    target = MemoryTarget(["id"])
    first = run(url, table, target, batch_size=6)
    assert first.succeeded and (first.read, first.inserted) == (20, 20)
    assert target.state()["key"] == 20
    if engine.dialect.name == "postgresql":  # a native timestamp: the state says how to bind it back
        assert target.state()["types"] == {"cursor": "datetime"}
    else:  # SQLite returns the stored text, bound back as it is
        assert isinstance(target.state()["cursor"], str) and "types" not in target.state()
    # same cursor value as the last row read (id 20 is in the group of ids 14-20) but a larger key
    with engine.begin() as conn:
        last_cursor = conn.execute(sa.select(table.c.updated_at).where(table.c.id == 20)).scalar_one()
        conn.execute(table.insert(), [{"id": 21, "updated_at": last_cursor, "title": "同一时刻", "amount": 1}])
        conn.execute(table.update().where(table.c.id.in_([3, 8])).values(
            title="已更新", updated_at=BASE + dt.timedelta(days=1)))
    fill(engine, table, [22, 23], minutes=60 * 24 * 2)
    second = run(url, table, target, batch_size=6)
    assert second.succeeded
    assert (second.read, second.inserted, second.updated, second.unchanged) == (5, 3, 2, 0)
    assert target.records["8"]["title"] == "已更新" and target.records["21"]["title"] == "同一时刻"
    third = run(url, table, target)
    assert third.succeeded and third.read == 0 and third.state == second.state


def test_an_incremental_run_after_a_crash_loses_nothing_and_reads_nothing_twice(db):
    url, engine, table = db
    fill(engine, table, range(1, 41))
    target = MemoryTarget(["id"], crash_after=3)
    crashed = run(url, table, target, batch_size=5)
    assert crashed.status == "failed" and crashed.read == 15 and target.state()["key"] == 15
    target.crash_after = None
    rerun = run(url, table, target, batch_size=5)
    assert rerun.succeeded and (rerun.read, rerun.inserted, rerun.unchanged) == (25, 25, 0)
    assert sorted(target.inserted_keys(), key=int) == [str(i) for i in range(1, 41)]
    record = target.records["40"]
    # PostgreSQL answers in the session's zone (UTC here), SQLite the naive text (+08:00 by the mapping)
    assert dt.datetime.fromisoformat(record.pop("updated_at")) == BASE + dt.timedelta(minutes=5)
    assert record == {"id": 40, "title": "诉求40", "amount": 40.5}


def test_rows_with_a_null_cursor_are_left_out_with_a_warning(db):
    url, engine, table = db
    fill(engine, table, range(1, 4))
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"id": 9, "updated_at": None, "title": "无时间"}])
    target = MemoryTarget(["id"])
    report = run(url, table, target)
    assert report.read == 3 and any("1 rows have no updated_at (NULL)" in line for line in report.log)


def test_query_mode_and_key_only_paging(db):
    url, engine, table = db
    fill(engine, table, range(1, 12))
    target = MemoryTarget(["id"])
    source = {**SUPERUSER_OK, "url": url, "query": f"SELECT id, title FROM {table.name} WHERE id % 2 = 1;",
              "primary_key": ["id"], "page_size": 2}
    report = sync(get("sql"), source, target, mode="incremental")
    assert report.succeeded and sorted(target.records, key=int) == ["1", "3", "5", "7", "9", "11"]
    assert report.state == {"key": 11}
    [stream] = get("sql").discover(source)
    assert stream.fields == ["id", "title"] and stream.primary_key == ["id"]


def test_discover_reflects_the_tables_columns_and_primary_key(db):
    url, _engine, table = db
    [stream] = get("sql").discover({**SUPERUSER_OK, "url": url, "table": table.name, "cursor_field": "updated_at"})
    assert stream == Stream(table.name, ["id", "updated_at", "title", "amount"], ["id"], "updated_at")


def test_without_cursor_or_key_the_table_is_streamed_once(db):
    url, engine, table = db
    fill(engine, table, range(1, 6))
    items = list(get("sql").read({**SUPERUSER_OK, "url": url, "table": table.name}, Stream(table.name), None))
    assert [i.data["id"] for i in items] == [1, 2, 3, 4, 5]  # rows only, no checkpoints


def test_state_values_keep_their_types_through_json():
    moment = dt.datetime(2026, 1, 3, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    import decimal
    state = encode_state(("updated_at", moment), [decimal.Decimal("1.50"), "A-1"])
    assert state == {"cursor": "2026-01-03T09:30:00+08:00", "key": ["1.50", "A-1"],
                     "types": {"cursor": "datetime", "key": ["decimal", None]}}
    assert decode_state(state, True, 2) == [moment, decimal.Decimal("1.50"), "A-1"]
    assert encode_state(("c", "2026-01-03 09:30:00"), [7]) == {"cursor": "2026-01-03 09:30:00", "key": 7}


def test_a_missing_table_or_file_is_a_failed_report(tmp_path, db):
    url, _engine, _table = db
    missing = {**SUPERUSER_OK, "url": url, "table": "no_such_table_here", "primary_key": "id"}
    report = sync(get("sql"), missing, MemoryTarget(["id"]))
    assert report.status == "failed" and report.error_message == "the database has no table 'no_such_table_here'"
    report = sync(get("sql"), missing, MemoryTarget(["id"]), stream=Stream("no_such_table_here"))
    assert report.error_message.startswith("database error while reading: ")
    assert "no_such_table_here" in report.error_message
    report = sync(get("sql"), {"url": f"sqlite:///{tmp_path / 'gone.db'}", "table": "t"}, MemoryTarget(["id"]))
    assert report.error_message == f"file not found: {tmp_path / 'gone.db'}"
    with pytest.raises(SourceError, match="give either table or query"):
        get("sql").check({"url": url, "table": "a", "query": "select 1"})


def test_an_unreachable_server_is_transient_and_retried():
    source = {"url": "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2", "table": "t",
              "primary_key": "id"}
    with pytest.raises(TransientSourceError):
        list(get("sql").read(source, Stream("t"), None))
    sleeps = []
    report = sync(get("sql"), source, MemoryTarget(["id"]), retries=2, sleep=sleeps.append)
    assert report.status == "failed" and report.error_message.endswith("(still failing after 2 retries)")
    assert len(sleeps) == 2
