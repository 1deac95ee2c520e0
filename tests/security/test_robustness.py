"""Attacks on the API's robustness and on what it tells outsiders (issue 12, findings 7, 8 and 10).

Each test is one attack as an attacker would run it, and asserts what they would notice: how long a
worker is held, the status and the field named in the answer, what an outsider can learn.
"""
from __future__ import annotations

import io
import json
import time
from types import SimpleNamespace
from typing import Any, Iterator

import pytest
from openpyxl import Workbook

from catalog.api.registry import ACTIONS
from catalog.exchange import layout
from tests.conftest import dataset_values

SURROGATE = "\ud800"
REDOS_PATTERN = "^(a+)+$"


# --- 7. ReDoS: patterns run on a linear-time engine --------------------------------------------


def _redos_schema() -> dict[str, Any]:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "x-primary-key": ["code"], "required": ["code"],
            "properties": {"code": {"type": "string", "pattern": REDOS_PATTERN}, "note": {"type": "string"}},
            "patternProperties": {"^(b+)+$": {"type": "string", "pattern": REDOS_PATTERN}}}


@pytest.fixture
def officer(make):
    """An editor of a department with a dataset ready for a DataStore table."""
    editor = make.user()
    department = make.department(members={"editor": editor})
    dataset = make.dataset(department["name"])
    return editor, department, dataset


def test_redos_pattern_of_a_registered_schema_validates_an_adversarial_record_fast(api, officer):
    editor, department, dataset = officer
    reply = api.call("schema_create", {"name": "redos", "schema": _redos_schema(),
                                       "owner_org": department["name"]}, token=editor.token)
    assert reply.status == 200, reply.body
    ref = reply.result["id"] if isinstance(reply.result, dict) else reply.result
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"], "name": "codes"},
                                            "record_schema": ref}, token=editor.token)
    assert created.status == 200, created.body
    resource_id = created.result["resource_id"]
    evil = "a" * 30 + "!"  # 26 characters held a worker 5 s on Python's re, each more doubles it
    for records in ([{"code": evil}], [{"code": "aaa", "b" * 30 + "!": "x"}, {"code": "aaa", "bbb": evil}]):
        started = time.perf_counter()
        reply = api.call("datastore_upsert", {"resource_id": resource_id, "records": records,
                                              "method": "insert"}, token=editor.token)
        elapsed = time.perf_counter() - started
        assert elapsed < 1.0, f"validation took {elapsed:.1f} s: the pattern backtracks"
        assert reply.status == 409
        assert any(key.startswith("records.") for key in reply.error), reply.error
    ok = api.call("datastore_upsert", {"resource_id": resource_id, "records": [{"code": "aaaa"}],
                                       "method": "insert"}, token=editor.token)
    assert ok.status == 200, ok.body


@pytest.mark.parametrize("pattern", [r"^(a)\1$", "^(?=a)a$", "^(?!b)a$", r"(?<=a)b"])
def test_patterns_the_linear_time_engine_cannot_run_are_refused_naming_their_path(api, officer, pattern):
    editor, department, _dataset = officer
    schema = _redos_schema()
    schema["properties"]["note"]["pattern"] = pattern
    reply = api.call("schema_create", {"name": "backref", "schema": schema, "owner_org": department["name"]},
                     token=editor.token)
    assert reply.status == 409
    assert any("/properties/note/pattern" in message for message in reply.error["schema"]), reply.error


def test_the_shipped_schemas_still_validate_under_the_linear_time_engine():
    from schemas.registry import get_validator
    from schemas.validation import record_validator

    profile = get_validator("metadata", "dataset", 1)
    values = dataset_values("dept")
    values["items"] = [{"name": "户编号 no.1", "type": "C"}]  # \w keeps matching Chinese item names
    assert profile.errors(values) == []
    bad = {**values, "resource_code": "101001/12345\n"}
    assert [e.path for e in profile.errors(bad)] == ["resource_code"]
    household = record_validator("household", 1)
    assert household.fast


# --- 8. No 500 from any input --------------------------------------------------------------------


