"""``ckanapi dump datasets --all --datapackages`` from one catalog and ``ckanapi load datasets`` into another
carry the demo catalog across unchanged: its departments, datasets, core metadata, tags, themes and an
uploaded file (issue 16)."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import ckanapi
import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from catalog import create_app
from catalog.auth.models import User
from catalog.cli import run_migrations
from catalog.datasets.service import create_dataset
from catalog.db import get_db
from catalog.demo import DATA
from catalog.departments.service import create_department, get_department
from schemas.formats import uscc_check_char
from tests.conftest import Factory

CKANAPI = str(Path(sys.executable).with_name("ckanapi"))
COMPARED = ("title", "notes", "resource_code", "category", "share_type", "share_condition", "share_method",
            "open_type", "open_condition", "update_cycle", "publish_date", "related_codes", "items", "license_id",
            "isopen", "private", "state")


def _serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{server.server_port}"


def _load_demo_catalog(app) -> list[str]:
    """The demo's departments and datasets (catalog/demo_data/catalog.json), made through the services."""
    data = json.loads(DATA.read_text(encoding="utf-8"))
    with get_db(app).session() as session:
        admin = session.scalar(sa.select(User).where(User.sysadmin.is_(True)).limit(1))
        for item in data["departments"]:
            create_department(session, admin, name=item["name"], title=item["title"],
                              code=item["code17"] + uscc_check_char(item["code17"]), description=item["description"])
        for item in data["datasets"]:
            values = dict(item)
            tags = values.pop("tags", [])
            values["owner_org"] = get_department(session, values["owner_org"]).id
            create_dataset(session, admin, values=values, tags=tags)
        session.commit()
    return [item["name"] for item in data["datasets"]]


def _ckanapi(*args: str) -> None:
    # ckanapi's workers start ``ckanapi`` from PATH: the one beside this Python.
    env = {**os.environ, "PATH": str(Path(CKANAPI).parent) + os.pathsep + os.environ.get("PATH", "")}
    result = subprocess.run([CKANAPI, *args, "-p", "1"], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_dump_and_load_round_trip_the_demo(app, live_url, make, sysadmin, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "SITE_URL", live_url)  # uploaded files are fetched from where they are served
    names = _load_demo_catalog(app)
    source = ckanapi.RemoteCKAN(live_url, apikey=sysadmin.token)
    first = names[0]
    source.action.package_patch(id=first, groups=[{"name": "218"}, {"name": "217"}], license_id="CC-BY-4.0")
    source.call_action("resource_create", {"package_id": first, "name": "户籍表", "format": "CSV"},
                       files={"upload": ("hukou.csv", io.BytesIO("户编号,户主\n1,张三\n".encode("utf-8")))})

    target_app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'second.db'}",
                             "INSTANCE_PATH": str(tmp_path / "second"), "SECRET_KEY": "second",
                             "SITE_URL": "http://localhost"})
    run_migrations(target_app)
    target_admin = Factory(target_app).user("admin2", sysadmin=True)
    server, thread, target_url = _serve(target_app)
    try:
        _ckanapi("dump", "organizations", "--all", "-O", str(tmp_path / "orgs.jsonl"), "-r", live_url,
                 "-a", sysadmin.token)
        _ckanapi("load", "organizations", "-I", str(tmp_path / "orgs.jsonl"), "-r", target_url,
                 "-a", target_admin.token)
        _ckanapi("dump", "datasets", "--all", "--datapackages", str(tmp_path / "packages"), "-r", live_url,
                 "-a", sysadmin.token)
        package = json.loads((tmp_path / "packages" / first / "datapackage.json").read_text(encoding="utf-8"))
        assert [r["name"] for r in package["resources"]] == ["hu-ji-biao"]  # ckanapi's slug of 户籍表
        assert list((tmp_path / "packages" / first / "data").iterdir())  # the uploaded file came down too
        _ckanapi("dump", "datasets", "--all", "-O", str(tmp_path / "datasets.jsonl"), "-r", live_url,
                 "-a", sysadmin.token)
        _ckanapi("load", "datasets", "-I", str(tmp_path / "datasets.jsonl"), "-r", target_url,
                 "-a", target_admin.token)
        target = ckanapi.RemoteCKAN(target_url, apikey=target_admin.token)
        assert sorted(target.action.package_list()) == sorted(source.action.package_list())
        published = source.action.package_list()
        assert len(published) == len(names) - 1  # the demo's one draft is not dumped by --all, as from CKAN
        for name in published:
            before, after = source.action.package_show(id=name), target.action.package_show(id=name)
            assert {k: after.get(k) for k in COMPARED} == {k: before.get(k) for k in COMPARED}, name
            assert after["organization"]["name"] == before["organization"]["name"]
            assert [t["name"] for t in after["tags"]] == [t["name"] for t in before["tags"]]
            assert [g["name"] for g in after["groups"]] == [g["name"] for g in before["groups"]]
            assert [(r["name"], r["format"]) for r in after["resources"]] == \
                [(r["name"], r["format"]) for r in before["resources"]]
        assert [g["name"] for g in target.action.package_show(id=first)["groups"]] == ["217", "218"]
    finally:
        server.shutdown()
        thread.join(timeout=5)
        get_db(target_app).engine.dispose()
