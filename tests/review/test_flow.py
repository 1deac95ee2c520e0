"""Catalog review (decree 809 arts. 13, 16-17): a department's draft is submitted by its admin, the data
authority approves it (published) or returns it with what to fix per field; every other role is refused."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from catalog.activity.models import Activity
from tests.conftest import dataset_values
from tests.review.conftest import token


def test_an_editor_registers_a_draft_and_cannot_publish_it_without_review(api, people, draft):
    editor = people["mz-editor"].token
    refused = api.call("package_patch", {"id": draft["id"], "state": "active"}, token=editor)
    assert refused.status == 409 and "package_submit" in refused.error["state"][0]
    values = {**draft, "name": "mz-other", "resource_code": "101001/000777", "state": "active"}
    values.pop("id")
    created = api.call("package_create", values, token=editor)
    assert created.status == 409 and "state" in created.error
    assert api.call("package_show", {"id": draft["id"]}, token=editor).result["state"] == "draft"


def test_the_admin_submits_and_the_authority_approves_then_everyone_reads_it(api, people, draft):
    submitted = api.call("package_submit", {"id": draft["name"]}, token=people["mz-admin"].token)
    assert submitted.status == 200, submitted.body
    review = submitted.result
    assert (review["kind"], review["status"], review["overdue"]) == ("publication", "submitted", False)
    # still a draft while waiting: nobody outside reads it
    assert api.call("package_show", {"id": draft["id"]}).status == 404
    approved = api.call("package_review", {"id": draft["id"], "decision": "approve", "reason": "要素齐全"},
                        token=people["sj-admin"].token)
    assert approved.status == 200, approved.body
    assert (approved.result["status"], approved.result["reviewer_id"]) == ("approved", people["sj-admin"].id)
    shown = api.call("package_show", {"id": draft["id"]})
    assert shown.status == 200 and shown.result["state"] == "active"
    assert draft["name"] in api.call("package_list", method="GET").result


def test_a_return_lists_what_to_fix_per_field_and_the_department_resubmits(api, people, submitted):
    dataset_id = submitted["package_id"]
    returned = api.call("package_review", {
        "id": dataset_id, "decision": "return", "reason": "共享条件不完整",
        "field_reasons": {"share_condition": "写明使用依据（条例第十七条）", "update_cycle": "应为每月更新"}},
        token=people["sj-editor"].token)
    assert returned.status == 200, returned.body
    assert returned.result["status"] == "returned"
    assert returned.result["field_reasons"] == {"share_condition": "写明使用依据（条例第十七条）",
                                                "update_cycle": "应为每月更新"}
    # the department sees the return (both sides see the reasons), the dataset is still a draft
    mine = api.call("package_review_list", {"package_id": dataset_id}, token=people["mz-member"].token).result
    assert [(r["status"], r["reason"]) for r in mine] == [("returned", "共享条件不完整")]
    assert api.call("package_show", {"id": dataset_id}, token=people["mz-member"].token).result["state"] == "draft"
    # the department fixes the draft and submits again; the authority approves
    fixed = api.call("package_patch", {"id": dataset_id, "share_condition": "依据《社会救助暂行办法》，仅限核实救助对象"},
                     token=people["mz-editor"].token)
    assert fixed.status == 200, fixed.body
    again = api.call("package_submit", {"id": dataset_id}, token=people["mz-admin"].token)
    assert again.status == 200 and again.result["number"] == 2
    assert api.call("package_review", {"id": dataset_id, "decision": "approve"},
                    token=people["sysadmin"].token).status == 200
    assert api.call("package_show", {"id": dataset_id}).result["share_condition"].startswith("依据《社会救助")


def test_a_return_names_each_field_and_needs_a_reason(api, people, submitted):
    authority = people["sj-admin"].token
    unknown = api.call("package_review", {"id": submitted["package_id"], "decision": "return",
                                          "field_reasons": {"colour": "改成红色"}}, token=authority)
    assert unknown.status == 409 and "field_reasons.colour" in unknown.error
    bare = api.call("package_review", {"id": submitted["package_id"], "decision": "return"}, token=authority)
    assert bare.status == 409 and "reason" in bare.error
    other = api.call("package_review", {"id": submitted["package_id"], "decision": "publish"}, token=authority)
    assert other.status == 409 and "decision" in other.error


def test_submitting_twice_or_a_published_dataset_is_refused(api, people, submitted, published):
    admin = people["mz-admin"].token
    twice = api.call("package_submit", {"id": submitted["package_id"]}, token=admin)
    assert twice.status == 409 and "already" in twice.error["state"][0]
    active = api.call("package_submit", {"id": published["id"]}, token=admin)
    assert active.status == 409 and "state" in active.error
    # while waiting, the department does not change what the authority reviews
    edit = api.call("package_patch", {"id": submitted["package_id"], "title": "改名"}, token=people["mz-editor"].token)
    assert edit.status == 409 and "state" in edit.error


# Who may submit: the department's admin (standing for its head) and sysadmins. Outsiders do not even
# learn that the draft exists (404, the answer for a missing dataset).
@pytest.mark.parametrize("who, status", [
    ("anonymous", 404), ("mz-member", 403), ("mz-editor", 403), ("wj-admin", 404), ("sj-admin", 404),
    ("mz-admin", 200), ("sysadmin", 200)])
def test_who_submits(api, people, draft, who, status):
    reply = api.call("package_submit", {"id": draft["id"]}, token=token(people, who))
    assert reply.status == status, reply.body


# Who may review: the data authority (its editors and admins, and sysadmins); never the department itself,
# another department, the authority's plain members, or anonymous callers.
@pytest.mark.parametrize("who, status", [
    ("anonymous", 404), ("mz-member", 403), ("mz-editor", 403), ("mz-admin", 403), ("wj-admin", 404),
    ("sj-member", 404), ("sj-editor", 200), ("sj-admin", 200), ("sysadmin", 200)])
def test_who_reviews(api, people, submitted, who, status):
    reply = api.call("package_review", {"id": submitted["package_id"], "decision": "approve"},
                     token=token(people, who))
    assert reply.status == status, reply.body


def test_the_authority_never_reviews_its_own_departments_dataset(api, people):
    values = {**dataset_values("ningshan-sjj", 601), "name": "sj-catalog", "title": "数据局目录"}
    made = api.call("package_create", values, token=people["sj-editor"].token)
    assert made.status == 200 and made.result["state"] == "draft", made.body
    assert api.call("package_submit", {"id": made.result["id"]}, token=people["sj-admin"].token).status == 200
    own = api.call("package_review", {"id": made.result["id"], "decision": "approve"}, token=people["sj-admin"].token)
    assert own.status == 403
    assert api.call("package_review", {"id": made.result["id"], "decision": "approve"},
                    token=people["sysadmin"].token).status == 200


def test_each_step_is_recorded_and_announced(api, app, db, people, draft, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_DISPATCH", "manual")  # deliveries wait in the outbox
    hook = api.call("webhook_create", {"package_id": draft["id"], "url": "http://127.0.0.1:9/hook",
                                       "events": ["package.submitted", "package.returned", "package.approved"]},
                    token=people["mz-editor"].token)
    assert hook.status == 200, hook.body
    dataset_id = draft["id"]
    assert api.call("package_submit", {"id": dataset_id}, token=people["mz-admin"].token).status == 200
    api.call("package_review", {"id": dataset_id, "decision": "return", "reason": "补充信息项说明"},
             token=people["sj-admin"].token)
    db.expire_all()
    kinds = list(db.scalars(sa.select(Activity.activity_type).where(Activity.object_id == dataset_id)
                            .order_by(Activity.timestamp)))
    assert kinds == ["new package", "submitted package", "returned package"]
    sent = api.call("webhook_delivery_list", {"id": hook.result["id"]}, token=people["mz-editor"].token).result
    events = sorted((d["event"], d["payload"]["review"]["status"]) for d in sent)
    assert events == [("package.returned", "returned"), ("package.submitted", "submitted")]
    # the event names the review; its reasons are read where they are access-checked (package_revision_show)
    returned = next(d for d in sent if d["event"] == "package.returned")
    assert "补充信息项说明" not in str(returned["payload"])
    shown = api.call("package_revision_show", {"id": returned["payload"]["review"]["id"]},
                     token=people["mz-editor"].token).result
    assert shown["reason"] == "补充信息项说明"


def test_a_submission_tells_subscribers_and_the_activity_which_dataset_which_review_and_who(api, app, db, people,
                                                                                            draft, monkeypatch):
    """A subscribed system learns which dataset (id, name, state) and which review (id, kind, number, status,
    day due) the event is about; civil affairs' activity names the dataset, the review and who submitted."""
    monkeypatch.setitem(app.config, "WEBHOOK_DISPATCH", "manual")
    hook = api.call("webhook_create", {"package_id": draft["id"], "url": "http://127.0.0.1:9/hook",
                                       "events": ["package.submitted"]}, token=people["mz-editor"].token)
    assert hook.status == 200, hook.body
    submitted = api.call("package_submit", {"id": draft["id"]}, token=people["mz-admin"].token)
    assert submitted.status == 200, submitted.body
    review = submitted.result
    assert (review["kind"], review["number"], review["status"], review["submitted_by"]) == \
        ("publication", 1, "submitted", people["mz-admin"].id)
    thin = {"id": review["id"], "kind": "publication", "number": 1, "status": "submitted", "due": review["due"]}
    [sent] = api.call("webhook_delivery_list", {"id": hook.result["id"]}, token=people["mz-editor"].token).result
    assert {k: sent["payload"].get(k) for k in ("package_id", "package_name", "state", "review")} == \
        {"package_id": draft["id"], "package_name": "mz-dibao", "state": "draft", "review": thin}
    db.expire_all()
    [activity] = db.scalars(sa.select(Activity).where(Activity.activity_type == "submitted package"))
    assert (activity.user_id, activity.department_id) == (people["mz-admin"].id, people["departments"]["mz"]["id"])
    assert activity.data == {"package": {"id": draft["id"], "name": "mz-dibao", "title": "宁陕县低保对象名册"},
                             "review": thin}


