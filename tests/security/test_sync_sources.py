"""Sync sources cannot read anything on the server (issue 12, finding 1).

The attack: a department editor defines a sync job on their own dataset whose source is a file or a
database of the server — the instance's credentials file, its secret key, the SQLite database,
``/etc/passwd``, the catalog's own PostgreSQL database — and reads it back through the records or the
quarantine's ``raw`` values. Now a job names a connection registered by a sysadmin and only the
file or table inside it; the catalog's own places are never a source; file paths stay inside the
connection's folder, symbolic links included; SQL sources read read-only, and a PostgreSQL
superuser is refused unless the sysadmin allows it.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from catalog.datastore.models import QuarantinedRecord, Record
from catalog.sync.models import SyncJob
from connectors.sources.sql import SqlSource
from tests.conftest import fresh_postgres_database, postgres_server_url

PETITION_HEADER = "信访件编号,信访渠道,诉求内容,受理日期\n"


@pytest.fixture
def county(api, app, make, sysadmin, tmp_path):
    """The human-resources bureau's editor, its dataset, and the export folder the sysadmin registered
    for it (with one harmless export in it); plus the instance's secret files, as a real instance has."""
    editor = make.user("rsj-editor")
    department = make.department("ningshan-rsj", members={"editor": editor})
    dataset = make.dataset(department["id"], name="rsj-petitions", record_schema="petition@1",
                           share_type="unconditional", share_condition=None)
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "petitions.csv").write_text(PETITION_HEADER + "XF001,来信,反映道路破损,2026/01/03\n", encoding="utf-8")
    reply = api.call("connection_create", {"name": "rsj-exports", "kind": "folder", "config": {"path": str(exports)},
                                           "organizations": [department["id"]], "description": "人社局导出文件"},
                     token=sysadmin.token)
    assert reply.status == 200, reply.body
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    secrets_written = {"credentials": instance / "demo-credentials.txt", "secret_key": instance / "secret_key"}
    secrets_written["credentials"].write_text("Sysadmin login: admin / hunter2-very-secret\n", encoding="utf-8")
    secrets_written["secret_key"].write_text("0123456789abcdef-not-to-be-read\n", encoding="utf-8")
    yield {"editor": editor, "department": department, "dataset": dataset, "exports": exports, **secrets_written}
    for path in secrets_written.values():
        path.unlink(missing_ok=True)


def sqlite_file(app) -> Path | None:
    url = make_url(app.config["DATABASE_URL"])
    return Path(url.database) if url.get_backend_name() == "sqlite" else None


def targets(app, county) -> dict[str, Path]:
    """The server files an attacker wants: the credentials, the secret key, the database, /etc/passwd."""
    found = {"credentials": county["credentials"], "secret_key": county["secret_key"], "passwd": Path("/etc/passwd")}
    if sqlite_file(app) is not None:
        found["database"] = sqlite_file(app)
    return found


def job(api, token, county, source_config, *, source="csv", name="rsj-job", **values):
    return api.call("sync_job_create", {"name": name, "package_id": county["dataset"]["id"], "source": source,
                                        "source_config": source_config, **values}, token=token)


def nothing_leaked(db, county, *secrets: str) -> None:
    """No record and no quarantined row of the editor's dataset holds any of ``secrets``."""
    db.expire_all()
    kept = [str(r) for r in db.scalars(sa.select(QuarantinedRecord.raw))] + \
           [str(r) for r in db.scalars(sa.select(Record.data))]
    for secret in secrets:
        assert not any(secret in text for text in kept), f"{secret!r} reached the DataStore or the quarantine"


# --- an editor gives no path, URL or credential of their own ------------------------------------------


