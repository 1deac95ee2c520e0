"""Use records (decree 809 art. 27) and a provider that stops or narrows sharing (art. 29).

Destruction worked by hand on the National Day 2026 calendar: a grant whose last day is Wed 09-30 needs a
destruction record by 8 9 10 12 13 14 15 16 19 20 → Tue 10-20 (10 working days), late from 10-21.
"""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from catalog.activity.models import Activity
from catalog.sharing.grants import destruction_due, last_day
from catalog.sharing.models import Grant, ShareNotice, UsageRecord
from catalog.sharing.usage import retained_until
from catalog.webhooks.models import WebhookDelivery
from tests.sharing.cast import approve, backdate, file_request

D = dt.date.fromisoformat
CALENDAR = {"HOLIDAYS": "2026-10-01,2026-10-02,2026-10-03,2026-10-04,2026-10-05,2026-10-06,2026-10-07",
            "WORKDAYS": "2026-09-20,2026-10-10"}
UTC = dt.timezone.utc


def test_destruction_is_due_ten_working_days_after_the_last_day_worked_by_hand():
    expired = Grant(expires_at=dt.datetime(2026, 10, 1, tzinfo=UTC))     # access until Wed 09-30
    assert last_day(expired) == D("2026-09-30")
    assert destruction_due(expired, CALENDAR) == D("2026-10-20")
    revoked = Grant(revoked_at=dt.datetime(2026, 9, 25, 15, tzinfo=UTC), expires_at=dt.datetime(2027, 1, 1, tzinfo=UTC))
    assert last_day(revoked) == D("2026-09-25")
    # 28 29 30 | 8 9 10 12 13 14 15
    assert destruction_due(revoked, CALENDAR) == D("2026-10-15")
    live = Grant(expires_at=dt.datetime.now(UTC) + dt.timedelta(days=30))
    assert last_day(live) is None and destruction_due(live, CALENDAR) is None
    assert destruction_due(Grant(), CALENDAR) is None                      # no end date: never due


@pytest.mark.parametrize("written, kept_until", [
    ("2026-12-06", "2029-12-06"), ("2028-02-29", "2031-03-01"), ("2026-01-01", "2029-01-01")])
def test_records_are_kept_three_years_from_the_day_written(written, kept_until):
    assert retained_until(D(written), 3) == D(kept_until)


def _record(api, cast, grant_id, kind="use", role="consumer_editor", **extra):
    return api.call("usage_record_create", {"grant_id": grant_id, "kind": kind,
                                            "description": "比对低保对象 312 户，发现 4 户户籍迁出", **extra},
                    token=cast.tokens[role])


def test_the_grantee_records_use_storage_and_destruction_and_the_provider_sees_them(api, db, share_cast):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    today = dt.datetime.now(UTC).date()
    for kind in ("use", "storage", "destruction"):
        reply = _record(api, share_cast, grant["id"], kind)
        assert reply.status == 200, reply.body
        assert reply.result["kind"] == kind and reply.result["occurred_on"] == today.isoformat()
        assert reply.result["retain_until"] == retained_until(today, 3).isoformat()
    listed = api.call("usage_record_list", {"grant_id": grant["id"]}, token=share_cast.tokens["provider_member"])
    assert [r["kind"] for r in listed.result] == ["use", "storage", "destruction"]
    notices = db.scalars(sa.select(ShareNotice).where(ShareNotice.kind == "usage.recorded")).all()
    assert {n.organization_id for n in notices} == {share_cast.provider["id"]}


@pytest.mark.parametrize("data, field", [
    ({"kind": "sale"}, "kind"), ({"description": "  "}, "description"),
    ({"occurred_on": "2099-01-01"}, "occurred_on"), ({"occurred_on": "2020-01-01"}, "occurred_on"),
])
def test_a_use_record_names_what_is_wrong(api, share_cast, data, field):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    reply = _record(api, share_cast, grant["id"], **data)
    assert reply.status == 409 and field in reply.error, reply.body


