"""Real databases, real processes and department sources for the sync guarantee and worker tests.

These tests commit for real and start ``python -m catalog.cli`` in subprocesses, so they cannot use
the rolled-back session of ``tests/conftest.py``. Each test module gets its own fresh database of
each kind (:func:`fresh_catalog`): a SQLite file in a temporary folder, and — when
``CATALOG_TEST_POSTGRES_URL`` is set — a PostgreSQL database created for the module and dropped
with ``DROP DATABASE … WITH (FORCE)`` afterwards. It is migrated with ``catalog db upgrade`` and gets
a sysadmin from ``catalog user create``; departments and datasets are made through the services in
committed sessions (the CLI has no command for them).

The sources are the household register as departments hold it (``tests.connectors.exports``:
Chinese headers, members as ``姓名,身份证号,性别,…`` items, 男/女, 是/否, mixed date styles):

* :func:`police_register` — a SQLite database of the public security bureau's system, columns
  named in pinyin initials as such systems do, ``GXSJ`` (更新时间) a sortable text timestamp rounded
  to the hour so that many rows share a cursor value (the key breaks the ties);
* :func:`household_csv` — the same rows as a CSV export (GB18030 by default).

Both return the records the rows must map to, keyed by household number.
"""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.conftest import postgres_server_url  # noqa: F401  (one definition of the server URL rule)
from tests.connectors.exports import HEADER, HOUSEHOLD_MAPPING, household_row
from tests.schemas.records_samples import households

ROOT = Path(__file__).resolve().parents[2]

PG_ENV = "CATALOG_TEST_POSTGRES_URL"
PASSWORD = "correct-horse-battery"
KINDS = ["sqlite", "postgresql"]

# --- the sources -----------------------------------------------------------------------------------

#: the police system's columns (pinyin initials) for each export header
POLICE_COLUMNS = {"户编号": "HHBH", "户主姓名": "HZXM", "户主公民身份号码": "HZSFZH", "家庭成员": "JTCY",
                  "家庭住址": "JTZZ", "统计用区划代码": "QHDM", "乡镇": "XZ", "村": "CUN", "包联干部": "BLGB",
                  "网格员": "WGY", "最近走访日期": "ZJZFRQ", "更新时间": "GXSJ"}
POLICE_TABLE = "T_RK_HJXX"  # 人口户籍信息

#: the mapping of the police table: the export mapping, renamed from the pinyin columns
POLICE_MAPPING: dict[str, Any] = {
    **HOUSEHOLD_MAPPING,
    "rename": {POLICE_COLUMNS[header]: path for header, path in HOUSEHOLD_MAPPING["rename"].items()},
}


def hourly(record: dict[str, Any]) -> dict[str, Any]:
    """The record with ``updated_at`` rounded down to the hour (so rows share cursor values)."""
    moment = dt.datetime.fromisoformat(record["updated_at"]).replace(minute=0, second=0)
    return {**record, "updated_at": moment.isoformat()}


