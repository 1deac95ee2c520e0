"""After approval (decree 809 arts. 22, 29): the data must reach the requester within 20 working days (its
first read on any path delivers the grant), late deliveries are listed, and the data authority's
suspension stops every read path at once until it resumes the grant.

Worked by hand on the National Day 2026 calendar (holidays 10-01 .. 10-07, make-up 09-20 and 10-10):
approved Mon 09-28 → 29 30 | 8 9 10 12 13 14 15 16 19 20 21 22 23 26 27 28 29 30 → due Fri 10-30.
"""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from catalog.sharing.models import Grant, ShareNotice
from catalog.sharing.service import delivery_due
from catalog.webhooks.models import WebhookDelivery
from tests.sharing.cast import approve, backdate, file_request, rosters_with_a_file

D = dt.date.fromisoformat
HOLIDAYS = "2026-10-01,2026-10-02,2026-10-03,2026-10-04,2026-10-05,2026-10-06,2026-10-07"


def test_delivery_is_due_twenty_working_days_after_approval_worked_by_hand():
    config = {"HOLIDAYS": HOLIDAYS, "WORKDAYS": "2026-09-20,2026-10-10"}
    assert delivery_due(D("2026-09-28"), config) == D("2026-10-30")
    assert delivery_due(D("2026-09-28"), {}) == D("2026-10-26")   # no holidays: 4 weeks of weekdays
    assert delivery_due(D("2026-09-28"), {"SHARE_DELIVERY_DAYS": 5}) == D("2026-10-05")


def test_an_approval_sets_the_delivery_day_on_the_configured_calendar(api, app, share_cast, monkeypatch):
    today = dt.datetime.now(dt.timezone.utc).date()
    holidays = [today + dt.timedelta(days=n) for n in range(1, 8)]
    monkeypatch.setitem(app.config, "HOLIDAYS", ",".join(d.isoformat() for d in holidays))
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    day, counted = today, 0
    while counted < 20:   # a wall calendar: skip weekends and the holiday week
        day += dt.timedelta(days=1)
        counted += day.isoweekday() < 6 and day not in holidays
    assert grant["delivery_due"] == day.isoformat()
    assert grant["delivered_at"] is None and grant["delivery_overdue"] is False and grant["status"] == "active"


# --- every read path delivers, once ------------------------------------------------------------------


def _search(api, cast, role="consumer_editor"):
    return api.call("datastore_search", {"resource_id": cast.resource_id, "limit": 1}, token=cast.tokens[role])


def _changes(api, cast, role="consumer_editor"):
    return api.call("datastore_changes", {"resource_id": cast.resource_id, "limit": 1}, token=cast.tokens[role])


def _dump(client, cast, role="consumer_editor"):
    response = client.get(f"/datastore/dump/{cast.resource_id}?format=json",
                          headers={"Authorization": cast.tokens[role]})
    body = response.get_data()   # the stream logs (and delivers) when it ends
    return response.status_code, body


@pytest.mark.parametrize("path", ["search", "changes", "dump"])
def test_the_first_read_on_any_path_delivers_the_grant_and_tells_the_provider(api, client, db, share_cast, path):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    # the provider's own reads deliver nothing
    assert _search(api, share_cast, "provider_editor").status == 200
    db.expire_all()
    assert db.get(Grant, grant["id"]).delivered_at is None
    if path == "search":
        assert _search(api, share_cast).status == 200
    elif path == "changes":
        assert _changes(api, share_cast).status == 200
    else:
        assert _dump(client, share_cast)[0] == 200
    db.expire_all()
    first = db.get(Grant, grant["id"]).delivered_at
    assert first is not None
    assert _search(api, share_cast).status == 200   # later reads keep the first
    db.expire_all()
    assert db.get(Grant, grant["id"]).delivered_at == first
    notices = db.scalars(sa.select(ShareNotice).where(ShareNotice.kind == "grant.delivered")).all()
    assert [n.organization_id for n in notices] == [share_cast.provider["id"]]
    shown = api.call("share_grant_show", {"id": grant["id"]}, token=share_cast.tokens["consumer_member"]).result
    assert shown["delivered_at"] is not None and shown["delivery_overdue"] is False


