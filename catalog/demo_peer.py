"""The demo's second catalog: civil affairs (民政局) runs its own catalog instance and pulls the county
petition dataset from the county catalog through the ``ckan`` source, under a share grant.

It lives in ``<instance>/mzj-catalog`` (its own SQLite database). During ``catalog demo load`` the
county catalog is served for a moment on a loopback port (``PORT``, default 5000, the port
``make run`` then serves on, so the job keeps working afterwards; any free port if that one is
taken); serve the second catalog with
``CATALOG_OUTBOUND_ALLOW=127.0.0.1:5000 CATALOG_INSTANCE_PATH=instance/mzj-catalog catalog serve --port 5001``
(its job reaches the county catalog on loopback, which the outbound policy refuses unless listed).
"""
from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from schemas.formats import uscc_check_char

from . import config as settings, create_app
from .auth.models import User
from .auth.service import create_token, create_user
from .connections import service as connections
from .datasets.models import Dataset
from .datasets.service import create_dataset
from .db import get_db, run_migrations
from .departments.service import create_department, get_department, set_member
from .sharing import service as sharing
from .sharing.models import ShareRequest
from .sync import service as sync_service
from .sync.models import SyncJob

PEER_FOLDER = "mzj-catalog"
DEPARTMENT = "ningshan-mzj"
PULLER = "mzj-officer"
JOB = "county-petitions"
#: the second catalog's connection to the county catalog
COUNTY = "county-catalog"
PURPOSE = "核实信访人的低保、救助情况（民政局业务系统比对）"
BASIS = "《社会救助暂行办法》第十一条：核查申请人家庭经济状况"
SCENARIO = "民政局低保审核系统每日比对信访人救助情况"
#: the petition dataset's sensitive fields: the grant names them so the copy holds valid records
FIELDS = ["petitioner", "content", "reply", "follow_up_visit"]


def _port() -> int:
    wanted = int(os.environ.get("PORT") or 5000)
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", wanted))
        except OSError:
            return 0
    return wanted


@contextlib.contextmanager
def _served(app: Flask) -> Iterator[str]:
    """``app`` on a loopback port while the block runs."""
    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs) -> None:  # the demo's output stays the summary
            pass

    server = make_server("127.0.0.1", _port(), app, threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _grant_and_token(app: Flask, session, admin: User) -> tuple[str, str] | None:
    """An approved share request of civil affairs for the petitions, and a token of its officer:
    (the petition resource id, the token secret); None when the demo's petition job is missing."""
    resource_id = session.scalar(sa.select(SyncJob.resource_id).where(SyncJob.name == "petition-office"))
    puller = session.scalar(sa.select(User).where(User.name == PULLER))
    provider = session.scalar(sa.select(User).where(User.name == "xfj-officer"))
    if resource_id is None or puller is None or provider is None:
        return None
    dataset = session.scalar(sa.select(Dataset).where(Dataset.name == "petition-cases"))
    department = get_department(session, DEPARTMENT)
    already = session.scalar(sa.select(ShareRequest).where(
        ShareRequest.package_id == dataset.id, ShareRequest.organization_id == department.id))
    if already is None:
        request = sharing.create_request(session, puller, dataset=dataset, organization_id=department.id,
                                         purpose=PURPOSE, basis=BASIS, scenario=SCENARIO, fields=FIELDS,
                                         expires=None, config={})
        sharing.approve_request(session, provider, request, fields=FIELDS, expires=None)
    _token, secret = create_token(session, None, user=puller, name="mzj-catalog-sync", check_auth=False,
                                  expires_in_days=app.config["TOKEN_DEFAULT_DAYS"])
    session.commit()
    return resource_id, secret


def _second_catalog(app: Flask) -> Flask:
    folder = Path(app.instance_path) / PEER_FOLDER
    # Its own folder's defaults, named here because CATALOG_INSTANCE_PATH (pointing at the county
    # catalog) wins over INSTANCE_PATH: the database, the storage and the secret key that seals the job's
    # token, the same ones `CATALOG_INSTANCE_PATH=<folder> catalog serve` finds later.
    own = {"DATABASE_URL": None, "STORAGE_PATH": None, "SECRET_KEY": None}
    settings.finalize(own, str(folder))
    peer = create_app({"INSTANCE_PATH": str(folder), **own, "SITE_URL": "http://127.0.0.1:5001",
                       "BROKER_URL": None, "OUTBOUND_ALLOW": "127.0.0.1"})  # the county catalog, served below
    run_migrations(peer)
    return peer


def pull_into_second_catalog(app: Flask, session, admin: User, county: dict) -> list[str]:
    """Set up the second catalog (once) and run its pull; lines to print.

    ``county`` is the county catalog's demo definition (demo_data/catalog.json): the civil affairs department
    and the petition dataset the second catalog copies are taken from it.
    """
    folder = Path(app.instance_path) / PEER_FOLDER
    if (folder / "catalog.db").exists():
        return [f"Second catalog (民政局) in {folder}: exists already"]
    granted = _grant_and_token(app, session, admin)
    if granted is None:
        return ["Second catalog skipped: the demo's petition sync job is missing"]
    resource_id, token = granted
    peer = _second_catalog(app)
    with peer.app_context(), _served(app) as url:
        database = get_db(peer)
        with database.session() as peer_session:
            peer_admin = create_user(peer_session, None, name="admin", password=secrets.token_urlsafe(12),
                                     fullname="民政局目录管理员", sysadmin=True, check_auth=False)
            item = next(d for d in county["departments"] if d["name"] == DEPARTMENT)
            department = create_department(peer_session, peer_admin, name=item["name"], title=item["title"],
                                           code=item["code17"] + uscc_check_char(item["code17"]),
                                           description=item["description"])
            officer = create_user(peer_session, None, name=PULLER, password=secrets.token_urlsafe(12),
                                  fullname="民政局数据专员", check_auth=False)
            set_member(peer_session, peer_admin, department, officer, "admin")
            values = dict(next(d for d in county["datasets"] if d["name"] == "petition-cases"))
            values.pop("tags", None)
            values.update(name="county-petitions", title="县信访局信访件（共享副本）", owner_org=department.id,
                          notes="从县政务数据资源目录按共享授权同步的信访件，用于民政救助核实。")
            dataset = create_dataset(peer_session, peer_admin, values=values, tags=["信访", "共享"])
            # the county catalog and the officer's token there: a connection of the second catalog's
            # sysadmin, open to its civil affairs department; the job names it and the resource
            connections.create_connection(peer_session, peer_admin, name=COUNTY, kind="http",
                                          title="县政务数据资源目录", config={"url": url, "token": token},
                                          organizations=[department.id])
            job = sync_service.create_job(peer_session, peer_admin, package_id=dataset.id, values={
                "name": JOB, "title": "县目录信访件 → 民政局目录（ckan 来源）", "source": "ckan",
                "source_config": {"connection": COUNTY, "resource_id": resource_id},
                "mode": "incremental", "write": "upsert", "schedule": "*/30 * * * *"})
            peer_session.commit()
            job_id = job.id
        run = sync_service.run_job(database, job_id, trigger="demo")
        counts = ", ".join(f"{k} {v}" for k, v in run.counts.items() if v)
        database.engine.dispose()
    return [f"Second catalog (民政局) in {folder}: {JOB} pulled the county petitions through the ckan "
            f"source from {url}: {run.status} ({counts})",
            f"  serve it: CATALOG_OUTBOUND_ALLOW={url.split('://', 1)[1]} CATALOG_INSTANCE_PATH={folder} "
            "catalog serve --port 5001"]
