"""What ``make run`` shows a newcomer: ``catalog demo load`` on a fresh SQLite instance, loaded once for this file.

The demo is loaded twice (``make run`` twice): the second load adds nothing. The tests below read what the
first load made; the tests that change the loaded demo (search rebuild, a tampered log) load their own, in
test_commands.py.
"""
from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from catalog import create_app
from catalog.activity.models import Activity
from catalog.auth.models import User
from catalog.cli import main
from catalog.connections.models import Connection
from catalog.connections.service import clear_config
from catalog.db import get_db, utcnow
from catalog.demands.models import Demand
from catalog.departments.models import Department
from catalog.objections.flags import flags_for
from catalog.objections.models import Objection
from catalog.reports import service as reports
from catalog.reports.rules import Quarter
from catalog.sharing.models import Grant, ShareRequest, UsageRecord
from catalog.sync.models import SyncRun
from schemas.samples import TOWNS

pytestmark = pytest.mark.slow


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@dataclass
class Demo:
    instance: Path
    first: str  # what the first `catalog demo load` printed
    again: str  # what the second one printed


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    instance = tmp_path_factory.mktemp("demo") / "instance"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CATALOG_INSTANCE_PATH", str(instance))
        patch.delenv("CATALOG_DATABASE_URL", raising=False)
        assert run("db", "upgrade").exit_code == 0
        first = run("demo", "load")
        assert first.exit_code == 0, first.output
        again = run("demo", "load")
        assert again.exit_code == 0, again.output
        yield Demo(instance, first.output, again.output)


@pytest.fixture
def app(demo, monkeypatch):
    monkeypatch.setenv("CATALOG_INSTANCE_PATH", str(demo.instance))
    monkeypatch.delenv("CATALOG_DATABASE_URL", raising=False)
    app = create_app()
    yield app
    get_db(app).engine.dispose()


def test_the_demo_loads_once_and_prints_the_logins(demo):
    assert "Demo data loaded: 6 departments, 6 users, 8 datasets" in demo.first
    assert "Sysadmin login: admin / " in demo.first
    officers = [line for line in demo.first.splitlines() if line.startswith("Officer login (")]
    assert len(officers) == 6 and all(" / " in line for line in officers)  # one login per department
    token_line = next(line for line in demo.first.splitlines() if line.startswith("API token"))
    assert "nothing added" in demo.again
    assert token_line in demo.again  # the same credentials, not a new account


def test_the_demo_syncs_three_department_systems_with_bad_rows_in_quarantine(demo, app, monkeypatch):
    assert "Synced police-households: succeeded (read 200, inserted 200)" in demo.first
    assert "Synced hr-migrant-households: succeeded" in demo.first
    petition = next(line for line in demo.first.splitlines() if line.startswith("Synced petition-office"))
    assert "succeeded_with_errors" in petition and "quarantined 8" in petition  # 8 of 150 rows invalid: not "succeeded"
    listed = run("quarantine", "list", "--job", "petition-office")
    lines = listed.output.strip().splitlines()
    assert len(lines) == 8
    assert any("accepted_on: '2026年13月01日' is not a date" in line for line in lines)
    # 试运行 of the same job: values and errors side by side, nothing written, exit 1 for the invalid rows
    preview = run("sync", "preview", "petition-office", "--rows", "150")
    assert preview.exit_code == 1 and preview.output.rstrip().endswith("150 rows mapped, 8 invalid; nothing was written")
    assert "✗ '2026年13月01日' is not a date [date]" in preview.output
    assert len(run("quarantine", "list", "--job", "petition-office").output.strip().splitlines()) == 8
    assert "Synced" not in demo.again  # one run each, not one per make run


def test_a_second_catalog_pulled_the_petitions_under_its_grant(demo, monkeypatch):
    second = next(line for line in demo.first.splitlines() if line.startswith("Second catalog"))
    assert "county-petitions pulled the county petitions through the ckan source" in second
    assert "succeeded (read 142, inserted 142)" in second  # 150 rows, 8 of them in the county's quarantine
    with sqlite3.connect(demo.instance / "mzj-catalog" / "catalog.db") as peer:
        assert peer.execute("SELECT count(*) FROM datastore_record WHERE NOT deleted").fetchone() == (142,)
        assert peer.execute("SELECT status FROM sync_run").fetchall() == [("succeeded",)]
    # served on its own later (its folder as the instance), the second catalog still opens the job's token
    monkeypatch.setenv("CATALOG_INSTANCE_PATH", str(demo.instance / "mzj-catalog"))
    monkeypatch.delenv("CATALOG_DATABASE_URL", raising=False)
    peer_app = create_app()
    with get_db(peer_app).session() as session:
        county = session.scalar(sa.select(Connection).where(Connection.name == "county-catalog"))
        assert clear_config(session, county)["token"].startswith("cat_")
    get_db(peer_app).engine.dispose()
    assert "exists already" in demo.again


