"""Concurrent writers of one dataset (issue 12, finding 9).

Twenty callers adding a resource to one dataset at the same moment must all succeed: none of them
sent a revision, so none of them asked to be told about the others (CKAN loses such resources,
ckan#6420). A caller who does send the revision they read still gets 409 when it is out of date.

These tests need several connections that see each other's commits, which the rolled-back
transaction of the ``app`` fixture cannot give: each builds its own app on a fresh database,
migrated as ``catalog db upgrade`` does, and serves it on a loopback port with a thread per request.
"""
from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from werkzeug.serving import make_server

from catalog import create_app
from catalog.cli import run_migrations
from catalog.db import get_db
from tests.conftest import Factory, fresh_postgres_database

CALLERS = 20


@contextlib.contextmanager
def _database(kind: str, tmp_path):
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'concurrency.db'}"
    else:
        with fresh_postgres_database("catalog_concurrency") as url:
            yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request, tmp_path):
    """A dedicated, migrated app on a fresh database, served with one thread per request."""
    with _database(request.param, tmp_path) as url:
        app = create_app({"TESTING": True, "DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "instance"),
                          "SECRET_KEY": "test", "SITE_URL": "http://localhost",
                          "STORAGE_PATH": str(tmp_path / "storage"), "RATELIMIT_ENABLED": False})
        run_migrations(app)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield app, f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            thread.join(timeout=5)
            get_db(app).engine.dispose()


def _call(base: str, name: str, data: dict, token: str) -> requests.Response:
    return requests.post(f"{base}/api/3/action/{name}", json=data, headers={"Authorization": token}, timeout=60)


def test_twenty_concurrent_resource_creates_all_succeed(served):
    app, base = served
    make = Factory(app)
    editor = make.user("editor")
    department = make.department(members={"editor": editor})
    dataset = make.dataset(department["name"])
    start = threading.Barrier(CALLERS)

    def add(n: int) -> requests.Response:
        start.wait(timeout=30)
        return _call(base, "resource_create", {"package_id": dataset["id"], "name": f"日报 {n}",
                                               "url": f"https://data.ningshan.gov.cn/r/{n}.csv"}, editor.token)

    with ThreadPoolExecutor(CALLERS) as pool:
        replies = list(pool.map(add, range(CALLERS)))
    refused = [(r.status_code, r.json().get("error")) for r in replies if r.status_code != 200]
    assert not refused, refused
    shown = _call(base, "package_show", {"id": dataset["id"]}, editor.token).json()["result"]
    assert sorted(r["name"] for r in shown["resources"]) == sorted(f"日报 {n}" for n in range(CALLERS))
    assert sorted(r["position"] for r in shown["resources"]) == list(range(CALLERS))


def test_a_stale_revision_is_still_refused(served):
    app, base = served
    make = Factory(app)
    editor = make.user("editor")
    department = make.department(members={"editor": editor})
    dataset = make.dataset(department["name"])
    read = _call(base, "package_show", {"id": dataset["id"]}, editor.token).json()["result"]
    added = _call(base, "resource_create", {"package_id": dataset["id"], "url": "https://example.gov.cn/a.csv"},
                  editor.token)
    assert added.status_code == 200, added.text
    stale = _call(base, "package_patch", {"id": dataset["id"], "title": "改名", "revision": read["revision"]},
                  editor.token)
    assert stale.status_code == 409 and "revision" in stale.json()["error"], stale.text
    fresh = _call(base, "package_show", {"id": dataset["id"]}, editor.token).json()["result"]
    ok = _call(base, "package_patch", {"id": dataset["id"], "title": "改名", "revision": fresh["revision"]},
               editor.token)
    assert ok.status_code == 200, ok.text
