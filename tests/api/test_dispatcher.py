"""The action endpoint itself: envelope, methods, malformed input and the OpenAPI document."""
from __future__ import annotations

import json

from openapi_spec_validator import validate

from catalog.api.registry import ACTIONS

REQUIRED_ACTIONS = {
    "status_show", "help_show", "organization_list", "organization_show", "organization_create",
    "organization_update", "organization_patch", "organization_delete", "organization_member_create",
    "organization_member_delete", "member_list", "user_create", "user_show", "user_list",
    "api_token_create", "api_token_list", "api_token_revoke", "package_list", "package_show",
    "package_create", "package_update", "package_patch", "package_delete", "resource_create",
    "resource_show", "resource_update", "resource_patch", "resource_delete", "tag_list",
    "package_activity_list", "organization_activity_list",
}


def test_every_required_action_is_served(api):
    missing = REQUIRED_ACTIONS - set(ACTIONS)
    assert not missing
    reply = api.call("help_show", {"name": "package_create"}, method="GET")
    assert "Register a dataset" in reply.result


def test_both_url_prefixes_answer_with_the_envelope(client):
    for prefix in ("/api/3/action", "/api/action"):
        body = client.get(f"{prefix}/status_show").get_json()
        assert body["success"] is True
        assert body["help"] == f"http://localhost{prefix}/help_show?name=status_show"


def test_unknown_action_is_a_bad_request(api):
    reply = api.call("package_explode")
    assert reply.status == 400
    assert reply.error["__type"] == "Bad Request"
    assert "package_explode" in reply.error["message"]


def test_malformed_json_is_a_bad_request(api):
    reply = api.call("package_create", data_raw='{"name": "x",', content_type="application/json")
    assert reply.status == 400
    assert "not valid JSON" in reply.error["message"]


def test_json_that_is_not_an_object_is_a_bad_request(api):
    reply = api.call("package_show", data_raw='["household"]', content_type="application/json")
    assert reply.status == 400
    assert "JSON object" in reply.error["message"]


def test_deeply_nested_json_is_refused_not_crashed(api):
    deep = '{"extras": ' + "[" * 5000 + "]" * 5000 + "}"
    reply = api.call("package_create", data_raw=deep, content_type="application/json")
    assert reply.status == 400
    assert "deeper" in reply.error["message"]


def test_body_over_the_limit_is_refused(api, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_JSON_BYTES", 1000)
    reply = api.call("package_create", data_raw=json.dumps({"notes": "长" * 2000}),
                     content_type="application/json")
    assert reply.status == 413
    assert "larger than the limit" in reply.error["message"]


def test_write_actions_refuse_get(api):
    reply = api.call("package_create", {"name": "x"}, method="GET")
    assert reply.status == 405
    assert "POST" in reply.error["message"]


def test_wrong_parameter_type_names_the_field(api):
    reply = api.call("package_list", {"limit": "many"}, method="GET")
    assert reply.status == 409
    assert reply.error["__type"] == "Validation Error"
    assert "limit" in reply.error


def test_form_encoded_post_is_accepted(api, make, sysadmin):
    reply = api.call("organization_create", data_raw={"name": "ningshan-rsj", "title": "人社局"},
                     content_type="application/x-www-form-urlencoded", token=sysadmin.token)
    assert reply.status == 200
    assert reply.result["title"] == "人社局"


def test_chinese_is_returned_unescaped(client, make):
    dept = make.department("ningshan-xfj", title="宁陕县信访局")
    raw = client.get("/api/3/action/organization_show", query_string={"id": dept["id"]}).get_data()
    assert "宁陕县信访局".encode() in raw


def test_openapi_document_is_valid_and_lists_every_action(client):
    document = client.get("/api/3/openapi.json").get_json()
    validate(document)
    paths = {path.rsplit("/", 1)[-1] for path in document["paths"]}
    assert REQUIRED_ACTIONS <= paths
    create = document["components"]["schemas"]["DatasetCreateParams"]["properties"]
    # The enum comes from the metadata profile (schemas/metadata), not from a second copy.
    assert create["update_cycle"]["enum"][0] == "realtime"
    assert create["share_type"]["x-enumLabels"]["none"]["zh"] == "不予共享"
    assert "get" in document["paths"]["/api/3/action/package_show"]
    assert "get" not in document["paths"]["/api/3/action/package_create"]


def test_api_version_endpoint(client):
    assert client.get("/api/3").get_json() == {"version": 3}


def test_landing_page_counts_published_datasets(client, make):
    dept = make.department("ningshan-zwfw", title="宁陕县政务服务中心")
    make.dataset(dept["id"])
    make.dataset(dept["id"], private=True)
    page = client.get("/").get_data(as_text=True)
    assert "已发布数据资源 1 个" in page
    assert "/api/3/openapi.json" in page


def test_nul_character_is_refused_with_the_field_named(api, make, sysadmin):
    dept = make.department("ningshan-nul")
    from tests.conftest import dataset_values
    values = dataset_values(dept["id"])
    values["items"][1]["description"] = "a\u0000b"
    reply = api.call("package_create", values, token=sysadmin.token)
    assert reply.status == 409
    assert "NUL" in reply.error["items.1.description"][0]
