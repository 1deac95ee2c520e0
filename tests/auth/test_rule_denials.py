"""Each authorization rule's denial for every role, through the API, plus the rules of catalog.auth.rules
that the unit tests in test_rules.py do not cover (records, webhook subscriptions).

Cast: the police bureau (provider: admin, editor, member), civil affairs (consumer: admin, editor, member),
the education bureau (an outsider department: admin, editor), an account with no department, anonymous,
and a sysadmin (the county data authority).
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from catalog.auth import rules
from catalog.auth.models import User
from catalog.sharing.models import Grant, ShareRequest

ROLES = ["anonymous", "no_department", "outsider_admin", "outsider_editor", "consumer_member",
         "consumer_editor", "consumer_admin", "provider_member", "provider_editor", "provider_admin", "sysadmin"]


@pytest.fixture
def cast(api, make, sysadmin):
    people = {role: make.user(role.replace("_", "-")) for role in ROLES if role not in ("anonymous", "sysadmin")}
    provider = make.department("ningshan-gaj", members={"admin": people["provider_admin"],
                                                        "editor": people["provider_editor"],
                                                        "member": people["provider_member"]})
    consumer = make.department("ningshan-mzj", members={"admin": people["consumer_admin"],
                                                        "editor": people["consumer_editor"],
                                                        "member": people["consumer_member"]})
    outsider = make.department("ningshan-jyj", members={"admin": people["outsider_admin"],
                                                        "editor": people["outsider_editor"]})
    dataset = make.dataset(provider["id"], name="households", share_type="conditional")
    tokens = {role: account.token for role, account in people.items()}
    tokens["sysadmin"], tokens["anonymous"] = sysadmin.token, None
    ids = {role: account.id for role, account in people.items()}
    ids["sysadmin"] = sysadmin.id
    return {"tokens": tokens, "ids": ids, "provider": provider, "consumer": consumer, "outsider": outsider,
            "dataset": dataset}


def _request(api, cast) -> dict:
    made = api.call("share_request_create", {"package_id": cast["dataset"]["id"], "organization_id": "ningshan-mzj",
                                             "purpose": "核实低保对象户籍", "basis": "《社会救助暂行办法》第十一条", "scenario": "低保对象资格核查", "fields": ["head_id_number"]},
                    token=cast["tokens"]["consumer_editor"])
    assert made.status == 200, made.body
    return made.result


def _status(db, request_id: str) -> str:
    db.expire_all()
    return db.get(ShareRequest, request_id).status


# --- share_request_create: the requesting department's editors and admins ------------------------------

@pytest.mark.parametrize("role, status", [
    ("anonymous", 403), ("no_department", 403), ("outsider_admin", 403), ("outsider_editor", 403),
    ("consumer_member", 403), ("provider_admin", 403), ("provider_editor", 403),
    ("consumer_editor", 200), ("consumer_admin", 200), ("sysadmin", 200),
])
def test_who_may_request_data_for_civil_affairs(api, cast, role, status):
    reply = api.call("share_request_create", {"package_id": cast["dataset"]["id"], "organization_id": "ningshan-mzj",
                                              "purpose": "核实低保对象户籍", "basis": "《社会救助暂行办法》第十一条", "scenario": "低保对象资格核查"}, token=cast["tokens"][role])
    assert reply.status == status, reply.body
    if status == 403:
        assert reply.error["__type"] == "Authorization Error"
        assert isinstance(reply.error["message"], str) and len(reply.error["message"]) > 10  # says why
    else:
        assert reply.result["status"] == "pending" and reply.result["organization_id"] == cast["consumer"]["id"]


# --- share_request_show: the two departments concerned -------------------------------------------------

@pytest.mark.parametrize("role, allowed", [
    ("anonymous", False), ("no_department", False), ("outsider_admin", False), ("outsider_editor", False),
    ("consumer_member", True), ("consumer_editor", True), ("provider_member", True), ("provider_admin", True),
    ("sysadmin", True),
])
def test_who_sees_a_request(api, cast, role, allowed):
    request = _request(api, cast)
    reply = api.call("share_request_show", {"id": request["id"]}, token=cast["tokens"][role])
    assert reply.status == (200 if allowed else 403), reply.body
    if not allowed:
        assert "核实低保对象户籍" not in str(reply.body)


# --- share_request_list: another department's requests are not listed ---------------------------------

@pytest.mark.parametrize("role", ["outsider_admin", "outsider_editor", "no_department"])
@pytest.mark.parametrize("direction", ["incoming", "outgoing"])
def test_listing_another_departments_requests_is_refused(api, cast, role, direction):
    request = _request(api, cast)
    for department in ("ningshan-gaj", "ningshan-mzj"):
        reply = api.call("share_request_list", {"organization_id": department, "direction": direction},
                         token=cast["tokens"][role])
        assert reply.status == 403, reply.body
        assert request["id"] not in str(reply.body)
    # without naming a department, only their own departments' requests: none
    mine = api.call("share_request_list", {"direction": direction}, token=cast["tokens"][role])
    assert mine.status == 200 and mine.result == []


def test_listing_needs_an_account(api, cast):
    _request(api, cast)
    assert api.call("share_request_list", {}, token=None).status == 403


@pytest.mark.parametrize("role, direction, department, sees", [
    ("provider_member", "incoming", None, True), ("provider_member", "outgoing", None, False),
    ("consumer_member", "outgoing", None, True), ("consumer_member", "incoming", None, False),
    ("provider_admin", "incoming", "ningshan-gaj", True), ("consumer_editor", "outgoing", "ningshan-mzj", True),
    ("consumer_editor", "incoming", "ningshan-mzj", False),
    ("sysadmin", "incoming", None, True), ("sysadmin", "outgoing", None, True),
    ("sysadmin", "incoming", "ningshan-jyj", False), ("sysadmin", "outgoing", "ningshan-mzj", True),
])
def test_each_department_lists_its_own_direction(api, cast, role, direction, department, sees):
    request = _request(api, cast)
    data = {"direction": direction, **({"organization_id": department} if department else {})}
    listed = api.call("share_request_list", data, token=cast["tokens"][role]).result
    assert ([r["id"] for r in listed] == [request["id"]]) is sees


def test_the_other_filters_of_the_list(api, cast):
    request = _request(api, cast)
    token = cast["tokens"]["provider_admin"]

    def ids(**data):
        return [r["id"] for r in api.call("share_request_list", data, token=token).result]

    assert ids(package_id="households") == [request["id"]]
    assert ids(package_id=cast["dataset"]["id"]) == [request["id"]]
    assert ids(package_id="another-dataset") == []
    assert ids(status="pending") == [request["id"]]
    assert ids(status="approved") == []


# --- approve, reject, revoke: the provider's admins or the data authority, once -------------------------

DECIDERS = {"provider_admin": True, "sysadmin": True, "provider_editor": False, "provider_member": False,
            "consumer_admin": False, "consumer_editor": False, "outsider_admin": False, "no_department": False,
            "anonymous": False}


@pytest.mark.parametrize("role, allowed", DECIDERS.items())
def test_who_approves(api, db, cast, role, allowed):
    request = _request(api, cast)
    reply = api.call("share_request_approve", {"id": request["id"]}, token=cast["tokens"][role])
    assert reply.status == (200 if allowed else 403), reply.body
    if not allowed:
        assert isinstance(reply.error["message"], str) and len(reply.error["message"]) > 10
    assert _status(db, request["id"]) == ("approved" if allowed else "pending")
    grants = db.scalars(sa.select(Grant).where(Grant.request_id == request["id"])).all()
    assert len(grants) == (1 if allowed else 0)


@pytest.mark.parametrize("role, allowed", DECIDERS.items())
def test_who_rejects(api, db, cast, role, allowed):
    request = _request(api, cast)
    reply = api.call("share_request_reject", {"id": request["id"], "reason": "不符合共享条件"},
                     token=cast["tokens"][role])
    assert reply.status == (200 if allowed else 403), reply.body
    assert _status(db, request["id"]) == ("rejected" if allowed else "pending")


@pytest.mark.parametrize("role, allowed", DECIDERS.items())
def test_who_revokes(api, db, cast, role, allowed):
    request = _request(api, cast)
    api.call("share_request_approve", {"id": request["id"]}, token=cast["tokens"]["provider_admin"])
    reply = api.call("share_request_revoke", {"id": request["id"], "reason": "用途已完成"}, token=cast["tokens"][role])
    assert reply.status == (200 if allowed else 403), reply.body
    assert _status(db, request["id"]) == ("revoked" if allowed else "approved")
    db.expire_all()
    live = db.scalars(sa.select(Grant).where(Grant.request_id == request["id"], Grant.revoked_at.is_(None))).all()
    assert len(live) == (0 if allowed else 1)


def test_approving_the_same_request_twice_is_refused_and_grants_once(api, db, cast):
    request = _request(api, cast)
    admin = cast["tokens"]["provider_admin"]
    assert api.call("share_request_approve", {"id": request["id"]}, token=admin).status == 200
    again = api.call("share_request_approve", {"id": request["id"], "fields": ["head_id_number", "members"]},
                     token=cast["tokens"]["sysadmin"])
    assert again.status == 409, again.body
    assert "already approved" in str(again.error)
    grants = db.scalars(sa.select(Grant).where(Grant.request_id == request["id"])).all()
    assert [g.fields for g in grants] == [["head_id_number"]]


@pytest.mark.parametrize("first, then", [
    ("share_request_reject", "share_request_approve"), ("share_request_approve", "share_request_reject"),
    ("share_request_reject", "share_request_reject"),
])
def test_a_decided_request_cannot_be_decided_again(api, db, cast, first, then):
    request = _request(api, cast)
    admin = cast["tokens"]["provider_admin"]
    assert api.call(first, {"id": request["id"], "reason": "不符合共享条件"}, token=admin).status == 200
    decided = _status(db, request["id"])
    reply = api.call(then, {"id": request["id"], "reason": "不符合共享条件"}, token=admin)
    assert reply.status == 409, reply.body
    assert _status(db, request["id"]) == decided


@pytest.mark.parametrize("state", ["pending", "rejected", "revoked"])
def test_only_an_approved_request_is_revoked(api, db, cast, state):
    request = _request(api, cast)
    admin = cast["tokens"]["provider_admin"]
    if state == "rejected":
        api.call("share_request_reject", {"id": request["id"], "reason": "不符合共享条件"}, token=admin)
    if state == "revoked":
        api.call("share_request_approve", {"id": request["id"]}, token=admin)
        api.call("share_request_revoke", {"id": request["id"]}, token=admin)
    reply = api.call("share_request_revoke", {"id": request["id"]}, token=admin)
    assert reply.status == 409, reply.body
    assert _status(db, request["id"]) == state


def test_a_rejection_must_state_its_reasons(api, db, cast):
    request = _request(api, cast)
    reply = api.call("share_request_reject", {"id": request["id"], "reason": "   "},
                     token=cast["tokens"]["provider_admin"])
    assert reply.status == 409 and "reason" in reply.error
    assert _status(db, request["id"]) == "pending"


# --- access_log_list: the provider's admins and sysadmins ----------------------------------------------

@pytest.mark.parametrize("role, status", [
    ("provider_admin", 200), ("sysadmin", 200), ("provider_editor", 403), ("provider_member", 403),
    ("consumer_admin", 403), ("outsider_admin", 403), ("no_department", 403), ("anonymous", 403),
])
def test_who_reads_the_providers_access_log(api, cast, role, status):
    reply = api.call("access_log_list", {"organization_id": "ningshan-gaj"}, token=cast["tokens"][role])
    assert reply.status == status, reply.body


@pytest.mark.parametrize("role", ["provider_admin", "consumer_admin", "no_department"])
def test_only_sysadmins_read_the_whole_access_log(api, cast, role):
    assert api.call("access_log_list", {}, token=cast["tokens"][role]).status == 403
    assert api.call("access_log_list", {}, token=cast["tokens"]["sysadmin"]).status == 200


# --- rules without an API of their own here: records and webhook subscriptions --------------------------

@pytest.fixture
def actors(db, cast):
    found = {role: db.get(User, user_id) for role, user_id in cast["ids"].items()}
    found["anonymous"] = None
    return found


@pytest.mark.parametrize("role, allowed", [
    ("provider_admin", True), ("provider_editor", True), ("sysadmin", True), ("provider_member", False),
    ("consumer_admin", False), ("outsider_editor", False), ("no_department", False), ("anonymous", False),
])
def test_can_write_records(db, cast, actors, role, allowed):
    dataset = SimpleNamespace(owner_org=cast["provider"]["id"])
    assert rules.can_write_records(db, actors[role], dataset) is allowed


@pytest.mark.parametrize("private, role, allowed", [
    (False, "consumer_member", True), (False, "no_department", True), (False, "anonymous", False),
    (True, "consumer_member", False), (True, "provider_member", True), (True, "sysadmin", True),
    (True, "anonymous", False),
])
def test_can_subscribe(db, cast, actors, private, role, allowed):
    dataset = SimpleNamespace(owner_org=cast["provider"]["id"], private=private, state="active")
    assert rules.can_subscribe(db, actors[role], dataset) is allowed


@pytest.mark.parametrize("role, allowed", [
    ("consumer_member", True),                       # the subscriber
    ("provider_editor", True), ("provider_admin", True), ("sysadmin", True),
    ("provider_member", False), ("consumer_admin", False), ("outsider_admin", False), ("anonymous", False),
])
def test_can_manage_subscription(db, cast, actors, role, allowed):
    subscription = SimpleNamespace(creator_user_id=cast["ids"]["consumer_member"],
                                   dataset=SimpleNamespace(owner_org=cast["provider"]["id"]))
    assert rules.can_manage_subscription(db, actors[role], subscription) is allowed
