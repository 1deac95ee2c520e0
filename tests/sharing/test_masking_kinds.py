"""Masking per sensitive kind on every read path, against values masked by hand.

A department that is not the provider and holds no grant for a field reads it masked (SECURITY.md):
resident ID -> first 6 and last 4 (``610923********0010``), mobile -> first 3 and last 4 (``139****5678``),
name -> the surname (``王**``), free text such as an address or a bank account -> withheld (``***``).
The read paths are datastore_search (objects, lists, CSV), datastore_changes (records and tombstones,
with their ``_key``), the dump (JSON and CSV) and the dataset page's preview.
"""
from __future__ import annotations

import hashlib
import io
import json
import re

import pytest
import sqlalchemy as sa

from catalog.datasets.models import Resource
from catalog.departments.models import Department
from catalog.sharing.masking import mask_value
from catalog.sharing.models import Grant

RE_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

# One household written by hand; the check digits were computed with the GB 11643 weights
# (test_identifiers_domain.py): 61092319800101001 -> 0, 61092319850615002 -> 7.
HEAD_ID, SPOUSE_ID = "610923198001010010", "610923198506150027"
HEAD_PHONE, SPOUSE_PHONE = "13912345678", "15091512345"
ADDRESS = "陕西省安康市宁陕县城关镇东街12号"
HOUSEHOLD = {
    "household_number": "610923100201010001", "head_name": "王建国", "head_id_number": HEAD_ID,
    "members": [
        {"name": "王建国", "id_number": HEAD_ID, "sex": "1", "relation": "02", "phone": HEAD_PHONE},
        {"name": "李秀英", "id_number": SPOUSE_ID, "sex": "2", "relation": "10", "phone": SPOUSE_PHONE},
    ],
    "address": ADDRESS, "division_code": "610923100201", "town": "城关镇", "village": "东街社区",
    "updated_at": "2026-01-03T09:30:00+08:00",
}
MASKED_HOUSEHOLD = {
    "household_number": "610923100201010001", "head_name": "王**", "head_id_number": "610923********0010",
    "members": [
        {"name": "王**", "id_number": "610923********0010", "sex": "1", "relation": "02", "phone": "139****5678"},
        {"name": "李**", "id_number": "610923********0027", "sex": "2", "relation": "10", "phone": "150****2345"},
    ],
    "address": "***", "division_code": "610923100201", "town": "城关镇", "village": "东街社区",
    "updated_at": "2026-01-03T09:30:00+08:00",
}
HOUSEHOLD_SECRETS = [HEAD_ID, SPOUSE_ID, HEAD_PHONE, SPOUSE_PHONE, ADDRESS, "王建国", "李秀英"]

# A department's own schema whose primary key is itself sensitive (the 低保 register: one row per person).
# 51010019800101005 -> check 1 (sum 132, mod 11 = 0).
PERSON_ID = "510100198001010051"
BANK_ACCOUNT = "6222020200112345678"
DIBAO_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "最低生活保障对象（测试）",
    "type": "object",
    "x-primary-key": ["id_number"],
    "properties": {
        "id_number": {"type": "string", "format": "cn-resident-id", "x-sensitive": "resident-id"},
        "name": {"type": "string", "minLength": 1, "x-sensitive": "name"},
        "mobile": {"type": "string", "format": "cn-mobile", "x-sensitive": "mobile"},
        "address": {"type": "string", "x-sensitive": "text"},
        "bank_account": {"type": "string", "x-sensitive": "text"},
        "monthly_amount": {"type": "number", "minimum": 0},
    },
    "required": ["id_number", "name", "monthly_amount"],
    "additionalProperties": False,
}
PERSON = {"id_number": PERSON_ID, "name": "张三", "mobile": "18700001234", "address": ADDRESS,
          "bank_account": BANK_ACCOUNT, "monthly_amount": 520}
