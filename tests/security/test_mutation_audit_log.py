"""More attacks on the access log by someone who can write the database (issue 20, `make mutate`).

As in test_audit_chain.py: plain SQL from outside, then `catalog audit verify` must exit 1 naming what
was done. Here: rows slipped in without a place in the chain, an entry of an earlier branch of the log
spliced back in, the newest entries deleted with the head row left; and two things that are not attacks:
a read logged while verify runs, and verify_chain's own answer for an edited checkpoint.
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy import event

from catalog import create_app
from catalog.db import get_db, get_session
from catalog.sharing.access_log import verify_chain
from catalog.sharing.models import AccessLogEntry
from tests.security.test_audit_chain import (  # noqa: F401
    _engine, _loads, _utc, catalog_env, checkpoint, read_records, rows, verify)


def _as_written(row: dict) -> dict:
    """A row read back with plain SQL, as values to insert again."""
    return dict(row, timestamp=_utc(row["timestamp"]), departments=_loads(row["departments"]),
                params=_loads(row["params"]))


def _insert_unnumbered(conn, like: dict, user_name: str) -> int:
    values = {k: v for k, v in _as_written(like).items() if k not in ("id", "seq")}
    values.update(user_name=user_name, record_count=0)
    conn.execute(sa.insert(AccessLogEntry.__table__).values(**values))
    return conn.scalar(sa.select(sa.func.max(AccessLogEntry.id)))


def test_rows_inserted_without_a_place_in_the_chain_are_detected(catalog_env):
    """Two reads slipped in with no sequence number (a copy of a genuine entry's MAC, or anything): the
    chain itself is untouched, but the log holds reads that are not in it; verify names the first."""
    read_records(3)
    genuine = rows()[1]
    with _engine().begin() as conn:
        first = _insert_unnumbered(conn, genuine, "planted-1")
        _insert_unnumbered(conn, genuine, "planted-2")
    code, output = verify()
    assert code == 1
    assert f"entry {first} has no place in the chain (inserted)" in output


def test_an_entry_of_an_earlier_branch_spliced_back_in_is_detected(catalog_env):
    """The log is cut back to #3 and grows again (#4', #5'); the attacker then puts the old #5, genuinely
    signed, back in place of #5' and moves the head to it. Every entry's MAC holds and the newest matches
    the checkpoint, but #5 does not follow #4'."""
    read_records(5)
    old_fifth = rows()[4]
    kept = rows()[2]
    with _engine().begin() as conn:
        conn.execute(sa.text("DELETE FROM access_log WHERE seq > 3"))
        conn.execute(sa.text("UPDATE access_log_head SET seq = 3, last_hash = :h"), {"h": kept["hash"]})
    read_records(2, record_count=1)   # #4' and #5'
    new_fifth = rows()[4]
    with _engine().begin() as conn:
        conn.execute(sa.text("DELETE FROM access_log WHERE seq = 5"))
        conn.execute(sa.insert(AccessLogEntry.__table__).values(
            **{k: v for k, v in _as_written(old_fifth).items() if k != "id"}))
        conn.execute(sa.text("UPDATE access_log_head SET seq = 5, last_hash = :h"), {"h": old_fifth["hash"]})
    spliced = rows()[4]
    assert spliced["hash"] == old_fifth["hash"] != new_fifth["hash"]
    code, output = verify()
    assert code == 1
    assert f"entry {spliced['id']} (#5) does not follow the entry before it" in output


def test_deleting_the_newest_entries_and_leaving_the_head_is_detected(catalog_env):
    """The last two reads deleted, the head row left as it was: verify names the missing range."""
    read_records(5)
    with _engine().begin() as conn:
        conn.execute(sa.text("DELETE FROM access_log WHERE seq > 3"))
    code, output = verify()
    assert code == 1
    assert "entries after #3 are missing: the head records #5 (the newest entries were deleted)" in output


def test_a_read_logged_while_verify_walks_the_log_is_not_taken_for_a_deletion(catalog_env):
    """A read is logged (and committed) just as verify, having walked the entries, looks at the head: the
    new entry is either outside verify's snapshot (SQLite) or checked too (PostgreSQL, which sees each
    statement's committed rows); it is never reported as missing."""
    read_records(3)
    state = {"armed": True}

    def append_once(conn, cursor, statement, parameters, context, executemany):
        if state["armed"] and statement.lstrip().upper().startswith("SELECT") and "access_log_head" in statement:
            state["armed"] = False
            read_records(1)

    event.listen(sa.engine.Engine, "before_cursor_execute", append_once)
    try:
        code, output = verify()
    finally:
        event.remove(sa.engine.Engine, "before_cursor_execute", append_once)
    assert state["armed"] is False   # the read was logged during the walk
    assert code == 0, output
    assert "chain intact" in output
    assert len(rows()) == 4


def test_verify_chain_reports_an_edited_checkpoint_as_not_verified(catalog_env):
    """verify_chain's own answer, before any caller moves the checkpoint on: not verified, no entry checked,
    and why."""
    read_records(2)
    path = catalog_env / "audit-checkpoint.json"
    document = json.loads(path.read_text())
    path.write_text(json.dumps(dict(document, seq=1)))
    app = create_app()
    with app.app_context():
        ok, checked, message = verify_chain(get_session())
    get_db(app).engine.dispose()
    assert (ok, checked) == (False, 0)
    assert "does not carry a valid signature (forged or edited)" in message


def test_verify_chain_without_a_checkpoint_counts_the_entries_it_checked(catalog_env):
    read_records(2)
    (catalog_env / "audit-checkpoint.json").unlink()
    app = create_app()
    with app.app_context():
        ok, checked, message = verify_chain(get_session())
    get_db(app).engine.dispose()
    assert (ok, checked) == (False, 2)
    assert message.startswith("no checkpoint at ")


def test_audit_verify_moves_a_lagging_checkpoint_on_and_verify_chain_alone_only_looks(catalog_env, monkeypatch):
    """Two reads were logged by a process whose checkpoint file was elsewhere: the checkpoint still names
    #2. The log verifies; `catalog audit verify` then moves the checkpoint to #4, verify_chain alone does
    not move it."""
    read_records(2)
    monkeypatch.setenv("CATALOG_AUDIT_CHECKPOINT_PATH", str(catalog_env / "elsewhere.json"))
    read_records(2)
    monkeypatch.delenv("CATALOG_AUDIT_CHECKPOINT_PATH")
    assert checkpoint(catalog_env)["seq"] == 2
    app = create_app()
    with app.app_context():
        ok, checked, _message = verify_chain(get_session())
    get_db(app).engine.dispose()
    assert (ok, checked) == (True, 4)
    assert checkpoint(catalog_env)["seq"] == 2
    code, output = verify()
    assert code == 0, output
    assert (checkpoint(catalog_env)["seq"], checkpoint(catalog_env)["mac"]) == (4, rows()[-1]["hash"])
