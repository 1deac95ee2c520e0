"""Attacks on the API's robustness and on what it tells outsiders (issue 12, findings 7, 8 and 10).

Each test is one attack as an attacker would run it, and asserts what they would notice: how long a
worker is held, the status and the field named in the answer, what an outsider can learn.
"""
from __future__ import annotations

import json
import time
from typing import Any, Iterator

import pytest

from catalog.api.registry import ACTIONS
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
def test_a_huge_q_is_refused_naming_q(api, officer, q):
    editor, _department, dataset = officer
    reply = api.call("package_search", {"q": q})
    assert reply.status == 409 and "q" in reply.error, reply.body
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
