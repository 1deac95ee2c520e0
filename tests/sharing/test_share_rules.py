"""Share types, requests and grants, masking and the access log, through the API."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from catalog.sharing.access_log import verify_chain
from catalog.sharing.models import AccessLogEntry, Grant
from tests.schemas.records_samples import households


@pytest.fixture
def world(api, make, sysadmin):
    """Police (provider) with a household dataset; civil affairs and a town as consumers."""
    gaj_admin, gaj_editor = make.user("gaj-admin"), make.user("gaj-editor")
    mzj_editor, town_editor = make.user("mzj-editor"), make.user("town-editor")
    loner = make.user("no-department")
    gaj = make.department("ningshan-gaj", members={"admin": gaj_admin, "editor": gaj_editor})
    mzj = make.department("ningshan-mzj", members={"editor": mzj_editor})
    town = make.department("ningshan-cgz", members={"editor": town_editor})

    def dataset(name, share_type, condition="仅限核实救助对象使用"):
        made = make.dataset(gaj["id"], name=name, record_schema="household@1", share_type=share_type,
                            share_condition=None if share_type == "unconditional" else condition)
        created = api.call("datastore_create", {"resource": {"package_id": made["id"]}}, token=sysadmin.token)
        records = list(households(5, seed=len(name)))
        api.call("datastore_upsert", {"resource_id": created.result["resource_id"], "records": records},
                 token=sysadmin.token)
        return {"id": made["id"], "resource_id": created.result["resource_id"], "records": records}

    return {
        "gaj_admin": gaj_admin, "gaj_editor": gaj_editor, "mzj_editor": mzj_editor,
        "town_editor": town_editor, "loner": loner, "gaj": gaj, "mzj": mzj, "town": town,
        "open": dataset("households-open", "unconditional"),
        "conditional": dataset("households-conditional", "conditional"),
        "closed": dataset("households-closed", "none", "依据《个人信息保护法》第十三条不予共享"),
    }


def search(api, ds, token, **extra):
    return api.call("datastore_search", {"resource_id": ds["resource_id"], **extra}, token=token)


def test_unconditional_is_read_by_any_department_but_not_anonymous_or_departmentless(api, world):
    assert search(api, world["open"], world["mzj_editor"].token).status == 200
    assert search(api, world["open"], None).status == 403
    refused = search(api, world["open"], world["loner"].token)
    assert refused.status == 403 and "no department" in refused.error["message"]


def test_conditional_needs_a_grant_and_none_is_never_served(api, world):
    refused = search(api, world["conditional"], world["mzj_editor"].token)
    assert refused.status == 403 and "share_request_create" in refused.error["message"]
    closed = search(api, world["closed"], world["mzj_editor"].token)
    assert closed.status == 403 and "个人信息保护法" in closed.error["message"]
    # The owner department reads its own, in clear.
    own = search(api, world["closed"], world["gaj_editor"].token).result["records"]
    clear = {r["household_number"]: r for r in world["closed"]["records"]}
    assert own and all(row == clear[row["household_number"]] for row in own)


def test_request_approve_read_masked_except_granted_then_revoke(api, world):
    ds, mzj = world["conditional"], world["mzj_editor"]
    made = api.call("share_request_create", {"package_id": ds["id"], "organization_id": "ningshan-mzj",
                                             "purpose": "核实低保对象户籍", "basis": "《社会救助暂行办法》第十一条", "scenario": "低保对象资格核查", "fields": ["head_id_number"]},
                    token=mzj.token)
    assert made.status == 200, made.body
    request = made.result
    assert request["status"] == "pending" and request["overdue"] is False
    # Only the provider's admins decide.
    assert api.call("share_request_approve", {"id": request["id"]}, token=world["gaj_editor"].token).status == 403
    assert api.call("share_request_approve", {"id": request["id"]}, token=mzj.token).status == 403
    approved = api.call("share_request_approve", {"id": request["id"], "fields": ["head_id_number"],
                                                  "expires": (dt.date.today() + dt.timedelta(days=30)).isoformat()},
                        token=world["gaj_admin"].token)
    assert approved.result["status"] == "approved"

    rows = search(api, ds, mzj.token).result["records"]
    original = {r["household_number"]: r for r in ds["records"]}
    for row in rows:
        clear = original[row["household_number"]]
        assert row["head_id_number"] == clear["head_id_number"]  # granted: clear
        assert row["head_name"] == clear["head_name"][0] + "*" * (len(clear["head_name"]) - 1)
        for member, clear_member in zip(row["members"], clear["members"]):
            assert member["id_number"] == clear_member["id_number"][:6] + "********" + clear_member["id_number"][-4:]

    api.call("share_request_revoke", {"id": request["id"], "reason": "用途已完成"}, token=world["gaj_admin"].token)
    assert search(api, ds, mzj.token).status == 403


def test_masked_values_never_leak_through_changes_dump_csv_or_filters(api, client, world):
    ds, town = world["open"], world["town_editor"]
    secrets = [r["head_id_number"] for r in ds["records"]]
    feed = api.call("datastore_changes", {"resource_id": ds["resource_id"]}, token=town.token).result
    csv_format = search(api, ds, town.token, records_format="csv").result
    dump = client.get(f"/datastore/dump/{ds['resource_id']}?format=json",
                      headers={"Authorization": town.token}).get_data(as_text=True)
    for text in (json.dumps(feed, ensure_ascii=False), csv_format, dump):
        assert not any(secret in text for secret in secrets)
    probe = search(api, ds, town.token, filters={"head_id_number": secrets[0]})
    assert probe.status == 403 and secrets[0] not in json.dumps(probe.body, ensure_ascii=False)
    assert search(api, ds, town.token, q=secrets[0][:10]).status == 403


def test_expired_grant_stops_at_once(api, db, world):
    ds = world["conditional"]
    request = api.call("share_request_create", {"package_id": ds["id"], "organization_id": "ningshan-cgz",
                                                "purpose": "走访", "basis": "《社会救助暂行办法》第十一条", "scenario": "低保对象资格核查"}, token=world["town_editor"].token).result
    api.call("share_request_approve", {"id": request["id"]}, token=world["gaj_admin"].token)
    assert search(api, ds, world["town_editor"].token).status == 200
    db.execute(sa.update(Grant).values(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    db.commit()
    assert search(api, ds, world["town_editor"].token).status == 403


def test_reject_needs_a_reason_and_none_cannot_be_requested(api, world):
    ds = world["conditional"]
    request = api.call("share_request_create", {"package_id": ds["id"], "organization_id": "ningshan-mzj",
                                                "purpose": "统计", "basis": "《社会救助暂行办法》第十一条", "scenario": "低保对象资格核查"}, token=world["mzj_editor"].token).result
    no_reason = api.call("share_request_reject", {"id": request["id"], "reason": " "}, token=world["gaj_admin"].token)
    assert no_reason.status == 409 and "reason" in no_reason.error
    rejected = api.call("share_request_reject", {"id": request["id"], "reason": "用途与职责无关"},
                        token=world["gaj_admin"].token)
    assert rejected.result["status"] == "rejected" and rejected.result["reason"] == "用途与职责无关"
    refused = api.call("share_request_create", {"package_id": world["closed"]["id"], "organization_id": "ningshan-mzj",
                                                "purpose": "x", "basis": "《社会救助暂行办法》第十一条", "scenario": "低保对象资格核查"}, token=world["mzj_editor"].token)
    assert refused.status == 409 and "不予共享" in refused.error["package_id"][0]


def test_overdue_requests_are_flagged_and_the_authority_decides(api, db, world, sysadmin):
    from catalog.sharing.models import ShareRequest

    ds = world["conditional"]
    request = api.call("share_request_create", {"package_id": ds["id"], "organization_id": "ningshan-mzj",
                                                "purpose": "核查", "basis": "《社会救助暂行办法》第十一条", "scenario": "低保对象资格核查"}, token=world["mzj_editor"].token).result
    deadline = dt.date.fromisoformat(request["deadline"])
    assert deadline.weekday() < 5 and 12 <= (deadline - dt.date.today()).days <= 16  # two weekends in 10 working days
    db.execute(sa.update(ShareRequest).values(deadline=dt.date.today() - dt.timedelta(days=1)))
    db.commit()
    overdue = api.call("share_request_list", {"overdue": True}, token=sysadmin.token).result
    assert [r["id"] for r in overdue] == [request["id"]]
    assert overdue[0]["escalated_to"] == "sysadmin"
    assert api.call("share_request_approve", {"id": request["id"]}, token=sysadmin.token).result["status"] == "approved"


def test_access_log_records_reads_and_detects_tampering(app, api, db, world):
    ds, town = world["open"], world["town_editor"]
    search(api, ds, town.token, filters={"town": "城关镇"})
    api.call("datastore_changes", {"resource_id": ds["resource_id"]}, token=town.token)
    log = api.call("access_log_list", {"organization_id": "ningshan-gaj"}, token=world["gaj_admin"].token).result
    assert [e["action"] for e in log[:2]] == ["datastore_changes", "datastore_search"]
    assert log[1]["user_name"] == "town-editor" and log[1]["params"]["filters"] == {"town": "城关镇"}
    assert api.call("access_log_list", {"organization_id": "ningshan-gaj"}, token=town.token).status == 403
    with app.app_context():  # the audit key and the checkpoint are the app's
        assert verify_chain(db)[0] is True
        db.execute(sa.update(AccessLogEntry).where(AccessLogEntry.id == log[1]["id"]).values(record_count=0))
        db.commit()
        ok, _checked, message = verify_chain(db)
    assert not ok and f"entry {log[1]['id']}" in message and "does not match its HMAC" in message
