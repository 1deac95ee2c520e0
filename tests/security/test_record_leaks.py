"""Attacks on the records and files a department shares, each as the attacker would try it.

* the change feed's ``_key`` (and tombstones) when sensitive fields make up the primary key;
* uploaded resource files of conditional and not-shared datasets (a file cannot be masked);
* fields the record schema does not declare: written through datastore_upsert or a sync job, or
  already stored before schemas were closed.
"""
from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import random

import pytest
import sqlalchemy as sa

from catalog.datastore.models import DatastoreTable, Record
from catalog.webhooks.models import WebhookDelivery, WebhookSubscription
from tests.datastore.test_schemas_registry import DIBAO
from tests.schemas.records_samples import households, resident_id
from tests.sync.helpers import folder_connection
from tests.web.conftest import Browser

DRAFT = "https://json-schema.org/draft/2020-12/schema"

#: home visits, keyed by town, resident ID and visit number: the sensitive part is not the first
VISITS = {
    "$schema": DRAFT,
    "title": "入户走访记录",
    "type": "object",
    "x-primary-key": ["town", "id_number", "visit_no"],
    "properties": {
        "town": {"type": "string", "minLength": 1},
        "id_number": {"type": "string", "format": "cn-resident-id", "x-sensitive": "resident-id"},
        "visit_no": {"type": "integer", "minimum": 1},
        "cadre": {"type": "string"},
    },
    "required": ["town", "id_number", "visit_no"],
}  # no additionalProperties: registered schemas are closed by default

FULL_HOUSEHOLD_GRANT = ["head_name", "head_id_number", "members", "address"]


