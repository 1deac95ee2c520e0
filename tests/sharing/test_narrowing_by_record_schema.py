"""A record schema given to, or taken from, a shared dataset (decree 809 art. 29).

A dataset registered without a record schema is shared whole: no field is masked. Giving it the
household schema (``household@1``), which marks the resident ID, the names, the mobile number … sensitive,
masks those fields from the grantees from then on: a narrowing, which needs a reason while a grant is live.
Taking the schema away again masks nothing new: it needs no reason.
"""
from __future__ import annotations

import sqlalchemy as sa

from catalog.activity.models import Activity
from catalog.sharing.models import ShareNotice
from catalog.webhooks.models import WebhookDelivery
from tests.sharing.cast import BASIS, SCENARIO, approve


def test_a_schema_given_to_a_dataset_without_one_narrows_and_taking_it_away_does_not(api, db, make, share_cast):
    plain = make.dataset(share_cast.provider["id"], name="households-plain", share_type="conditional",
                         share_condition="仅限民政、人社部门核实救助对象使用")
    asked = api.call("share_request_create", {"package_id": plain["id"], "organization_id": "ningshan-mzj",
                                              "purpose": "核实低保对象户籍", "basis": BASIS, "scenario": SCENARIO},
                     token=share_cast.tokens["consumer_editor"])
    assert asked.status == 200, asked.body
    grant = approve(api, share_cast, asked.result["id"])
    token = share_cast.tokens["provider_editor"]
    hook = api.call("webhook_create", {"package_id": plain["name"], "url": "http://127.0.0.1:9/h",
                                       "events": ["sharing.narrowed"]}, token=share_cast.tokens["consumer_member"])
    assert hook.status == 200, hook.body

    silent = api.call("package_patch", {"id": plain["id"], "record_schema": "household@1"}, token=token)
    assert silent.status == 409, silent.body
    assert "sensitive_fields" in silent.error["reason"][0]
    given = api.call("package_patch", {"id": plain["id"], "record_schema": "household@1",
                                       "reason": "户籍数据含公民身份号码，按敏感字段脱敏"}, token=token)
    assert given.status == 200, given.body
    [notice] = db.scalars(sa.select(ShareNotice).where(ShareNotice.kind == "sharing.narrowed")).all()
    assert (notice.grant_id, notice.data["changes"]) == (grant["id"], ["sensitive_fields"])
    assert notice.request_id == asked.result["id"]
    assert notice.data["new_values"]["record_schema"] == "household@1"
    [activity] = db.scalars(sa.select(Activity).where(Activity.activity_type == "narrowed sharing")).all()
    assert (activity.user_id, activity.department_id) == (share_cast.people["provider_editor"].id,
                                                          share_cast.provider["id"])
    [delivery] = db.scalars(sa.select(WebhookDelivery).where(WebhookDelivery.event == "sharing.narrowed")).all()
    assert (delivery.payload["package_id"], delivery.payload["package_name"]) == (plain["id"], "households-plain")

    taken = api.call("package_patch", {"id": plain["id"], "record_schema": None}, token=token)
    assert taken.status == 200, taken.body
    assert db.scalar(sa.select(sa.func.count()).select_from(ShareNotice)
                     .where(ShareNotice.kind == "sharing.narrowed")) == 1


def test_going_back_from_a_registered_stricter_schema_is_not_a_narrowing(api, db, share_cast):
    """The provider registered ``household-strict`` (household@1 with the grid worker's name also sensitive)
    and moved the dataset to it, with a reason; going back to ``household@1`` masks less, not more."""
    token = share_cast.tokens["provider_admin"]
    document = api.call("schema_show", {"id": "household@1"}, token=token).result["schema"]
    stricter = {**document, "properties": {**document["properties"],
                                           "grid_worker": {**document["properties"]["grid_worker"], "x-sensitive": "text"}}}
    registered = api.call("schema_create", {"name": "household-strict", "owner_org": share_cast.provider["id"],
                                            "schema": stricter}, token=token)
    assert registered.status == 200, registered.body
    approve(api, share_cast, api.call("share_request_create", {
        "package_id": share_cast.dataset["id"], "organization_id": "ningshan-mzj", "purpose": "核实低保对象户籍",
        "basis": BASIS, "scenario": SCENARIO}, token=share_cast.tokens["consumer_editor"]).result["id"])
    moved = api.call("package_patch", {"id": share_cast.dataset["id"], "record_schema": registered.result["id"],
                                       "reason": "网格员姓名列为敏感字段"}, token=token)
    assert moved.status == 200, moved.body
    back = api.call("package_patch", {"id": share_cast.dataset["id"], "record_schema": "household@1"}, token=token)
    assert back.status == 200, back.body
    assert db.scalar(sa.select(sa.func.count()).select_from(ShareNotice)
                     .where(ShareNotice.kind == "sharing.narrowed")) == 1
