"""Edges of the share workflow that a user would notice: trimmed lists, boundary days on a single grant,
filters and paging of the grant list, unknown ids, the sysadmin's events, schemas that widen."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from catalog.sharing.models import Grant, ShareRequest
from catalog.webhooks.models import WebhookDelivery
from tests.sharing.cast import BASIS, SCENARIO, approve, backdate, file_request


def test_what_is_missing_is_kept_trimmed(api, db, share_cast):
    made = file_request(api, share_cast)
    api.call("share_request_return", {"id": made["id"], "missing": {"scenario": "  请说明查看人员范围\n"}},
             token=share_cast.tokens["provider_admin"])
    db.expire_all()
    assert db.get(ShareRequest, made["id"]).missing == {"scenario": "请说明查看人员范围"}


def test_an_extension_approved_without_a_note_keeps_none_and_the_reason_trimmed(api, share_cast):
    made = file_request(api, share_cast)
    asked = api.call("share_request_extend", {"id": made["id"], "days": 2, "reason": " 需逐户核对 "},
                     token=share_cast.tokens["provider_admin"])
    assert asked.result["extension_reason"] == "需逐户核对"
    decided = api.call("share_request_extension_decide", {"id": made["id"], "decision": "approve", "reason": "  "},
                       token=share_cast.tokens["sysadmin"])
    assert decided.result["extension_note"] is None and decided.result["extension_status"] == "approved"


def test_unknown_ids_are_not_found(api, share_cast):
    token = share_cast.tokens["sysadmin"]
    for name, data in [("share_request_extension_decide", {"id": "nope", "decision": "approve"}),
                       ("share_grant_show", {"id": "nope"}), ("usage_record_delete", {"id": "nope"}),
                       ("share_request_return", {"id": "nope", "missing": {"basis": "x"}})]:
        reply = api.call(name, data, token=token)
        assert reply.status == 404, (name, reply.body)


def test_a_single_grant_is_on_time_on_its_delivery_day_and_a_revoked_one_is_never_late(api, db, share_cast):
    made = file_request(api, share_cast)
    grant = approve(api, share_cast, made["id"])
    today = dt.datetime.now(dt.timezone.utc).date()

    def late():
        return api.call("share_grant_show", {"id": grant["id"]},
                        token=share_cast.tokens["provider_admin"]).result["delivery_overdue"]

    backdate(db, Grant, grant["id"], delivery_due=today)
    assert late() is False
    backdate(db, Grant, grant["id"], delivery_due=today - dt.timedelta(days=1))
    assert late() is True
    api.call("share_request_revoke", {"id": made["id"]}, token=share_cast.tokens["provider_admin"])
    assert late() is False


def test_the_grant_list_filters_by_dataset_and_pages(api, make, share_cast):
    first = approve(api, share_cast, file_request(api, share_cast)["id"])
    other = make.dataset(share_cast.provider["id"], name="roads", share_type="conditional")
    made = api.call("share_request_create", {"package_id": other["id"], "organization_id": "ningshan-mzj",
                                             "purpose": "核实", "basis": BASIS, "scenario": SCENARIO},
                    token=share_cast.tokens["consumer_editor"])
    second = approve(api, share_cast, made.result["id"])
    token = share_cast.tokens["provider_admin"]

    def listed(**data):
        return [g["id"] for g in api.call("share_grant_list", data, token=token).result]

    assert listed(package_id="roads") == [second["id"]]
    assert listed(package_id=share_cast.dataset["id"]) == [first["id"]]
    both = listed()
    assert sorted(both) == sorted([first["id"], second["id"]])
    assert listed(limit=1) == both[:1] and listed(offset=1, limit=1) == both[1:]
    # the filters computed outside the database page the same way
    assert listed(status="active", limit=1) == both[:1] and listed(status="active", offset=1) == both[1:]
    assert listed(destruction_overdue=False, offset=2) == []


def test_a_sysadmins_subscription_hears_of_every_request(api, db, share_cast):
    reply = api.call("webhook_create", {"package_id": share_cast.dataset["name"], "url": "http://127.0.0.1:9/root",
                                        "events": ["request.returned"]}, token=share_cast.tokens["sysadmin"])
    assert reply.status == 200, reply.body
    made = file_request(api, share_cast)
    api.call("share_request_return", {"id": made["id"], "missing": {"basis": "x"}},
             token=share_cast.tokens["provider_admin"])
    assert db.scalar(sa.select(WebhookDelivery.subscription_id).where(
        WebhookDelivery.event == "request.returned")) == reply.result["id"]


def test_a_record_schema_that_marks_nothing_new_sensitive_needs_no_reason(api, share_cast):
    approve(api, share_cast, file_request(api, share_cast)["id"])
    document = api.call("schema_show", {"id": "household@1"}, token=share_cast.tokens["sysadmin"]).result["schema"]
    relabelled = {**document, "title": "户籍（改标题）"}
    registered = api.call("schema_create", {"name": "household-retitled", "owner_org": share_cast.provider["id"],
                                            "schema": relabelled}, token=share_cast.tokens["provider_admin"])
    assert registered.status == 200, registered.body
    reply = api.call("package_patch", {"id": share_cast.dataset["id"], "record_schema": registered.result["id"]},
                     token=share_cast.tokens["provider_editor"])
    assert reply.status == 200, reply.body


def test_a_draft_with_grants_is_deleted_without_a_reason(api, db, share_cast):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    withdrawn = api.call("package_patch", {"id": share_cast.dataset["id"], "state": "draft", "reason": "暂停发布"},
                         token=share_cast.tokens["provider_editor"])
    assert withdrawn.status == 200, withdrawn.body
    # already withdrawn, so deleting narrows nothing more for the grantees
    reply = api.call("package_delete", {"id": share_cast.dataset["id"]}, token=share_cast.tokens["provider_admin"])
    assert reply.status == 200, reply.body
    assert db.get(Grant, grant["id"]).revoked_at is None


def test_a_returned_request_is_still_open_so_no_second_request_is_filed(api, share_cast):
    made = file_request(api, share_cast)
    api.call("share_request_return", {"id": made["id"], "missing": {"basis": "x"}},
             token=share_cast.tokens["provider_admin"])
    again = api.call("share_request_create", {"package_id": share_cast.dataset["id"], "organization_id": "ningshan-mzj",
                                              "purpose": "再次申请", "basis": BASIS, "scenario": SCENARIO},
                     token=share_cast.tokens["consumer_editor"])
    assert again.status == 409 and made["id"] in again.error["package_id"][0]
