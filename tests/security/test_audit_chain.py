"""The access log against someone who can write the database (issue 12, finding 6; issue 20).

Each attack rewrites the log with plain SQL, as a database administrator or an SQL injection could,
and must make `catalog audit verify` (run through the command line) exit 1 naming the first broken
entry or the entries missing after the checkpoint. The attacker has no file access to the instance
folder and does not know the audit key. Each test builds its own database (SQLite, PostgreSQL), since
the checkpoint follows real commits.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner

import catalog.models  # noqa: F401  (every model in the metadata)
from catalog import create_app
from catalog.auth.models import User
from catalog.auth.service import create_user
from catalog.cli import main, run_migrations
from catalog.datasets.models import Dataset
from catalog.datasets.service import create_dataset, get_dataset
from catalog.db import Base, get_db, get_session
from catalog.departments.service import create_department
from catalog.sharing.access_log import append_entry, audit_key, entry_mac
from catalog.sharing.models import AccessLogEntry
from tests.conftest import fresh_postgres_database

SECRET = "audit-test-secret-key"


@contextlib.contextmanager
def _database(kind: str, tmp_path: Path):
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
    else:
        with fresh_postgres_database("catalog_audit") as url:
            yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_env(request, tmp_path, monkeypatch):
    """A migrated database of each kind, named to the command line through the environment."""
    with _database(request.param, tmp_path) as url:
        monkeypatch.setenv("CATALOG_INSTANCE_PATH", str(tmp_path / "instance"))
        monkeypatch.setenv("CATALOG_DATABASE_URL", url)
        monkeypatch.setenv("CATALOG_SECRET_KEY", SECRET)
        for name in ("CATALOG_AUDIT_KEY", "CATALOG_AUDIT_CHECKPOINT_PATH", "CATALOG_AUDIT_OLD_KEY"):
            monkeypatch.delenv(name, raising=False)
        upgraded = cli("db", "upgrade")
        assert upgraded.exit_code == 0, upgraded.output
        _dataset()
        yield tmp_path / "instance"
        with contextlib.suppress(Exception):
            _engine().dispose()


_engines: dict[str, sa.Engine] = {}


def _engine() -> sa.Engine:
    """The attacker's own connection to the database (plain SQL, no key)."""
    url = os.environ["CATALOG_DATABASE_URL"]
    if url not in _engines:
        _engines[url] = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    return _engines[url]


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def _dataset() -> None:
    app = create_app()
    with app.app_context():
        session = get_session()
        admin = create_user(session, None, name="admin", password="correct-horse", sysadmin=True, check_auth=False)
        department = create_department(session, admin, name="ningshan-gaj", title="宁陕县公安局")
        create_dataset(session, admin, values={
            "name": "household-register", "title": "宁陕县住户信息", "notes": "全县住户及家庭成员信息。",
            "owner_org": department.id, "resource_code": "101001/000001", "category": "101",
            "share_type": "unconditional", "share_method": {"channel": "platform", "type": "api"},
            "open_type": "none", "open_condition": "含个人信息，依法不予开放", "update_cycle": "monthly",
            "publish_date": "2026-01-03", "items": [{"name": "户编号", "type": "C"}]}, tags=["住户"])
        session.commit()
    get_db(app).engine.dispose()


def read_records(count: int, *, record_count: int = 7, app=None) -> None:
    """``count`` reads, each logged and committed as a request does (by ``app``, else a new one)."""
    app = app or create_app()
    with app.app_context():
        session = get_session()
        reader = session.scalar(sa.select(User).where(User.name == "admin"))
        dataset = get_dataset(session, "household-register")
        for _ in range(count):
            append_entry(session, reader, action="datastore_search", dataset=dataset, resource_id=None,
                         departments=["ningshan-gaj"], params={"filters": {"town": "城关镇"}},
                         record_count=record_count)
            session.commit()
    get_db(app).engine.dispose()


def rows() -> list[dict]:
    with _engine().connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM access_log ORDER BY seq"))]


def checkpoint(instance: Path) -> dict:
    return json.loads((instance / "audit-checkpoint.json").read_text())


def verify():
    result = cli("audit", "verify")
    return result.exit_code, result.output


def _loads(value):
    return json.loads(value) if isinstance(value, str) else value


def _utc(value) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _old_scheme_hash(row: dict) -> str:
    """The SHA-256 the chain used to be made of: anyone can compute it."""
    content = {"timestamp": _utc(row["timestamp"]).isoformat(), "action": row["action"], "user_id": row["user_id"],
               "user_name": row["user_name"], "departments": _loads(row["departments"]),
               "package_id": row["package_id"], "owner_org": row["owner_org"], "resource_id": row["resource_id"],
               "params": _loads(row["params"]), "record_count": row["record_count"], "prev_hash": row["prev_hash"]}
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _entry(row: dict) -> AccessLogEntry:
    """The row as an entry, to compute what an attacker would store."""
    entry = AccessLogEntry(**{k: v for k, v in row.items() if k not in ("departments", "params", "timestamp")})
    entry.departments, entry.params = _loads(row["departments"]), _loads(row["params"])
    entry.timestamp = _utc(row["timestamp"])
    return entry


