"""Two reviewers deciding one dataset at the same moment: one decision wins, the other is told (409).

Like tests/security/test_concurrency.py, this needs connections that see each other's commits: its own
app on a fresh database, served with a thread per request.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from werkzeug.serving import make_server

from catalog import create_app
from catalog.cli import run_migrations
from catalog.db import get_db
from tests.conftest import Factory
from tests.security.test_concurrency import _database


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request, tmp_path):
    with _database(request.param, tmp_path) as url:
        app = create_app({"TESTING": True, "DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "instance"),
                          "SECRET_KEY": "test", "SITE_URL": "http://localhost", "RATELIMIT_ENABLED": False,
                          "STORAGE_PATH": str(tmp_path / "storage"), "CATALOG_REVIEW": True,
                          "AUTHORITY_DEPARTMENT": "ningshan-sjj"})
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


@pytest.mark.parametrize("decisions", [("approve", "approve"), ("approve", "return")])
def test_two_reviewers_at_once_one_decision_wins(served, decisions):
    app, base = served
    make = Factory(app)
    admin, first, second = make.user("mz-admin"), make.user("sj-admin"), make.user("sj-editor")
    make.department("ningshan-mzj", members={"admin": admin})
    make.department("ningshan-sjj", members={"admin": first, "editor": second})
    dataset = make.dataset("ningshan-mzj", state="draft")
    assert _call(base, "package_submit", {"id": dataset["id"]}, admin.token).status_code == 200
    start = threading.Barrier(2)

    def decide(args) -> requests.Response:
        reviewer, decision = args
        start.wait(timeout=30)
        return _call(base, "package_review", {"id": dataset["id"], "decision": decision, "reason": "并发审核"},
                     reviewer.token)

    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(decide, zip((first, second), decisions)))
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [200, 409], [r.text for r in replies]
    loser = next(r for r in replies if r.status_code == 409).json()["error"]
    assert "state" in loser
    winner = next(r for r in replies if r.status_code == 200).json()["result"]
    reviews = _call(base, "package_review_list", {"package_id": dataset["id"]}, admin.token).json()["result"]
    assert [(r["status"], r["reviewer_id"]) for r in reviews] == [(winner["status"], winner["reviewer_id"])]
    shown = _call(base, "package_show", {"id": dataset["id"]}, admin.token).json()["result"]
    assert shown["state"] == ("active" if winner["status"] == "approved" else "draft")