MASKED_PERSON = {"id_number": "510100********0051", "name": "张*", "mobile": "187****1234", "address": "***",
                 "bank_account": "***", "monthly_amount": 520}
PERSON_SECRETS = [PERSON_ID, "18700001234", ADDRESS, BANK_ACCOUNT, "张三"]


@pytest.fixture
def world(api, make, sysadmin):
    provider_editor, reader = make.user("gaj-editor"), make.user("town-editor")
    provider = make.department("ningshan-gaj", members={"editor": provider_editor})
    make.department("ningshan-cgz", members={"editor": reader})
    registered = api.call("schema_create", {"name": "dibao-test", "schema": DIBAO_SCHEMA, "owner_org": provider["id"]},
                          token=provider_editor.token)
    assert registered.status == 200, registered.body

    def table(name, schema, record):
        made = make.dataset(provider["id"], name=name, record_schema=schema, share_type="unconditional",
                            share_condition=None)
        created = api.call("datastore_create", {"resource": {"package_id": made["id"]}}, token=sysadmin.token)
        assert created.status == 200, created.body
        resource_id = created.result["resource_id"]
        written = api.call("datastore_upsert", {"resource_id": resource_id, "records": [record]},
                           token=sysadmin.token)
        assert written.status == 200, written.body
        return {"name": name, "resource_id": resource_id}

    # the same register keyed by (village, person): the sensitive part of the key comes second
    composite = dict(DIBAO_SCHEMA, **{"x-primary-key": ["village", "id_number"],
                                      "properties": {**DIBAO_SCHEMA["properties"], "village": {"type": "string"}},
                                      "required": [*DIBAO_SCHEMA["required"], "village"]})
    keyed = api.call("schema_create", {"name": "dibao-by-village", "schema": composite, "owner_org": provider["id"]},
                     token=provider_editor.token)
    assert keyed.status == 200, keyed.body
    return {"owner": provider_editor, "reader": reader, "owner_department": provider["id"],
            "dibao_schema": registered.result["id"],
            "households": table("households-open", "household@1", HOUSEHOLD),
            "dibao": table("dibao-open", registered.result["id"], PERSON),
            "composite": table("dibao-by-village", keyed.result["id"], {**PERSON, "village": "东街社区"})}


def _search(api, table, token, **extra):
    reply = api.call("datastore_search", {"resource_id": table["resource_id"], **extra}, token=token)
    assert reply.status == 200, reply.body
    return reply.result


def _changes(api, table, token):
    reply = api.call("datastore_changes", {"resource_id": table["resource_id"]}, token=token)
    assert reply.status == 200, reply.body
    return reply.result["changes"]


def _dump(client, table, token, fmt):
    response = client.get(f"/datastore/dump/{table['resource_id']}?format={fmt}", headers={"Authorization": token})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _strip(record: dict) -> dict:
    return {k: v for k, v in record.items() if not k.startswith("_")}


@pytest.mark.parametrize("kind", ["households", "dibao"])
def test_objects_are_masked_per_kind(api, world, kind):
    expected = MASKED_HOUSEHOLD if kind == "households" else MASKED_PERSON
    [row] = _search(api, world[kind], world["reader"].token)["records"]
    assert _strip(row) == expected


@pytest.mark.parametrize("kind", ["households", "dibao"])
def test_the_owner_reads_in_clear(api, world, kind):
    clear = HOUSEHOLD if kind == "households" else PERSON
    [row] = _search(api, world[kind], world["owner"].token)["records"]
    assert _strip(row) == clear
    [change] = _changes(api, world[kind], world["owner"].token)
    assert _strip(change) == clear


