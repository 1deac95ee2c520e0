"""The cast of the share workflow tests (decree 809 arts. 20–22, 27, 29).

The police bureau provides a conditionally shared household dataset with records; civil affairs asks
for it; the education bureau is a department with no part in it; the big-data bureau is the data
authority (``CATALOG_AUTHORITY_DEPARTMENT``), whose editors and admins act for it; one account has no
department; anonymous callers have no token; the sysadmin is the authority too.
"""
from __future__ import annotations

import datetime as dt
import io
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from tests.schemas.records_samples import households

ROLES = ["anonymous", "no_department", "outsider_admin", "outsider_editor", "consumer_member", "consumer_editor",
         "consumer_admin", "provider_member", "provider_editor", "provider_admin", "authority_member",
         "authority_editor", "sysadmin"]
BASIS = "《社会救助暂行办法》第十一条"
SCENARIO = "低保对象资格核查（民政局低保审核系统）"


@pytest.fixture
def share_cast(api, app, make, sysadmin, monkeypatch):
    people = {role: make.user(role.replace("_", "-")) for role in ROLES if role not in ("anonymous", "sysadmin")}
    provider = make.department("ningshan-gaj", title="宁陕县公安局",
                               members={"admin": people["provider_admin"], "editor": people["provider_editor"],
                                        "member": people["provider_member"]})
    consumer = make.department("ningshan-mzj", title="宁陕县民政局",
                               members={"admin": people["consumer_admin"], "editor": people["consumer_editor"],
                                        "member": people["consumer_member"]})
    outsider = make.department("ningshan-jyj", title="宁陕县教育局",
                               members={"admin": people["outsider_admin"], "editor": people["outsider_editor"]})
    authority = make.department("ningshan-sjj", title="宁陕县数据局",
                                members={"editor": people["authority_editor"], "member": people["authority_member"]})
    monkeypatch.setitem(app.config, "AUTHORITY_DEPARTMENT", "ningshan-sjj")
    dataset = make.dataset(provider["id"], name="households", record_schema="household@1", share_type="conditional",
                           share_condition="仅限民政、人社部门核实救助对象使用")
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}}, token=sysadmin.token)
    assert created.status == 200, created.body
    upserted = api.call("datastore_upsert", {"resource_id": created.result["resource_id"],
                                             "records": list(households(3, seed=7))}, token=sysadmin.token)
    assert upserted.status == 200, upserted.body
    tokens = {role: account.token for role, account in people.items()}
    tokens["sysadmin"], tokens["anonymous"] = sysadmin.token, None
    return SimpleNamespace(people=people, tokens=tokens, provider=provider, consumer=consumer, outsider=outsider,
                           authority=authority, dataset=dataset, resource_id=created.result["resource_id"],
                           sysadmin=sysadmin)


def file_request(api, cast, **extra) -> dict:
    """Civil affairs' editor files a complete request."""
    made = api.call("share_request_create", {"package_id": cast.dataset["id"], "organization_id": "ningshan-mzj",
                                             "purpose": "核实低保对象户籍", "basis": BASIS, "scenario": SCENARIO,
                                             **extra}, token=cast.tokens["consumer_editor"])
    assert made.status == 200, made.body
    return made.result


def approve(api, cast, request_id: str, **extra) -> dict:
    """The police bureau's admin approves; returns the grant."""
    reply = api.call("share_request_approve", {"id": request_id, **extra}, token=cast.tokens["provider_admin"])
    assert reply.status == 200, reply.body
    grants = api.call("share_grant_list", {"direction": "incoming"}, token=cast.tokens["provider_admin"]).result
    return next(g for g in grants if g["request_id"] == request_id)


def backdate(db, model, row_id: str, **values) -> None:
    """Move a row's dates into the past (what time would do), committed for the next API call."""
    db.execute(sa.update(model).where(model.id == row_id).values(**values))
    db.commit()


def utc(day: dt.date) -> dt.datetime:
    """Midnight UTC of ``day``."""
    return dt.datetime.combine(day, dt.time(), dt.timezone.utc)


def rosters_with_a_file(api, make, cast):
    """A conditionally shared dataset without record schema, with an uploaded file."""
    rosters = make.dataset(cast.provider["id"], name="rosters", share_type="conditional")
    uploaded = api.call("resource_create", content_type="multipart/form-data", token=cast.tokens["provider_editor"],
                        data_raw={"package_id": rosters["id"], "upload": (io.BytesIO(b"a,b\n1,2\n"), "r.csv")})
    assert uploaded.status == 200, uploaded.body
    path = uploaded.result["url"].split("localhost", 1)[1]
    made = api.call("share_request_create", {"package_id": rosters["id"], "organization_id": "ningshan-mzj",
                                             "purpose": "核对名册", "basis": "《社会救助暂行办法》第十一条",
                                             "scenario": "低保名册核对"}, token=cast.tokens["consumer_editor"])
    grant = approve(api, cast, made.result["id"])
    return grant, path