@pytest.fixture
def unlimited(app, monkeypatch):
    """Budgets no sweep over every action reaches (the limits have their own tests)."""
    monkeypatch.setitem(app.config, "RATELIMIT_API", "1000000 per minute")
    monkeypatch.setitem(app.config, "RATELIMIT_API_ANONYMOUS", "1000000 per minute")


def _openapi(client) -> dict[str, Any]:
    return client.get("/api/3/openapi.json").get_json()


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _params(document: dict[str, Any], path: dict[str, Any]) -> dict[str, dict[str, Any]]:
    body = path["post"]["requestBody"]["content"]["application/json"]["schema"]
    return {name: _resolve(document, prop)
            for name, prop in _resolve(document, body).get("properties", {}).items()}


def _actions(client) -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    document = _openapi(client)
    assert len(document["paths"]) == len(ACTIONS)
    for url, path in sorted(document["paths"].items()):
        yield url.rsplit("/", 1)[-1], _params(document, path)


def _post_raw(client, name: str, body: dict[str, Any], token: str | None):
    """POST the body as JSON text with every non-ASCII character escaped, lone surrogates included."""
    headers = {"Authorization": token} if token else {}
    return client.post(f"/api/3/action/{name}", data=json.dumps(body), content_type="application/json",
                       headers=headers)


@pytest.mark.parametrize("who", ["anonymous", "sysadmin"])
def test_a_lone_surrogate_in_any_string_parameter_of_any_action_is_refused_naming_it(client, sysadmin, who,
                                                                                   unlimited):
    token = sysadmin.token if who == "sysadmin" else None
    failures = []
    for name, params in _actions(client):
        strings = {key for key, prop in params.items() if prop.get("type", "string") == "string"}
        for key in sorted(strings | {"id"}):
            for value in (SURROGATE, f"ok{SURROGATE}ok", {"nested": [SURROGATE]}):
                response = _post_raw(client, name, {key: value}, token)
                body = response.get_json(silent=True) or {}
                error = body.get("error", {})
                if response.status_code != 409 or not any(k.split(".")[0] == key for k in error):
                    failures.append((name, key, response.status_code, error))
    assert not failures, failures[:20]


@pytest.mark.parametrize("who", ["anonymous", "sysadmin"])
def test_a_lone_surrogate_as_key_query_string_or_form_never_answers_500(client, sysadmin, who, unlimited):
    headers = {"Authorization": sysadmin.token} if who == "sysadmin" else {}
    for name, _params_ in _actions(client):
        response = _post_raw(client, name, {SURROGATE: "x", "id": {SURROGATE: 1}}, headers.get("Authorization"))
        assert response.status_code == 409, (name, response.get_json())
        assert "__root__" in response.get_json()["error"] or "id" in response.get_json()["error"]
        response = client.post(f"/api/3/action/{name}", data=b"id=%ED%A0%80&q=%ED%A0%80",
                               content_type="application/x-www-form-urlencoded", headers=headers)
        assert response.status_code < 500, (name, response.get_data(as_text=True))
        if ACTIONS[name].read_only:
            response = client.get(f"/api/3/action/{name}?id=%ED%A0%80&q=%ED%A0%80&%ED%A0%80=1", headers=headers)
            assert response.status_code < 500, (name, response.get_data(as_text=True))


def test_a_surrogate_pair_is_one_character_and_accepted(client, officer):
    editor, _department, dataset = officer
    body = json.dumps({"id": dataset["id"], "title": "宁陕县户籍 \U0001F600"})  # sent as "\ud83d\ude00"
    assert "\\ud83d\\ude00" in body
    response = client.post("/api/3/action/package_patch", data=body, content_type="application/json",
                           headers={"Authorization": editor.token})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["result"]["title"] == "宁陕县户籍 \U0001F600"


