"""What a decision on a share request leaves behind: which grant it touches, the reasons, the activity
that records who decided, and refusals that name the field (CKAN's 409 envelope).
"""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from catalog.activity.models import Activity
from catalog.departments.models import Department
from catalog.sharing.models import Grant, ShareRequest


@pytest.fixture
def parties(api, make, sysadmin):
    admin = make.user("gaj-admin")
    mzj, town = make.user("mzj-editor"), make.user("town-editor")
    provider = make.department("ningshan-gaj", members={"admin": admin})
    make.department("ningshan-mzj", members={"editor": mzj})
    make.department("ningshan-cgz", members={"editor": town})
    dataset = make.dataset(provider["id"], name="households", share_type="conditional")
    return {"admin": admin, "mzj": mzj, "town": town, "dataset": dataset, "sysadmin": sysadmin}


def _request(api, parties, who: str, department: str) -> str:
    made = api.call("share_request_create", {"package_id": parties["dataset"]["id"], "organization_id": department,
                                             "purpose": "核实低保对象", "basis": "《社会救助暂行办法》第十一条", "scenario": "低保对象资格核查"}, token=parties[who].token)
    assert made.status == 200, made.body
    return made.result["id"]


def _department_id(db, name: str) -> str:
    return db.scalar(sa.select(Department.id).where(Department.name == name))


def _activities(db, kind: str) -> list[Activity]:
    db.expire_all()
    return list(db.scalars(sa.select(Activity).where(Activity.activity_type == kind)))


def test_revoking_one_request_leaves_another_departments_grant_alone(api, db, parties):
    mine = _request(api, parties, "mzj", "ningshan-mzj")
    theirs = _request(api, parties, "town", "ningshan-cgz")
    for request_id in (mine, theirs):
        assert api.call("share_request_approve", {"id": request_id}, token=parties["admin"].token).status == 200
    assert api.call("share_request_revoke", {"id": mine, "reason": "用途已完成"},
                    token=parties["admin"].token).status == 200
    db.expire_all()
    live = {g.request_id: g.revoked_at for g in db.scalars(sa.select(Grant))}
    assert live[mine] is not None and live[theirs] is None


def test_a_revocation_keeps_its_reason_or_the_earlier_one(api, db, parties):
    with_reason = _request(api, parties, "mzj", "ningshan-mzj")
    without = _request(api, parties, "town", "ningshan-cgz")
    for request_id in (with_reason, without):
        api.call("share_request_approve", {"id": request_id}, token=parties["admin"].token)
    revoked = api.call("share_request_revoke", {"id": with_reason, "reason": "  用途已完成 "},
                       token=parties["admin"].token)
    assert revoked.result["status"] == "revoked" and revoked.result["reason"] == "用途已完成"
    silent = api.call("share_request_revoke", {"id": without}, token=parties["admin"].token)
    assert silent.result["status"] == "revoked" and silent.result["reason"] is None
    records = {a.data["share_request"]["id"]: a for a in _activities(db, "revoked share request")}
    assert records[with_reason].user_id == parties["admin"].id
    assert records[with_reason].data["share_request"]["reason"] == "  用途已完成 "
    assert records[without].data["share_request"]["reason"] is None


def test_a_rejection_records_who_refused_and_why(api, db, parties):
    request_id = _request(api, parties, "mzj", "ningshan-mzj")
    rejected = api.call("share_request_reject", {"id": request_id, "reason": " 申请用途与共享条件不符 "},
                        token=parties["admin"].token)
    assert rejected.result["reason"] == "申请用途与共享条件不符"
    [record] = _activities(db, "rejected share request")
    assert record.user_id == parties["admin"].id
    data = record.data["share_request"]
    assert (data["id"], data["status"], data["reason"]) == (request_id, "rejected", "申请用途与共享条件不符")


def test_an_approval_records_who_granted_what_until_when(api, db, parties):
    request_id = _request(api, parties, "mzj", "ningshan-mzj")
    until = dt.date.today() + dt.timedelta(days=30)
    api.call("share_request_approve", {"id": request_id, "fields": ["head_id_number", "head_id_number"],
                                       "expires": until.isoformat()}, token=parties["admin"].token)
    [record] = _activities(db, "approved share request")
    assert record.user_id == parties["admin"].id
    assert record.data["share_request"]["granted_fields"] == ["head_id_number"]
    assert record.data["share_request"]["grant_id"] == db.scalar(sa.select(Grant.id).where(Grant.request_id == request_id))
    assert record.data["share_request"]["organization_id"] == _department_id(db, "ningshan-mzj")
    assert record.data["share_request"]["fields"] == []                 # what was asked for
    assert record.department_id == _department_id(db, "ningshan-gaj")  # shown in the provider's stream
    assert record.object_id == parties["dataset"]["id"]
    assert record.data["share_request"]["expires"] == until.isoformat()
    db.expire_all()
    request = db.get(ShareRequest, request_id)
    assert request.decided_by == parties["admin"].id and request.decided_at is not None
    [grant] = db.scalars(sa.select(Grant).where(Grant.request_id == request_id))
    # readable through the whole expiry day: the grant ends at the following midnight
    assert grant.expires_at.replace(tzinfo=dt.timezone.utc) == dt.datetime.combine(
        until + dt.timedelta(days=1), dt.time(), dt.timezone.utc)


