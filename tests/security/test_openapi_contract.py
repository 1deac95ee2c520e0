"""Every action, called with real data, answers exactly as /api/3/openapi.json documents it.

Generated requests (test_openapi_fuzz.py) rarely name a dataset or department that exists, so the
success answers of show, update and list actions are checked here with a realistic walk through the
catalog: departments, members, users, tokens, datasets, resources, DataStore records and sharing.
"""
from __future__ import annotations

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.conftest import dataset_values
from tests.schemas.records_samples import households

CHECKS = [not_a_server_error, response_schema_conformance]


class Contract:
    """Calls actions through the app and validates each answer against the OpenAPI document."""

    def __init__(self, app, token: str):
        self.app = app
        self.headers = {"Authorization": token}
        self.schema = schemathesis.openapi.from_wsgi("/api/3/openapi.json", app)
        self.called: set[str] = set()

    def __call__(self, name: str, data: dict | None = None, *, method: str = "POST"):
        operation = self.schema[f"/api/3/action/{name}"][method]
        if method == "GET":
            case = operation.Case(query=data or {})
        else:
            case = operation.Case(body=data or {}, media_type="application/json")
        response = case.call(app=self.app, headers=self.headers)
        case.validate_response(response, checks=CHECKS)
        body = response.json()
        assert response.status_code == 200 and body["success"] is True, (name, body)
        self.called.add(name)
        return body["result"]


@pytest.fixture
def contract(app, sysadmin):
    return Contract(app, sysadmin.token)


def test_departments_users_and_tokens(contract, sysadmin):
    contract("status_show", method="GET")
    contract("help_show", {"name": "package_create"}, method="GET")
    contract("user_create", {"name": "zhang-wei", "password": "correct-horse", "email": "zw@ningshan.gov.cn",
                             "fullname": "张伟"})
    contract("user_show", {"id": "zhang-wei"}, method="GET")
    contract("user_list", {"q": "zhang"}, method="GET")
    token = contract("api_token_create", {"user": "zhang-wei", "name": "sync", "expires_in": 30})
    contract("api_token_list", {"user": "zhang-wei"}, method="GET")
    contract("api_token_revoke", {"jti": token["id"]})

    dept = contract("organization_create", {"name": "ningshan-mzj", "title": "宁陕县民政局",
                                            "description": "社会救助、养老服务"})
    contract("organization_update", {"id": dept["id"], "title": "宁陕县民政局", "code": None})
    contract("organization_patch", {"id": dept["name"], "description": "社会救助"})
    contract("organization_member_create", {"id": dept["id"], "username": "zhang-wei", "role": "editor"})
    contract("member_list", {"id": dept["id"]}, method="GET")
    contract("organization_show", {"id": dept["name"], "include_users": "true", "include_datasets": "true"},
             method="GET")
    contract("organization_list", {"all_fields": "true"}, method="GET")
    contract("organization_list", method="GET")
    contract("organization_activity_list", {"id": dept["id"]}, method="GET")
    contract("organization_member_delete", {"id": dept["id"], "username": "zhang-wei"})
    contract("organization_delete", {"id": dept["id"]})


def test_datasets_resources_and_search(contract, make):
    dept = make.department("ningshan-rsj", title="宁陕县人社局")
    dataset = contract("package_create", dataset_values(dept["id"], 7))
    contract("package_show", {"id": dataset["name"]}, method="GET")
    contract("package_patch", {"id": dataset["id"], "notes": "全县户籍人口基本信息。"})
    contract("package_update", dict(dataset_values(dept["id"], 7), id=dataset["id"]))
    resource = contract("resource_create", {"package_id": dataset["id"], "name": "户籍人口表",
                                            "url": "https://data.ningshan.gov.cn/hj.csv", "format": "CSV"})
    contract("resource_show", {"id": resource["id"]}, method="GET")
    contract("resource_patch", {"id": resource["id"], "description": "每月更新"})
    contract("resource_update", {"id": resource["id"], "name": "户籍人口表", "format": "CSV",
                                 "url": "https://data.ningshan.gov.cn/hj.csv"})
    contract("package_list", method="GET")
    contract("package_search", {"q": "户籍", "facet.field": '["organization", "tags"]'}, method="GET")
    contract("tag_list", {"all_fields": "true"}, method="GET")
    contract("tag_list", method="GET")
    contract("package_activity_list", {"id": dataset["id"]}, method="GET")
    contract("resource_delete", {"id": resource["id"]})
    contract("package_delete", {"id": dataset["id"]})


def test_datastore_and_sharing(contract, make):
    dept = make.department("ningshan-gaj")
    dataset = make.dataset(dept["id"], record_schema="household@1", share_type="unconditional",
                           share_condition=None)
    created = contract("datastore_create", {"resource": {"package_id": dataset["id"], "name": "住户"}})
    resource_id = created["resource_id"]
    records = list(households(3, seed=1))
    contract("datastore_upsert", {"resource_id": resource_id, "records": records})
    contract("datastore_search", {"resource_id": resource_id, "limit": 2})
    contract("datastore_changes", {"resource_id": resource_id}, method="GET")
    contract("datastore_info", {"resource_id": resource_id}, method="GET")
    contract("schema_list", method="GET")
    contract("schema_show", {"id": "household@1"}, method="GET")
    contract("share_request_list", method="GET")
    contract("access_log_list", method="GET")