@pytest.mark.parametrize("offset", [2**31, 2**63, 10**30])
def test_huge_offsets_are_refused_naming_offset(api, officer, offset):
    editor, _department, dataset = officer
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"], "name": "t"},
                                            "fields": [{"id": "a", "type": "text"}], "primary_key": "a",
                                            "records": [{"a": "x"}]}, token=editor.token)
    resource_id = created.result["resource_id"]
    for method in ("POST", "GET"):
        reply = api.call("datastore_search", {"resource_id": resource_id, "offset": offset},
                         token=editor.token, method=method)
        assert reply.status == 409 and "offset" in reply.error, reply.body
    reply = api.call("package_search", {"start": offset}, method="GET")
    assert reply.status == 409 and "start" in reply.error, reply.body


def test_every_integer_parameter_refuses_huge_values_naming_it(client, sysadmin, unlimited):
    failures = []
    for name, params in _actions(client):
        for key, prop in params.items():
            if prop.get("type") != "integer":
                continue
            for value in (2**63, -(2**63) - 1, 10**30):
                response = _post_raw(client, name, {key: value}, sysadmin.token)
                error = (response.get_json(silent=True) or {}).get("error", {})
                if response.status_code != 409 or key not in error:
                    failures.append((name, key, value, response.status_code, error))
    assert not failures, failures


LONG_Q = "宁陕户籍" * 25_000  # 100,000 characters


@pytest.mark.parametrize("q", [LONG_Q, "a " * 50_000, "x" * 100_000])
def test_a_huge_q_is_refused_naming_q(api, client, officer, q):
    editor, _department, dataset = officer
    reply = api.call("package_search", {"q": q})
    assert reply.status == 409 and "q" in reply.error, reply.body
    assert api.call("package_search", {"fq": f"tags:{q}"}).status == 409
    assert client.get("/dataset", query_string={"q": q}).status_code < 500  # the search page, same service
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"], "name": "t"},
                                            "fields": [{"id": "a", "type": "text"}], "primary_key": "a",
                                            "records": [{"a": "x"}]}, token=editor.token)
    reply = api.call("datastore_search", {"resource_id": created.result["resource_id"], "q": q},
                     token=editor.token)
    assert reply.status == 409 and "q" in reply.error, reply.body


def test_a_long_but_reasonable_q_still_searches(api, make):
    department = make.department()
    make.dataset(department["name"], private=False, title="宁陕县户籍人口信息表")
    reply = api.call("package_search", {"q": "户籍 " * 100})
    assert reply.status == 200, reply.body


# --- 10. What outsiders learn, and who decides -----------------------------------------------------


@pytest.fixture
def two_departments(make, sysadmin):
    """Provider mzj (admin, editor, a conditional public dataset, a private one) and requester gaj."""
    people = {role: make.user(role) for role in ("provider_admin", "provider_editor", "requester_editor",
                                                 "double_hat", "stranger")}
    mzj = make.department("mzj", members={"admin": people["provider_admin"], "editor": people["provider_editor"],
                                          "admin2": people["double_hat"]})
    gaj = make.department("gaj", members={"editor": people["requester_editor"],
                                          "editor2": people["double_hat"]})
    shared = make.dataset(mzj["name"], name="household-shared", resource_code="101001/000701", private=False)
    secret = make.dataset(mzj["name"], name="zz-private-secret", resource_code="101001/000777", private=True)
    return SimpleNamespace(mzj=mzj, gaj=gaj, shared=shared, secret=secret, sysadmin=sysadmin, **people)


def test_an_admin_of_the_provider_who_belongs_to_the_requester_cannot_approve_its_request(api, two_departments):
    world = two_departments
    request = api.call("share_request_create", {"package_id": world.shared["id"], "organization_id": "gaj",
                                                "purpose": "核实户籍", "basis": "《社会救助暂行办法》第十一条", "scenario": "低保对象资格核查"}, token=world.double_hat.token).result
    own = api.call("share_request_approve", {"id": request["id"]}, token=world.double_hat.token)
    assert own.status == 403, own.body
    assert "requesting department" in own.error["message"]
    assert api.call("share_request_show", {"id": request["id"]},
                    token=world.provider_admin.token).result["status"] == "pending"
    approved = api.call("share_request_approve", {"id": request["id"]}, token=world.provider_admin.token)
    assert approved.status == 200 and approved.result["status"] == "approved"