def test_the_demo_has_an_open_objection_with_flagged_records_and_a_fulfilled_demand(demo, app):
    assert "Correction request (open, records flagged)" in demo.first
    assert "Correction request" not in demo.again, "loaded once"
    with get_db(app).session() as session:
        (objection,) = session.scalars(sa.select(Objection)).all()
        assert objection.status == "open" and len(objection.keys) == 2
        flags = flags_for(session, objection.package_id, objection.resource_id, [*objection.keys, "no-such-key"])
        assert flags == {key: {"id": objection.id, "status": "open"} for key in objection.keys}
        (demand,) = session.scalars(sa.select(Demand)).all()
        assert demand.status == "fulfilled" and demand.dataset.name == "minimum-living-allowance"


def test_the_demo_has_a_returned_request_an_extension_a_delivered_grant_and_a_use_record(demo, app):
    assert "returned for completion" in demo.first and "approved extension" in demo.first
    assert "returned for completion" not in demo.again, "loaded once"
    with get_db(app).session() as session:
        (returned,) = session.scalars(sa.select(ShareRequest).where(ShareRequest.status == "returned")).all()
        assert returned.dataset.name == "minimum-living-allowance" and set(returned.missing) == {"basis", "scenario"}
        (extended,) = session.scalars(sa.select(ShareRequest).where(ShareRequest.extension_status.is_not(None))).all()
        assert extended.extension_status == "approved" and extended.extension_days == 5
        (record,) = session.scalars(sa.select(UsageRecord)).all()
        grant = session.get(Grant, record.grant_id)
        assert grant.delivered_at is not None and grant.dataset.name == "household-register"


def test_the_demo_ranks_every_department_and_town(demo, app):
    today = utcnow().date()
    current = Quarter(today.year, (today.month - 1) // 3 + 1)
    index = current.year * 4 + current.number - 2
    last = Quarter(index // 4, index % 4 + 1)
    assert f"Quarterly ranking {last}:" in demo.first
    assert "Quarterly ranking" not in demo.again, "loaded once"
    with get_db(app).session() as session:
        report = reports.performance_report(session, None, app.config, quarter=last, check=False)
        departments = set(session.scalars(sa.select(Department.title)))
    assert {row["title"] for row in report["departments"] if row["rank"] is not None} == departments
    assert {row["name"] for row in report["towns"] if row["rank"] is not None} == {town for town, _code in TOWNS}
    ranked = [row for row in report["departments"] if row["figures"]["service_cases"]["rate"] is not None]
    assert len(ranked) == len(departments)  # the 办件明细 table feeds every department


def test_every_activity_and_sync_log_line_of_the_demo_reads_in_chinese(demo, app):
    """A dataset's activity stream and a sync run's log, as an officer reads them in Chinese: no line of the
    demo's (the whole share workflow, the catalog review, three synced systems with bad rows) in English."""
    with get_db(app).session() as session:
        admin = session.scalar(sa.select(User.id).where(User.name == "admin"))
        datasets = session.scalars(sa.select(Activity.object_id).where(Activity.activity_type.is_not(None))
                                   .distinct()).all()
        runs = session.scalars(sa.select(SyncRun.id)).all()
    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie["_user_id"] = admin
    english = []
    for dataset_id in datasets:
        page = client.get(f"/dataset/{dataset_id}", headers={"Accept-Language": "zh"})
        if page.status_code != 200:  # a department's activity, not a dataset's
            continue
        stream = page.get_data(as_text=True).split('class="activity"', 1)[-1]
        english += [(dataset_id, line) for line in re.findall(r"<li>(.*?)</li>", stream, re.S)
                    if re.search(r"\b[a-z]{3,} [a-z]{3,}\b", re.sub(r"<[^>]+>", " ", line))]
    assert len(runs) >= 3
    for run_id in runs:
        page = client.get(f"/sync/run/{run_id}", headers={"Accept-Language": "zh"}).get_data(as_text=True)
        log = page.split('<pre class="log">', 1)[1].split("</pre>", 1)[0]
        english += [(run_id, line) for line in log.splitlines() if re.search(r"\b[a-z]{3,} [a-z]{3,}\b", line)]
    assert english == []