def masked_id(value: str) -> str:
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def people(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [resident_id(rng, dt.date(1950 + i, 1 + i % 12, 1 + i % 28), i % 2 == 0) for i in range(n)]


@pytest.fixture
def world(api, make, sysadmin):
    """Civil affairs (民政局) provides; human resources (人社局) and health (卫健局) ask; anonymous tries."""
    users = {name: make.user(name) for name in ("mz-admin", "mz-editor", "mz-member", "rs-editor", "wj-editor",
                                                "gaj-editor")}
    mz = make.department("ningshan-mzj", members={"admin": users["mz-admin"], "editor": users["mz-editor"],
                                                  "member": users["mz-member"]})
    make.department("ningshan-rsj", members={"editor": users["rs-editor"]})
    make.department("ningshan-wjj", members={"editor": users["wj-editor"]})
    make.department("ningshan-gaj", members={"editor": users["gaj-editor"]})
    return {"mz": mz, "sysadmin": sysadmin, **users}


def register(api, world, name, schema):
    reply = api.call("schema_create", {"name": name, "schema": schema, "owner_org": world["mz"]["id"]},
                     token=world["mz-editor"].token)
    assert reply.status == 200, reply.body
    return reply.result["id"]


def table(api, make, world, *, name, schema=None, share_type="conditional", records=()):
    """A dataset of civil affairs with a DataStore table holding ``records``; its ids."""
    condition = None if share_type == "unconditional" else "仅限核实救助对象使用"
    made = make.dataset(world["mz"]["id"], name=name, record_schema=schema, share_type=share_type,
                        share_condition=condition)
    created = api.call("datastore_create", {"resource": {"package_id": made["id"]}}, token=world["mz-editor"].token)
    assert created.status == 200, created.body
    resource_id = created.result["resource_id"]
    if records:
        written = api.call("datastore_upsert", {"resource_id": resource_id, "records": list(records)},
                           token=world["mz-editor"].token)
        assert written.status == 200, written.body
    return {"id": made["id"], "name": made["name"], "resource_id": resource_id}


def grant(api, world, dataset_id, asker, organization, fields):
    """A request from ``organization`` approved for exactly ``fields`` (by the data authority)."""
    request = api.call("share_request_create", {"package_id": dataset_id, "organization_id": organization,
                                                "purpose": "核实救助对象", "basis": "《社会救助暂行办法》第十一条", "scenario": "低保对象资格核查", "fields": fields}, token=asker.token)
    assert request.status == 200, request.body
    approved = api.call("share_request_approve", {"id": request.result["id"], "fields": fields},
                        token=world["sysadmin"].token)
    assert approved.status == 200, approved.body


def feed(api, resource_id, token):
    reply = api.call("datastore_changes", {"resource_id": resource_id, "limit": 1000}, token=token)
    assert reply.status == 200, reply.body
    return reply.result["changes"]


# --- 1. the change feed's _key ----------------------------------------------------------------------


def test_a_feed_keyed_by_the_resident_id_alone_masks_key_and_tombstones(api, make, world):
    ids = people(4)
    ref = register(api, world, "dibao", DIBAO)
    records = [{"id_number": i, "name": f"王{n}明", "monthly_amount": 500 + n} for n, i in enumerate(ids)]
    ds = table(api, make, world, name="dibao-register", schema=ref, records=records)
    deleted = api.call("datastore_delete", {"resource_id": ds["resource_id"], "filters": {"id_number": ids[0]}},
                       token=world["mz-editor"].token)
    assert deleted.result["deleted"] == 1
    grant(api, world, ds["id"], world["rs-editor"], "ningshan-rsj", [])

    changes = feed(api, ds["resource_id"], world["rs-editor"].token)
    text = json.dumps(changes, ensure_ascii=False)
    assert not any(i in text for i in ids), "a resident ID left the owner department in clear"
    [tombstone] = [c for c in changes if c["_deleted"]]
    assert tombstone["_key"] == tombstone["id_number"] == masked_id(ids[0])
    assert sorted(c["_key"] for c in changes if not c["_deleted"]) == sorted(masked_id(i) for i in ids[1:])
    # the owner department reads its own feed in clear
    own = feed(api, ds["resource_id"], world["mz-member"].token)
    assert sorted(c["_key"] for c in own) == sorted(ids)


def test_a_composite_key_is_masked_part_by_part_in_records_and_tombstones(api, make, world):
    ids = people(3, seed=11)
    ref = register(api, world, "visits", VISITS)
    records = [{"town": "城关镇", "id_number": i, "visit_no": n + 1, "cadre": "李四"} for n, i in enumerate(ids)]
    ds = table(api, make, world, name="home-visits", schema=ref, records=records)
    api.call("datastore_delete", {"resource_id": ds["resource_id"], "filters": {"id_number": ids[2]}},
             token=world["mz-editor"].token)
    grant(api, world, ds["id"], world["rs-editor"], "ningshan-rsj", [])

    changes = feed(api, ds["resource_id"], world["rs-editor"].token)
    assert len(changes) == 3
    text = json.dumps(changes, ensure_ascii=False)
    assert not any(i in text for i in ids), "a resident ID left in clear through a composite _key"
    for change in changes:
        number = next(i for i in ids if masked_id(i) == change["id_number"])
        visit = ids.index(number) + 1
        # the same form as a clear composite key: a JSON list, with the masked part in its place
        assert json.loads(change["_key"]) == ["城关镇", masked_id(number), visit]
    assert [c["_deleted"] for c in changes] == [False, False, True]
    # a grant naming the field reads the key in clear
    grant(api, world, ds["id"], world["wj-editor"], "ningshan-wjj", ["id_number"])
    clear = feed(api, ds["resource_id"], world["wj-editor"].token)
    assert [json.loads(c["_key"]) for c in clear] == [["城关镇", i, n + 1] for n, i in enumerate(ids)]


# --- 2. uploaded resource files ------------------------------------------------------------------------


def upload(api, world, dataset_id, content: bytes, filename="低保名单.csv"):
    reply = api.call("resource_create", content_type="multipart/form-data", token=world["mz-editor"].token,
                     data_raw={"package_id": dataset_id, "name": "名单", "upload": (io.BytesIO(content), filename)})
    assert reply.status == 200, reply.body
    url = reply.result["url"]
    return url[url.index("/dataset/"):]


def household_csv(records) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["户编号", "户主姓名", "户主公民身份号码"])
    for r in records:
        writer.writerow([r["household_number"], r["head_name"], r["head_id_number"]])
    return buffer.getvalue().encode("utf-8")


def downloads(api, world, dataset_id):
    """The owner's access log entries of file downloads for one dataset: (user, file name)."""
    entries = api.call("access_log_list", {"organization_id": "ningshan-mzj", "package_id": dataset_id},
                       token=world["mz-admin"].token).result
    return [(e["user_name"], e["params"]["filename"]) for e in entries if e["action"] == "resource_download"]


@pytest.fixture
def conditional_file(api, make, world):
    """A conditional, not-open household dataset with an uploaded CSV of full ID numbers."""
    records = list(households(3, seed=5))
    made = make.dataset(world["mz"]["id"], name="household-file", record_schema="household@1",
                        share_type="conditional", open_type="none")
    content = household_csv(records)
    return {"id": made["id"], "path": upload(api, world, made["id"], content), "content": content,
            "ids": [r["head_id_number"] for r in records]}