def test_share_request_activity_is_shown_only_where_the_request_is(api, make, two_departments):
    world = two_departments
    request = api.call("share_request_create", {"package_id": world.shared["id"], "organization_id": "gaj",
                                                "purpose": "核实户籍，内部核查", "basis": "《社会救助暂行办法》第十一条", "scenario": "低保对象资格核查"},
                       token=world.requester_editor.token).result
    reply = api.call("share_request_reject", {"id": request["id"], "reason": "涉及在办案件，暂不提供"},
                     token=world.provider_admin.token)
    assert reply.status == 200, reply.body
    third = make.user("third-dept-editor")
    make.department("rsj", members={"editor": third})

    def share_entries(token, action="package_activity_list", key=world.shared["id"]):
        reply = api.call(action, {"id": key}, token=token, method="GET")
        assert reply.status == 200, reply.body
        return [a for a in reply.result if "share request" in a["activity_type"] or "share_request" in str(a)]

    for outsider in (None, third.token, world.stranger.token):
        assert share_entries(outsider) == []
        assert share_entries(outsider, "organization_activity_list", "mzj") == []
        assert api.call("share_request_show", {"id": request["id"]}, token=outsider).status == 403
    for insider in (world.requester_editor, world.provider_editor, world.sysadmin):
        kinds = {a["activity_type"] for a in share_entries(insider.token)}
        assert kinds == {"new share request", "rejected share request"}, kinds
    assert share_entries(world.provider_editor.token, "organization_activity_list", "mzj")


def test_accounts_are_shown_to_sysadmins_themselves_and_their_department_admins_only(api, make, two_departments):
    world = two_departments
    names = {"provider_admin", "provider_editor", "requester_editor", "double_hat", "stranger", "admin"}
    for token in (None, world.stranger.token, world.provider_editor.token):
        listed = api.call("user_list", {}, token=token, method="GET")
        assert listed.status == 403, listed.body
        assert "sysadmin" not in str(listed.body.get("result", ""))
        assert api.call("user_show", {"id": "admin"}, token=token).status == 403
    assert api.call("user_show", {"id": "provider_editor"}, token=world.provider_editor.token).status == 200
    assert {u["name"] for u in api.call("user_list", {}, token=world.sysadmin.token).result} >= names
    mine = {u["name"] for u in api.call("user_list", {}, token=world.provider_admin.token).result}
    assert mine == {"provider_admin", "provider_editor", "double_hat"}
    assert api.call("user_show", {"id": "provider_editor"}, token=world.provider_admin.token).status == 200
    assert api.call("user_show", {"id": "requester_editor"}, token=world.provider_admin.token).status == 403
    assert api.call("user_show", {"id": "no-such-user"}, token=world.provider_admin.token).status == 403
    assert api.call("user_show", {"id": "no-such-user"}, token=world.sysadmin.token).status == 404


def _sheet(rows: list[list[Any]], *, with_provider: bool) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "信息资源"
    paths = ["name", "title", *(["provider_name"] if with_provider else []), "category", "resource_code",
             "notes", "share_type", "share_condition", "open_type", "open_condition", "update_cycle"]
    sheet.append([next(c.label for c in layout.dataset_columns() if c.path == p) for p in paths])
    for row in rows:
        sheet.append(row if with_provider else [row[0], row[1], *row[3:]])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.mark.parametrize("with_provider", [True, False])