def test_review_off_means_direct_publishing(api, app, people, monkeypatch):
    monkeypatch.setitem(app.config, "CATALOG_REVIEW", False)
    made = api.call("package_create", {**dataset_values("ningshan-mzj", 701), "name": "mz-direct"},
                    token=people["mz-editor"].token)
    assert made.status == 200 and made.result["state"] == "active"
    draft = api.call("package_create", {**dataset_values("ningshan-mzj", 702), "name": "mz-d2", "state": "draft"},
                     token=people["mz-editor"].token).result
    refused = api.call("package_submit", {"id": draft["id"]}, token=people["mz-admin"].token)
    assert refused.status == 409 and "CATALOG_CATALOG_REVIEW" in refused.error["state"][0]


def test_an_incomplete_draft_is_not_submitted(api, people):
    values = {**dataset_values("ningshan-mzj", 801), "name": "mz-half", "notes": None, "update_cycle": None}
    made = api.call("package_create", {k: v for k, v in values.items() if v is not None},
                    token=people["mz-editor"].token)
    assert made.status == 200 and made.result["state"] == "draft", made.body
    refused = api.call("package_submit", {"id": "mz-half"}, token=people["mz-admin"].token)
    assert refused.status == 409 and {"notes", "update_cycle"} <= set(refused.error), refused.body
    assert api.call("package_review_list", {"package_id": "mz-half"}, token=people["mz-admin"].token).result == []