@pytest.mark.parametrize("source, config, field", [
    ("csv", {"path": "/etc/passwd"}, "source_config.connection"),
    ("xlsx", {"path": "/srv/any.xlsx"}, "source_config.connection"),
    ("dcat", {"path": "/etc/hostname"}, "source_config.connection"),
    ("sql", {"url": "sqlite:////etc/passwd", "table": "t"}, "source_config.url"),
    ("http_json", {"url": "http://127.0.0.1:9/api"}, "source_config.url"),
    ("ckan", {"url": "http://127.0.0.1:9", "resource_id": "x"}, "source_config.url"),
    ("csv", {"connection": "rsj-exports", "path": "petitions.csv", "root": "/"}, "source_config.root"),
    ("sql", {"connection": "rsj-exports", "table": "t", "allow_superuser": True}, "source_config.allow_superuser"),
])
def test_an_editor_cannot_give_a_raw_path_or_url(api, county, db, source, config, field):
    reply = job(api, county["editor"].token, county, config, source=source)
    assert reply.status == 409, reply.body
    assert field in reply.error, reply.error
    assert db.scalar(sa.select(SyncJob.id).where(SyncJob.name == "rsj-job")) is None


@pytest.mark.parametrize("what", ["credentials", "secret_key", "database", "passwd"])
def test_the_catalogs_files_and_etc_passwd_are_refused_when_the_job_is_defined(api, app, county, db, what):
    found = targets(app, county)
    if what not in found:
        pytest.skip("the catalog's database is not a file on PostgreSQL")
    target = found[what]
    # by absolute path, by climbing out with .., and by a symbolic link planted in the export folder
    climb = os.path.relpath(target, county["exports"])
    link = county["exports"] / f"{what}.csv"
    link.symlink_to(target)
    for path, message in ((str(target), "absolute"), (climb, ".."), (link.name, "outside the connection's folder")):
        reply = job(api, county["editor"].token, county, {"connection": "rsj-exports", "path": path})
        assert reply.status == 409, (path, reply.body)
        assert message in " ".join(reply.error["source_config.path"]), reply.error
    assert db.scalar(sa.select(SyncJob.id).where(SyncJob.name == "rsj-job")) is None


@pytest.mark.parametrize("what", ["credentials", "secret_key", "database", "passwd"])
def test_a_symbolic_link_planted_after_the_job_was_defined_fails_the_run(api, app, county, db, what):
    found = targets(app, county)
    if what not in found:
        pytest.skip("the catalog's database is not a file on PostgreSQL")
    created = job(api, county["editor"].token, county, {"connection": "rsj-exports", "path": "petitions.csv",
                                                        "header_row": 0})
    assert created.status == 200, created.body
    export = county["exports"] / "petitions.csv"
    export.unlink()
    export.symlink_to(found[what])  # whoever can write the export folder swaps the file for a link
    run = api.call("sync_job_run", {"id": "rsj-job"}, token=county["editor"].token).result
    assert run["status"] == "failed", run
    assert run["counts"]["read"] == 0
    assert "source_config.path" in run["error_message"] or "outside the connection's folder" in run["error_message"]
    quarantined = api.call("quarantine_list", {"job_id": created.result["id"], "status": "all"},
                           token=county["editor"].token).result
    assert quarantined == []
    nothing_leaked(db, county, "hunter2-very-secret", "not-to-be-read", "root:x:0:0")


@pytest.mark.parametrize("what", ["credentials", "secret_key", "database"])
def test_a_hard_link_to_the_catalogs_files_is_refused(api, app, county, what):
    found = targets(app, county)
    if what not in found:
        pytest.skip("the catalog's database is not a file on PostgreSQL")
    link = county["exports"] / f"{what}.csv"
    try:
        os.link(found[what], link)  # same file, another name: no symbolic link to resolve
    except OSError as error:
        pytest.skip(f"cannot make a hard link here: {error}")
    reply = job(api, county["editor"].token, county, {"connection": "rsj-exports", "path": link.name})
    assert reply.status == 409, reply.body
    assert "hard link" in " ".join(reply.error["source_config.path"])


