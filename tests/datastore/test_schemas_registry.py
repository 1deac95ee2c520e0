"""The record schema registry: schema_list, schema_show, schema_create, and datasets bound to a schema."""
from __future__ import annotations

import copy
import datetime as dt
import random

import pytest

from tests.api.conftest import org  # noqa: F401 - the department-with-roles fixture
from tests.conftest import dataset_values
from tests.schemas.records_samples import resident_id, wrong_check_char

DRAFT = "https://json-schema.org/draft/2020-12/schema"

#: a department's own record schema: the subsistence allowance (低保) register
DIBAO = {
    "$schema": DRAFT,
    "title": "最低生活保障对象",
    "type": "object",
    "x-primary-key": ["id_number"],
    "properties": {
        "id_number": {"type": "string", "format": "cn-resident-id", "x-sensitive": "resident-id"},
        "name": {"type": "string", "minLength": 1, "maxLength": 50, "x-sensitive": "name"},
        "monthly_amount": {"type": "number", "minimum": 0},
        "approved_on": {"type": "string", "format": "date"},
        "household_size": {"type": "integer", "minimum": 1},
    },
    "required": ["id_number", "name", "monthly_amount"],
    "additionalProperties": False,
}


def _register(api, token, schema=None, name="dibao", owner_org=None):
    data = {"name": name, "schema": DIBAO if schema is None else schema}
    if owner_org is not None:
        data["owner_org"] = owner_org
    return api.call("schema_create", data, token=token)


