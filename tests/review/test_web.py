"""The review's pages: the department admin's submit button, the authority's queue and approve / return form
with reasons per field, the revision diff, the dashboard panel; outsiders get the missing page."""
from __future__ import annotations

import sqlalchemy as sa

from catalog.review.models import DatasetReview
from tests.web.conftest import Browser


def _browser(app, who) -> Browser:
    browser = Browser(app.test_client())
    browser.login(who.name)
    return browser


def _review(db, dataset_id: str) -> DatasetReview:
    db.expire_all()
    return db.scalars(sa.select(DatasetReview).where(DatasetReview.package_id == dataset_id)
                      .order_by(DatasetReview.number.desc())).first()


def test_the_admin_submits_from_the_dataset_page_and_the_authority_returns_with_reasons(app, db, people, draft):
    admin = _browser(app, people["mz-admin"])
    page = admin.text(f"/dataset/{draft['name']}")
    assert f"/dataset/{draft['name']}/submit" in page and "提交审核" in page
    # an editor sees no button and is refused
    editor = _browser(app, people["mz-editor"])
    assert "/submit" not in editor.text(f"/dataset/{draft['name']}")
    assert editor.post(f"/dataset/{draft['name']}/submit").status_code == 403
    assert admin.post(f"/dataset/{draft['name']}/submit").status_code == 302
    review = _review(db, draft["id"])
    assert review.status == "submitted"
    assert "等待审核" in admin.text(f"/dataset/{draft['name']}")

    authority = _browser(app, people["sj-admin"])
    queue = authority.text("/review")
    assert "宁陕县低保对象名册" in queue and review.due.isoformat() in queue
    assert "/review/" in authority.text("/dashboard")
    form = authority.text(f"/review/{review.id}")
    assert 'name="reason-share_condition"' in form
    returned = authority.post(f"/review/{review.id}/decide", {
        "decision": "return", "reason": "共享条件需补充", "reason-share_condition": "写明使用依据"})
    assert returned.status_code == 302
    assert _review(db, draft["id"]).field_reasons == {"share_condition": "写明使用依据"}
    page = admin.text(f"/dataset/{draft['name']}")
    assert "写明使用依据" in page and "共享条件" in page


def test_a_return_without_reason_shows_the_form_again(app, people, submitted):
    authority = _browser(app, people["sj-editor"])
    answer = authority.post(f"/review/{submitted['id']}/decide", {"decision": "return"})
    assert answer.status_code == 409
    assert "reason" in answer.get_data(as_text=True)


def test_the_revision_page_shows_the_diff(app, api, db, people, published):
    api.call("package_patch", {"id": published["id"], "title": "宁陕县特困人员名册（修订）"}, token=people["mz-editor"].token)
    review = _review(db, published["id"])
    page = _browser(app, people["sj-admin"]).text(f"/review/{review.id}")
    assert "宁陕县特困供养人员名册" in page and "宁陕县特困人员名册（修订）" in page
    assert _browser(app, people["sj-admin"]).post(f"/review/{review.id}/decide",
                                                   {"decision": "approve"}).status_code == 302
    assert api.call("package_show", {"id": published["id"]}).result["title"] == "宁陕县特困人员名册（修订）"


def test_outsiders_get_the_missing_page(app, people, submitted):
    for who in ("wj-editor", "wj-admin", "sj-member"):
        outsider = _browser(app, people[who])
        assert outsider.get(f"/review/{submitted['id']}").status_code == 404, who
        assert outsider.post(f"/review/{submitted['id']}/decide", {"decision": "approve"}).status_code == 404, who
        assert "宁陕县低保对象名册" not in outsider.text("/review"), who
    anonymous = Browser(app.test_client())
    assert anonymous.get(f"/review/{submitted['id']}").status_code in (302, 401)


def _form(**overrides) -> dict:
    values = {"title": "宁陕县高龄津贴名册", "name": "mz-gaoling", "owner_org": "ningshan-mzj", "category": "201",
              "resource_code": "201003/000009", "notes": "80 周岁以上老人高龄津贴发放名册。", "tags": "高龄",
              "share_type": "conditional", "share_condition": "限津贴核查", "share_channel": "platform",
              "share_method_type": "api", "open_type": "none", "open_condition": "含个人信息",
              "update_cycle": "monthly", "publish_date": "2026-11-20",
              "items-0-name": "姓名", "items-0-type": "C", "items-0-length": "", "items-0-description": ""}
    values.update(overrides)
    return values


def test_the_form_keeps_an_editors_dataset_a_draft_and_core_edits_wait(app, api, db, people):
    from catalog.departments.models import Department
    db.expire_all()
    mz = db.scalar(sa.select(Department.id).where(Department.name == "ningshan-mzj"))
    editor = _browser(app, people["mz-editor"])
    refused = editor.post("/dataset/new", {**_form(owner_org=mz), "action": "publish"})
    assert refused.status_code == 422 and "发布须经数据主管部门审核" in refused.get_data(as_text=True)
    assert editor.post("/dataset/new", {**_form(owner_org=mz), "action": "draft"}).status_code == 302
    # published by the authority, then edited in the form by the department: the title waits for review
    assert api.call("package_submit", {"id": "mz-gaoling"}, token=people["mz-admin"].token).status == 200
    assert api.call("package_review", {"id": "mz-gaoling", "decision": "approve"},
                    token=people["sj-admin"].token).status == 200
    saved = editor.post("/dataset/edit/mz-gaoling", {**_form(owner_org=mz, title="宁陕县高龄津贴发放名册（修订）"),
                                                      "action": "save"}, follow_redirects=True)
    assert "核心元数据的修改等待数据主管部门审核" in saved.get_data(as_text=True)
    assert api.call("package_show", {"id": "mz-gaoling"}).result["title"] == "宁陕县高龄津贴名册"


def test_the_dataset_page_shows_its_newest_review(app, api, people, published):
    """A revision returned, then a new one proposed: the department's page shows the new one waiting, not
    the returned one."""
    first = api.call("package_patch", {"id": published["id"], "title": "第一稿"}, token=people["mz-editor"].token)
    assert first.status == 200, first.body
    returned = api.call("package_review", {"id": published["id"], "decision": "return", "reason": "标题不规范"},
                        token=people["sj-admin"].token)
    assert returned.status == 200, returned.body
    page = _browser(app, people["mz-admin"]).text(f"/dataset/{published['name']}")
    assert "修订已退回" in page
    second = api.call("package_patch", {"id": published["id"], "title": "第二稿"}, token=people["mz-editor"].token)
    assert second.status == 200, second.body
    page = _browser(app, people["mz-admin"]).text(f"/dataset/{published['name']}")
    assert "修订待审核" in page and "修订已退回" not in page