def test_a_use_record_is_not_deleted_before_three_years(api, db, share_cast):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    record = _record(api, share_cast, grant["id"]).result
    token = share_cast.tokens["consumer_admin"]
    early = api.call("usage_record_delete", {"id": record["id"]}, token=token)
    assert early.status == 409 and record["retain_until"] in early.error["id"][0]
    today = dt.datetime.now(UTC).date()
    backdate(db, UsageRecord, record["id"], retain_until=today + dt.timedelta(days=1))
    assert api.call("usage_record_delete", {"id": record["id"]}, token=token).status == 409   # the day before
    backdate(db, UsageRecord, record["id"], retain_until=today)
    assert api.call("usage_record_delete", {"id": record["id"]}, token=token).status == 200   # from that day
    assert api.call("usage_record_list", {"grant_id": grant["id"]}, token=token).result == []


def test_an_ended_grant_without_destruction_record_is_listed_late(api, app, db, share_cast, monkeypatch):
    made = file_request(api, share_cast)
    grant = approve(api, share_cast, made["id"])
    today = dt.datetime.now(UTC).date()
    # access ended 15 calendar days ago: at least 10 working days have passed (no holidays configured)
    backdate(db, Grant, grant["id"], expires_at=dt.datetime.combine(today - dt.timedelta(days=14), dt.time(), UTC))

    def late(role="consumer_editor"):
        reply = api.call("share_grant_list", {"destruction_overdue": True}, token=share_cast.tokens[role])
        return [g["id"] for g in reply.result]

    assert late() == [grant["id"]] and late("provider_admin") == [grant["id"]] and late("outsider_admin") == []
    shown = api.call("share_grant_show", {"id": grant["id"]}, token=share_cast.tokens["consumer_member"]).result
    assert shown["status"] == "expired" and shown["destruction_overdue"] is True
    # a holiday fortnight just after the end puts the due day in the future again
    monkeypatch.setitem(app.config, "HOLIDAYS", ",".join((today - dt.timedelta(days=n)).isoformat()
                                                        for n in range(0, 14)))
    assert late() == []
    monkeypatch.setitem(app.config, "HOLIDAYS", "")
    # a use record is not a destruction record; a destruction record settles it
    _record(api, share_cast, grant["id"], "use")
    assert late() == [grant["id"]]
    _record(api, share_cast, grant["id"], "destruction", description="已删除比对库中的全部户籍数据")
    assert late() == []
    assert api.call("share_grant_list", {"destruction_overdue": False},
                    token=share_cast.tokens["consumer_editor"]).result[0]["id"] == grant["id"]


def test_a_live_grant_is_never_late_for_destruction(api, share_cast):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    shown = api.call("share_grant_show", {"id": grant["id"]}, token=share_cast.tokens["consumer_member"]).result
    assert shown["destruction_due"] is None and shown["destruction_overdue"] is False


# --- narrowing ---------------------------------------------------------------------------------------


def _patch(api, cast, reason=None, role="provider_editor", **values):
    data = {"id": cast.dataset["id"], **values}
    if reason is not None:
        data["reason"] = reason
    return api.call("package_patch", data, token=cast.tokens[role])


@pytest.mark.parametrize("change", [
    {"share_type": "none", "share_condition": "依据《个人信息保护法》第十三条不予共享"},
    {"private": True},
    {"state": "draft"},
])
def test_narrowing_a_dataset_with_live_grants_needs_a_reason_and_tells_the_grantees(api, db, share_cast, change):
    subscription = api.call("webhook_create", {"package_id": share_cast.dataset["name"], "url": "http://127.0.0.1:9/h",
                                               "events": ["sharing.narrowed"]},
                            token=share_cast.tokens["consumer_member"]).result["id"]
    outsider = api.call("webhook_create", {"package_id": share_cast.dataset["name"], "url": "http://127.0.0.1:9/o",
                                           "events": ["sharing.narrowed"]},
                        token=share_cast.tokens["outsider_editor"]).result["id"]
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    silent = _patch(api, share_cast, **change)
    assert silent.status == 409 and "reason" in silent.error, silent.body
    assert db.scalar(sa.select(sa.func.count()).select_from(ShareNotice).where(
        ShareNotice.kind == "sharing.narrowed")) == 0
    done = _patch(api, share_cast, reason="户籍数据纳入省级平台统一共享", **change)
    assert done.status == 200, done.body
    [notice] = db.scalars(sa.select(ShareNotice).where(ShareNotice.kind == "sharing.narrowed")).all()
    assert (notice.organization_id, notice.grant_id) == (share_cast.consumer["id"], grant["id"])
    assert notice.data["reason"] == "户籍数据纳入省级平台统一共享"
    # the grantee reads what the dataset became: not shared, private, or withdrawn to draft
    assert {key: notice.data["new_values"].get(key) for key in change if key != "share_condition"} == \
        {key: value for key, value in change.items() if key != "share_condition"}
    [activity] = db.scalars(sa.select(Activity).where(Activity.activity_type == "narrowed sharing")).all()
    assert activity.data["sharing"]["changes"] == [{"share_type": "share_type", "private": "private",
                                                    "state": "state"}[next(iter(change))]]
    deliveries = db.scalars(sa.select(WebhookDelivery).where(WebhookDelivery.event == "sharing.narrowed")).all()
    assert [d.subscription_id for d in deliveries] == [subscription]
    assert outsider not in [d.subscription_id for d in deliveries]
    assert "grantees" not in deliveries[0].payload and deliveries[0].payload["reason"] == "户籍数据纳入省级平台统一共享"