def test_anonymous_download_of_a_conditional_datasets_file_is_refused(api, client, conditional_file, world):
    # the metadata is public, and so is the file's address (package_show): the file is not
    shown = api.call("package_show", {"id": conditional_file["id"]}, method="GET").result
    assert shown["resources"][0]["url"].endswith(conditional_file["path"])
    response = client.get(conditional_file["path"])
    assert response.status_code == 403
    assert not any(i.encode() in response.data for i in conditional_file["ids"])
    # nor to a department without a grant
    assert client.get(conditional_file["path"], headers={"Authorization": world["gaj-editor"].token}).status_code == 403
    assert downloads(api, world, conditional_file["id"]) == []


def test_a_grant_that_leaves_a_sensitive_field_masked_cannot_download_the_file(api, client, conditional_file,
                                                                               world):
    grant(api, world, conditional_file["id"], world["rs-editor"], "ningshan-rsj", ["head_id_number"])
    response = client.get(conditional_file["path"], headers={"Authorization": world["rs-editor"].token})
    assert response.status_code == 403
    text = response.get_data(as_text=True)
    assert "head_name" in text and "members" in text, "the refusal says which fields the grant lacks"
    assert not any(i in text for i in conditional_file["ids"])


def test_a_grant_of_every_sensitive_field_downloads_the_file_and_it_is_logged(api, client, conditional_file,
                                                                             world):
    grant(api, world, conditional_file["id"], world["rs-editor"], "ningshan-rsj", FULL_HOUSEHOLD_GRANT)
    response = client.get(conditional_file["path"], headers={"Authorization": world["rs-editor"].token})
    assert response.status_code == 200 and response.data == conditional_file["content"]
    filename = conditional_file["path"].rsplit("/", 1)[1]
    assert downloads(api, world, conditional_file["id"]) == [("rs-editor", filename)]


def test_the_owner_department_downloads_and_is_logged_too(api, client, conditional_file, world):
    response = client.get(conditional_file["path"], headers={"Authorization": world["mz-member"].token})
    assert response.status_code == 200 and response.data == conditional_file["content"]
    assert [user for user, _file in downloads(api, world, conditional_file["id"])] == ["mz-member"]


def test_the_web_download_link_follows_the_same_rules_with_a_logged_in_session(api, client, conditional_file,
                                                                              world):
    browser = Browser(client)
    assert browser.get(conditional_file["path"]).status_code == 403
    grant(api, world, conditional_file["id"], world["rs-editor"], "ningshan-rsj", ["head_id_number"])
    browser.login("rs-editor")
    refused = browser.get(conditional_file["path"])
    assert refused.status_code == 403 and "无权操作" in refused.get_data(as_text=True)
    assert not any(i in refused.get_data(as_text=True) for i in conditional_file["ids"])
    browser.client.get("/user/logout")
    browser = Browser(client.application.test_client())
    browser.login("mz-member")
    assert conditional_file["path"] in browser.text("/dataset/household-file")
    response = browser.get(conditional_file["path"])
    assert response.status_code == 200 and response.data == conditional_file["content"]
    assert [user for user, _file in downloads(api, world, conditional_file["id"])] == ["mz-member"]


def test_a_not_shared_datasets_file_stays_in_its_department(api, client, make, world):
    made = make.dataset(world["mz"]["id"], name="closed-file", share_type="none",
                        share_condition="依据《个人信息保护法》第十三条不予共享")
    path = upload(api, world, made["id"], "户编号\n610923100001010001\n".encode())
    assert client.get(path).status_code == 403
    assert client.get(path, headers={"Authorization": world["rs-editor"].token}).status_code == 403
    assert client.get(path, headers={"Authorization": world["mz-member"].token}).status_code == 200


def test_without_a_record_schema_a_conditional_file_needs_a_grant(api, client, make, world):
    made = make.dataset(world["mz"]["id"], name="schemaless-file", share_type="conditional")
    path = upload(api, world, made["id"], b"a,b\n1,2\n", filename="list.csv")
    assert client.get(path, headers={"Authorization": world["rs-editor"].token}).status_code == 403
    grant(api, world, made["id"], world["rs-editor"], "ningshan-rsj", [])
    assert client.get(path, headers={"Authorization": world["rs-editor"].token}).status_code == 200


