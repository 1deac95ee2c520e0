"""Demo data: Ningshan County departments, their data officers and data resources.

Loading is idempotent: objects that exist (by name) are left alone. The sysadmin's password and
an API token are written once to ``<instance>/demo-credentials.txt`` (mode 600) and printed.
"""
from __future__ import annotations

import json
import secrets
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from schemas.formats import uscc_check_char

from .auth.models import User
from .auth.service import create_token, create_user
from .connections import service as connections
from .connections.models import Connection
from .datasets.models import Dataset
from .datasets.service import create_dataset
from .db import get_db, get_session
from .demo_peer import pull_into_second_catalog
from .demo_systems import demo_connections, demo_jobs
from .departments.models import Department
from .departments.service import create_department, get_department, set_member
from .objections import demo as objections_demo
from .reports import demo as reports_demo
from .review import demo as review_demo
from .sharing import demo as sharing_demo
from .sync import service as sync_service
from .sync.models import SyncJob

DATA = Path(__file__).parent / "demo_data" / "catalog.json"
ADMIN = "admin"


def _credentials(app: Flask, session) -> tuple[list[str], bool]:
    path = Path(app.instance_path) / "demo-credentials.txt"
    admin = session.scalar(sa.select(User).where(User.name == ADMIN))
    if admin is not None:
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else [
            f"user {ADMIN} exists already; its password is not known to the demo loader"]
        return lines, False
    password = secrets.token_urlsafe(9)
    admin = create_user(session, None, name=ADMIN, password=password, fullname="县数据主管部门管理员",
                        email="admin@ningshan.example.gov.cn", sysadmin=True, check_auth=False)
    _token, secret = create_token(session, None, user=admin, name="demo", check_auth=False,
                                  expires_in_days=app.config["TOKEN_DEFAULT_DAYS"])
    lines = [f"Sysadmin login: {ADMIN} / {password}", f"API token ({ADMIN}): {secret}"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return lines, True


def systems_folder(app: Flask) -> Path:
    """Where the demo's department systems live: beside the instance folder, never inside it (the
    instance folder holds the catalog's database and keys, which can never be a sync source)."""
    instance = Path(app.instance_path)
    return instance.parent / f"{instance.name}-demo-systems"


def _sync_demo_systems(app: Flask, session, admin) -> list[str]:
    """Register the three department systems as connections and create their sync jobs (once), then
    run each new job once."""
    created = []
    if not session.scalar(sa.select(SyncJob.id).limit(1)):
        for item in demo_connections(systems_folder(app)):
            owner = session.scalar(sa.select(Dataset.owner_org).where(Dataset.name == item.pop("dataset")))
            if not session.scalar(sa.select(Connection.id).where(Connection.name == item["name"])):
                connections.create_connection(session, admin, **item, organizations=[owner])
        for definition in demo_jobs():
            dataset = definition.pop("dataset")
            job = sync_service.create_job(session, admin, package_id=dataset, values=definition)
            created.append((job.id, job.name))
    session.commit()  # and touch the session no more: the runs write through their own
    lines = []
    for job_id, name in created:
        run = sync_service.run_job(get_db(app), job_id, trigger="demo")
        counts = ", ".join(f"{k} {v}" for k, v in run.counts.items() if v)
        lines.append(f"Synced {name}: {run.status} ({counts})")
    return lines


def load_demo(app: Flask) -> list[str]:
    """Create whatever part of the demo catalog is missing; return lines to print."""
    data = json.loads(DATA.read_text(encoding="utf-8"))
    session = get_session()
    lines, _created = _credentials(app, session)
    admin = session.scalar(sa.select(User).where(User.name == ADMIN))
    added = {"departments": 0, "users": 0, "datasets": 0}
    for item in data["departments"]:
        if session.scalar(sa.select(Department.id).where(Department.name == item["name"])):
            continue
        code = item["code17"] + uscc_check_char(item["code17"])
        create_department(session, admin, name=item["name"], title=item["title"], code=code,
                          description=item["description"])
        added["departments"] += 1
    officers: dict[str, str] = {}  # one login per department, printed once (passwords are not kept)
    for item in data["users"]:
        if session.scalar(sa.select(User.id).where(User.name == item["name"])):
            continue
        password = secrets.token_urlsafe(12)
        user = create_user(session, None, name=item["name"], password=password,
                           fullname=item["fullname"], check_auth=False)
        department = get_department(session, item["department"])
        set_member(session, admin, department, user, item["role"])
        officers.setdefault(department.title, f"Officer login ({department.title}, {item['role']}): "
                                              f"{user.name} / {password}")
        added["users"] += 1
    lines.extend(officers.values())
    for item in data["datasets"]:
        if session.scalar(sa.select(Dataset.id).where(Dataset.name == item["name"])):
            continue
        values = dict(item)
        tags = values.pop("tags", [])
        values["owner_org"] = get_department(session, values["owner_org"]).id
        create_dataset(session, admin, values=values, tags=tags)
        added["datasets"] += 1
    session.commit()
    lines.extend(_sync_demo_systems(app, session, admin))
    lines.extend(pull_into_second_catalog(app, session, admin, data))
    lines.extend(objections_demo.load(session, admin, app.config))
    lines.extend(sharing_demo.load(session, admin, app.config))
    lines.extend(review_demo.load(session, admin, app.config))
    lines.extend(reports_demo.load(session, admin, app.config))
    if any(added.values()):
        lines.insert(0, "Demo data loaded: " + ", ".join(f"{n} {k}" for k, n in added.items()))
    else:
        lines.insert(0, "Demo data already loaded: nothing added")
    return lines