def household_records(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` valid household records, ``updated_at`` on the hour."""
    return [hourly(r) for r in households(n, seed)]


def police_register(path: Path, n: int, seed: int = 7) -> dict[str, dict[str, Any]]:
    """A SQLite file with the police system's household table of ``n`` rows; the expected records."""
    records = household_records(n, seed)
    connection = sqlite3.connect(path)
    columns = list(POLICE_COLUMNS.values())
    connection.execute(f"CREATE TABLE {POLICE_TABLE} ({', '.join(c + ' TEXT' for c in columns)}, "
                       "PRIMARY KEY (HHBH))")
    rows = []
    for index, record in enumerate(records):
        row = household_row(record, index)
        row[HEADER.index("更新时间")] = dt.datetime.fromisoformat(record["updated_at"]).strftime("%Y-%m-%d %H:%M:%S")
        rows.append([None if value == "" else str(value) for value in row])
    connection.executemany(f"INSERT INTO {POLICE_TABLE} VALUES ({', '.join('?' * len(columns))})", rows)
    connection.commit()
    connection.close()
    return {r["household_number"]: r for r in records}


def police_rows_upto(path: Path, state: dict[str, Any] | None) -> set[str]:
    """The household numbers of the source rows at or before a sql-source state (cursor, key)."""
    if not state:
        return set()
    connection = sqlite3.connect(path)
    try:
        found = connection.execute(
            f"SELECT HHBH FROM {POLICE_TABLE} WHERE GXSJ < ? OR (GXSJ = ? AND HHBH <= ?)",
            (state["cursor"], state["cursor"], state["key"])).fetchall()
    finally:
        connection.close()
    return {key for (key,) in found}


def household_csv(path: Path, n: int, seed: int = 11, *, encoding: str = "gb18030",
                  bad: list[list[Any]] | None = None) -> dict[str, dict[str, Any]]:
    """A household CSV export of ``n`` rows (plus ``bad`` rows at the end); the expected records."""
    records = household_records(n, seed)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(household_row(r, i) for i, r in enumerate(records))
    writer.writerows(bad or [])
    path.write_bytes(out.getvalue().encode(encoding))
    return {r["household_number"]: r for r in records}


# --- connections ---------------------------------------------------------------------------------


def connection(api, token: str, name: str, kind: str, config: dict[str, Any],
               organizations: list[str]) -> dict[str, Any]:
    """A connection registered through ``connection_create`` (``token``: a sysadmin's); its answer."""
    reply = api.call("connection_create", {"name": name, "kind": kind, "config": config,
                                           "organizations": organizations}, token=token)
    assert reply.status == 200, reply.body
    return reply.result


def folder_connection(api, token: str, name: str, folder: Path, organizations: list[str]) -> dict[str, Any]:
    """A ``folder`` connection to ``folder`` for the jobs of ``organizations``."""
    return connection(api, token, name, "folder", {"path": str(folder)}, organizations)


# --- databases and processes --------------------------------------------------------------------




@dataclass
class Catalog:
    """One fresh, migrated catalog database with the app, the CLI environment and a sysadmin."""

    kind: str
    url: str
    folder: Path
    env: dict[str, str]
    app: Any = None
    admin_token: str = ""
    department_id: str = ""
    counter: list[int] = field(default_factory=lambda: [0])

    @property
    def database(self):
        from catalog.db import get_db

        return get_db(self.app)

    @property
    def engine(self) -> sa.Engine:
        return self.database.engine

    # the CLI ------------------------------------------------------------------------------------

    def cli(self, *args: str, timeout: float = 120, env: dict[str, str] | None = None,
            check: bool = False) -> subprocess.CompletedProcess:
        """Run ``python -m catalog.cli ARGS`` on this database and wait for it."""
        result = subprocess.run([sys.executable, "-m", "catalog.cli", *args], cwd=ROOT, env={**self.env, **(env or {})},
                                capture_output=True, text=True, timeout=timeout)
        if check:
            assert result.returncode == 0, f"catalog {' '.join(args)}: {result.stdout}\n{result.stderr}"
        return result

    def start(self, *args: str, env: dict[str, str] | None = None, log: Path | None = None) -> subprocess.Popen:
        """Start ``python -m catalog.cli ARGS`` in its own process group (see :func:`stop`)."""
        out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
        try:
            return subprocess.Popen([sys.executable, "-m", "catalog.cli", *args], cwd=ROOT,
                                    env={**self.env, **(env or {})}, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        finally:
            if log:
                out.close()

    # data ---------------------------------------------------------------------------------------

    def dataset(self, name: str, record_schema: str = "household@1", **values) -> str:
        """A committed dataset bound to ``record_schema`` in the module's department; its name."""
        from catalog.auth.models import User
        from catalog.datasets.service import create_dataset

        self.counter[0] += 1
        with self.database.session() as session:
            admin = session.scalar(sa.select(User).where(User.name == "admin"))
            create_dataset(session, admin, values={
                "name": name, "title": f"宁陕县住户信息 {self.counter[0]}", "notes": "全县住户及家庭成员信息。",
                "owner_org": self.department_id, "resource_code": f"101001/{self.counter[0]:06d}",
                "category": "101", "share_type": "unconditional",
                "share_method": {"channel": "platform", "type": "api"}, "open_type": "none",
                "open_condition": "含个人信息，依法不予开放", "update_cycle": values.pop("update_cycle", "irregular"),
                "publish_date": "2026-01-03", "record_schema": record_schema,
                "items": [{"name": "户编号", "type": "C"}, {"name": "户主姓名", "type": "C"}], **values},
                tags=["住户"])
            session.commit()
        return name

    def connection(self, name: str, kind: str, config: dict[str, Any]) -> str:
        """A connection for the module's department, registered through the service as the sysadmin."""
        from catalog.auth.models import User
        from catalog.connections import service as connections
        from catalog.connections.models import Connection

        with self.database.session() as session:
            admin = session.scalar(sa.select(User).where(User.name == "admin"))
            if session.scalar(sa.select(Connection.id).where(Connection.name == name)) is None:
                connections.create_connection(session, admin, name=name, kind=kind, config=config,
                                              organizations=[self.department_id])
                session.commit()
        return name

    @property
    def sources(self) -> Path:
        """The folder of the department systems' files (outside the catalog's own folder)."""
        path = self.folder / "sources"
        path.mkdir(exist_ok=True)
        return path

    def folder_connection(self, folder: Path) -> str:
        """The name of a folder connection to ``folder`` (registered once)."""
        return self.connection("folder-" + uuid.uuid5(uuid.NAMESPACE_URL, str(folder)).hex[:12], "folder",
                               {"path": str(folder)})

    def sqlite_connection(self, path: Path) -> str:
        """The name of a database connection to the SQLite file ``path`` (registered once)."""
        return self.connection("db-" + uuid.uuid5(uuid.NAMESPACE_URL, str(path)).hex[:12], "database",
                               {"url": f"sqlite:///{path}"})

    def add_job(self, definition: dict[str, Any]) -> dict[str, Any]:
        """``catalog sync add FILE`` with ``definition`` written as YAML; the job's id, name and resource."""
        import yaml

        path = self.folder / f"job-{definition['name']}.yaml"
        path.write_text(yaml.safe_dump(definition, allow_unicode=True, sort_keys=False), encoding="utf-8")
        self.cli("sync", "add", str(path), check=True)
        return self.job(definition["name"])

    def create_job(self, definition: dict[str, Any]) -> dict[str, Any]:
        """The same job definition as :meth:`add_job`, created through the service in this process."""
        from catalog.auth.models import User
        from catalog.cli import definition_values
        from catalog.sync import service

        dataset, resource, values = definition_values(definition)
        with self.database.session() as session:
            admin = session.scalar(sa.select(User).where(User.name == "admin"))
            service.create_job(session, admin, package_id=dataset, resource_id=resource, values=values)
            session.commit()
        return self.job(values["name"])

    def update_job(self, name: str, changes: dict[str, Any]) -> None:
        from catalog.auth.models import User
        from catalog.sync import service

        with self.database.session() as session:
            admin = session.scalar(sa.select(User).where(User.name == "admin"))
            service.update_job(session, admin, service.get_job(session, name), changes)
            session.commit()

    def run(self, name: str, trigger: str = "manual"):
        """Run a job in this process (``catalog.sync.service.run_job``); the finished run."""
        from catalog.sync.service import run_job

        return run_job(self.database, name, trigger=trigger)

    def last_seq(self, resource_id: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.text("SELECT last_seq FROM datastore_table WHERE resource_id = :r"),
                                {"r": resource_id}).scalar_one()

    def job(self, name: str) -> dict[str, Any]:
        from catalog.sync.models import SyncJob

        with self.database.session() as session:
            job = session.scalar(sa.select(SyncJob).where(SyncJob.name == name))
            return {"id": job.id, "name": job.name, "resource_id": job.resource_id, "state": job.state}

    def runs(self, job: dict[str, Any]) -> list[Any]:
        """The job's runs, oldest first (detached)."""
        from catalog.sync.models import SyncRun

        with self.database.session() as session:
            runs = list(session.scalars(sa.select(SyncRun).where(SyncRun.job_id == job["id"])
                                        .order_by(SyncRun.started, SyncRun.id)))
            session.expunge_all()
            return runs

    def records(self, resource_id: str) -> dict[str, dict[str, Any]]:
        """The live records of a resource by key."""
        from catalog.datastore.models import Record

        with self.database.session() as session:
            return {key: data for key, data in session.execute(sa.select(Record.key, Record.data).where(
                Record.resource_id == resource_id, Record.deleted.is_(False)))}

    def record_count(self, resource_id: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM datastore_record WHERE resource_id = :r"),
                                {"r": resource_id}).scalar_one()

    def feed(self, resource_id: str, cursor: str | None = None) -> tuple[list[dict[str, Any]], str]:
        """Every change after ``cursor`` through ``query.changes`` (pages of 5,000); (changes, next cursor)."""
        from catalog.datastore import query, service

        changes: list[dict[str, Any]] = []
        while True:
            with self.database.session() as session:
                page = query.changes(session, service.get_table(session, resource_id), cursor=cursor, limit=5000)
            changes.extend(page["changes"])
            cursor = page["next_cursor"]
            if not page["has_more"]:
                return changes, cursor

    def quarantined(self, resource_id: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM quarantine WHERE resource_id = :r"),
                                {"r": resource_id}).scalar_one()


def _create_postgres(server: str) -> tuple[str, Callable[[], None]]:
    name = f"catalog_sync_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return make_url(server).set(database=name).render_as_string(hide_password=False), drop


@contextlib.contextmanager
def fresh_catalog(kind: str, folder: Path, extra_env: dict[str, str] | None = None) -> Iterator[Catalog]:
    """A new database of ``kind``, migrated by ``catalog db upgrade``, with sysadmin ``admin`` (and an
    API token) and a department; dropped afterwards. Skips the PostgreSQL half when no server is set."""
    from catalog import create_app
    from catalog.auth.models import User
    from catalog.auth.service import create_token
    from catalog.db import get_db
    from catalog.departments.service import create_department

    drop: Callable[[], None] = lambda: None  # noqa: E731
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'catalog.db'}"
    else:
        server = postgres_server_url()
        if server is None:
            pytest.skip(f"PostgreSQL half skipped: set {PG_ENV} to run it")
        url, drop = _create_postgres(server)
    try:
        instance = folder / "instance"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CATALOG_")}
        env.update({"CATALOG_DATABASE_URL": url, "CATALOG_INSTANCE_PATH": str(instance),
                    "CATALOG_SECRET_KEY": "sync-tests", "CATALOG_OUTBOUND_ALLOW": "127.0.0.1",  # loopback test APIs
                    "PYTHONPATH": str(ROOT), **(extra_env or {})})
        catalog = Catalog(kind=kind, url=url, folder=folder, env=env)
        catalog.cli("db", "upgrade", check=True)
        catalog.cli("user", "create", "admin", "--password", PASSWORD, "--sysadmin", check=True)
        config = {"DATABASE_URL": url, "INSTANCE_PATH": str(instance), "SECRET_KEY": "sync-tests",
                  "OUTBOUND_ALLOW": "127.0.0.1",
                  "TESTING": True, "RATELIMIT_ENABLED": False, "BROKER_URL": None}
        config.update({k.removeprefix("CATALOG_"): v for k, v in (extra_env or {}).items()})
        catalog.app = create_app(config)
        with get_db(catalog.app).session() as session:
            admin = session.scalar(sa.select(User).where(User.name == "admin"))
            department = create_department(session, admin, name="ningshan-gaj", title="宁陕县公安局")
            _token, catalog.admin_token = create_token(session, None, user=admin, name="tests", scope="write",
                                                       check_auth=False)
            session.commit()
            catalog.department_id = department.id
        try:
            yield catalog
        finally:
            get_db(catalog.app).engine.dispose()
    finally:
        drop()


def catalog_fixture(request, tmp_path_factory, **extra_env: str) -> Iterator[Catalog]:
    """The body of a module-scoped fixture parametrized over :data:`KINDS`."""
    with fresh_catalog(request.param, tmp_path_factory.mktemp(f"sync-{request.param}"), extra_env) as catalog:
        yield catalog


# --- waiting and stopping --------------------------------------------------------------------------


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what or predicate}")
        time.sleep(interval)


def stop(process: subprocess.Popen, timeout: float = 20) -> None:
    """End a process this test started, and its children: SIGTERM to its group, SIGKILL if it lingers."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # leftover children of the group, if any
    process.wait(5)


@contextlib.contextmanager
def running_worker(catalog: "Catalog") -> Iterator[subprocess.Popen]:
    """``catalog worker`` on the catalog's database and broker, ready to take tasks; stopped afterwards."""
    log = catalog.folder / "worker.log"
    process = catalog.start("worker", "--concurrency", "1", log=log)
    try:
        wait_for(lambda: " ready." in log.read_text() or process.poll() is not None, timeout=45, interval=0.2,
                 what="the Celery worker to be ready")
        assert process.poll() is None, "the worker stopped: " + log.read_text()[-3000:]
        yield process
    finally:
        stop(process)


def expected_counts_balance(counts: dict[str, int]) -> bool:
    """read = inserted + updated + unchanged + quarantined + skipped."""
    return counts["read"] == sum(counts[k] for k in ("inserted", "updated", "unchanged", "quarantined", "skipped"))