def test_a_file_download_delivers_and_a_suspension_stops_it(api, client, db, make, share_cast):
    grant, path = rosters_with_a_file(api, make, share_cast)
    headers = {"Authorization": share_cast.tokens["consumer_editor"]}
    assert client.get(path, headers=headers).status_code == 200
    db.expire_all()
    assert db.get(Grant, grant["id"]).delivered_at is not None
    assert api.call("share_grant_suspend", {"id": grant["id"], "reason": "超范围使用"},
                    token=share_cast.tokens["authority_editor"]).status == 200
    assert client.get(path, headers=headers).status_code == 403
    api.call("share_grant_resume", {"id": grant["id"], "reason": "已整改"}, token=share_cast.tokens["authority_editor"])
    assert client.get(path, headers=headers).status_code == 200


# --- undelivered and late ----------------------------------------------------------------------------


def _listed(api, cast, role="provider_admin", **filters):
    reply = api.call("share_grant_list", filters, token=cast.tokens[role])
    assert reply.status == 200, reply.body
    return [g["id"] for g in reply.result]


def test_late_deliveries_are_listed_from_the_day_after_the_delivery_day(api, db, share_cast):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    today = dt.datetime.now(dt.timezone.utc).date()
    assert _listed(api, share_cast, undelivered=True) == [grant["id"]]
    backdate(db, Grant, grant["id"], delivery_due=today)
    assert _listed(api, share_cast, overdue=True) == []            # the delivery day itself: on time
    assert _listed(api, share_cast, overdue=False) == [grant["id"]]
    backdate(db, Grant, grant["id"], delivery_due=today - dt.timedelta(days=1))
    assert _listed(api, share_cast, overdue=True) == [grant["id"]]
    assert _listed(api, share_cast, "authority_editor", overdue=True) == [grant["id"]]   # the authority sees all
    assert _listed(api, share_cast, "consumer_member", overdue=True) == [grant["id"]]
    assert _listed(api, share_cast, "outsider_admin", overdue=True) == []
    shown = api.call("share_grant_show", {"id": grant["id"]}, token=share_cast.tokens["provider_member"]).result
    assert shown["delivery_overdue"] is True
    _search(api, share_cast)                                        # delivered late, but delivered
    assert _listed(api, share_cast, overdue=True) == [] and _listed(api, share_cast, undelivered=True) == []
    assert _listed(api, share_cast, undelivered=False) == [grant["id"]]


def test_a_revoked_grant_is_not_listed_as_undelivered(api, db, share_cast):
    made = file_request(api, share_cast)
    grant = approve(api, share_cast, made["id"])
    backdate(db, Grant, grant["id"], delivery_due=dt.date(2026, 1, 5))
    api.call("share_request_revoke", {"id": made["id"], "reason": "用途已完成"}, token=share_cast.tokens["provider_admin"])
    assert _listed(api, share_cast, overdue=True) == [] and _listed(api, share_cast, undelivered=True) == []


def test_grants_before_migration_0015_have_no_delivery_day_and_are_never_late(api, db, share_cast):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    backdate(db, Grant, grant["id"], delivery_due=None)
    assert _listed(api, share_cast, overdue=True) == []
    assert api.call("share_grant_show", {"id": grant["id"]},
                    token=share_cast.tokens["provider_admin"]).result["delivery_overdue"] is False


def test_the_lists_by_direction_status_and_department(api, share_cast):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    assert _listed(api, share_cast, direction="incoming") == [grant["id"]]
    assert _listed(api, share_cast, direction="outgoing") == []
    assert _listed(api, share_cast, "consumer_editor", direction="outgoing") == [grant["id"]]
    assert _listed(api, share_cast, "consumer_editor", direction="incoming") == []
    assert _listed(api, share_cast, status="active") == [grant["id"]]
    assert _listed(api, share_cast, status="suspended") == []
    assert _listed(api, share_cast, organization_id="ningshan-gaj") == [grant["id"]]
    refused = api.call("share_grant_list", {"organization_id": "ningshan-gaj"}, token=share_cast.tokens["outsider_admin"])
    assert refused.status == 403
    assert _listed(api, share_cast, "authority_editor", organization_id="ningshan-jyj") == []


# --- suspension stops every read at once -------------------------------------------------------------


def _suspend(api, cast, grant_id, reason="超出申请用途使用数据", role="authority_editor"):
    return api.call("share_grant_suspend", {"id": grant_id, "reason": reason}, token=cast.tokens[role])


