"""Shared fixtures: the app on SQLite and on PostgreSQL, a rolled-back transaction per test,
an API caller and factories that create data through the service layer.

The whole suite runs once per database: SQLite always, PostgreSQL when
``CATALOG_TEST_POSTGRES_URL`` names a server (e.g. postgresql://postgres@127.0.0.1:5432/test).
"""
from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from catalog import create_app
from catalog.cli import run_migrations
from catalog.db import get_db

PG_ENV = "CATALOG_TEST_POSTGRES_URL"


def postgres_server_url() -> str | None:
    """The PostgreSQL server named by ``CATALOG_TEST_POSTGRES_URL`` (psycopg 3 driver), or None."""
    url = os.environ.get(PG_ENV)
    if not url:
        return None
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_postgres_database(prefix: str):
    """The URL of a new, empty database on the test server, dropped afterwards (skips without a server)."""
    base = postgres_server_url()
    if base is None:
        pytest.skip(f"PostgreSQL half skipped: set {PG_ENV} to run the suite on PostgreSQL too")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """A new, empty database of each kind (not migrated), dropped afterwards: the migrations' tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    with fresh_postgres_database("catalog_migrate") as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    """A fresh, migrated database of each kind for the whole session."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'catalog.db'}"
        return
    with fresh_postgres_database("catalog_test") as url:
        yield url


@pytest.fixture(scope="session")
def base_app(database_url, tmp_path_factory):
    """The app on the session's database, migrated with Alembic as `catalog db upgrade` does."""
    instance = tmp_path_factory.mktemp("instance")
    # OUTBOUND_ALLOW: the tests sync from and deliver to servers on loopback (live_url, receivers);
    # tests/security/test_outbound.py builds apps without it
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "INSTANCE_PATH": str(instance),
                      "SECRET_KEY": "test", "SITE_URL": "http://localhost", "OUTBOUND_ALLOW": "127.0.0.1",
                      # sessions share one rolled-back connection: sync_job_run must not hand a run to a thread
                      "SYNC_RUN_IN_REQUEST": True,
                      # direct publishing, as before the decree; tests/review turn the catalog review on
                      "CATALOG_REVIEW": False})
    run_migrations(app)
    yield app
    get_db(app).engine.dispose()


@contextlib.contextmanager
def rolled_back(app):
    """Join every session of ``app`` to one transaction (commits become savepoints); roll it back at the end."""
    database = get_db(app)
    connection = database.engine.connect()
    transaction = connection.begin()
    original = database.sessionmaker
    database.sessionmaker = sessionmaker(bind=connection, expire_on_commit=False,
                                         join_transaction_mode="create_savepoint", info=original.kw.get("info"))
    try:
        yield app
    finally:
        database.sessionmaker = original
        transaction.rollback()
        connection.close()


@pytest.fixture
def app(base_app, tmp_path, monkeypatch):
    """The app with every session joined to one transaction that is rolled back after the test."""
    # The access log's checkpoint (a file) follows commits; it must not outlive the rolled-back log.
    monkeypatch.setitem(base_app.config, "AUDIT_CHECKPOINT_PATH", str(tmp_path / "audit-checkpoint.json"))
    with rolled_back(base_app):
        yield base_app


