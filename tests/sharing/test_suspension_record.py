"""A suspension and its lifting (decree 809 art. 29) are on record: who at the data authority decided,
and why, in the dataset's activity and in the notices both departments read."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from catalog.activity.models import Activity
from catalog.sharing.models import ShareNotice
from catalog.webhooks.models import WebhookDelivery
from tests.sharing.cast import approve, file_request


def test_who_suspended_and_who_resumed_a_grant_and_why_are_recorded(api, db, share_cast):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    suspended = api.call("share_grant_suspend", {"id": grant["id"], "reason": "超范围使用户籍数据"},
                         token=share_cast.tokens["sysadmin"])
    assert suspended.status == 200, suspended.body
    resumed = api.call("share_grant_resume", {"id": grant["id"], "reason": "已整改，复核通过"},
                       token=share_cast.tokens["authority_editor"])
    assert resumed.status == 200, resumed.body

    steps = {a.activity_type: a for a in db.scalars(sa.select(Activity).where(
        Activity.activity_type.in_(("suspended share grant", "resumed share grant"))))}
    assert steps["suspended share grant"].user_id == share_cast.sysadmin.id
    assert steps["suspended share grant"].data["share_request"]["reason"] == "超范围使用户籍数据"
    assert steps["resumed share grant"].user_id == share_cast.people["authority_editor"].id
    assert steps["resumed share grant"].data["share_request"]["reason"] == "已整改，复核通过"

    told = db.scalars(sa.select(ShareNotice).where(ShareNotice.kind == "grant.resumed")).all()
    assert sorted((n.organization_id, n.data["reason"]) for n in told) == sorted(
        [(share_cast.consumer["id"], "已整改，复核通过"), (share_cast.provider["id"], "已整改，复核通过")])


@pytest.mark.parametrize("event, activity_type", [("grant.suspended", "suspended share grant"),
                                                    ("grant.resumed", "resumed share grant")])
def test_the_suspension_and_the_resumption_name_the_grant_and_the_request(api, db, share_cast, event, activity_type):
    """Each department's notice, the dataset's activity and the consumer system's event say which grant
    stops or reads again, and under which request: a department with several grants on the dataset must tell
    them apart, and know which of its systems to stop."""
    request_id = file_request(api, share_cast)["id"]
    grant = approve(api, share_cast, request_id)
    hook = api.call("webhook_create", {"package_id": share_cast.dataset["name"], "url": "http://127.0.0.1:9/consumer",
                                       "events": [event]}, token=share_cast.tokens["consumer_member"])
    assert hook.status == 200, hook.body
    suspended = api.call("share_grant_suspend", {"id": grant["id"], "reason": "超范围使用户籍数据"},
                         token=share_cast.tokens["authority_editor"])
    assert suspended.status == 200, suspended.body
    if event == "grant.resumed":
        resumed = api.call("share_grant_resume", {"id": grant["id"], "reason": "已整改，复核通过"},
                           token=share_cast.tokens["authority_editor"])
        assert resumed.status == 200, resumed.body

    told = db.scalars(sa.select(ShareNotice).where(ShareNotice.kind == event)).all()
    assert sorted((n.organization_id, n.grant_id, n.request_id) for n in told) == sorted(
        [(share_cast.consumer["id"], grant["id"], request_id), (share_cast.provider["id"], grant["id"], request_id)])
    [activity] = db.scalars(sa.select(Activity).where(Activity.activity_type == activity_type))
    assert (activity.data["share_request"]["id"], activity.data["share_request"]["grant_id"]) == \
        (request_id, grant["id"])
    [payload] = db.scalars(sa.select(WebhookDelivery.payload).where(WebhookDelivery.event == event))
    assert (payload["grant_id"], payload["request_id"]) == (grant["id"], request_id)