def test_a_public_datasets_file_stays_public_and_is_logged(api, client, make, world):
    made = make.dataset(world["mz"]["id"], name="public-file", share_type="unconditional", open_type="unconditional")
    path = upload(api, world, made["id"], "乡镇,办件数\n城关镇,120\n".encode(), filename="stats.csv")
    response = client.get(path)
    assert response.status_code == 200 and response.data == "乡镇,办件数\n城关镇,120\n".encode()
    assert downloads(api, world, made["id"]) == [(None, "stats.csv")]


def test_an_unconditional_datasets_file_with_sensitive_fields_is_not_public(api, client, make, world):
    # 无条件共享 shares the records with departments, masked; a file cannot be masked, and sharing is not
    # opening to the public: the file is neither anonymous nor served to departments without a grant
    ref = register(api, world, "dibao-open", DIBAO)
    made = make.dataset(world["mz"]["id"], name="dibao-unconditional", share_type="unconditional",
                        share_condition=None, record_schema=ref)
    ids = people(2)
    path = upload(api, world, made["id"], "\n".join(["身份证号,姓名", *(f"{i},王明" for i in ids)]).encode())
    anonymous = client.get(path)
    assert anonymous.status_code in (403, 404) and ids[0].encode() not in anonymous.data
    assert client.get(path, headers={"Authorization": world["rs-editor"].token}).status_code == 403
    grant(api, world, made["id"], world["rs-editor"], "ningshan-rsj", ["id_number", "name"])
    assert client.get(path, headers={"Authorization": world["rs-editor"].token}).status_code == 200
    # opening it to the public does not open a file the schema marks sensitive either
    opened = api.call("package_patch", {"id": made["id"], "open_type": "unconditional"}, token=world["mz-editor"].token)
    assert opened.status == 200, opened.body
    assert client.get(path).status_code in (403, 404)


# --- 3. fields the record schema does not declare --------------------------------------------------


def test_datastore_upsert_refuses_an_unknown_field_naming_it(api, make, world):
    ref = register(api, world, "visits", VISITS)
    ds = table(api, make, world, name="home-visits", schema=ref)
    ids = people(2)
    good = {"town": "城关镇", "id_number": ids[0], "visit_no": 1}
    sneaky = {"town": "城关镇", "id_number": ids[1], "visit_no": 1, "phone": "13800138000"}
    reply = api.call("datastore_upsert", {"resource_id": ds["resource_id"], "records": [good, sneaky]},
                     token=world["mz-editor"].token)
    assert reply.status == 409
    assert reply.error["records.1.phone"] == ["unknown field: the schema does not declare it"]
    assert api.call("datastore_search", {"resource_id": ds["resource_id"]}, token=world["mz-editor"].token
                    ).result["total"] == 0, "nothing of the batch was written"
    # the shipped schemas and tables built from fields are closed too
    household = table(api, make, world, name="households", schema="household@1")
    record = dict(next(households(1, seed=2)), phone="13800138000")
    refused = api.call("datastore_upsert", {"resource_id": household["resource_id"], "records": [record]},
                       token=world["mz-editor"].token)
    assert refused.status == 409 and "records.0.phone" in refused.error
    made = make.dataset(world["mz"]["id"], name="by-fields")
    created = api.call("datastore_create", {"resource": {"package_id": made["id"]}, "primary_key": "id",
                                            "fields": [{"id": "id", "type": "text"}]}, token=world["mz-editor"].token)
    by_fields = api.call("datastore_upsert", {"resource_id": created.result["resource_id"],
                                              "records": [{"id": "a", "phone": "13800138000"}]},
                         token=world["mz-editor"].token)
    assert by_fields.status == 409 and "records.0.phone" in by_fields.error


def test_a_table_made_before_schemas_were_closed_refuses_unknown_fields_too(api, make, world, db):
    ref = register(api, world, "visits", VISITS)
    ds = table(api, make, world, name="home-visits", schema=ref)
    stored = db.get(DatastoreTable, ds["resource_id"])
    assert stored.schema_document["additionalProperties"] is False, "registered closed by default"
    stored.schema_document = {k: v for k, v in stored.schema_document.items() if k != "additionalProperties"}
    db.commit()
    reply = api.call("datastore_upsert", {"resource_id": ds["resource_id"], "records": [
        {"town": "城关镇", "id_number": people(1)[0], "visit_no": 1, "phone": "13800138000"}]},
                     token=world["mz-editor"].token)
    assert reply.status == 409 and "records.0.phone" in reply.error


