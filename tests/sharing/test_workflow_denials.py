"""Who may do what in the share workflow, every role tried (the style of tests/auth/test_rule_denials.py).

Allowed: the provider's admins (and sysadmins) return a request and ask for more time; the requesting
department's editors and admins resubmit and record use; only its admins delete a use record; the data
authority (sysadmins, and the editors and admins of ``CATALOG_AUTHORITY_DEPARTMENT``) decides extensions
and suspends grants; grants and use records are seen by the two departments and the authority.
"""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from catalog.auth import rules
from catalog.auth.models import User
from catalog.sharing.models import Grant, ShareRequest, UsageRecord
from tests.sharing.cast import ROLES, approve, backdate, file_request


def _allowed_only(allowed: set[str]) -> list[tuple[str, bool]]:
    return [(role, role in allowed) for role in ROLES]


def _check(reply, allowed: bool, denied_status: int = 403) -> None:
    if allowed:
        assert reply.status == 200, reply.body
    else:
        assert reply.status == denied_status, reply.body
        assert len(reply.error["message"]) > 10   # says why


@pytest.mark.parametrize("role, allowed", _allowed_only({"provider_admin", "sysadmin"}))
def test_who_returns_a_request(api, db, share_cast, role, allowed):
    made = file_request(api, share_cast)
    reply = api.call("share_request_return", {"id": made["id"], "missing": {"basis": "请写明条款"}},
                     token=share_cast.tokens[role])
    _check(reply, allowed)
    db.expire_all()
    assert db.get(ShareRequest, made["id"]).status == ("returned" if allowed else "pending")


@pytest.mark.parametrize("role, allowed", _allowed_only({"consumer_editor", "consumer_admin", "sysadmin"}))
def test_who_resubmits_a_returned_request(api, db, share_cast, role, allowed):
    made = file_request(api, share_cast)
    api.call("share_request_return", {"id": made["id"], "missing": {"basis": "请写明条款"}},
             token=share_cast.tokens["provider_admin"])
    reply = api.call("share_request_resubmit", {"id": made["id"], "basis": "《社会救助暂行办法》第十一条第二款"},
                     token=share_cast.tokens[role])
    _check(reply, allowed)
    db.expire_all()
    assert db.get(ShareRequest, made["id"]).status == ("pending" if allowed else "returned")


@pytest.mark.parametrize("role, allowed", _allowed_only({"provider_admin", "sysadmin"}))
def test_who_asks_for_more_time(api, db, share_cast, role, allowed):
    made = file_request(api, share_cast)
    reply = api.call("share_request_extend", {"id": made["id"], "days": 5, "reason": "需逐户核对"},
                     token=share_cast.tokens[role])
    _check(reply, allowed)
    db.expire_all()
    assert db.get(ShareRequest, made["id"]).extension_status == ("requested" if allowed else None)


@pytest.mark.parametrize("role, allowed", _allowed_only({"authority_editor", "sysadmin"}))
def test_who_decides_an_extension(api, db, share_cast, role, allowed):
    made = file_request(api, share_cast)
    api.call("share_request_extend", {"id": made["id"], "days": 5, "reason": "需逐户核对"},
             token=share_cast.tokens["provider_admin"])
    reply = api.call("share_request_extension_decide", {"id": made["id"], "decision": "approve"},
                     token=share_cast.tokens[role])
    _check(reply, allowed)
    db.expire_all()
    assert db.get(ShareRequest, made["id"]).extension_status == ("approved" if allowed else "requested")


def test_an_authority_officer_of_the_providing_department_does_not_decide_its_extension(api, make, share_cast):
    both = make.user("sjj-and-gaj")
    for department in ("ningshan-sjj", "ningshan-gaj"):
        added = api.call("organization_member_create", {"id": department, "username": "sjj-and-gaj", "role": "admin"},
                         token=share_cast.tokens["sysadmin"])
        assert added.status == 200, added.body
    made = file_request(api, share_cast)
    api.call("share_request_extend", {"id": made["id"], "days": 5, "reason": "需逐户核对"},
             token=share_cast.tokens["provider_admin"])
    reply = api.call("share_request_extension_decide", {"id": made["id"], "decision": "approve"}, token=both.token)
    assert reply.status == 403 and "outside the providing department" in reply.error["message"]


def test_without_an_authority_department_only_sysadmins_decide(api, app, share_cast, monkeypatch):
    monkeypatch.setitem(app.config, "AUTHORITY_DEPARTMENT", None)
    made = file_request(api, share_cast)
    api.call("share_request_extend", {"id": made["id"], "days": 5, "reason": "需逐户核对"},
             token=share_cast.tokens["provider_admin"])
    refused = api.call("share_request_extension_decide", {"id": made["id"], "decision": "approve"},
                       token=share_cast.tokens["authority_editor"])
    assert refused.status == 403
    assert api.call("share_request_extension_decide", {"id": made["id"], "decision": "approve"},
                    token=share_cast.tokens["sysadmin"]).status == 200