@pytest.mark.parametrize("by", ["resource_code", "name"])
def test_import_dry_run_tells_an_outsider_nothing_about_a_private_dataset(api, two_departments, with_provider, by):
    world = two_departments

    def report(code: str, name: str | None, token: str) -> dict[str, Any]:
        row = [name, "探测", "mzj", "101", code, "摘要", "无条件共享", None, "不予开放", "含个人信息", "每月"]
        reply = api.call("catalog_import", content_type="multipart/form-data", token=token,
                         data_raw={"upload": (io.BytesIO(_sheet([row], with_provider=with_provider)), "probe.xlsx"),
                                   "dry_run": "true"})
        assert reply.status == 200, reply.body
        return reply.result

    def answer(code: str, name: str | None, token: str) -> str:
        found = report(code, name, token)
        text = json.dumps([found["errors"], found["created"], found["updated"], found["unchanged"],
                           found["failed"]], ensure_ascii=False)
        return text.replace(code, "CODE").replace(name or "-", "NAME").replace(code.replace("/", "-"), "CODE")

    for outsider in (world.requester_editor, world.stranger):
        if by == "resource_code":
            private, missing = answer("101001/000777", None, outsider.token), answer("101001/000999", None,
                                                                                     outsider.token)
        else:
            private = answer("101001/000998", "zz-private-secret", outsider.token)
            missing = answer("101001/000998", "zz-missing-one", outsider.token)
        assert private == missing
        assert "zz-private-secret" not in private and "cannot edit" not in private
    insider = report("101001/000777", None, world.provider_editor.token)
    assert insider["updated"] == 1, insider  # the owner's editor matches it, as before


def test_a_filter_or_sort_on_a_field_name_with_a_quote_or_backslash_is_refused_naming_it(api, officer):
    editor, _department, dataset = officer
    fields = [{"id": "code", "type": "text"}, {"id": 'say "hi"', "type": "text"}, {"id": "back\\slash", "type": "text"}]
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"], "name": "t"}, "fields": fields,
                                            "primary_key": "code",
                                            "records": [{"code": "1", 'say "hi"': "x", "back\\slash": "y"}]},
                       token=editor.token)
    assert created.status == 200, created.body
    resource_id = created.result["resource_id"]
    for name, value in (('say "hi"', "x"), ("back\\slash", "y")):
        reply = api.call("datastore_search", {"resource_id": resource_id, "filters": {name: value}},
                         token=editor.token)
        assert reply.status == 409, reply.body  # never an empty success
        assert name in reply.error["filters"][0]
        reply = api.call("datastore_search", {"resource_id": resource_id, "sort": f"{name.split()[0]} asc"},
                         token=editor.token)
        assert reply.status == 409 and "sort" in reply.error
    unknown = api.call("datastore_search", {"resource_id": resource_id, "filters": {"nope": "x"}}, token=editor.token)
    assert unknown.status == 409 and "nope" in unknown.error["filters"][0]
    plain = api.call("datastore_search", {"resource_id": resource_id, "filters": {"code": "1"}}, token=editor.token)
    assert plain.status == 200 and plain.result["total"] == 1


@pytest.mark.parametrize("who", ["anonymous", "outsider"])
def test_every_action_answers_for_a_private_dataset_as_for_a_missing_one(api, client, make, officer, who,
                                                                           unlimited):
    editor, department, _public = officer
    private = make.dataset(department["name"], name="zz-private-secret", resource_code="101001/000778",
                           private=True)
    created = api.call("datastore_create", {"resource": {"package_id": private["id"], "name": "t"},
                                            "fields": [{"id": "a", "type": "text"}], "primary_key": "a",
                                            "records": [{"a": "x"}]}, token=editor.token)
    resource_id = created.result["resource_id"]
    token = None
    if who == "outsider":
        token = make.user("outsider").token
        make.department("other", members={"editor": make.user("other-editor")})
    probes = {private["id"]: "00000000-0000-4000-8000-000000000000", private["name"]: "zz-no-such-dataset",
              resource_id: "00000000-0000-4000-8000-00000000000f"}

    def answer(name: str, key: str, value: str) -> tuple[int, str]:
        response = _post_raw(client, name, {key: value}, token)
        body = response.get_json(silent=True) or {}
        return response.status_code, json.dumps(body.get("error"), ensure_ascii=False).replace(value, "VALUE")

    differences = []
    for name, params in _actions(client):
        for key in ("id", "package_id", "resource_id"):
            if key not in params:
                continue
            for secret, missing in probes.items():
                if answer(name, key, secret) != answer(name, key, missing):
                    differences.append((name, key, answer(name, key, secret), answer(name, key, missing)))
    assert not differences, differences
