"""A use record (decree 809 art. 27) says who wrote it, and the provider is told which request and which
department it concerns; the retention period is a setting (a county may keep records 5 years)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from catalog.activity.models import Activity
from catalog.sharing.models import ShareNotice
from tests.sharing.cast import approve, file_request


def test_a_use_record_names_its_writer_and_tells_the_provider_which_request(api, app, db, share_cast, monkeypatch):
    monkeypatch.setitem(app.config, "USAGE_RECORD_RETENTION_YEARS", 5)
    made = file_request(api, share_cast)
    grant = approve(api, share_cast, made["id"])
    editor = share_cast.people["consumer_editor"]
    reply = api.call("usage_record_create", {"grant_id": grant["id"], "kind": "use",
                                             "description": "比对低保对象 312 户"}, token=editor.token)
    assert reply.status == 200, reply.body
    today = dt.datetime.now(dt.timezone.utc).date()
    assert reply.result["created_by"] == editor.id
    try:
        kept = today.replace(year=today.year + 5)
    except ValueError:                      # 29 February: 1 March
        kept = dt.date(today.year + 5, 3, 1)
    assert reply.result["retain_until"] == kept.isoformat()
    [activity] = db.scalars(sa.select(Activity).where(Activity.activity_type == "recorded share use")).all()
    assert activity.user_id == editor.id
    assert activity.data["share_request"]["organization_id"] == share_cast.consumer["id"]
    [notice] = db.scalars(sa.select(ShareNotice).where(ShareNotice.kind == "usage.recorded")).all()
    assert (notice.organization_id, notice.request_id) == (share_cast.provider["id"], made["id"])
    # which grant, which record, what kind of use and when: what the provider reads in its notice
    assert notice.grant_id == grant["id"]
    assert notice.data == {"usage_record_id": reply.result["id"], "kind": "use",
                           "occurred_on": reply.result["occurred_on"]}