@pytest.mark.parametrize("role, allowed", _allowed_only({"authority_editor", "sysadmin"}))
def test_who_suspends_and_resumes_a_grant(api, db, share_cast, role, allowed):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    reply = api.call("share_grant_suspend", {"id": grant["id"], "reason": "超范围使用"}, token=share_cast.tokens[role])
    visible = role in {"consumer_member", "consumer_editor", "consumer_admin", "provider_member", "provider_editor",
                       "provider_admin", "authority_editor", "sysadmin"}
    _check(reply, allowed, 403 if visible else 404)
    db.expire_all()
    assert (db.get(Grant, grant["id"]).suspended_at is not None) is allowed
    if not allowed:
        api.call("share_grant_suspend", {"id": grant["id"], "reason": "超范围使用"}, token=share_cast.tokens["sysadmin"])
    reply = api.call("share_grant_resume", {"id": grant["id"], "reason": "已整改"}, token=share_cast.tokens[role])
    _check(reply, allowed, 403 if visible else 404)


SEE_GRANTS = {"consumer_member", "consumer_editor", "consumer_admin", "provider_member", "provider_editor",
              "provider_admin", "authority_editor", "sysadmin"}


@pytest.mark.parametrize("role, allowed", _allowed_only(SEE_GRANTS))
def test_who_sees_a_grant_and_its_use_records(api, share_cast, role, allowed):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    shown = api.call("share_grant_show", {"id": grant["id"]}, token=share_cast.tokens[role])
    records = api.call("usage_record_list", {"grant_id": grant["id"]}, token=share_cast.tokens[role])
    if allowed:
        assert shown.status == 200 and records.status == 200
    else:   # the same answer as for a grant that does not exist
        assert shown.status == 404 and records.status == 404
        assert shown.error["message"] == f"Share grant not found: {grant['id']}"


@pytest.mark.parametrize("role", ROLES)
def test_who_lists_grants(api, share_cast, role):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    reply = api.call("share_grant_list", {}, token=share_cast.tokens[role])
    if role == "anonymous":
        assert reply.status == 403
    else:
        assert reply.status == 200
        assert ([g["id"] for g in reply.result] == [grant["id"]]) is (role in SEE_GRANTS)


@pytest.mark.parametrize("role, allowed", _allowed_only({"consumer_editor", "consumer_admin", "sysadmin"}))
def test_who_records_use(api, db, share_cast, role, allowed):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    reply = api.call("usage_record_create", {"grant_id": grant["id"], "kind": "use", "description": "比对 312 户"},
                     token=share_cast.tokens[role])
    _check(reply, allowed, 403 if role in SEE_GRANTS else 404)
    assert db.scalar(sa.select(sa.func.count()).select_from(UsageRecord)) == (1 if allowed else 0)


@pytest.mark.parametrize("role, allowed", _allowed_only({"consumer_admin", "sysadmin"}))
def test_who_deletes_a_use_record_kept_long_enough(api, db, share_cast, role, allowed):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    record = api.call("usage_record_create", {"grant_id": grant["id"], "kind": "use", "description": "比对 312 户"},
                      token=share_cast.tokens["consumer_editor"]).result
    backdate(db, UsageRecord, record["id"], retain_until=dt.date(2026, 1, 1))
    reply = api.call("usage_record_delete", {"id": record["id"]}, token=share_cast.tokens[role])
    _check(reply, allowed, 403 if role in SEE_GRANTS else 404)


# --- the rule functions on their own -----------------------------------------------------------------


def _user(db, account) -> User:
    return db.get(User, account.id)


def test_is_authority_by_department_name_or_id_and_never_for_members(db, share_cast):
    editor, member = _user(db, share_cast.people["authority_editor"]), _user(db, share_cast.people["authority_member"])
    outsider = _user(db, share_cast.people["outsider_admin"])
    assert rules.is_authority(db, editor, "ningshan-sjj") is True
    assert rules.is_authority(db, editor, share_cast.authority["id"]) is True
    assert rules.is_authority(db, editor, "ningshan-jyj") is False
    assert rules.is_authority(db, member, "ningshan-sjj") is False
    assert rules.is_authority(db, outsider, "ningshan-jyj") is True       # the outsiders' admin, if it were named
    assert rules.is_authority(db, editor, None) is False and rules.is_authority(db, editor, "") is False
    assert rules.is_authority(db, None, "ningshan-sjj") is False
    assert rules.is_authority(db, _user(db, share_cast.sysadmin), None) is True


def test_the_use_record_rules_on_their_own(db, share_cast):
    consumer = share_cast.consumer["id"]
    role = {name: _user(db, share_cast.people[name]) for name in ("consumer_member", "consumer_editor",
                                                                  "consumer_admin", "provider_admin")}
    assert [rules.can_record_use(db, role[n], consumer) for n in role] == [False, True, True, False]
    assert [rules.can_delete_use_record(db, role[n], consumer) for n in role] == [False, False, True, False]
    assert rules.can_record_use(db, None, consumer) is False and rules.can_delete_use_record(db, None, consumer) is False


def test_the_provider_asking_to_decide_its_own_extension_is_told_who_decides(api, share_cast):
    """The provider's admin sees the request, so the refusal names the rule (the data authority decides),
    not a request it may not see."""
    made = file_request(api, share_cast)
    api.call("share_request_extend", {"id": made["id"], "days": 5, "reason": "需逐户核对"},
             token=share_cast.tokens["provider_admin"])
    reply = api.call("share_request_extension_decide", {"id": made["id"], "decision": "approve"},
                     token=share_cast.tokens["provider_admin"])
    assert reply.status == 403 and "Only the data authority" in reply.error["message"], reply.body
