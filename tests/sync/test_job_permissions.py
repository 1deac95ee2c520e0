"""Who may define, change, see and delete a department's sync jobs: every role, denied and allowed.

A sync job writes records into a department's DataStore resource, so it is defined, changed and deleted
by that department's editors and admins (and sysadmins) only; any member may see it. The jobs here are
arranged directly in the database so that the rules are tested whatever the job's source needs.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from catalog.auth.models import User
from catalog.sync.models import SyncJob
from catalog.sync.service import list_jobs

DENIED_WRITERS = ["anonymous", "no_department", "member", "other_editor", "other_admin"]
ALLOWED_WRITERS = ["editor", "admin", "sysadmin"]


@pytest.fixture
def world(api, make, sysadmin, db):
    people = {name: make.user("xfj-" + name.replace("_", "-")) for name in
              ("admin", "editor", "member", "other_editor", "other_admin", "no_department")}
    home = make.department("ningshan-xfj", members={"admin": people["admin"], "editor": people["editor"],
                                                    "member": people["member"]})
    make.department("ningshan-rsj", members={"editor": people["other_editor"], "admin": people["other_admin"]})
    dataset = make.dataset(home["id"], name="petitions", record_schema="petition@1", share_type="unconditional",
                           share_condition=None)
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}}, token=sysadmin.token)
    assert created.status == 200, created.body
    job = SyncJob(name="petition-office", package_id=dataset["id"], resource_id=created.result["resource_id"],
                  source="csv", source_config={}, mapping={})
    db.add(job)
    db.commit()
    tokens = {name: account.token for name, account in people.items()}
    tokens["sysadmin"], tokens["anonymous"] = sysadmin.token, None
    return {"tokens": tokens, "dataset": dataset, "job_id": job.id}


def _job_exists(db, job_id: str) -> bool:
    db.expire_all()
    return db.scalar(sa.select(SyncJob.id).where(SyncJob.id == job_id)) is not None


@pytest.mark.parametrize("who", DENIED_WRITERS)
def test_sync_job_create_is_refused_to_everyone_but_the_departments_editors(api, world, who, db):
    reply = api.call("sync_job_create", {"name": "another-job", "package_id": world["dataset"]["id"],
                                         "source": "csv", "source_config": {"path": "/tmp/x.csv"}},
                     token=world["tokens"][who])
    assert reply.status == 403, reply.body
    assert reply.error["__type"] == "Authorization Error"
    assert db.scalar(sa.select(SyncJob.id).where(SyncJob.name == "another-job")) is None


@pytest.mark.parametrize("who", ALLOWED_WRITERS)
def test_sync_job_create_passes_the_rule_for_editors_admins_and_sysadmins(api, world, who):
    # a source that does not exist: the rule let the caller through to the validation of the definition
    reply = api.call("sync_job_create", {"name": "another-job", "package_id": world["dataset"]["id"],
                                         "source": "ftp"}, token=world["tokens"][who])
    assert reply.status == 409, reply.body
    assert "source" in reply.error


@pytest.mark.parametrize("who", DENIED_WRITERS)
def test_sync_job_delete_is_refused_and_the_job_stays(api, world, who, db):
    reply = api.call("sync_job_delete", {"id": world["job_id"]}, token=world["tokens"][who])
    assert reply.status == 403, reply.body
    assert reply.error["__type"] == "Authorization Error" and "sync job" in reply.error["message"]
    assert _job_exists(db, world["job_id"])


def test_a_member_sees_the_job_but_cannot_delete_it(api, world, db):
    who = "member"
    assert api.call("sync_job_show", {"id": world["job_id"]}, token=world["tokens"][who]).status == 200
    reply = api.call("sync_job_delete", {"id": world["job_id"]}, token=world["tokens"][who])
    assert reply.status == 403 and reply.error["message"] == "You cannot delete sync job petition-office"
    assert _job_exists(db, world["job_id"])


@pytest.mark.parametrize("who", ALLOWED_WRITERS)
def test_sync_job_delete_by_editors_admins_and_sysadmins(api, world, who, db):
    reply = api.call("sync_job_delete", {"id": world["job_id"]}, token=world["tokens"][who])
    assert reply.status == 200, reply.body
    assert not _job_exists(db, world["job_id"])


@pytest.mark.parametrize("who", ["member", "other_editor", "other_admin", "no_department", "anonymous"])
def test_sync_job_update_is_refused(api, world, who, db):
    reply = api.call("sync_job_update", {"id": world["job_id"], "schedule": "0 2 * * *"}, token=world["tokens"][who])
    assert reply.status == 403, reply.body
    db.expire_all()
    assert db.get(SyncJob, world["job_id"]).schedule is None


@pytest.mark.parametrize("who", ["other_editor", "other_admin", "no_department", "anonymous"])
def test_outsiders_do_not_see_the_job(api, world, who):
    reply = api.call("sync_job_show", {"id": world["job_id"]}, token=world["tokens"][who])
    assert reply.status == 403, reply.body
    listed = api.call("sync_job_list", {}, token=world["tokens"][who])
    assert listed.status in (200, 403)
    if listed.status == 200:
        assert world["job_id"] not in [j["id"] for j in listed.result]


@pytest.mark.parametrize("who", ["member", "editor", "admin", "sysadmin"])
def test_members_and_sysadmins_see_the_job(api, world, who):
    assert api.call("sync_job_show", {"id": world["job_id"]}, token=world["tokens"][who]).status == 200
    listed = api.call("sync_job_list", {}, token=world["tokens"][who]).result
    assert world["job_id"] in [j["id"] for j in listed]


@pytest.mark.parametrize("who", ALLOWED_WRITERS)
def test_sync_job_update_passes_the_rule_for_editors_admins_and_sysadmins(api, world, who):
    # a schedule that is not a cron expression: only the service checks it, after the rule let the caller in
    reply = api.call("sync_job_update", {"id": world["job_id"], "schedule": "every full moon"},
                     token=world["tokens"][who])
    assert reply.status == 409, reply.body
    assert reply.error["__type"] == "Validation Error"


@pytest.mark.parametrize("who, sees", [
    ("member", True), ("editor", True), ("sysadmin", True), ("other_admin", False), ("no_department", False),
])
def test_the_sync_pages_list_only_the_departments_jobs(db, world, who, sees):
    name = "admin" if who == "sysadmin" else "xfj-" + who.replace("_", "-")   # the sysadmin fixture is "admin"
    actor = db.scalar(sa.select(User).where(User.name == name))
    assert (world["job_id"] in [job.id for job in list_jobs(db, actor)]) is sees