@pytest.fixture(autouse=True)
def fast_password_hashing(request, monkeypatch):
    """Cheap password hashes (scrypt costs ~0.15 s per account); tests marked real_hashing keep scrypt."""
    if request.node.get_closest_marker("real_hashing"):
        return
    from werkzeug.security import generate_password_hash

    monkeypatch.setattr("catalog.auth.service.hash_password",
                        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1"))


@pytest.fixture
def db(app):
    """A session for arranging and checking data (it sees what the requests committed)."""
    session = get_db(app).session()
    yield session
    session.close()


@dataclass
class Reply:
    """An API answer: HTTP status and the decoded envelope."""

    status: int
    body: dict[str, Any]

    @property
    def result(self) -> Any:
        assert self.body.get("success") is True, self.body
        return self.body["result"]

    @property
    def error(self) -> dict[str, Any]:
        assert self.body.get("success") is False, self.body
        return self.body["error"]


class Api:
    """Calls actions through the HTTP test client, as a given token or anonymously."""

    def __init__(self, client):
        self.client = client

    def call(self, name: str, data: dict | None = None, *, token: str | None = None,
             method: str = "POST", **kwargs) -> Reply:
        headers = {"Authorization": token} if token else {}
        if method == "GET":
            response = self.client.get(f"/api/3/action/{name}", query_string=data or {}, headers=headers)
        elif "content_type" in kwargs or "data_raw" in kwargs:
            response = self.client.post(f"/api/3/action/{name}", data=kwargs.get("data_raw", data),
                                        content_type=kwargs.get("content_type"), headers=headers)
        else:
            response = self.client.post(f"/api/3/action/{name}", json=data or {}, headers=headers)
        assert response.status_code != 500, response.get_data(as_text=True)
        return Reply(response.status_code, response.get_json(silent=True) or {})


@pytest.fixture
def live_url(app):
    """The app served on a free loopback port for the duration of one test (real HTTP clients)."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api(client):
    return Api(client)


class Factory:
    """Creates accounts, departments and datasets through the service layer."""

    def __init__(self, app):
        self.app = app
        self.counter = 0

    def _session(self):
        return get_db(self.app).session()

    def user(self, name: str | None = None, *, sysadmin: bool = False, scope: str = "write") -> "Account":
        from catalog.auth.service import create_token, create_user

        self.counter += 1
        name = name or f"user{self.counter}"
        with self._session() as session:
            user = create_user(session, None, name=name, password="correct-horse", sysadmin=sysadmin,
                               email=f"{name}@example.gov.cn", fullname=f"User {name}", check_auth=False)
            _token, secret = create_token(session, None, user=user, name="test", scope=scope,
                                          check_auth=False)
            session.commit()
            return Account(id=user.id, name=user.name, token=secret)

    def department(self, name: str | None = None, *, members: dict[str, "Account"] | None = None,
                   **fields) -> dict[str, Any]:
        from catalog.auth.models import User
        from catalog.departments.service import create_department, set_member

        self.counter += 1
        name = name or f"dept{self.counter}"
        with self._session() as session:
            admin = session.scalar(sa.select(User).where(User.sysadmin.is_(True)).limit(1))
            if admin is None:
                admin = User(name=f"root{self.counter}", sysadmin=True)
                session.add(admin)
                session.flush()
            department = create_department(session, admin, name=name, title=fields.pop("title", name.title()),
                                           **fields)
            for role, account in (members or {}).items():
                set_member(session, admin, department, session.get(User, account.id), role.rstrip("0123456789"))
            session.commit()
            return {"id": department.id, "name": department.name}

    def dataset(self, owner_org: str, **overrides) -> dict[str, Any]:
        from catalog.auth.models import User
        from catalog.datasets.service import create_dataset

        self.counter += 1
        values = dataset_values(owner_org, self.counter)
        tags = overrides.pop("tags", ["户籍"])
        values.update(overrides)
        with self._session() as session:
            admin = session.scalar(sa.select(User).where(User.sysadmin.is_(True)).limit(1))
            dataset = create_dataset(session, admin, values=values, tags=tags)
            session.commit()
            return {"id": dataset.id, "name": dataset.name}


@dataclass
class Account:
    id: str
    name: str
    token: str


def dataset_values(owner_org: str, n: int = 1) -> dict[str, Any]:
    """A complete, valid dataset as an API caller would send it."""
    return {
        "name": f"household-register-{n}",
        "title": f"宁陕县户籍人口信息表 {n}",
        "notes": "全县户籍人口基本信息，含户编号、户主及成员。",
        "owner_org": owner_org,
        "resource_code": f"101001/{n:06d}",
        "category": "101",
        "share_type": "conditional",
        "share_condition": "仅限民政、人社部门核实救助对象使用",
        "share_method": {"channel": "platform", "type": "api"},
        "open_type": "none",
        "open_condition": "含个人信息，依法不予开放",
        "update_cycle": "monthly",
        "publish_date": "2026-01-03",
        "items": [{"name": "户编号", "type": "C", "description": "18 位户编号"},
                  {"name": "户主姓名", "type": "C"}],
    }


@pytest.fixture
def make(app):
    return Factory(app)


@pytest.fixture
def sysadmin(make):
    return make.user("admin", sysadmin=True)


def pytest_terminal_summary(terminalreporter):
    """Say once, at the end, whether the PostgreSQL half ran."""
    if not os.environ.get(PG_ENV):
        terminalreporter.write_line(
            f"NOTE: the PostgreSQL half was skipped; set {PG_ENV} (as .ci/run does) to run it.", yellow=True)