def test_the_source_itself_refuses_a_link_out_of_its_folder_when_it_opens_the_file(tmp_path):
    """Defence in depth: the csv source confines the path when it opens the file, whatever the caller checked."""
    from connectors.base import SourceError
    from connectors.sources import get

    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "ok.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (folder / "inside.csv").symlink_to(folder / "ok.csv")  # a link that stays inside is fine
    assert [r.data for r in get("csv").read({"root": str(folder), "path": "inside.csv"}, None, None)] == \
        [{"a": "1", "b": "2"}]
    (folder / "out.csv").symlink_to("/etc/passwd")
    with pytest.raises(SourceError, match="outside the connection's folder"):
        list(get("csv").read({"root": str(folder), "path": "out.csv"}, None, None))
    with pytest.raises(SourceError, match=r"\.\."):
        list(get("csv").read({"root": str(folder), "path": "../exports/ok.csv"}, None, None))


# --- only sysadmins decide where data comes from ---------------------------------------------------------


def test_the_instance_folder_and_the_catalogs_database_cannot_be_registered(api, app, county, sysadmin, tmp_path):
    instance = Path(app.instance_path)
    for folder in (instance, instance / "storage", instance.parent):  # inside it, or containing it
        folder.mkdir(parents=True, exist_ok=True)
        reply = api.call("connection_create", {"name": "sneaky", "kind": "folder", "config": {"path": str(folder)},
                                               "organizations": [county["department"]["id"]]}, token=sysadmin.token)
        assert reply.status == 409, (folder, reply.body)
        assert "catalog's own files" in " ".join(reply.error["config.path"])
    own = app.config["DATABASE_URL"]
    variants = [own]
    if make_url(own).get_backend_name() == "postgresql":
        variants.append(make_url(own).set(host="localhost").render_as_string(hide_password=False))
    else:
        link = tmp_path / "alias.db"
        link.symlink_to(sqlite_file(app))
        variants.append(f"sqlite:///{link}")  # the same file under another name
    for url in variants:
        reply = api.call("connection_create", {"name": "own-db", "kind": "database", "config": {"url": url},
                                               "organizations": [county["department"]["id"]]}, token=sysadmin.token)
        assert reply.status == 409, (url, reply.body)
        assert "catalog's own" in " ".join(reply.error["config.url"])


def test_an_sql_job_against_the_catalogs_own_database_is_refused_even_through_an_old_connection(api, app, county, db):
    """A connection stored before the rule (or with the database moved under it) still cannot be read."""
    from catalog.connections.models import Connection

    db.add(Connection(name="legacy-db", kind="database", config={"url": app.config["DATABASE_URL"]},
                      organizations=[county["department"]["id"]]))
    db.commit()
    table = "user"  # password hashes, API token digests
    reply = job(api, county["editor"].token, county, {"connection": "legacy-db", "table": table}, source="sql")
    assert reply.status == 409, reply.body
    assert "catalog's own database" in " ".join(reply.error["source_config.connection"]) or \
        "catalog's own files" in " ".join(reply.error["source_config.connection"])
    assert db.scalar(sa.select(SyncJob.id).where(SyncJob.name == "rsj-job")) is None


def test_an_editor_cannot_create_see_or_change_connections(api, app, county, make, sysadmin, tmp_path):
    editor = county["editor"].token
    folder = tmp_path / "other"
    folder.mkdir()
    refused = api.call("connection_create", {"name": "mine", "kind": "folder", "config": {"path": "/"},
                                             "organizations": [county["department"]["id"]]}, token=editor)
    assert refused.status == 403, refused.body
    changed = api.call("connection_update", {"id": "rsj-exports", "config": {"path": "/"}}, token=editor)
    assert changed.status == 403, changed.body
    assert api.call("connection_delete", {"id": "rsj-exports"}, token=editor).status == 403
    # a connection of another department: not listed, not shown, not usable
    police = make.department("ningshan-gaj")
    assert api.call("connection_create", {"name": "gaj-exports", "kind": "folder", "config": {"path": str(folder)},
                                          "organizations": [police["id"]]}, token=sysadmin.token).status == 200
    listed = api.call("connection_list", {}, token=editor).result
    assert [c["name"] for c in listed] == ["rsj-exports"]
    assert listed[0]["config"] is None and listed[0]["description"] == "人社局导出文件"  # name, kind, text only
    assert api.call("connection_show", {"id": "gaj-exports"}, token=editor).status == 403
    used = job(api, editor, county, {"connection": "gaj-exports", "path": "x.csv"})
    assert used.status == 403, used.body
    assert api.call("connection_list", {}).status == 403  # anonymous
    shown = api.call("connection_show", {"id": "rsj-exports"}, token=sysadmin.token).result
    assert shown["config"] == {"path": str(county["exports"])}


