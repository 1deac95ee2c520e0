"""The change feed's windows, where the feed ends after a long run of rewrites (issue 20, `make mutate`).

A record written again and again leaves a long gap of sequence numbers behind it. When such a gap lies
at the end of the feed, the last page holds fewer changes than asked for, and the feed reads more than
one window to find them: each change must still come once, in order.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from catalog.auth.models import User
from catalog.datastore import query, service
from tests.api.conftest import org  # noqa: F401 - the department-with-roles fixture
from tests.datastore.test_actions import PEOPLE, people  # noqa: F401 - the table of five people
from tests.datastore.test_changes_concurrency import committed  # noqa: F401 - a committed table (id, value)


@pytest.mark.parametrize("window", [1, 3])
def test_the_last_page_after_a_long_gap_lists_each_change_once(api, people, org, monkeypatch, window):
    monkeypatch.setattr(query, "CHANGES_WINDOW", window)
    for age in range(62, 70):   # 王建国 (p1) corrected eight times: p1's earlier numbers are gone
        written = api.call("datastore_upsert", {"resource_id": people, "records": [dict(PEOPLE[0], age=age)]},
                           token=org.editor.token)
        assert written.status == 200, written.body
    seen, cursor = [], None
    for _page in range(10):
        page = api.call("datastore_changes", {"resource_id": people, "cursor": cursor, "limit": 2},
                        token=org.member.token).result
        assert len(page["changes"]) <= 2
        seen.extend((change["_key"], change.get("age")) for change in page["changes"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    # p2..p5 as first written, then p1 once, with its last age
    assert seen == [("p2", 35), ("p3", 8), ("p4", 120), ("p5", 35), ("p1", 69)]


def _write(database, ids, records):
    with database.session() as session:
        admin = session.get(User, ids["admin"])
        service.upsert_records(session, admin, service.get_table(session, ids["resource"]), records)
        session.commit()


def test_changes_come_in_order_after_the_database_reclaimed_the_room_of_rewritten_records(committed):
    """The database reclaims the room of superseded record versions at any time (PostgreSQL's autovacuum),
    and the next writes reuse it, in front of older changes. A consumer system paging the feed from its
    cursor must still get each change once, oldest first: otherwise its cursor jumps past changes it
    never received."""
    database, ids = committed
    _write(database, ids, [{"id": f"r{n}", "value": n} for n in range(10)])          # changes 1-10
    _write(database, ids, [{"id": f"r{n}", "value": 100 + n} for n in range(5)])     # 11-15: r0-r4 again
    if database.engine.dialect.name == "postgresql":   # what autovacuum may do now (SQLite reuses no slot)
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM datastore_record")
    _write(database, ids, [{"id": f"r{n}", "value": 200 + n} for n in range(5, 10)])  # 16-20: r5-r9 again
    seen, cursor = [], None
    for _page in range(10):
        with database.session() as session:
            page = query.changes(session, service.get_table(session, ids["resource"]), cursor=cursor, limit=3)
        seen.extend((change["_key"], change["value"]) for change in page["changes"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert seen == [(f"r{n}", 100 + n) for n in range(5)] + [(f"r{n}", 200 + n) for n in range(5, 10)]


def test_a_deleted_records_entry_keeps_its_chinese_key_as_written(api, client, make, org):
    """The feed is UTF-8 text in which Chinese stays as written (the records, the keys, every message): a
    deleted record's entry too, not escaped into ``\\uXXXX`` sequences (twice the bytes, unreadable in a
    consumer system's log)."""
    dataset = make.dataset(org.id, share_type="unconditional", share_condition=None)
    created = api.call("datastore_create", {
        "resource": {"package_id": dataset["id"], "name": "户主"},
        "fields": [{"id": "name", "type": "text"}, {"id": "town", "type": "text"}], "primary_key": "name",
        "records": [{"name": "王建国", "town": "城关镇"}, {"name": "李秀英", "town": "江口回族镇"}]},
        token=org.editor.token)
    assert created.status == 200, created.body
    resource = created.result["resource_id"]
    deleted = api.call("datastore_delete", {"resource_id": resource, "filters": {"name": "王建国"}},
                       token=org.editor.token)
    assert deleted.status == 200, deleted.body
    response = client.post("/api/3/action/datastore_changes", json={"resource_id": resource},
                           headers={"Authorization": org.member.token})
    text = response.get_data(as_text=True)
    changes = response.get_json()["result"]["changes"]
    assert [(change["_key"], change["_deleted"]) for change in changes] == [("李秀英", False), ("王建国", True)]
    assert changes[1]["name"] == "王建国"
    assert "\\u" not in text and text.count("王建国") == 2  # the tombstone's key member and its _key


def test_an_upsert_leaves_the_transactions_jit_setting_as_it_was(committed):
    """The merge runs without JIT compilation, then gives the transaction its own setting back: a caller who set
    it for the transaction (a sync run, a script) keeps it, not the server's default."""
    database, ids = committed
    if database.engine.dialect.name != "postgresql":
        pytest.skip("JIT is PostgreSQL's")
    with database.session() as session:
        server = session.scalar(sa.text("SHOW jit"))
        other = "off" if server == "on" else "on"
        session.execute(sa.text(f"SET LOCAL jit = {other}"))
        admin = session.get(User, ids["admin"])
        service.upsert_records(session, admin, service.get_table(session, ids["resource"]),
                               [{"id": f"j{n}", "value": n} for n in range(3)])
        assert session.scalar(sa.text("SHOW jit")) == other
        session.commit()
        assert session.scalar(sa.text("SHOW jit")) == server  # SET LOCAL ends with the transaction
