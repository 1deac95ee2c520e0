"""Registering and editing datasets in the browser form: schema-driven fields, the data item rows
without JavaScript, inline errors, drafts and publishing, and who may do it."""
from __future__ import annotations

import re

import sqlalchemy as sa

from catalog.datasets.models import Dataset


def form(catalog, **overrides) -> dict:
    """A complete form as an officer fills it in, with two data items and one blank row."""
    values = {
        "title": "宁陕县低保对象信息", "name": "dibao-duixiang", "owner_org": catalog.provider["id"],
        "category": "301", "resource_code": "301001/000001", "notes": "全县低保对象名单，按月更新。",
        "tags": "低保, 救助", "share_type": "conditional", "share_condition": "仅限救助核实使用",
        "share_channel": "platform", "share_method_type": "api", "open_type": "none",
        "open_condition": "含个人信息", "update_cycle": "monthly", "publish_date": "2026-01-05",
        "related_codes": "101001/000123",
        "items-0-name": "姓名", "items-0-type": "C", "items-0-length": "50", "items-0-description": "",
        "items-1-name": "身份证号", "items-1-type": "C", "items-1-length": "18", "items-1-description": "GB 11643",
        "items-2-name": "", "items-2-type": "", "items-2-length": "", "items-2-description": "",
    }
    values.update(overrides)
    return values


def stored(db, name: str) -> Dataset:
    db.expire_all()
    return db.scalar(sa.select(Dataset).where(Dataset.name == name))


def test_the_form_is_built_from_the_metadata_profile(browser, catalog):
    browser.login(catalog.editor.name)
    page = browser.text("/dataset/new")
    for text in ("信息资源名称", "信息资源代码", "分类代码（类1位+项2位", "共享类型", "无条件共享", "更新周期", "每季度",
                 "信息项名称", "字符型", "（发布时必填）", "宁陕县民政局"):
        assert text in page, text
    assert '<label for="f-title">' in page and 'id="f-title"' in page
    assert '<script src="/assets/items.js"' in page
    english = browser.text("/dataset/new", headers={"Accept-Language": "en"})
    assert "Resource code" in english and "Unconditional sharing" in english and "Quarterly" in english
    # the consumer department's editor sees only their own department to register in
    browser.login(catalog.asker.name)
    page = browser.text("/dataset/new")
    assert "宁陕县人力资源和社会保障局" in page and "宁陕县民政局" not in page


def test_register_publish_with_two_data_items(browser, catalog, db):
    browser.login(catalog.editor.name)
    response = browser.post("/dataset/new", {**form(catalog), "action": "publish"})
    assert response.status_code == 302 and response.headers["Location"] == "/dataset/dibao-duixiang"
    dataset = stored(db, "dibao-duixiang")
    assert dataset.state == "active"
    assert [(i["name"], i["type"], i.get("length")) for i in dataset.items] == [("姓名", "C", 50), ("身份证号", "C", 18)]
    assert dataset.share_method == {"channel": "platform", "type": "api"}
    assert sorted(t.name for t in dataset.tags) == ["救助", "低保"] or sorted(t.name for t in dataset.tags) == ["低保", "救助"]
    assert dataset.related_codes == ["101001/000123"]
    page = browser.text("/dataset/dibao-duixiang")
    assert "数据资源已发布。" in page and "身份证号" in page