def test_a_sync_row_with_an_unknown_field_is_quarantined_naming_it(api, make, world, sysadmin, tmp_path):
    ref = register(api, world, "visits", VISITS)
    made = make.dataset(world["mz"]["id"], name="home-visits", record_schema=ref)
    ids = people(3, seed=3)
    export = tmp_path / "走访.csv"
    # a department system added a column after the job was defined: the mapping keeps unlisted columns
    export.write_text("town,id_number,visit_no,phone\r\n" + "".join(
        f"城关镇,{i},1,{'13800138000' if n == 1 else ''}\r\n" for n, i in enumerate(ids)), encoding="utf-8")
    folder_connection(api, sysadmin.token, "mz-exports", tmp_path, [world["mz"]["id"]])
    job = api.call("sync_job_create", {
        "name": "visits", "package_id": made["id"], "source": "csv",
        "source_config": {"connection": "mz-exports", "path": export.name}, "mapping": {"integers": ["visit_no"]},
        "write": "upsert", "on_invalid": "quarantine"}, token=world["mz-editor"].token)
    assert job.status == 200, job.body
    run = api.call("sync_job_run", {"id": "visits"}, token=world["mz-editor"].token).result
    assert (run["counts"]["inserted"], run["counts"]["quarantined"]) == (2, 1), run
    [entry] = api.call("quarantine_list", {"job_id": job.result["id"]}, token=world["mz-editor"].token).result
    assert [(e["field"], e["message"]) for e in entry["errors"]] == [
        ("phone", "unknown field: the schema does not declare it")]
    assert entry["row_number"] == 3
    # quarantined rows (raw values in clear) are never shown outside the owner department
    assert api.call("quarantine_list", {"job_id": job.result["id"]}, token=world["rs-editor"].token).result == []
    assert api.call("quarantine_show", {"id": entry["id"]}, token=world["rs-editor"].token).status == 403


def test_a_grantee_never_sees_a_stored_unknown_field(api, client, make, world, db):
    records = list(households(3, seed=9))
    ds = table(api, make, world, name="households", schema="household@1", records=records)
    # records stored before schemas were closed: a phone beside the record and inside a member
    for row in db.scalars(sa.select(Record).where(Record.resource_id == ds["resource_id"])):
        data = copy.deepcopy(row.data)
        data["phone"] = "13912345678"
        data["members"][0]["wechat"] = "wx13912345678"
        row.data = data
    db.commit()
    grant(api, world, ds["id"], world["rs-editor"], "ningshan-rsj", [])
    token = world["rs-editor"].token
    found = api.call("datastore_search", {"resource_id": ds["resource_id"]}, token=token).result
    changes = feed(api, ds["resource_id"], token)
    dump = client.get(f"/datastore/dump/{ds['resource_id']}?format=json", headers={"Authorization": token})
    for text in (json.dumps(found, ensure_ascii=False), json.dumps(changes, ensure_ascii=False),
                 dump.get_data(as_text=True)):
        assert "13912345678" not in text
    assert all("phone" not in r and "wechat" not in r["members"][0] for r in found["records"])
    # the owner still sees what it stored, to clean it up
    own = api.call("datastore_search", {"resource_id": ds["resource_id"]}, token=world["mz-member"].token).result
    assert all(r["phone"] == "13912345678" for r in own["records"])


def test_webhook_payloads_of_record_changes_carry_no_record_values(api, make, world, db):
    # A subscriber may be a department with no grant (subscribing needs only the metadata): the
    # records.changed payload names the change numbers and the cursor, never a key or a value.
    ids = people(2, seed=4)
    ref = register(api, world, "dibao", DIBAO)
    ds = table(api, make, world, name="dibao-register", schema=ref)
    db.add(WebhookSubscription(package_id=ds["id"], url="https://rsj.ningshan.gov.cn/hooks", active=True,
                               events=["records.changed"], secret_encrypted="-",
                               creator_user_id=world["rs-editor"].id))
    db.commit()
    records = [{"id_number": i, "name": "王明", "monthly_amount": 500} for i in ids]
    api.call("datastore_upsert", {"resource_id": ds["resource_id"], "records": records}, token=world["mz-editor"].token)
    api.call("datastore_delete", {"resource_id": ds["resource_id"], "filters": {"id_number": ids[0]}},
             token=world["mz-editor"].token)
    payloads = [d.payload for d in db.scalars(sa.select(WebhookDelivery))]
    assert payloads and all(p["resource_id"] == ds["resource_id"] for p in payloads)
    assert not any(i[6:14] in json.dumps(p, ensure_ascii=False) for p in payloads for i in ids)
    assert set().union(*payloads) <= {"package_id", "package_name", "resource_id", "seq_from", "seq_to", "cursor"}