def test_a_connection_taken_from_the_department_fails_the_jobs_next_run(api, county, sysadmin):
    created = job(api, county["editor"].token, county, {"connection": "rsj-exports", "path": "petitions.csv"})
    assert created.status == 200, created.body
    withdrawn = api.call("connection_update", {"id": "rsj-exports", "organizations": []}, token=sysadmin.token)
    assert withdrawn.status == 200, withdrawn.body
    run = api.call("sync_job_run", {"id": "rsj-job"}, token=county["editor"].token).result
    assert run["status"] == "failed" and "not open to this dataset's department" in run["error_message"]


def test_a_mapping_naming_an_undeclared_field_is_refused_when_the_job_is_defined(api, county):
    mapping = {"rename": {"信访件编号": "petition_number", "身份证": "secret_id"}, "constants": {"leak": 1}}
    reply = job(api, county["editor"].token, county, {"connection": "rsj-exports", "path": "petitions.csv"},
                mapping=mapping)
    assert reply.status == 409, reply.body
    assert "secret_id" in " ".join(reply.error["mapping.rename.身份证"])
    assert "leak" in " ".join(reply.error["mapping.constants.leak"])
    good = job(api, county["editor"].token, county, {"connection": "rsj-exports", "path": "petitions.csv"},
               mapping={"rename": {"信访件编号": "petition_number"}, "unmapped": "keep"})
    assert good.status == 200, good.body
    changed = api.call("sync_job_update", {"id": "rsj-job", "mapping": {"dates": ["no_such_date"]}},
                       token=county["editor"].token)
    assert changed.status == 409 and "mapping.dates.0" in changed.error, changed.body


# --- SQL sources read read-only; a PostgreSQL superuser is refused ---------------------------------------


@pytest.fixture
def source_database():
    """A PostgreSQL database of a department system (a table, a sequence, a function that writes)."""
    if postgres_server_url() is None:
        pytest.skip("needs PostgreSQL: set CATALOG_TEST_POSTGRES_URL")
    with fresh_postgres_database("dept_system") as url:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE cases (petition_number text PRIMARY KEY, channel text)")
            conn.exec_driver_sql("INSERT INTO cases VALUES ('XF001', 'letter'), ('XF002', 'visit')")
            conn.exec_driver_sql("CREATE TABLE written (note text)")
            conn.exec_driver_sql("CREATE FUNCTION cases_and_a_write() RETURNS SETOF cases LANGUAGE plpgsql AS $$ "
                                 "BEGIN INSERT INTO written VALUES ('the source wrote'); "
                                 "RETURN QUERY SELECT * FROM cases; END $$")
        yield url, engine
        engine.dispose()


def _database_connection(api, sysadmin, county, url, **config):
    reply = api.call("connection_create", {"name": "rsj-db", "kind": "database", "config": {"url": url, **config},
                                           "organizations": [county["department"]["id"]]}, token=sysadmin.token)
    assert reply.status == 200, reply.body


def test_a_postgresql_superuser_is_refused_unless_the_sysadmin_allows_it(api, county, sysadmin, source_database):
    url, engine = source_database
    _database_connection(api, sysadmin, county, url)  # postgres: the server's superuser
    created = job(api, county["editor"].token, county, {"connection": "rsj-db", "table": "cases"}, source="sql",
                  mapping={"rename": {"petition_number": "petition_number"}, "unmapped": "keep",
                           "max_invalid": 1.0}, on_invalid="skip")  # the rows are not the point here
    assert created.status == 200, created.body
    run = api.call("sync_job_run", {"id": "rsj-job"}, token=county["editor"].token).result
    assert run["status"] == "failed" and "superuser" in run["error_message"], run
    assert run["counts"]["read"] == 0
    # the explicit override reads (read-only still)
    allowed = api.call("connection_update", {"id": "rsj-db", "config": {"url": "***", "allow_superuser": True}},
                       token=sysadmin.token)
    assert allowed.status == 200, allowed.body
    run = api.call("sync_job_run", {"id": "rsj-job"}, token=county["editor"].token).result
    assert run["status"] == "succeeded_with_errors" and run["counts"]["read"] == 2, run