def test_a_missing_required_field_is_shown_next_to_it(browser, catalog, db):
    browser.login(catalog.editor.name)
    response = browser.post("/dataset/new", {**form(catalog, title="", **{"items-1-type": ""}), "action": "publish"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'id="f-title"[^>]*aria-invalid="true"', page)
    assert '<p class="field-error" id="title-error">此项必填</p>' in page
    assert 'id="items-1-type-error"' in page  # the row's own error, under its cell
    assert "请修改标出的项目" in page
    # what was typed is kept
    assert 'value="身份证号"' in page and "全县低保对象名单" in page
    assert stored(db, "dibao-duixiang") is None


def test_a_draft_may_be_incomplete_and_is_published_later(browser, catalog, db):
    browser.login(catalog.editor.name)
    minimal = {"title": "草稿资源", "name": "caogao", "owner_org": catalog.provider["id"], "action": "draft"}
    response = browser.post("/dataset/new", minimal)
    assert response.status_code == 302
    assert stored(db, "caogao").state == "draft"
    assert "/dataset/caogao" not in browser.text("/dataset")  # drafts are not in the public search
    # publishing the incomplete draft is refused with the fields named
    page = browser.post("/dataset/edit/caogao", {**minimal, "action": "publish"}).get_data(as_text=True)
    assert 'id="notes-error"' in page and 'id="resource_code-error"' in page
    response = browser.post("/dataset/edit/caogao", {**form(catalog, name="caogao", title="草稿资源"),
                                                     "action": "publish"})
    assert response.status_code == 302
    assert stored(db, "caogao").state == "active"


def test_data_item_rows_without_javascript(browser, catalog):
    browser.login(catalog.editor.name)
    values = form(catalog)
    # move row 1 up: the page comes back with the rows swapped and nothing saved
    page = browser.post("/dataset/new", {**values, "action": "up-1"}).get_data(as_text=True)
    assert page.index('value="身份证号"') < page.index('value="姓名"')
    # remove row 0
    page = browser.post("/dataset/new", {**values, "action": "remove-0"}).get_data(as_text=True)
    assert 'value="姓名"' not in page and 'value="身份证号"' in page
    # add a row: one more than the two filled rows and the two blank ones a new form offers
    before = browser.post("/dataset/new", {**values, "action": "up-0"}).get_data(as_text=True)
    page = browser.post("/dataset/new", {**values, "action": "add-row"}).get_data(as_text=True)
    assert page.count('class="item-row"') == before.count('class="item-row"') + 1 == 5


def test_edit_keeps_the_data_and_refuses_stale_revisions(browser, catalog, make, db):
    make.dataset("minzheng", name="huji")
    browser.login(catalog.editor.name)
    page = browser.text("/dataset/edit/huji")
    assert 'value="户编号"' in page and 'name="revision" value="1"' in page
    response = browser.post("/dataset/edit/huji", {**form(catalog, name="huji", title="改过的名称"),
                                                  "revision": "1", "action": "save"})
    assert response.status_code == 302
    assert stored(db, "huji").title == "改过的名称"
    stale = browser.post("/dataset/edit/huji", {**form(catalog, name="huji"), "revision": "1", "action": "save"})
    assert stale.status_code == 422 and "revision" in stale.get_data(as_text=True)


def test_who_may_register_and_edit(browser, catalog, make):
    make.dataset("minzheng", name="huji")
    response = browser.get("/dataset/new")
    assert response.status_code == 302 and response.headers["Location"].startswith("/user/login")
    browser.login(catalog.outsider.name)
    assert browser.get("/dataset/new").status_code == 403
    browser.login(catalog.asker.name)
    assert browser.get("/dataset/edit/huji").status_code == 403
    response = browser.post("/dataset/edit/huji", {**form(catalog, name="huji"), "action": "save"})
    assert response.status_code == 403
    # posting into another department is refused by the service's rule
    response = browser.post("/dataset/new", {**form(catalog), "action": "publish"})
    assert response.status_code == 403


def test_forms_without_the_csrf_token_are_refused(browser, catalog, api):
    browser.login(catalog.editor.name)
    response = browser.post("/dataset/new", {**form(catalog), "action": "publish"}, csrf=False)
    assert response.status_code == 400 and "表单已过期" in response.get_data(as_text=True)
    response = browser.post("/dataset/new", {**form(catalog), "action": "publish", "csrf_token": "forged"},
                            csrf=False)
    assert response.status_code == 400
    assert browser.post("/user/logout", csrf=False).status_code == 400
    # the token-authenticated Action API needs no CSRF token
    reply = api.call("package_create", {"name": "via-api", "title": "接口登记", "owner_org": "minzheng",
                                        "state": "draft"}, token=catalog.editor.token)
    assert reply.status == 200, reply.body