def _rechain(conn, entries: list[dict], compute) -> None:
    """Write ``entries`` back with every hash recomputed by ``compute(row)``, and the head after them."""
    previous = "0" * 64
    for row in entries:
        row["prev_hash"] = previous
        row["hash"] = previous = compute(row)
        conn.execute(sa.text("UPDATE access_log SET prev_hash = :p, hash = :h, key_id = :k, record_count = :c "
                             "WHERE id = :id"),
                     {"p": row["prev_hash"], "h": row["hash"], "k": row["key_id"], "c": row["record_count"],
                      "id": row["id"]})
    conn.execute(sa.text("UPDATE access_log_head SET last_hash = :h, seq = :s"),
                 {"h": previous, "s": len(entries)})


# --- the untouched log --------------------------------------------------------------------------

def test_the_untouched_log_verifies_and_its_checkpoint_follows_each_commit(catalog_env):
    read_records(5)
    assert checkpoint(catalog_env)["seq"] == 5
    assert checkpoint(catalog_env)["mac"] == rows()[-1]["hash"]
    code, output = verify()
    assert code == 0, output
    assert "5 entries, chain intact, checkpoint #5 present" in output
    with _engine().connect() as conn:
        stored = " ".join(str(v) for table in ("access_log", "access_log_head")
                          for row in conn.execute(sa.text(f"SELECT * FROM {table}")) for v in row)
    assert audit_key(SECRET).secret.hex() not in stored and SECRET not in stored  # the key stays out of the database
    assert (catalog_env / "audit-checkpoint.json").stat().st_mode & 0o777 == 0o600  # the catalog's own user only


# --- the attacks --------------------------------------------------------------------------------

def test_deleting_every_entry_and_the_head_row_is_detected(catalog_env):
    read_records(5)
    with _engine().begin() as conn:
        conn.execute(sa.text("DELETE FROM access_log"))
        conn.execute(sa.text("DELETE FROM access_log_head"))
    code, output = verify()
    assert code == 1
    assert "entries after #0 are missing: checkpoint #5" in output


def test_deleting_the_newest_entries_and_moving_the_head_back_is_detected(catalog_env):
    read_records(5)
    kept = rows()[2]
    with _engine().begin() as conn:
        conn.execute(sa.text("DELETE FROM access_log WHERE seq > 3"))
        conn.execute(sa.text("UPDATE access_log_head SET seq = 3, last_hash = :h"), {"h": kept["hash"]})
    code, output = verify()
    assert code == 1
    assert "entries after #3 are missing: checkpoint #5" in output
    # the checkpoint is not moved back unless the operator, having looked into it, says so
    assert cli("audit", "checkpoint").exit_code == 1
    assert verify()[0] == 1
    restarted = cli("audit", "checkpoint", "--start")
    assert restarted.exit_code == 0 and "checkpoint at #3" in restarted.output
    assert verify()[0] == 0


def test_a_missing_checkpoint_fails_verify_until_one_is_started(catalog_env):
    read_records(2)
    (catalog_env / "audit-checkpoint.json").unlink()
    code, output = verify()
    assert code == 1 and "no checkpoint at" in output and "catalog audit checkpoint" in output
    read_records(1)  # appends do not start a checkpoint in the middle of a log on their own
    assert not (catalog_env / "audit-checkpoint.json").exists()
    started = cli("audit", "checkpoint")
    assert started.exit_code == 0 and "3 entries verified, checkpoint at #3" in started.output
    assert verify()[0] == 0


def test_editing_a_row_and_rechaining_with_plain_sha256_is_detected(catalog_env):
    read_records(4)
    entries = rows()
    entries[1]["record_count"] = 0  # hide how much was read
    with _engine().begin() as conn:
        _rechain(conn, entries, _old_scheme_hash)
    code, output = verify()
    assert code == 1
    assert f"entry {entries[0]['id']} (#1): its content does not match its HMAC" in output

    # claiming the rows were written before the keyed chain does not help either
    for row in entries:
        row["key_id"] = None
    with _engine().begin() as conn:
        _rechain(conn, entries, _old_scheme_hash)
    code, output = verify()
    assert code == 1
    assert f"entry {entries[0]['id']} (#1) is chained by plain SHA-256" in output