def test_deleting_a_dataset_with_live_grants_needs_a_reason(api, db, share_cast):
    approve(api, share_cast, file_request(api, share_cast)["id"])
    token = share_cast.tokens["provider_admin"]
    silent = api.call("package_delete", {"id": share_cast.dataset["id"]}, token=token)
    assert silent.status == 409 and "reason" in silent.error
    done = api.call("package_delete", {"id": share_cast.dataset["id"], "reason": "该数据已由省平台提供"}, token=token)
    assert done.status == 200, done.body
    assert db.scalar(sa.select(ShareNotice.organization_id).where(ShareNotice.kind == "sharing.narrowed")) == \
        share_cast.consumer["id"]


def test_changes_that_do_not_narrow_or_datasets_without_live_grants_need_no_reason(api, db, share_cast):
    made = file_request(api, share_cast)
    assert _patch(api, share_cast, title="宁陕县户籍人口（更新）").status == 200    # no grant yet
    assert _patch(api, share_cast, private=True).status == 200                     # no grant: no one to tell
    assert _patch(api, share_cast, private=False).status == 200
    grant = approve(api, share_cast, made["id"])
    assert _patch(api, share_cast, title="宁陕县户籍人口").status == 200            # not a narrowing
    assert _patch(api, share_cast, share_type="unconditional").status == 200       # wider, not narrower
    backdate(db, Grant, grant["id"], expires_at=dt.datetime(2026, 10, 1, tzinfo=UTC))   # expired: not live
    assert _patch(api, share_cast, private=True).status == 200
    assert db.scalar(sa.select(sa.func.count()).select_from(ShareNotice).where(
        ShareNotice.kind == "sharing.narrowed")) == 0


def test_a_suspended_grant_is_still_live_for_narrowing(api, share_cast):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    api.call("share_grant_suspend", {"id": grant["id"], "reason": "核查中"}, token=share_cast.tokens["sysadmin"])
    assert _patch(api, share_cast, private=True).status == 409


def test_a_record_schema_marking_more_fields_sensitive_is_a_narrowing(api, db, share_cast):
    approve(api, share_cast, file_request(api, share_cast)["id"])
    schema = api.call("schema_show", {"id": "household@1"}, token=share_cast.tokens["sysadmin"])
    assert schema.status == 200, schema.body
    document = schema.result["schema"]
    assert "x-sensitive" not in document["properties"]["grid_worker"]
    stricter = {**document, "properties": {**document["properties"],
                                           "grid_worker": {**document["properties"]["grid_worker"], "x-sensitive": "text"}}}
    registered = api.call("schema_create", {"name": "household-strict", "owner_org": share_cast.provider["id"],
                                            "schema": stricter}, token=share_cast.tokens["provider_admin"])
    assert registered.status == 200, registered.body
    ref = registered.result["id"]
    silent = _patch(api, share_cast, record_schema=ref)
    assert silent.status == 409 and "sensitive_fields" in silent.error["reason"][0]
    assert _patch(api, share_cast, record_schema=ref, reason="网格员姓名列为敏感字段").status == 200