@pytest.mark.parametrize("action, state, word", [
    ("share_request_approve", "rejected", "already rejected"),
    ("share_request_reject", "approved", "already approved"),
    ("share_request_revoke", "pending", "this one is pending"),
])
def test_a_refused_decision_names_the_request_field(api, parties, action, state, word):
    request_id = _request(api, parties, "mzj", "ningshan-mzj")
    if state == "rejected":
        api.call("share_request_reject", {"id": request_id, "reason": "不符"}, token=parties["admin"].token)
    if state == "approved":
        api.call("share_request_approve", {"id": request_id}, token=parties["admin"].token)
    reply = api.call(action, {"id": request_id, "reason": "不符"}, token=parties["admin"].token)
    assert reply.status == 409 and reply.error["__type"] == "Validation Error"
    assert list(k for k in reply.error if k not in ("__type", "message")) == ["id"], reply.error
    assert word in reply.error["id"][0]


def test_a_rejection_without_reasons_names_the_reason_field(api, parties):
    request_id = _request(api, parties, "mzj", "ningshan-mzj")
    reply = api.call("share_request_reject", {"id": request_id, "reason": ""}, token=parties["admin"].token)
    assert reply.status == 409 and "must state its reasons" in reply.error["reason"][0]


@pytest.mark.parametrize("data, field", [
    ({"purpose": "  "}, "purpose"),
    ({"expires": "2020-01-01"}, "expires"),
    ({"organization_id": "ningshan-gaj"}, "organization_id"),
])
def test_a_refused_request_names_the_field(api, parties, make, data, field):
    if field == "organization_id":   # the provider asking for its own data
        token = parties["admin"].token
    else:
        token = parties["mzj"].token
    reply = api.call("share_request_create", {"package_id": parties["dataset"]["id"], "organization_id": "ningshan-mzj",
                                              "purpose": "核实", "basis": "《社会救助暂行办法》第十一条", "scenario": "低保对象资格核查", **data}, token=token)
    assert reply.status == 409, reply.body
    assert field in reply.error, reply.error


def test_a_second_pending_request_is_a_conflict_naming_the_first(api, parties):
    first = _request(api, parties, "mzj", "ningshan-mzj")
    again = api.call("share_request_create", {"package_id": parties["dataset"]["id"], "organization_id": "ningshan-mzj",
                                              "purpose": "再次申请", "basis": "《社会救助暂行办法》第十一条", "scenario": "低保对象资格核查"}, token=parties["mzj"].token)
    assert again.status == 409 and first in again.error["package_id"][0]


def test_an_approval_in_the_past_is_refused(api, db, parties):
    request_id = _request(api, parties, "mzj", "ningshan-mzj")
    reply = api.call("share_request_approve", {"id": request_id, "expires": dt.date.today().isoformat()},
                     token=parties["admin"].token)
    assert reply.status == 409 and "expires" in reply.error
    db.expire_all()
    assert db.get(ShareRequest, request_id).status == "pending"


def test_the_provider_pages_through_its_incoming_requests_earliest_deadline_first(api, db, parties):
    first = _request(api, parties, "mzj", "ningshan-mzj")
    second = _request(api, parties, "town", "ningshan-cgz")
    db.execute(sa.update(ShareRequest).where(ShareRequest.id == second).values(deadline=dt.date(2026, 1, 5)))
    db.commit()
    token = parties["admin"].token

    def page(**data):
        return [r["id"] for r in api.call("share_request_list", data, token=token).result]

    assert page() == [second, first]
    assert page(limit=1) == [second]
    assert page(offset=1, limit=1) == [first]
    assert page(offset=2) == []


def test_requests_due_the_same_day_are_listed_in_the_order_they_were_filed(api, db, parties):
    """First filed, first listed (and so first decided) among requests with the same deadline, whatever
    their ids: the one with the greater id is made the earlier one here."""
    filed = sorted([_request(api, parties, "mzj", "ningshan-mzj"), _request(api, parties, "town", "ningshan-cgz")])
    later, earlier = filed   # ids are random: the smaller one is filed later
    for request_id, at in ((earlier, dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)),
                           (later, dt.datetime(2026, 3, 2, 15, 30, tzinfo=dt.timezone.utc))):
        db.execute(sa.update(ShareRequest).where(ShareRequest.id == request_id)
                   .values(created=at, deadline=dt.date(2026, 3, 16)))
    db.commit()
    listed = [r["id"] for r in api.call("share_request_list", {}, token=parties["admin"].token).result]
    assert listed == [earlier, later]