def test_editing_a_row_and_rechaining_with_hmac_under_a_wrong_key_is_detected(catalog_env):
    read_records(4)
    entries = rows()
    entries[2]["record_count"] = 0
    guess = audit_key("a-guessed-key")
    with _engine().begin() as conn:
        _rechain(conn, entries, lambda row: entry_mac(_entry(row), guess))
    code, output = verify()
    assert code == 1
    assert f"entry {entries[0]['id']} (#1): its content does not match its HMAC" in output

    # signing as the guessed key, under its own key id, is named as such
    for row in entries:
        row["key_id"] = guess.key_id
    with _engine().begin() as conn:
        _rechain(conn, entries, lambda row: entry_mac(_entry(row), guess))
    code, output = verify()
    assert code == 1
    assert f"entry {entries[0]['id']} (#1) is signed with audit key {guess.key_id}" in output


def test_inserting_a_forged_entry_is_detected(catalog_env):
    read_records(3)
    last = rows()[-1]
    forged = dict(last, seq=4, prev_hash=last["hash"], user_name="nobody", record_count=1)
    forged.pop("id")
    forged["hash"] = entry_mac(_entry(dict(forged, id=None)), audit_key("a-guessed-key"))
    with _engine().begin() as conn:
        conn.execute(sa.insert(AccessLogEntry.__table__).values(
            **{k: v for k, v in forged.items() if k not in ("departments", "params", "timestamp")},
            departments=_entry(dict(forged, id=None)).departments, params=_entry(dict(forged, id=None)).params,
            timestamp=_utc(forged["timestamp"])))
        conn.execute(sa.text("UPDATE access_log_head SET seq = 4, last_hash = :h"), {"h": forged["hash"]})
    forged_id = rows()[-1]["id"]
    code, output = verify()
    assert code == 1
    assert f"entry {forged_id} (#4): its content does not match its HMAC" in output


def test_deleting_a_middle_entry_is_detected(catalog_env):
    read_records(4)
    third = rows()[2]
    with _engine().begin() as conn:
        conn.execute(sa.text("DELETE FROM access_log WHERE seq = 2"))
    code, output = verify()
    assert code == 1
    assert f"entry #2 is missing before entry {third['id']} (#3) (deleted)" in output


def test_deleting_two_middle_entries_names_the_whole_gap(catalog_env):
    read_records(5)
    fourth = rows()[3]
    with _engine().begin() as conn:
        conn.execute(sa.text("DELETE FROM access_log WHERE seq IN (2, 3)"))
    code, output = verify()
    assert code == 1
    assert f"entries #2 to #3 are missing before entry {fourth['id']} (#4) (deleted)" in output


def test_cutting_the_log_back_and_appending_fresh_entries_is_detected(catalog_env):
    read_records(5)
    kept = rows()[2]
    with _engine().begin() as conn:
        conn.execute(sa.text("DELETE FROM access_log WHERE seq > 3"))
        conn.execute(sa.text("UPDATE access_log_head SET seq = 3, last_hash = :h"), {"h": kept["hash"]})
    read_records(3, record_count=1)  # the catalog goes on logging reads: #4, #5, #6 are new entries
    assert checkpoint(catalog_env)["seq"] == 5  # the checkpoint did not follow the new branch
    fifth = rows()[4]
    code, output = verify()
    assert code == 1
    assert f"entry {fifth['id']} (#5) is not the entry checkpointed as #5" in output
    assert cli("audit", "checkpoint").exit_code == 1  # nor can it be moved on without --start


def test_an_edited_checkpoint_file_is_refused(catalog_env):
    read_records(3)
    path = catalog_env / "audit-checkpoint.json"
    document = checkpoint(catalog_env)
    path.write_text(json.dumps(dict(document, seq=1, mac=rows()[0]["hash"])))
    code, output = verify()
    assert code == 1
    assert "does not carry a valid signature (forged or edited)" in output


# --- correct under concurrency, key handling, upgrade -------------------------------------------

def test_a_rolled_back_read_leaves_no_entry_and_no_checkpoint_behind(catalog_env):
    read_records(2)
    app = create_app()
    with app.app_context():
        session = get_session()
        append_entry(session, None, action="datastore_search", dataset=get_dataset(session, "household-register"),
                     resource_id=None, departments=[], params={}, record_count=1)
        session.rollback()  # the request failed after logging
        session.commit()
    get_db(app).engine.dispose()
    assert checkpoint(catalog_env)["seq"] == 2
    read_records(1)
    assert [row["seq"] for row in rows()] == [1, 2, 3]
    code, output = verify()
    assert code == 0, output
    assert "3 entries, chain intact, checkpoint #3 present" in output


def test_concurrent_readers_keep_one_chain_and_the_checkpoint_at_its_end(catalog_env):
    errors: list[BaseException] = []

    # one app per thread, built before the threads start: CPython 3.11.7 can fail compiling
    # Werkzeug's URL rules in several threads at once ("AST constructor recursion depth mismatch")
    apps = [create_app() for _ in range(4)]

    def reader(app):
        try:
            read_records(10, app=app)
        except BaseException as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=reader, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [row["seq"] for row in rows()] == list(range(1, 41))
    code, output = verify()
    assert code == 0, output
    assert "40 entries, chain intact, checkpoint #40 present" in output


