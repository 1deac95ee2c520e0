"""sync.run_with_errors: a run that ended with invalid rows or failed is announced, with its status and
counts, to the department that owns the job (and sysadmins) — never to other readers of the dataset,
since the run's messages quote the export's rows."""
from __future__ import annotations

import pytest

from tests.schemas.records_samples import petitions
from tests.sync.helpers import folder_connection
from tests.sync.test_jobs import HEADERS, petition_csv

MAPPING = {"rename": {v: k for k, v in HEADERS.items()} | {"信访人姓名": "petitioner.name"},
           "dates": ["accepted_on", "deadline", "completed_on"]}


@pytest.fixture(autouse=True)
def manual_dispatch(app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_DISPATCH", "manual")


def deliveries(api, subscription, token):
    reply = api.call("webhook_delivery_list", {"id": subscription["id"]}, token=token)
    assert reply.status == 200, reply.body
    return [d for d in reply.result if d["event"] == "sync.run_with_errors"]


def test_a_run_with_invalid_rows_is_announced_to_its_department_only(api, make, sysadmin, tmp_path):
    officer, neighbour = make.user("xfj-officer"), make.user("mzj-officer")
    dept = make.department("ningshan-xfj", members={"editor": officer})
    make.department("ningshan-mzj", members={"editor": neighbour})
    dataset = make.dataset(dept["id"], name="petitions", record_schema="petition@1",
                           share_type="unconditional", share_condition=None)
    folder_connection(api, sysadmin.token, "xfj-exports", tmp_path, [dept["id"]])
    subscriptions = {}
    for who in (officer, neighbour):
        reply = api.call("webhook_create", {"package_id": "petitions", "url": "https://hooks.example.gov.cn/x",
                                            "events": ["sync.run_with_errors", "records.changed"]}, token=who.token)
        assert reply.status == 200, reply.body  # the neighbour may read the dataset and subscribe …
        subscriptions[who.name] = reply.result
    petition_csv(tmp_path / "台账.csv", list(petitions(10, seed=3)))
    created = api.call("sync_job_create", {
        "name": "petition-office", "package_id": dataset["id"], "source": "csv",
        "source_config": {"connection": "xfj-exports", "path": "台账.csv"}, "mapping": MAPPING}, token=officer.token)
    assert created.status == 200, created.body

    clean = api.call("sync_job_run", {"id": "petition-office"}, token=officer.token).result
    assert clean["status"] == "succeeded"
    assert deliveries(api, subscriptions["xfj-officer"], officer.token) == []  # a clean run is not news

    petition_csv(tmp_path / "台账.csv", list(petitions(10, seed=4)), bad=3)  # 3 of 10 rows not dated
    run = api.call("sync_job_run", {"id": "petition-office"}, token=officer.token).result
    assert run["status"] == "succeeded_with_errors"
    [announced] = deliveries(api, subscriptions["xfj-officer"], officer.token)
    data = announced["payload"]
    assert (data["package_name"], data["job"], data["run_id"], data["status"]) == (
        "petitions", "petition-office", run["id"], "succeeded_with_errors")
    assert data["counts"]["quarantined"] == 3 and data["counts"]["read"] == 10
    assert "accepted_on" in data["error_message"]
    # … but gets no word of the runs, whose messages quote the rows
    assert deliveries(api, subscriptions["mzj-officer"], neighbour.token) == []

    petition_csv(tmp_path / "台账.csv", list(petitions(10, seed=4)), bad=10)  # every row bad: failed
    failed = api.call("sync_job_run", {"id": "petition-office"}, token=officer.token).result
    assert failed["status"] == "failed"
    statuses = [d["payload"]["status"] for d in deliveries(api, subscriptions["xfj-officer"], officer.token)]
    assert sorted(statuses) == ["failed", "succeeded_with_errors"]
    assert deliveries(api, subscriptions["mzj-officer"], neighbour.token) == []
