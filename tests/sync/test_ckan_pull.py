"""One department's catalog pulls from another's: a sync job whose source is ``ckan``, pointing at the
petition office's petitions on the same catalog served over real HTTP, under the peer's share rules."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.schemas.records_samples import petitions
from tests.sync.helpers import connection

KEY = "petition_number"
#: every sensitive field of petition@1 (a parent name covers its children)
SENSITIVE = ["petitioner", "content", "reply", "follow_up_visit"]




@pytest.fixture
def county(api, make, sysadmin):
    """The petition office (provider) and civil affairs (the puller, with one editor)."""
    office_admin, puller = make.user("xfj-admin"), make.user("mzj-editor")
    office = make.department("ningshan-xfj", members={"admin": office_admin})
    civil = make.department("ningshan-mzj", members={"editor": puller})

    def publish(share_type: str, n: int = 25) -> SimpleNamespace:
        """The office's petition dataset with ``n`` records in its DataStore."""
        dataset = make.dataset(office["id"], name="petitions", record_schema="petition@1", share_type=share_type,
                               share_condition=None if share_type == "unconditional" else "仅限核实信访事项使用")
        created = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}}, token=sysadmin.token)
        resource_id = created.result["resource_id"]
        records = list(petitions(n, seed=21))
        assert api.call("datastore_upsert", {"resource_id": resource_id, "records": records},
                        token=office_admin.token).result["inserted"] == n
        return SimpleNamespace(id=dataset["id"], resource_id=resource_id, records=records)

    return SimpleNamespace(office=office, civil=civil, office_admin=office_admin, puller=puller, publish=publish,
                           sysadmin=sysadmin)


def grant(api, county, dataset, fields):
    made = api.call("share_request_create", {"package_id": dataset.id, "organization_id": "ningshan-mzj",
                                             "purpose": "核实信访人救助情况", "basis": "《社会救助暂行办法》第十一条", "scenario": "低保对象资格核查", "fields": fields}, token=county.puller.token)
    assert made.status == 200, made.body
    approved = api.call("share_request_approve", {"id": made.result["id"]}, token=county.office_admin.token)
    assert approved.result["status"] == "approved"


def create_job(api, county, live_url, peer, *, name, package_id, resource_id=None, **values):
    # the peer and the puller's token there: a connection the sysadmin registers for civil affairs
    connection(api, county.sysadmin.token, f"{name}-peer", "http", {"url": live_url, "token": county.puller.token},
               [county.civil["id"]])
    created = api.call("sync_job_create", {
        "name": name, "package_id": package_id, "resource_id": resource_id, "source": "ckan",
        "source_config": {"connection": f"{name}-peer", "resource_id": peer.resource_id, "page_size": 10},
        "batch_size": 10, **values}, token=county.puller.token)
    assert created.status == 200, created.body
    return created.result


def run(api, county, job):
    reply = api.call("sync_job_run", {"id": job["name"]}, token=county.puller.token)
    assert reply.status == 200, reply.body
    return reply.result


def balanced(counts):
    return counts["read"] == sum(counts[k] for k in ("inserted", "updated", "unchanged", "quarantined", "skipped"))


def records_of(api, resource_id, token):
    found = api.call("datastore_search", {"resource_id": resource_id, "limit": 1000}, token=token).result
    return {r[KEY]: r for r in found["records"]}


def test_one_departments_catalog_pulls_from_anothers(api, county, live_url, make):
    peer = county.publish("conditional")
    grant(api, county, peer, SENSITIVE)
    copy = make.dataset(county.civil["id"], name="petitions-from-xfj", record_schema="petition@1")
    job = create_job(api, county, live_url, peer, name="petitions-from-xfj", package_id=copy["id"],
                     mode="incremental")

    first = run(api, county, job)
    assert first["status"] == "succeeded", first
    assert balanced(first["counts"]) and first["counts"]["read"] == first["counts"]["inserted"] == 25
    assert records_of(api, job["resource_id"], county.puller.token) == {r[KEY]: r for r in peer.records}
    state = api.call("sync_job_show", {"id": job["name"]}, token=county.puller.token).result["state"]
    assert set(state) == {"cursor"}  # the peer's change feed

    feed = api.call("datastore_changes", {"resource_id": job["resource_id"], "limit": 10000},
                    token=county.puller.token).result
    second = run(api, county, job)
    assert second["status"] == "succeeded" and balanced(second["counts"])
    assert second["counts"]["read"] == 0  # nothing changed on the peer since the cursor
    full = api.call("sync_job_update", {"id": job["name"], "mode": "full_refresh"}, token=county.puller.token)
    assert full.status == 200, full.body
    third = run(api, county, job)
    assert third["status"] == "succeeded" and balanced(third["counts"])
    assert (third["counts"]["read"], third["counts"]["unchanged"]) == (25, 25)
    later = api.call("datastore_changes", {"resource_id": job["resource_id"], "cursor": feed["next_cursor"]},
                     token=county.puller.token).result
    assert later["changes"] == []  # neither rerun wrote anything

    # the peer logged the pull as civil affairs' read
    log = api.call("access_log_list", {"organization_id": "ningshan-xfj", "package_id": peer.id},
                   token=county.office_admin.token).result
    pulls = [e for e in log if e["user_name"] == "mzj-editor" and e["action"] == "datastore_changes"]
    assert pulls and all(county.civil["id"] in e["departments"] for e in pulls)


