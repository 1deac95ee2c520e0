"""The delivery of approved data (decree 809 art. 22) is on record: the grantee's first read delivers its
own grant and no other, and the provider is told which grant of which request was delivered, when, and
against which delivery day; the dataset's activity names the officer whose read delivered it.

The lists of grants put the nearest delivery day first, grants due the same day in the order they were
approved, and a grant without a delivery day (approved before migration 0015) is never late, so it is
listed among the grants that are not late.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from catalog.activity.models import Activity
from catalog.sharing.models import Grant, ShareNotice
from catalog.webhooks.models import WebhookDelivery
from tests.sharing.cast import BASIS, SCENARIO, approve, backdate, file_request, rosters_with_a_file


def _education_grant(api, cast) -> tuple[str, dict]:
    """The education bureau asks for the same household dataset too; the police bureau approves."""
    asked = api.call("share_request_create", {"package_id": cast.dataset["id"], "organization_id": "ningshan-jyj",
                                              "purpose": "核实学生家庭户籍", "basis": BASIS, "scenario": SCENARIO},
                     token=cast.tokens["outsider_editor"])
    assert asked.status == 200, asked.body
    return asked.result["id"], approve(api, cast, asked.result["id"])


def _listed(api, cast, role="provider_admin", **filters) -> list[str]:
    reply = api.call("share_grant_list", filters, token=cast.tokens[role])
    assert reply.status == 200, reply.body
    return [g["id"] for g in reply.result]


def _naive(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def test_a_read_delivers_the_readers_own_grant_only_and_the_provider_is_told_which_when_and_against_which_day(
        api, db, share_cast):
    civil_request = file_request(api, share_cast)["id"]
    civil = approve(api, share_cast, civil_request)
    _education_request, education = _education_grant(api, share_cast)
    # the delivery day as the approval set it, moved to a known day (what the notice must repeat)
    backdate(db, Grant, civil["id"], delivery_due=dt.date(2026, 10, 30))
    hook = api.call("webhook_create", {"package_id": share_cast.dataset["name"], "url": "http://127.0.0.1:9/provider",
                                       "events": ["grant.delivered"]}, token=share_cast.tokens["provider_member"])
    assert hook.status == 200, hook.body

    read = api.call("datastore_search", {"resource_id": share_cast.resource_id, "limit": 1},
                    token=share_cast.tokens["consumer_editor"])
    assert read.status == 200, read.body

    db.expire_all()
    delivered_at = db.get(Grant, civil["id"]).delivered_at
    assert delivered_at is not None
    # civil affairs' read delivers nothing to the education bureau, which has not read yet
    assert db.get(Grant, education["id"]).delivered_at is None
    assert _listed(api, share_cast, undelivered=True) == [education["id"]]

    [notice] = db.scalars(sa.select(ShareNotice).where(ShareNotice.kind == "grant.delivered"))
    assert (notice.organization_id, notice.grant_id, notice.request_id) == \
        (share_cast.provider["id"], civil["id"], civil_request)
    assert notice.data["delivery_due"] == "2026-10-30"
    assert _naive(dt.datetime.fromisoformat(notice.data["delivered_at"])) == _naive(delivered_at)

    [activity] = db.scalars(sa.select(Activity).where(Activity.activity_type == "delivered share grant"))
    assert activity.user_id == share_cast.people["consumer_editor"].id      # whose read delivered it
    recorded = activity.data["share_request"]
    assert (recorded["id"], recorded["grant_id"], recorded["organization_id"]) == \
        (civil_request, civil["id"], share_cast.consumer["id"])
    assert recorded["delivery_due"] == "2026-10-30"

    [payload] = db.scalars(sa.select(WebhookDelivery.payload).where(WebhookDelivery.event == "grant.delivered"))
    assert (payload["grant_id"], payload["request_id"], payload["delivery_due"]) == \
        (civil["id"], civil_request, "2026-10-30")
    assert _naive(dt.datetime.fromisoformat(payload["delivered_at"])) == _naive(delivered_at)


def test_a_dump_names_the_reader_who_delivered_the_grant(api, client, db, share_cast):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    response = client.get(f"/datastore/dump/{share_cast.resource_id}?format=json",
                          headers={"Authorization": share_cast.tokens["consumer_member"]})
    assert response.status_code == 200
    response.get_data()   # the stream logs (and delivers) when it ends
    [activity] = db.scalars(sa.select(Activity).where(Activity.activity_type == "delivered share grant"))
    assert activity.user_id == share_cast.people["consumer_member"].id
    assert activity.data["share_request"]["grant_id"] == grant["id"]


def test_grants_are_listed_by_delivery_day_then_in_the_order_they_were_approved(api, db, share_cast):
    civil = approve(api, share_cast, file_request(api, share_cast)["id"])
    _request, education = _education_grant(api, share_cast)
    # civil affairs was approved first but is due later: the education bureau's grant comes first
    backdate(db, Grant, civil["id"], delivery_due=dt.date(2026, 11, 3))
    backdate(db, Grant, education["id"], delivery_due=dt.date(2026, 11, 2))
    assert _listed(api, share_cast) == [education["id"], civil["id"]]
    assert _listed(api, share_cast, "authority_editor") == [education["id"], civil["id"]]

    # due the same day: the one approved first comes first; the approval times are chosen so that the
    # grant approved first has the larger id (the id alone would list them the other way round)
    backdate(db, Grant, civil["id"], delivery_due=dt.date(2026, 11, 2))
    first, second = sorted([civil["id"], education["id"]], reverse=True)
    backdate(db, Grant, first, created=dt.datetime(2026, 9, 28, 9, 0, tzinfo=dt.timezone.utc))
    backdate(db, Grant, second, created=dt.datetime(2026, 9, 28, 10, 0, tzinfo=dt.timezone.utc))
    assert _listed(api, share_cast) == [first, second]
    assert _listed(api, share_cast, "sysadmin") == [first, second]


def test_a_grant_without_a_delivery_day_is_listed_among_the_grants_that_are_not_late(api, db, share_cast):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    backdate(db, Grant, grant["id"], delivery_due=None)
    assert _listed(api, share_cast, overdue=True) == []
    assert _listed(api, share_cast, overdue=False) == [grant["id"]]
    assert _listed(api, share_cast, "authority_editor", overdue=False) == [grant["id"]]


def test_a_file_download_names_the_reader_who_delivered_the_grant(api, client, db, make, share_cast):
    grant, path = rosters_with_a_file(api, make, share_cast)
    assert client.get(path, headers={"Authorization": share_cast.tokens["consumer_editor"]}).status_code == 200
    [activity] = db.scalars(sa.select(Activity).where(Activity.activity_type == "delivered share grant"))
    assert activity.user_id == share_cast.people["consumer_editor"].id      # whose download delivered it
    assert activity.data["share_request"]["grant_id"] == grant["id"]
