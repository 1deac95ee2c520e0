"""Destruction records (decree 809 art. 27) settle the grant they were written for, and no other.

Two departments hold grants on the same household dataset (civil affairs, and the education bureau that
asked for it too). Both grants ended 14 calendar days ago, so at least 10 working days have passed
(no holidays configured): both are late for destruction. Civil affairs records the destruction of its
copy; the education bureau has recorded nothing, and its grant must still be listed late to the data
authority and to the provider.
"""
from __future__ import annotations

import datetime as dt

from catalog.sharing.models import Grant
from tests.sharing.cast import BASIS, SCENARIO, approve, backdate, file_request

UTC = dt.timezone.utc


def test_one_departments_destruction_record_does_not_settle_anothers_grant(api, db, share_cast):
    civil = approve(api, share_cast, file_request(api, share_cast)["id"])
    asked = api.call("share_request_create", {"package_id": share_cast.dataset["id"], "organization_id": "ningshan-jyj",
                                              "purpose": "核实学生家庭户籍", "basis": BASIS, "scenario": SCENARIO},
                     token=share_cast.tokens["outsider_editor"])
    assert asked.status == 200, asked.body
    education = approve(api, share_cast, asked.result["id"])
    ended = dt.datetime.combine(dt.datetime.now(UTC).date() - dt.timedelta(days=14), dt.time(), UTC)
    for grant in (civil, education):
        backdate(db, Grant, grant["id"], expires_at=ended)

    def late(role):
        reply = api.call("share_grant_list", {"destruction_overdue": True}, token=share_cast.tokens[role])
        assert reply.status == 200, reply.body
        return sorted(g["id"] for g in reply.result)

    assert late("sysadmin") == sorted([civil["id"], education["id"]])
    recorded = api.call("usage_record_create", {"grant_id": civil["id"], "kind": "destruction",
                                                "description": "已删除比对库中的全部户籍数据"},
                        token=share_cast.tokens["consumer_editor"])
    assert recorded.status == 200, recorded.body
    assert late("sysadmin") == [education["id"]]
    assert late("provider_admin") == [education["id"]]
    assert late("consumer_editor") == []
    shown = api.call("share_grant_show", {"id": education["id"]}, token=share_cast.tokens["outsider_admin"]).result
    assert shown["destruction_overdue"] is True
    shown = api.call("share_grant_show", {"id": civil["id"]}, token=share_cast.tokens["consumer_member"]).result
    assert shown["destruction_overdue"] is False