def test_a_least_privilege_role_reads_without_the_override(api, county, sysadmin, source_database):
    url, engine = source_database
    role = f"sync_reader_{os.getpid()}_{id(engine) % 100000}"
    database = make_url(url).database
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD 'reader-pw' NOSUPERUSER")
        conn.exec_driver_sql(f'GRANT CONNECT ON DATABASE "{database}" TO {role}')
        conn.exec_driver_sql(f"GRANT SELECT ON cases TO {role}")
    try:
        reader = make_url(url).set(username=role, password="reader-pw").render_as_string(hide_password=False)
        _database_connection(api, sysadmin, county, reader)
        created = job(api, county["editor"].token, county, {"connection": "rsj-db", "table": "cases"}, source="sql",
                      mapping={"rename": {"petition_number": "petition_number"}, "unmapped": "keep",
                           "max_invalid": 1.0}, on_invalid="skip")  # the rows are not the point here
        assert created.status == 200, created.body
        run = api.call("sync_job_run", {"id": "rsj-job"}, token=county["editor"].token).result
        assert run["status"] == "succeeded_with_errors" and run["counts"]["read"] == 2, run
    finally:
        engine.dispose()
        with sa.create_engine(postgres_server_url(), isolation_level="AUTOCOMMIT").connect() as admin:
            admin.exec_driver_sql(f'REVOKE ALL ON DATABASE "{database}" FROM {role}')
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
        engine.dispose()
        with sa.create_engine(postgres_server_url(), isolation_level="AUTOCOMMIT").connect() as admin:
            admin.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")


def test_a_write_through_the_sql_source_fails_on_postgresql(api, county, sysadmin, source_database):
    url, engine = source_database
    _database_connection(api, sysadmin, county, url, allow_superuser=True)  # even as a superuser
    created = job(api, county["editor"].token, county,
                  {"connection": "rsj-db", "query": "SELECT * FROM cases_and_a_write()"}, source="sql",
                  mapping={"rename": {"petition_number": "petition_number"}, "unmapped": "keep",
                           "max_invalid": 1.0}, on_invalid="skip")  # the rows are not the point here
    assert created.status == 200, created.body
    run = api.call("sync_job_run", {"id": "rsj-job"}, token=county["editor"].token).result
    assert run["status"] == "failed" and "read-only transaction" in run["error_message"], run
    again = api.call("sync_job_update", {"id": "rsj-job", "source_config": {
        "connection": "rsj-db",
        "query": "SELECT set_config('transaction_read_only', 'off', false) AS petition_number"}},
        token=county["editor"].token)
    assert again.status == 200, again.body
    run = api.call("sync_job_run", {"id": "rsj-job"}, token=county["editor"].token).result
    assert run["status"] == "failed", run  # a read-only transaction cannot be made writable from inside
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM written").scalar_one() == 0


def test_a_write_through_the_sql_source_fails_on_sqlite(tmp_path):
    import sqlite3

    path = tmp_path / "register.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE cases (petition_number TEXT PRIMARY KEY)")
        db.execute("INSERT INTO cases VALUES ('XF001')")
    engine = SqlSource()._engine({"url": f"sqlite:///{path}", "table": "cases"})  # the engine every read uses
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM cases").scalar_one() == 1
            with pytest.raises(sa.exc.OperationalError, match="readonly database|query_only"):
                conn.exec_driver_sql("INSERT INTO cases VALUES ('XF999')")
            with pytest.raises(sa.exc.OperationalError, match="readonly database|query_only"):
                conn.exec_driver_sql("UPDATE cases SET petition_number = 'XF000'")
    finally:
        engine.dispose()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM cases").fetchone() == (1,)