def test_a_suspended_grant_stops_search_changes_and_dump_until_resumed(api, client, db, share_cast):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    reply = _suspend(api, share_cast, grant["id"])
    assert reply.status == 200, reply.body
    assert reply.result["status"] == "suspended" and reply.result["suspended_reason"] == "超出申请用途使用数据"
    assert _search(api, share_cast).status == 403
    assert _changes(api, share_cast).status == 403
    assert _dump(client, share_cast)[0] == 404
    db.expire_all()
    assert db.get(Grant, grant["id"]).delivered_at is None     # refused reads deliver nothing
    assert _search(api, share_cast, "provider_editor").status == 200   # the provider is not affected
    resumed = api.call("share_grant_resume", {"id": grant["id"], "reason": "已整改并承诺按用途使用"},
                       token=share_cast.tokens["authority_editor"])
    assert resumed.status == 200 and resumed.result["status"] == "active" and resumed.result["suspended_at"] is None
    assert _search(api, share_cast).status == 200 and _changes(api, share_cast).status == 200


def test_suspension_and_resumption_need_a_reason_and_the_right_state(api, db, share_cast):
    made = file_request(api, share_cast)
    grant = approve(api, share_cast, made["id"])
    blank = _suspend(api, share_cast, grant["id"], reason=" ")
    assert blank.status == 409 and "reason" in blank.error
    not_suspended = api.call("share_grant_resume", {"id": grant["id"], "reason": "x"},
                             token=share_cast.tokens["authority_editor"])
    assert not_suspended.status == 409 and "active" in not_suspended.error["id"][0]
    assert _suspend(api, share_cast, grant["id"]).status == 200
    twice = _suspend(api, share_cast, grant["id"])
    assert twice.status == 409 and "suspended" in twice.error["id"][0]
    blank = api.call("share_grant_resume", {"id": grant["id"], "reason": ""}, token=share_cast.tokens["authority_editor"])
    assert blank.status == 409 and "reason" in blank.error
    api.call("share_grant_resume", {"id": grant["id"], "reason": "已整改"}, token=share_cast.tokens["authority_editor"])
    api.call("share_request_revoke", {"id": made["id"]}, token=share_cast.tokens["provider_admin"])
    revoked = _suspend(api, share_cast, grant["id"])
    assert revoked.status == 409 and "revoked" in revoked.error["id"][0]


def test_an_expired_grant_is_not_suspended(api, db, share_cast):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    backdate(db, Grant, grant["id"], expires_at=dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc))
    reply = _suspend(api, share_cast, grant["id"])
    assert reply.status == 409 and "expired" in reply.error["id"][0]


def test_grant_events_and_notices_reach_both_departments_only(api, db, share_cast):
    subscriptions = {}
    for role in ("consumer_member", "provider_member", "outsider_editor"):
        reply = api.call("webhook_create", {"package_id": share_cast.dataset["name"],
                                            "url": f"http://127.0.0.1:9/{role}",
                                            "events": ["grant.delivered", "grant.suspended", "grant.resumed"]},
                         token=share_cast.tokens[role])
        subscriptions[role] = reply.result["id"]
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    _search(api, share_cast)
    _suspend(api, share_cast, grant["id"])
    api.call("share_grant_resume", {"id": grant["id"], "reason": "已整改"}, token=share_cast.tokens["authority_editor"])
    seen = {}
    for delivery in db.scalars(sa.select(WebhookDelivery)):
        seen.setdefault(delivery.subscription_id, set()).add(delivery.event)
    events = {"grant.delivered", "grant.suspended", "grant.resumed"}
    assert seen[subscriptions["consumer_member"]] == events and seen[subscriptions["provider_member"]] == events
    assert subscriptions["outsider_editor"] not in seen
    suspended = db.scalars(sa.select(ShareNotice).where(ShareNotice.kind == "grant.suspended")).all()
    assert {n.organization_id for n in suspended} == {share_cast.provider["id"], share_cast.consumer["id"]}
    payload = db.scalar(sa.select(WebhookDelivery.payload).where(WebhookDelivery.event == "grant.suspended").limit(1))
    assert payload["grant_id"] == grant["id"] and payload["reason"] == "超出申请用途使用数据"