def test_a_changed_secret_key_is_named_and_rekey_signs_the_log_again(catalog_env, monkeypatch):
    read_records(3)
    old = audit_key(SECRET)
    monkeypatch.setenv("CATALOG_SECRET_KEY", "a-new-secret-key")
    code, output = verify()
    assert code == 1
    assert f"checkpoint {catalog_env / 'audit-checkpoint.json'} is signed with audit key {old.key_id}" in output
    # keeping the audit key as it was, while the secret key changes, keeps the log verifiable
    monkeypatch.setenv("CATALOG_AUDIT_KEY", SECRET)
    assert verify()[0] == 0
    # or sign everything again under the new key, once the old one has vouched for it
    monkeypatch.delenv("CATALOG_AUDIT_KEY")
    assert cli("audit", "rekey").exit_code == 1  # the old key is needed to check the entries first
    rekeyed = cli("audit", "rekey", "--old-key", SECRET)
    assert rekeyed.exit_code == 0, rekeyed.output
    assert "3 entries signed with audit key" in rekeyed.output
    code, output = verify()
    assert code == 0, output
    assert checkpoint(catalog_env)["key_id"] == audit_key("a-new-secret-key").key_id


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_upgraded_log_is_checked_under_sha256_then_keyed(kind, tmp_path, monkeypatch):
    """Entries written before migration 0010 are re-signed by `catalog audit rekey`, which refuses
    a log that was already tampered with."""
    with _database(kind, tmp_path) as url:
        monkeypatch.setenv("CATALOG_INSTANCE_PATH", str(tmp_path / "instance"))
        monkeypatch.setenv("CATALOG_DATABASE_URL", url)
        monkeypatch.setenv("CATALOG_SECRET_KEY", SECRET)
        _upgraded_log_is_keyed()


def _upgraded_log_is_keyed() -> None:
    app = create_app()
    run_migrations(app, "0009_connections")
    engine = get_db(app).engine
    previous = "0" * 64
    # as the code before 0010 wrote them: only the columns that existed then
    table = sa.table("access_log", *(sa.column(c.name, c.type) for c in AccessLogEntry.__table__.columns
                                     if c.name not in ("id", "seq", "key_id")))
    with engine.begin() as conn:
        for n in range(3):
            row = {"timestamp": dt.datetime(2026, 3, 1, 8, tzinfo=dt.timezone.utc),
                   "action": "datastore_search", "user_id": None, "user_name": "town-editor", "departments": [],
                   "package_id": "p", "owner_org": "o", "resource_id": None, "params": {}, "record_count": n,
                   "prev_hash": previous}
            row["hash"] = previous = _old_scheme_hash(row)
            conn.execute(sa.insert(table).values(**row))
        conn.execute(sa.text("UPDATE access_log_head SET last_hash = :h"), {"h": previous})
    run_migrations(app)
    code, output = verify()
    assert code == 1 and "entry 1 (#1) is chained by plain SHA-256" in output and "rekey" in output

    with engine.begin() as conn:  # tampered before the upgrade was finished: rekey will not bless it
        conn.execute(sa.text("UPDATE access_log SET record_count = 9 WHERE id = 2"))
    refused = cli("audit", "rekey")
    assert refused.exit_code == 1
    assert "entry 2 (#2): its content does not match its hash (edited)" in refused.output
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE access_log SET record_count = 1 WHERE id = 2"))

    rekeyed = cli("audit", "rekey")
    assert rekeyed.exit_code == 0, rekeyed.output
    assert "3 entries signed with audit key" in rekeyed.output and "3 were chained by plain SHA-256 only" in rekeyed.output
    read_records_raw()
    code, output = verify()
    assert code == 0, output
    assert "4 entries, chain intact, checkpoint #4 present" in output
    engine.dispose()


def read_records_raw() -> None:
    """One more read after the upgrade, on a log whose entries name no real dataset."""
    app = create_app()
    with app.app_context():
        session = get_session()
        append_entry(session, None, action="datastore_dump", dataset=Dataset(id="p", owner_org="o"),
                     resource_id=None, departments=[], params={"format": "csv"}, record_count=3)
        session.commit()
    get_db(app).engine.dispose()


def test_the_migration_matches_the_model(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}", "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "m"})
    run_migrations(app)
    with get_db(app).engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in differences if re.search(r"'access_log(_head)?'", repr(d))] == []
    run_migrations(app, "0009_connections", downgrade=True)
    run_migrations(app)
    get_db(app).engine.dispose()