def test_without_a_grant_for_a_conditional_dataset_the_pull_fails_with_the_peers_refusal(api, county, live_url, make):
    peer = county.publish("conditional")
    copy = make.dataset(county.civil["id"], name="petitions-from-xfj", record_schema="petition@1")
    job = create_job(api, county, live_url, peer, name="petitions-from-xfj", package_id=copy["id"])
    result = run(api, county, job)
    assert result["status"] == "failed" and balanced(result["counts"]) and result["counts"]["read"] == 0
    assert "the peer refused the token (HTTP 403" in result["error_message"]
    assert "Dataset petitions is shared on conditions (有条件共享); request access with share_request_create" \
        in result["error_message"]
    assert county.puller.token not in result["error_message"] + (result["error_detail"] or "")
    assert records_of(api, job["resource_id"], county.puller.token) == {}


def test_an_unconditional_dataset_arrives_masked_as_the_peer_masks_it(api, county, live_url, make):
    peer = county.publish("unconditional")
    # civil affairs keeps its copy in a table built from the peer's fields (masked values are not
    # valid resident ids or mobile numbers, so petition@1 would quarantine them)
    info = api.call("datastore_info", {"id": peer.resource_id}, token=county.puller.token).result
    copy = make.dataset(county.civil["id"], name="petitions-xfj-shared")
    table = api.call("datastore_create", {"resource": {"package_id": copy["id"], "name": "信访件（共享）"},
                                          "fields": [{"id": f["id"], "type": f["type"]} for f in info["fields"]],
                                          "primary_key": KEY}, token=county.puller.token)
    assert table.status == 200, table.body
    job = create_job(api, county, live_url, peer, name="petitions-xfj-shared", package_id=copy["id"],
                     resource_id=table.result["resource_id"])
    result = run(api, county, job)
    assert result["status"] == "succeeded", result
    assert balanced(result["counts"]) and result["counts"]["inserted"] == 25

    pulled = records_of(api, table.result["resource_id"], county.puller.token)
    seen_by_puller = records_of(api, peer.resource_id, county.puller.token)
    assert pulled == seen_by_puller  # exactly what the puller may read on the peer
    clear = {r[KEY]: r for r in peer.records}
    for key, record in pulled.items():
        name = clear[key]["petitioner"]["name"]
        assert record["petitioner"]["name"] == name[0] + "*" * (len(name) - 1)
        assert record["content"] == "***"
        if "id_number" in clear[key]["petitioner"]:
            assert record["petitioner"]["id_number"] != clear[key]["petitioner"]["id_number"]
            assert "********" in record["petitioner"]["id_number"]


def test_an_incremental_pull_removes_what_the_peer_deleted_and_reports_it(api, county, live_url, make, sysadmin):
    peer = county.publish("conditional", n=12)
    grant(api, county, peer, SENSITIVE)
    copy = make.dataset(county.civil["id"], name="petitions-copy", record_schema="petition@1")
    job = create_job(api, county, live_url, peer, name="petitions-copy", package_id=copy["id"], mode="incremental")
    assert run(api, county, job)["counts"]["inserted"] == 12

    gone = [peer.records[2][KEY], peer.records[7][KEY]]
    deleted = api.call("datastore_delete", {"resource_id": peer.resource_id, "filters": {KEY: gone}},
                       token=county.office_admin.token)
    assert deleted.result["deleted"] == 2
    second = run(api, county, job)
    assert second["status"] == "succeeded", second
    assert (second["counts"]["read"], second["counts"]["deleted"]) == (0, 2)
    kept = records_of(api, job["resource_id"], county.puller.token)
    assert len(kept) == 10 and not set(gone) & set(kept)
    # the copy's own change feed tells its readers about the deletions in turn
    feed = api.call("datastore_changes", {"resource_id": job["resource_id"], "limit": 1000},
                    token=county.puller.token).result["changes"]
    assert sorted(c[KEY] for c in feed if c["_deleted"]) == sorted(gone)
    assert run(api, county, job)["counts"]["deleted"] == 0  # nothing is deleted twice