def test_lists_and_csv_are_masked(api, world):
    found = _search(api, world["dibao"], world["reader"].token, records_format="lists")
    columns = [f["id"] for f in found["fields"]]
    assert [dict(zip(columns, row)) for row in found["records"]] == [
        {c: MASKED_PERSON.get(c) for c in columns}]
    text = _search(api, world["dibao"], world["reader"].token, records_format="csv")["records"]
    for masked in ("510100********0051", "张*", "187****1234", "***"):
        assert masked in text
    assert not any(secret in text for secret in PERSON_SECRETS)
    households = _search(api, world["households"], world["reader"].token, records_format="csv")["records"]
    assert "139****5678" in households and "150****2345" in households
    assert not any(secret in households for secret in HOUSEHOLD_SECRETS)


@pytest.mark.parametrize("kind, masked, secrets", [
    ("households", MASKED_HOUSEHOLD, HOUSEHOLD_SECRETS), ("dibao", MASKED_PERSON, PERSON_SECRETS)])
def test_the_change_feed_is_masked_including_the_key(api, world, kind, masked, secrets):
    [change] = _changes(api, world[kind], world["reader"].token)
    assert _strip(change) == masked
    text = json.dumps(change, ensure_ascii=False)
    assert not any(secret in text for secret in secrets), text
    if kind == "dibao":
        # the key of a record whose primary key is a resident ID is that ID: masked the same way
        assert change["_key"] == "510100********0051"
    else:
        assert change["_key"] == "610923100201010001"


def test_a_composite_key_does_not_reveal_its_sensitive_part(api, world):
    [change] = _changes(api, world["composite"], world["reader"].token)
    assert change["id_number"] == "510100********0051"
    assert PERSON_ID not in json.dumps(change, ensure_ascii=False), change
    assert "510100********0051" in change["_key"]
    [owned] = _changes(api, world["composite"], world["owner"].token)
    assert PERSON_ID in owned["_key"]


def test_a_tombstone_in_the_change_feed_does_not_reveal_the_deleted_persons_id(api, world, sysadmin):
    deleted = api.call("datastore_delete", {"resource_id": world["dibao"]["resource_id"],
                                            "filters": {"id_number": PERSON_ID}}, token=sysadmin.token)
    assert deleted.status == 200, deleted.body
    changes = _changes(api, world["dibao"], world["reader"].token)
    tombstone = changes[-1]
    assert tombstone["_deleted"] is True
    assert tombstone["id_number"] == "510100********0051" and tombstone["_key"] == "510100********0051"
    assert PERSON_ID not in json.dumps(changes)
    owner_view = _changes(api, world["dibao"], world["owner"].token)[-1]
    assert owner_view["id_number"] == PERSON_ID and owner_view["_key"] == PERSON_ID


@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.parametrize("kind, secrets", [("households", HOUSEHOLD_SECRETS), ("dibao", PERSON_SECRETS)])
def test_the_dump_is_masked(client, world, fmt, kind, secrets):
    text = _dump(client, world[kind], world["reader"].token, fmt)
    assert not any(secret in text for secret in secrets), text
    for masked in (("610923********0010", "139****5678", "王**") if kind == "households"
                   else ("510100********0051", "187****1234", "张*")):
        assert masked in text
    if fmt == "json":
        [row] = json.loads(text) if text.lstrip().startswith("[") else [json.loads(line) for line in text.splitlines()
                                                                        if line.strip()]
        assert _strip(row) == (MASKED_HOUSEHOLD if kind == "households" else MASKED_PERSON)


def _login(app, name: str):
    browser = app.test_client()
    token = RE_CSRF.search(browser.get("/user/login").get_data(as_text=True)).group(1)
    response = browser.post("/user/login", data={"name": name, "password": "correct-horse", "csrf_token": token})
    assert response.status_code == 302
    return browser


@pytest.mark.parametrize("kind, masked, secrets", [
    ("households", ("610923********0010", "139****5678", "王**"), HOUSEHOLD_SECRETS),
    ("dibao", ("510100********0051", "187****1234", "张*"), PERSON_SECRETS)])
