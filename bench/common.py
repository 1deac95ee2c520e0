"""Setup shared by the benchmarks: a scratch database, and the household dataset they load into."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from catalog.datasets.service import create_dataset
from catalog.departments.service import create_department


@contextlib.contextmanager
def scratch_database(url: str | None, folder: Path, name: str) -> Iterator[str]:
    """The URL of an empty database for one benchmark run, removed after it.

    Without ``url``, a new SQLite file in ``folder``. With one, ``url`` names a PostgreSQL server: a fresh
    database ``name`` is created there (an older one of that name is dropped first) and dropped at the end.
    """
    if not url:
        yield f"sqlite:///{folder / 'catalog.db'}"
        return
    server = make_url(url).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def household_dataset(session, admin, *, department_name: str, department_title: str) -> Any:
    """A department and its published dataset bound to household@1 (through the services)."""
    department = create_department(session, admin, name=department_name, title=department_title)
    return create_dataset(session, admin, values={
        "name": "household-register", "title": "宁陕县住户信息", "notes": "全县住户及家庭成员信息。",
        "owner_org": department.id, "resource_code": "101001/000001", "category": "101",
        "share_type": "unconditional", "share_method": {"channel": "platform", "type": "api"},
        "open_type": "none", "open_condition": "含个人信息，依法不予开放", "update_cycle": "monthly",
        "publish_date": "2026-01-03", "record_schema": "household@1",
        "items": [{"name": "户编号", "type": "C"}, {"name": "户主姓名", "type": "C"}]}, tags=["住户"])