def test_an_approval_without_a_date_keeps_the_date_the_requester_asked_for(api, db, parties):
    asked = dt.date.today() + dt.timedelta(days=60)
    made = api.call("share_request_create", {"package_id": parties["dataset"]["id"], "organization_id": "ningshan-mzj",
                                             "purpose": "核实", "basis": "《社会救助暂行办法》第十一条", "scenario": "低保对象资格核查", "expires": asked.isoformat()}, token=parties["mzj"].token)
    api.call("share_request_approve", {"id": made.result["id"]}, token=parties["admin"].token)
    [grant] = db.scalars(sa.select(Grant).where(Grant.request_id == made.result["id"]))
    assert grant.expires_at.replace(tzinfo=dt.timezone.utc) == dt.datetime.combine(
        asked + dt.timedelta(days=1), dt.time(), dt.timezone.utc)


def test_an_admin_of_both_departments_cannot_approve_their_own_departments_request(api, db, make, parties):
    both = make.user("both-admin")
    from_provider = api.call("organization_member_create", {"id": "ningshan-gaj", "username": "both-admin", "role": "admin"},
                             token=parties["sysadmin"].token)
    from_requester = api.call("organization_member_create", {"id": "ningshan-mzj", "username": "both-admin", "role": "admin"},
                              token=parties["sysadmin"].token)
    assert from_provider.status == 200 and from_requester.status == 200, (from_provider.body, from_requester.body)
    request_id = _request(api, parties, "mzj", "ningshan-mzj")
    reply = api.call("share_request_approve", {"id": request_id}, token=both.token)
    assert reply.status == 403, reply.body
    db.expire_all()
    assert db.get(ShareRequest, request_id).status == "pending"


def _search(api, table, token):
    return api.call("datastore_search", {"resource_id": table, "limit": 1}, token=token)


def test_a_grant_opens_one_dataset_to_one_department(api, make, parties):
    provider = api.call("package_show", {"id": parties["dataset"]["id"]}, token=parties["admin"].token).result
    tables = {}
    for name in ("households-granted", "households-other"):
        made = make.dataset(provider["owner_org"], name=name, record_schema="household@1", share_type="conditional")
        created = api.call("datastore_create", {"resource": {"package_id": made["id"]}},
                           token=parties["sysadmin"].token)
        assert created.status == 200, created.body
        tables[name] = (made["id"], created.result["resource_id"])
    made = api.call("share_request_create", {"package_id": tables["households-granted"][0],
                                             "organization_id": "ningshan-mzj", "purpose": "核实", "basis": "《社会救助暂行办法》第十一条", "scenario": "低保对象资格核查"},
                    token=parties["mzj"].token)
    api.call("share_request_approve", {"id": made.result["id"]}, token=parties["admin"].token)
    assert _search(api, tables["households-granted"][1], parties["mzj"].token).status == 200
    assert _search(api, tables["households-other"][1], parties["mzj"].token).status == 403     # another dataset
    assert _search(api, tables["households-granted"][1], parties["town"].token).status == 403  # another department


def test_a_request_for_data_that_is_not_shared_cites_the_legal_basis(api, make, parties):
    provider = api.call("package_show", {"id": parties["dataset"]["id"]}, token=parties["admin"].token).result
    closed = make.dataset(provider["owner_org"], name="closed-register", share_type="none",
                          share_condition="依据《个人信息保护法》第十三条不予共享")
    reply = api.call("share_request_create", {"package_id": closed["id"], "organization_id": "ningshan-mzj",
                                              "purpose": "核实", "basis": "《社会救助暂行办法》第十一条", "scenario": "低保对象资格核查"}, token=parties["mzj"].token)
    assert reply.status == 409 and "个人信息保护法" in reply.error["package_id"][0]


def test_a_pending_request_blocks_only_the_same_dataset_and_department(api, make, parties):
    first = _request(api, parties, "mzj", "ningshan-mzj")
    provider = api.call("package_show", {"id": parties["dataset"]["id"]}, token=parties["admin"].token).result
    other = make.dataset(provider["owner_org"], name="households-other", share_type="conditional")
    another_dataset = api.call("share_request_create", {"package_id": other["id"], "organization_id": "ningshan-mzj",
                                                        "purpose": "核实", "basis": "《社会救助暂行办法》第十一条", "scenario": "低保对象资格核查"}, token=parties["mzj"].token)
    assert another_dataset.status == 200, another_dataset.body
    assert _request(api, parties, "town", "ningshan-cgz")           # another department, same dataset
    # once the first is answered, the department may ask again
    api.call("share_request_reject", {"id": first, "reason": "材料不全"}, token=parties["admin"].token)
    assert _request(api, parties, "mzj", "ningshan-mzj") != first