def _people(n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    return [{"id_number": resident_id(rng, dt.date(1950 + i, 1 + i % 12, 1 + i % 28), i % 2 == 0),
             "name": f"低保户{i}", "monthly_amount": 500 + 10 * i, "household_size": 1 + i % 4}
            for i in range(n)]


# --- schema_list and schema_show --------------------------------------------------------------


def test_schema_list_shows_the_shipped_schemas(api):
    listed = api.call("schema_list", method="GET")
    assert listed.status == 200
    ids = {s["id"]: s for s in listed.result}
    for name in ("household@1", "service@1", "petition@1"):
        assert ids[name]["shipped"] is True and ids[name]["owner_org"] is None
        assert ids[name]["title"]


def test_schema_show(api):
    shown = api.call("schema_show", {"id": "household@1"}, method="GET")
    assert shown.status == 200
    assert shown.result["id"] == "household@1"
    assert shown.result["schema"]["x-primary-key"] == ["household_number"]


@pytest.mark.parametrize("ref", ["household@9", "nothing@1", "household", "household@x", "@1"])
def test_schema_show_of_an_unknown_schema_is_not_found(api, ref):
    missing = api.call("schema_show", {"id": ref}, method="GET")
    assert missing.status == 404, missing.body
    assert missing.error["__type"] == "Not Found Error"


# --- schema_create ----------------------------------------------------------------------------


def test_an_editor_registers_a_department_schema(api, org):
    created = _register(api, org.editor.token, owner_org=org.id)
    assert created.status == 200, created.body
    assert created.result == {"id": "dibao@1", "created": True}
    shown = api.call("schema_show", {"id": "dibao@1"}, method="GET").result
    assert shown["schema"] == DIBAO
    listed = {s["id"]: s for s in api.call("schema_list", method="GET").result}
    assert listed["dibao@1"]["shipped"] is False
    assert listed["dibao@1"]["owner_org"] == org.id
    assert listed["dibao@1"]["title"] == "最低生活保障对象"


def test_registering_the_same_document_again_returns_the_same_version(api, org):
    first = _register(api, org.editor.token, owner_org=org.id).result
    again = _register(api, org.admin.token, owner_org=org.id)
    assert again.status == 200
    assert again.result == {"id": first["id"], "created": False}
    assert [s["id"] for s in api.call("schema_list", method="GET").result if s["name"] == "dibao"] == ["dibao@1"]


def test_a_changed_document_becomes_the_next_version(api, org):
    _register(api, org.editor.token, owner_org=org.id)
    changed = copy.deepcopy(DIBAO)
    changed["properties"]["village"] = {"type": "string"}
    second = _register(api, org.editor.token, schema=changed, owner_org=org.id)
    assert second.result == {"id": "dibao@2", "created": True}
    # versions are immutable: version 1 is unchanged
    assert api.call("schema_show", {"id": "dibao@1"}).result["schema"] == DIBAO
    assert api.call("schema_show", {"id": "dibao@2"}).result["schema"] == changed
    # going back to the first document is a change too
    third = _register(api, org.editor.token, owner_org=org.id)
    assert third.result == {"id": "dibao@3", "created": True}


@pytest.mark.parametrize("schema, words", [
    ({k: v for k, v in DIBAO.items() if k != "x-primary-key"}, "x-primary-key"),
    ({**DIBAO, "x-primary-key": ["nickname"]}, "nickname"),
    ({**DIBAO, "x-primary-key": ["household_size"], "required": ["id_number"]}, "required"),
    ({**DIBAO, "x-primary-key": "id_number"}, "x-primary-key"),
    ({**DIBAO, "type": "objekt"}, "not a valid JSON Schema"),
    ({**DIBAO, "type": "array"}, "object"),
    ({**DIBAO, "properties": {**DIBAO["properties"], "name": {"type": "string", "minLength": -1}}},
     "not a valid JSON Schema"),
    ({**DIBAO, "properties": {**DIBAO["properties"], "name": {"type": "string", "pattern": "(["}}}, "pattern"),
    ({**DIBAO, "properties": {**DIBAO["properties"], "tags": {"prefixItems": [{"type": "string"}]}}},
     "prefixItems"),
    ({**DIBAO, "properties": {**DIBAO["properties"], "name": {"$ref": "http://example.com/s.json"}}}, "$ref"),
    ({**DIBAO, "$schema": "http://json-schema.org/draft-07/schema#"}, "2020-12"),
    ({**DIBAO, "properties": {**DIBAO["properties"], "name": {"type": "string", "x-sensitive": "secret"}}},
     "x-sensitive"),
])
def test_invalid_schemas_are_refused_with_a_message(api, org, schema, words):
    refused = _register(api, org.editor.token, schema=schema, owner_org=org.id)
    assert refused.status == 409, refused.body
    messages = refused.error["schema"]
    assert any(words in m for m in messages), messages
    assert api.call("schema_show", {"id": "dibao@1"}).status == 404, "nothing was registered"


@pytest.mark.parametrize("schema", [["not", "an", "object"], "a string", 5, '["a", "list"]', "{not json"])
def test_a_schema_that_is_not_an_object_is_refused(api, org, schema):
    refused = _register(api, org.editor.token, schema=schema, owner_org=org.id)
    assert refused.status == 409, refused.body
    assert "schema" in refused.error


def test_a_schema_sent_as_json_text_is_accepted(api, org):
    import json

    created = _register(api, org.editor.token, schema=json.dumps(DIBAO, ensure_ascii=False), owner_org=org.id)
    assert created.status == 200, created.body
    assert created.result["id"] == "dibao@1"


@pytest.mark.parametrize("name", ["Dibao", "低保", "a", "dibao@1", "di bao", "x" * 101, ""])
def test_bad_schema_names_are_refused(api, org, name):
    refused = _register(api, org.editor.token, name=name, owner_org=org.id)
    assert refused.status == 409, refused.body
    assert "name" in refused.error


def test_a_member_who_is_not_an_editor_cannot_register(api, org):
    for account in (org.member, org.outsider):
        refused = _register(api, account.token, owner_org=org.id)
        assert refused.status == 403, refused.body
        assert refused.error["__type"] == "Authorization Error"
    assert _register(api, None, owner_org=org.id).status == 403
    assert api.call("schema_show", {"id": "dibao@1"}).status == 404


def test_an_editor_cannot_register_for_another_department(api, make, org):
    other = make.department("rsj")
    refused = _register(api, org.editor.token, owner_org=other["id"])
    assert refused.status == 403


def test_an_unknown_owner_org_is_refused(api, org):
    refused = _register(api, org.sysadmin.token, owner_org="no-such-department")
    assert refused.status == 409
    assert "owner_org" in refused.error


def test_schemas_without_a_department_are_for_sysadmins(api, org):
    assert _register(api, org.editor.token).status == 403
    created = _register(api, org.sysadmin.token, name="county-common")
    assert created.status == 200 and created.result["id"] == "county-common@1"


def test_shipped_names_are_for_sysadmins_only(api, org):
    household = api.call("schema_show", {"id": "household@1"}).result["schema"]
    refused = _register(api, org.editor.token, name="household", schema=household, owner_org=org.id)
    assert refused.status == 403
    same = _register(api, org.sysadmin.token, name="household", schema=household)
    assert same.result == {"id": "household@1", "created": False}
    changed = copy.deepcopy(household)
    changed["properties"]["note"] = {"type": "string"}
    assert _register(api, org.sysadmin.token, name="household", schema=changed).result == {
        "id": "household@2", "created": True}


def test_a_name_registered_by_one_department_is_not_another_departments(api, make, org):
    _register(api, org.editor.token, owner_org=org.id)
    editor = make.user("rsj-editor")
    other = make.department("rsj", members={"editor": editor})
    changed = {**DIBAO, "title": "另一个部门的低保"}
    refused = _register(api, editor.token, schema=changed, owner_org=other["id"])
    assert refused.status == 409
    assert "name" in refused.error


# --- datasets bound to a schema ---------------------------------------------------------------


@pytest.mark.parametrize("ref", ["nothing@1", "dibao@1", "household@2", "household", "household@0"])
def test_a_dataset_bound_to_an_unknown_schema_is_refused(api, org, ref):
    values = {**dataset_values(org.id, 901), "record_schema": ref}
    refused = api.call("package_create", values, token=org.editor.token)
    assert refused.status == 409, refused.body
    assert "record_schema" in refused.error


def test_a_dataset_bound_to_a_registered_schema_works_end_to_end(api, client, org):
    assert _register(api, org.editor.token, owner_org=org.id).status == 200
    values = {**dataset_values(org.id, 902), "record_schema": "dibao@1", "share_type": "unconditional",
              "share_condition": None}
    dataset = api.call("package_create", values, token=org.editor.token)
    assert dataset.status == 200, dataset.body
    assert dataset.result["record_schema"] == "dibao@1"
    created = api.call("datastore_create", {"resource": {"package_id": dataset.result["id"], "name": "低保对象"}},
                       token=org.editor.token)
    assert created.status == 200, created.body
    resource_id = created.result["resource_id"]
    assert created.result["record_schema"] == "dibao@1"
    assert created.result["primary_key"] == ["id_number"]
    assert {(f["id"], f["type"]) for f in created.result["fields"]} >= {
        ("id_number", "text"), ("monthly_amount", "numeric"), ("approved_on", "date"), ("household_size", "int")}

    people = _people(5)
    written = api.call("datastore_upsert", {"resource_id": resource_id, "records": people}, token=org.editor.token)
    assert written.status == 200, written.body
    assert written.result["inserted"] == 5
    wrong = dict(people[0], id_number=wrong_check_char(people[0]["id_number"]), nickname="x")
    refused = api.call("datastore_upsert", {"resource_id": resource_id, "records": [people[1], wrong]},
                       token=org.editor.token)
    assert refused.status == 409
    assert "records.1.id_number" in refused.error and "records.1" in " ".join(refused.error)

    found = api.call("datastore_search", {"resource_id": resource_id, "filters": {"household_size": 2},
                                          "sort": "monthly_amount desc"}, token=org.member.token).result
    assert [r["name"] for r in found["records"]] == ["低保户1"]
    info = api.call("datastore_info", {"id": resource_id}, token=org.member.token).result
    assert info["record_schema"] == "dibao@1" and info["count"] == 5
    dump = client.get(f"/datastore/dump/{resource_id}?format=csv", headers={"Authorization": org.member.token})
    assert dump.status_code == 200
    assert len(dump.get_data(as_text=True).strip().splitlines()) == 6

    # a new version of the schema does not change the table already bound to version 1
    changed = copy.deepcopy(DIBAO)
    changed["required"].append("approved_on")
    assert _register(api, org.editor.token, schema=changed, owner_org=org.id).result["id"] == "dibao@2"
    more = api.call("datastore_upsert", {"resource_id": resource_id, "records": _people(7)[5:]},
                    token=org.editor.token)
    assert more.status == 200, more.body


def test_datastore_create_with_an_explicit_registered_schema(api, make, org):
    _register(api, org.editor.token, owner_org=org.id)
    dataset = make.dataset(org.id)
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}, "record_schema": "dibao@1"},
                       token=org.editor.token)
    assert created.status == 200, created.body
    assert created.result["record_schema"] == "dibao@1" and created.result["primary_key"] == ["id_number"]
