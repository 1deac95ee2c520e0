"""Sync jobs end to end: a GB18030 petition CSV with bad rows into the DataStore, resumable and idempotent."""
from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from catalog.datastore.models import QuarantinedRecord, Record
from catalog.db import get_db
from catalog.errors import ValidationError
from catalog.sync import service as sync_service
from tests.schemas.records_samples import petitions
from tests.sync.helpers import connection, folder_connection

HEADERS = {"petition_number": "信访件编号", "channel": "信访渠道", "content": "诉求内容", "category": "诉求类别",
           "responsible_unit": "责任单位", "accepted_on": "受理日期", "deadline": "办结期限", "status": "办理状态",
           "reply": "答复意见", "completed_on": "办结日期"}


def petition_csv(path, rows: list[dict], bad: int = 0) -> None:
    """A petition office export: Chinese headers, GB18030, CRLF, dates written 2026/01/03."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(list(HEADERS.values()) + ["信访人姓名"])
    for index, row in enumerate(rows):
        values = [row.get(k, "") for k in HEADERS]
        values[5] = values[5].replace("-", "/")
        if index < bad:
            values[5] = "2026年13月45日"  # not a date
        writer.writerow(values + [row["petitioner"]["name"]])
    path.write_bytes(buffer.getvalue().encode("gb18030"))


@pytest.fixture
def job(api, make, sysadmin, tmp_path):
    dept = make.department("ningshan-xfj")
    dataset = make.dataset(dept["id"], name="petitions", record_schema="petition@1")
    rows = list(petitions(40, seed=3))
    source = tmp_path / "信访台账.csv"
    petition_csv(source, rows, bad=3)
    folder_connection(api, sysadmin.token, "xfj-exports", tmp_path, [dept["id"]])
    mapping = {"rename": {v: k for k, v in HEADERS.items()} | {"信访人姓名": "petitioner.name"},
               "dates": ["accepted_on", "deadline", "completed_on"]}
    created = api.call("sync_job_create", {
        "name": "petition-office", "package_id": dataset["id"], "source": "csv",
        "source_config": {"connection": "xfj-exports", "path": source.name}, "mapping": mapping,
        "write": "upsert"}, token=sysadmin.token)
    assert created.status == 200, created.body
    return {"job": created.result, "rows": rows, "source": source}


def test_run_accounts_for_every_row_and_quarantines_bad_ones(api, app, job, sysadmin, db):
    run = api.call("sync_job_run", {"id": "petition-office"}, token=sysadmin.token)
    assert run.status == 200, run.body
    counts = run.result["counts"]
    assert run.result["status"] == "succeeded_with_errors", run.result  # 3 of 40 rows quarantined
    assert run.result["error_message"].startswith("3 of 40 rows (7.5%) were invalid and quarantined")
    assert counts["read"] == 40
    assert counts["read"] == counts["inserted"] + counts["updated"] + counts["unchanged"] + \
        counts["quarantined"] + counts["skipped"]
    assert counts["quarantined"] == 3
    entries = api.call("quarantine_list", {"job_id": job["job"]["id"]}, token=sysadmin.token).result
    assert [e["row_number"] for e in entries] == [2, 3, 4]
    assert "accepted_on" in entries[0]["errors"][0]["field"]
    assert entries[0]["raw"]["受理日期"] == "2026年13月45日"


def test_second_run_over_an_unchanged_source_writes_nothing(api, job, sysadmin):
    api.call("sync_job_run", {"id": "petition-office"}, token=sysadmin.token)
    resource_id = job["job"]["resource_id"]
    feed = api.call("datastore_changes", {"resource_id": resource_id, "limit": 10000}, token=sysadmin.token).result
    again = api.call("sync_job_run", {"id": "petition-office"}, token=sysadmin.token).result
    assert again["counts"]["inserted"] == 0 and again["counts"]["updated"] == 0
    assert again["counts"]["unchanged"] == 37
    later = api.call("datastore_changes", {"resource_id": resource_id, "cursor": feed["next_cursor"]},
                     token=sysadmin.token).result
    assert later["changes"] == []
    # The same three bad rows are still in the export: still three open entries, not six.
    entries = api.call("quarantine_list", {"resource_id": resource_id}, token=sysadmin.token).result
    assert len(entries) == 3


def test_a_source_that_disappears_fails_the_run_with_a_clear_message(api, job, sysadmin):
    job["source"].unlink()
    run = api.call("sync_job_run", {"id": "petition-office"}, token=sysadmin.token).result
    assert run["status"] == "failed"
    assert "not found" in run["error_message"]


def test_quarantine_fix_and_retry_then_discard(api, job, sysadmin):
    api.call("sync_job_run", {"id": "petition-office"}, token=sysadmin.token)
    entries = api.call("quarantine_list", {"job_id": job["job"]["id"]}, token=sysadmin.token).result
    # a sync entry holds the source row: the fix is the row with its date corrected (it is mapped again)
    fixed = dict(entries[0]["raw"], 受理日期="2026/01/03")
    retried = api.call("quarantine_retry", {"id": entries[0]["id"], "record": fixed}, token=sysadmin.token)
    assert retried.status == 200 and retried.result["status"] == "retried"
    still_bad = api.call("quarantine_retry", {"id": entries[1]["id"]}, token=sysadmin.token)
    assert still_bad.status == 409
    discarded = api.call("quarantine_discard", {"id": entries[1]["id"], "reason": "重复登记"}, token=sysadmin.token)
    assert discarded.result["status"] == "discarded" and discarded.result["reason"] == "重复登记"


def test_bad_job_definitions_name_the_field(api, make, sysadmin):
    dept = make.department("ningshan-zwfw")
    dataset = make.dataset(dept["id"], name="services", record_schema="service@1")
    reply = api.call("sync_job_create", {"name": "Bad Name", "package_id": dataset["id"], "source": "ftp",
                                         "mode": "incremental", "write": "mirror", "schedule": "every day"},
                     token=sysadmin.token)
    assert reply.status == 409
    assert {"name", "source", "write", "schedule"} <= set(reply.error)


def test_connection_answers_never_show_source_secrets(api, make, sysadmin, tmp_path):
    from catalog.sync.actions import redact

    assert redact({"url": "postgresql+psycopg://police:s3cret@10.0.0.5/hukou", "token": "cat_abc",
                   "headers": {"Authorization": "Bearer x"}, "path": "/data/a.csv"}) == {
        "url": "postgresql+psycopg://police:***@10.0.0.5/hukou", "token": "***",
        "headers": {"Authorization": "***"}, "path": "/data/a.csv"}
    dept = make.department("ningshan-secret")
    dataset = make.dataset(dept["id"], name="secret-petitions", record_schema="petition@1")
    created = api.call("connection_create", {"name": "secret-api", "kind": "http", "organizations": [dept["id"]],
                                             "config": {"url": "http://127.0.0.1:9/api", "token": "cat_abc",
                                                        "headers": {"X-Department-Key": "k-123"}}},
                       token=sysadmin.token)
    assert created.status == 200, created.body
    assert "cat_abc" not in str(created.body) and "k-123" not in str(created.body)
    job = api.call("sync_job_create", {"name": "with-token", "package_id": dataset["id"], "source": "http_json",
                                       "source_config": {"connection": "secret-api", "path": "cases"}},
                   token=sysadmin.token)
    assert job.status == 200, job.body
    shown = api.call("connection_show", {"id": "secret-api"}, token=sysadmin.token).result
    assert shown["config"] == {"url": "http://127.0.0.1:9/api", "token": "***", "headers": {"X-Department-Key": "***"}}


def test_credentials_are_stored_sealed_and_unsealed_only_to_run(api, app, db, make, sysadmin, monkeypatch):
    """The database holds no token or URL password in clear; answers show the host, not the secret;
    an unchanged update keeps the job's state; a changed SECRET_KEY fails the run saying what to do."""
    import sqlalchemy as sa

    from catalog.sync import secrets
    from catalog.sync.models import SyncJob
    from catalog.sync.service import clear_values

    from catalog.connections.models import Connection
    from catalog.connections.service import clear_config

    dept = make.department("ningshan-sealed")
    dataset = make.dataset(dept["id"], name="sealed-services", record_schema="service@1")
    url = "postgresql+psycopg://police:s3cret@10.0.0.5/hukou"
    created = connection(api, sysadmin.token, "police-db", "database", {"url": url}, [dept["id"]])
    assert created["config"]["url"] == "postgresql+psycopg://police:***@10.0.0.5/hukou"
    stored = db.scalar(sa.select(Connection).where(Connection.name == "police-db"))
    assert "s3cret" not in str(stored.config) and secrets.is_sealed(stored.config["url"])
    assert clear_config(db, stored) == {"url": url}

    config = {"connection": "police-db", "table": "banjian", "primary_key": "case_number"}
    job = api.call("sync_job_create", {"name": "sealed", "package_id": dataset["id"], "source": "sql",
                                       "source_config": config}, token=sysadmin.token)
    assert job.status == 200, job.body
    assert job.result["source_config"] == config  # the job itself holds no credential
    job = db.scalar(sa.select(SyncJob).where(SyncJob.name == "sealed"))

    job.state = {"cursor": "x"}
    db.commit()
    same = api.call("sync_job_update", {"id": "sealed", "source_config": config}, token=sysadmin.token)
    assert same.status == 200, same.body
    db.refresh(job)
    assert job.state == {"cursor": "x"}  # nothing changed: the state is kept

    with pytest.raises(ValidationError) as refused:
        clear_config(db, stored, "another key")
    assert "SECRET_KEY changed" in refused.value.errors["config.url"][0]

    monkeypatch.setattr(get_db(app), "secret_key", "another key")  # as if SECRET_KEY had changed
    run = api.call("sync_job_run", {"id": "sealed"}, token=sysadmin.token).result
    assert run["status"] == "failed"
    assert run["error_message"].startswith("config.url: this stored credential cannot be decrypted")