def test_a_push_job_sends_the_owners_records_and_deletions_to_another_catalog(api, county, live_url, make):
    """The petition office pushes its dataset to civil affairs' copy (here on the same catalog over HTTP)."""
    mine = county.publish("conditional", n=15)
    inbox = make.dataset(county.civil["id"], name="petitions-inbox", record_schema="petition@1")
    inbox_resource = api.call("datastore_create", {"resource": {"package_id": inbox["id"]}},
                              token=county.puller.token).result["resource_id"]
    definition = {"name": "push-to-mzj", "package_id": mine.id, "source": "datastore",
                  "target": {"type": "ckan", "url": live_url, "resource_id": inbox_resource,
                             "token": county.puller.token},
                  "mode": "incremental", "batch_size": 4}
    created = api.call("sync_job_create", definition, token=county.office_admin.token)
    assert created.status == 200, created.body
    assert created.result["target"]["token"] == "***" and created.result["target"]["url"] == live_url

    push = api.call("sync_job_run", {"id": "push-to-mzj"}, token=county.office_admin.token).result
    assert push["status"] == "succeeded", push
    assert (push["counts"]["read"], push["counts"]["inserted"]) == (15, 15) and balanced(push["counts"])
    assert records_of(api, inbox_resource, county.puller.token) == {r[KEY]: r for r in mine.records}

    # the owner changes one record and deletes two: the next push sends exactly that
    changed = dict(mine.records[0], category="城乡建设")
    api.call("datastore_upsert", {"resource_id": mine.resource_id, "records": [changed]},
             token=county.office_admin.token)
    gone = [mine.records[4][KEY], mine.records[9][KEY]]
    api.call("datastore_delete", {"resource_id": mine.resource_id, "filters": {KEY: gone}},
             token=county.office_admin.token)
    again = api.call("sync_job_run", {"id": "push-to-mzj"}, token=county.office_admin.token).result
    assert again["status"] == "succeeded", again
    assert (again["counts"]["read"], again["counts"]["updated"], again["counts"]["deleted"]) == (1, 1, 2)
    copy = records_of(api, inbox_resource, county.puller.token)
    assert len(copy) == 13 and copy[changed[KEY]]["category"] == "城乡建设" and not set(gone) & set(copy)
    idle = api.call("sync_job_run", {"id": "push-to-mzj"}, token=county.office_admin.token).result
    assert idle["counts"]["read"] == idle["counts"]["deleted"] == 0


def test_a_push_job_is_checked_when_defined_and_a_refused_token_fails_the_run(api, county, live_url, make):
    mine = county.publish("conditional", n=3)
    bad = api.call("sync_job_create", {"name": "push-bad", "package_id": mine.id, "source": "datastore",
                                       "target": {"type": "ftp", "resource_id": "x"}},
                   token=county.office_admin.token)
    assert bad.status == 409 and "target" in bad.error
    alone = api.call("sync_job_create", {"name": "push-alone", "package_id": mine.id, "source": "datastore"},
                     token=county.office_admin.token)
    assert alone.status == 409 and "push job" in " ".join(alone.error["source"])
    stranger = make.user("stranger")
    inbox = make.dataset(county.civil["id"], name="petitions-inbox2", record_schema="petition@1")
    inbox_resource = api.call("datastore_create", {"resource": {"package_id": inbox["id"]}},
                              token=county.puller.token).result["resource_id"]
    api.call("sync_job_create", {"name": "push-refused", "package_id": mine.id, "source": "datastore",
                                 "target": {"type": "ckan", "url": live_url, "resource_id": inbox_resource,
                                            "token": stranger.token}}, token=county.office_admin.token)
    run = api.call("sync_job_run", {"id": "push-refused"}, token=county.office_admin.token).result
    assert run["status"] == "failed" and "the peer refused the token" in run["error_message"]