def test_the_dataset_page_preview_is_masked(app, world, kind, masked, secrets):
    page = _login(app, world["reader"].name).get(f"/dataset/{world[kind]['name']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert all(value in html for value in masked), html
    assert not any(secret in html for secret in secrets)
    owner_page = _login(app, world["owner"].name).get(f"/dataset/{world[kind]['name']}").get_data(as_text=True)
    assert (HEAD_ID if kind == "households" else PERSON_ID) in owner_page


def test_a_grant_of_the_phone_numbers_reveals_those_only(api, db, world):
    # The town was granted its residents' phone numbers only (a grant naming members.phone).
    dataset_id = db.scalar(sa.select(Resource.package_id).where(Resource.id == world["households"]["resource_id"]))
    town_id = db.scalar(sa.select(Department.id).where(Department.name == "ningshan-cgz"))
    db.add(Grant(package_id=dataset_id, organization_id=town_id, fields=["members.phone"]))
    db.commit()
    [row] = _search(api, world["households"], world["reader"].token)["records"]
    assert [m["phone"] for m in row["members"]] == [HEAD_PHONE, SPOUSE_PHONE]
    assert [m["id_number"] for m in row["members"]] == ["610923********0010", "610923********0027"]
    assert row["head_id_number"] == "610923********0010" and row["address"] == "***"


def test_single_character_and_short_values_are_masked_whole():
    assert mask_value("name", "王") == "王*"
    assert mask_value("name", "欧阳娜娜") == "欧***"
    assert mask_value("resident-id", "6109231980") == "**********"          # too short to keep 6 + 4
    assert mask_value("resident-id", "61092319800") == "610923*9800"
    assert mask_value("mobile", "1391234") == "*******"
    assert mask_value("mobile", "13912345") == "139*2345"
    assert mask_value("text", "任何文字") == "***"
    assert mask_value("unknown-kind", "任何文字") == "***"
    assert mask_value("mobile", 13912345678) == "***"                        # not a string: withheld
    assert mask_value("name", None) is None and mask_value("name", "") == ""


# --- queries that would match on masked values, and the log of each read ------------------------------

@pytest.mark.parametrize("query", [
    {"sort": "head_name"}, {"sort": "town, head_id_number desc"}, {"sort": '"address" asc'}, {"sort": "town,head_name"},
    {"filters": {"members": []}}, {"filters": {"town": "城关镇", "head_name": "王建国"}}, {"q": "王"},
])
def test_a_masked_reader_cannot_match_on_masked_fields(api, world, query):
    reply = api.call("datastore_search", {"resource_id": world["households"]["resource_id"], **query},
                     token=world["reader"].token)
    assert reply.status == 403, reply.body
    assert reply.error["__type"] == "Authorization Error" and "masked" in reply.error["message"]
    assert "王建国" not in json.dumps(reply.body, ensure_ascii=False)


@pytest.mark.parametrize("query", [{"sort": "town desc, household_number"}, {"filters": {"town": "城关镇"}}])
def test_a_masked_reader_matches_on_the_fields_they_see(api, world, query):
    [row] = _search(api, world["households"], world["reader"].token, **query)["records"]
    assert row["head_name"] == "王**"


@pytest.mark.parametrize("query", [{"sort": "head_name"}, {"filters": {"head_id_number": HEAD_ID}}, {"q": "王建国"}])
def test_the_owner_matches_on_any_field(api, world, query):
    [row] = _search(api, world["households"], world["owner"].token, **query)["records"]
    assert row["head_id_number"] == HEAD_ID


def test_each_read_is_logged_with_who_what_and_how_many(api, world, sysadmin):
    _search(api, world["households"], world["reader"].token, filters={"town": "城关镇"}, sort="town")
    _changes(api, world["households"], world["reader"].token)
    entries = api.call("access_log_list", {"organization_id": "ningshan-gaj"}, token=sysadmin.token).result
    search, feed = (next(e for e in entries if e["action"] == action and e["user_name"] == "town-editor")
                    for action in ("datastore_search", "datastore_changes"))
    assert search["resource_id"] == world["households"]["resource_id"] and search["record_count"] == 1
    assert search["params"]["filters"] == {"town": "城关镇"} and search["params"]["sort"] == "town"
    assert feed["record_count"] == 1 and feed["resource_id"] == world["households"]["resource_id"]
    town = api.call("organization_show", {"id": "ningshan-cgz"}, token=sysadmin.token).result["id"]
    assert search["departments"] == [town] and feed["departments"] == [town]


def test_a_file_download_is_logged_with_the_files_name_size_and_hash(api, client, world, make, sysadmin):
    # an unconditional dataset's uploaded file goes to whoever sees the metadata, and each download is logged
    content = "户编号,村\n610923100201010001,东街社区\n".encode()
    made = make.dataset(world["owner_department"], name="village-list", share_type="unconditional",
                        share_condition=None)
    uploaded = api.call("resource_create", content_type="multipart/form-data", token=world["owner"].token,
                        data_raw={"package_id": made["id"], "name": "名单", "upload": (io.BytesIO(content), "名单.csv")})
    assert uploaded.status == 200, uploaded.body
    url = uploaded.result["url"]
    response = client.get(url[url.index("/dataset/"):], headers={"Authorization": world["reader"].token})
    assert response.status_code == 200 and response.data == content
    [entry] = [e for e in api.call("access_log_list", {"organization_id": "ningshan-gaj", "package_id": made["id"]},
                                   token=sysadmin.token).result if e["action"] == "resource_download"]
    assert entry["user_name"] == "town-editor" and entry["resource_id"] == uploaded.result["id"]
    assert entry["record_count"] == 0
    assert entry["params"] == {"filename": url.rsplit("/", 1)[1], "size": len(content),
                               "hash": "sha256:" + hashlib.sha256(content).hexdigest()}


def _upload(api, world, dataset_id, content):
    uploaded = api.call("resource_create", content_type="multipart/form-data", token=world["owner"].token,
                        data_raw={"package_id": dataset_id, "name": "名单", "upload": (io.BytesIO(content), "名单.csv")})
    assert uploaded.status == 200, uploaded.body
    url = uploaded.result["url"]
    return url[url.index("/dataset/"):]


def test_a_private_datasets_file_goes_to_its_department_only(api, client, world, make):
    content = f"身份证号\n{PERSON_ID}\n".encode()
    made = make.dataset(world["owner_department"], name="private-list", private=True, share_type="unconditional",
                        share_condition=None)
    path = _upload(api, world, made["id"], content)
    owner = client.get(path, headers={"Authorization": world["owner"].token})
    assert owner.status_code == 200 and owner.data == content
    stranger = client.get(path, headers={"Authorization": world["reader"].token})
    assert stranger.status_code in (403, 404) and PERSON_ID.encode() not in stranger.data


def test_a_conditional_file_needs_a_grant_of_every_sensitive_field_of_its_registered_schema(api, db, client, world,
                                                                                           make):
    content = f"身份证号,银行账号\n{PERSON_ID},{BANK_ACCOUNT}\n".encode()
    made = make.dataset(world["owner_department"], name="dibao-file", record_schema=world["dibao_schema"],
                        share_type="conditional")
    path = _upload(api, world, made["id"], content)
    town_id = db.scalar(sa.select(Department.id).where(Department.name == "ningshan-cgz"))
    grant = Grant(package_id=made["id"], organization_id=town_id, fields=["id_number", "name", "mobile", "address"])
    db.add(grant)
    db.commit()
    refused = client.get(path, headers={"Authorization": world["reader"].token})
    assert refused.status_code == 403 and b"bank_account" in refused.data and PERSON_ID.encode() not in refused.data
    grant.fields = ["id_number", "name", "mobile", "address", "bank_account"]
    db.commit()
    allowed = client.get(path, headers={"Authorization": world["reader"].token})
    assert allowed.status_code == 200 and allowed.data == content
