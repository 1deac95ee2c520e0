"""Issue 13: the officer's workspace — links that work in the browser, honest statuses, retries that succeed."""
from __future__ import annotations

import json
import re

import sqlalchemy as sa

from catalog.sharing.models import AccessLogEntry

FIELDS = [{"id": "code", "type": "text"}, {"id": "name", "type": "text"}]


def _table(api, make, catalog, **dataset) -> str:
    values = {"record_schema": None, **dataset}
    dataset_id = make.dataset(catalog.provider["id"], **values)["id"]
    created = api.call("datastore_create", {"resource": {"package_id": dataset_id}, "fields": FIELDS,
                                            "primary_key": "code"}, token=catalog.editor.token)
    assert created.status == 200, created.body
    resource_id = created.result["resource_id"]
    written = api.call("datastore_upsert", {"resource_id": resource_id,
                                            "records": [{"code": "a1", "name": "王芳"}]}, token=catalog.editor.token)
    assert written.status == 200, written.body
    return resource_id


def test_the_datastore_dump_link_works_for_a_logged_in_browser_and_is_logged(browser, catalog, api, make,
                                                                              db_session):
    resource_id = _table(api, make, catalog, private=True, name="private-table")
    url = f"/datastore/dump/{resource_id}?format=json"
    assert browser.get(url).status_code == 404  # anonymous: not even its existence
    browser.login(catalog.outsider.name)
    assert browser.get(url).status_code == 404  # logged in, but not of the department
    browser.post("/user/logout")
    browser.login(catalog.editor.name)
    response = browser.get(url)
    assert response.status_code == 200
    assert json.loads(response.get_data(as_text=True)) == [{"code": "a1", "name": "王芳"}]
    logged = db_session.scalars(sa.select(AccessLogEntry).where(AccessLogEntry.resource_id == resource_id)).all()
    assert [(e.action, e.user_name, e.record_count) for e in logged] == [("datastore_dump", catalog.editor.name, 1)]


COLUMNS = {"household_number": "户编号", "head_name": "户主姓名", "head_id_number": "户主身份证号",
           "members": "家庭成员", "address": "住址", "division_code": "区划代码", "town": "乡镇", "village": "村",
           "contact_cadre": "联系干部", "last_visit_date": "最近走访日期", "updated_at": "更新时间"}


def test_a_quarantined_source_row_of_a_mapped_job_is_fixed_and_retried(browser, catalog, make, db_session):
    """The edit box holds the source row (Chinese column names); the retry maps it as the run does."""
    from catalog.auth.models import User
    from catalog.datasets.resources import create_resource
    from catalog.datasets.service import get_dataset
    from catalog.datastore.models import QuarantinedRecord, Record
    from catalog.datastore.service import create_table
    from catalog.sync.models import SyncJob, SyncRun
    from tests.schemas.records_samples import households

    make.dataset("minzheng", name="huji", title="宁陕县住户信息", record_schema="household@1")
    dataset = get_dataset(db_session, "huji")
    editor = db_session.get(User, catalog.editor.id)
    resource = create_resource(db_session, editor, dataset, values={"name": "住户记录", "format": "JSON",
                                                                    "url": "http://localhost/pending"})
    create_table(db_session, editor, resource)
    job = SyncJob(name="huji-csv", title="户籍CSV同步", package_id=dataset.id, resource_id=resource.id,
                  source="csv", source_config={"connection": "gaj", "path": "huji.csv"},
                  mapping={"rename": {zh: key for key, zh in COLUMNS.items()}, "dates": ["last_visit_date"]})
    db_session.add(job)
    db_session.flush()
    run = SyncRun(job_id=job.id, status="succeeded", counts={"read": 1, "quarantined": 1})
    db_session.add(run)
    db_session.flush()
    record = next(iter(households(1, 9)))
    row = {COLUMNS[key]: value for key, value in record.items()}
    row["最近走访日期"] = "2026年13月01日"
    entry = QuarantinedRecord(resource_id=resource.id, source=f"sync:{run.id}", row_number=7, raw=row,
                              errors=[{"field": "last_visit_date", "keyword": "date", "message": "not a date"}])
    db_session.add(entry)
    db_session.commit()
    browser.login(catalog.editor.name)
    page = browser.text("/sync/quarantine?job=huji-csv")
    # labelled by its job and its field, not sync:<uuid> and last_visit_date
    assert "户编号" in page and "户籍CSV同步" in page and f"sync:{run.id}" not in page and "最近走访日期</span>：" in page
    # still wrong: the mapping's own error on the date, not "required" errors for every field
    response = browser.post(f"/sync/quarantine/{entry.id}", {"action": "retry", "record": json.dumps(
        {**row, "最近走访日期": "2026年14月01日"}, ensure_ascii=False)})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "last_visit_date" in page and "head_name" not in page
    response = browser.post(f"/sync/quarantine/{entry.id}", {"action": "retry", "record": json.dumps(
        {**row, "最近走访日期": "2026年1月24日"}, ensure_ascii=False)})
    assert response.status_code == 302, response.get_data(as_text=True)[:1500]
    db_session.expire_all()
    assert db_session.get(QuarantinedRecord, entry.id).status == "retried"
    stored = db_session.scalar(sa.select(Record.data).where(Record.resource_id == resource.id,
                                                            Record.key == record["household_number"]))
    assert stored == record


def test_resource_urls_are_absolute_and_say_whether_the_datastore_is_active(api, catalog, make, db_session, app,
                                                                            client, monkeypatch):
    from catalog.config import DEFAULTS
    from catalog.datasets.models import Resource

    resource_id = _table(api, make, catalog, name="open-table")
    resource = db_session.get(Resource, resource_id)
    resource.url = f"/datastore/dump/{resource_id}"  # as a sync job's resource is made
    db_session.commit()
    shown = api.call("package_show", {"id": "open-table"}, token=catalog.editor.token).result["resources"][0]
    assert shown["url"] == f"http://localhost/datastore/dump/{resource_id}" and shown["datastore_active"] is True
    # SITE_URL left at its default: the address the request came to, not port 5000
    monkeypatch.setitem(app.config, "SITE_URL", DEFAULTS["SITE_URL"])
    reply = client.get("/api/3/action/resource_show", query_string={"id": resource_id},
                       headers={"Authorization": catalog.editor.token}, base_url="http://catalog.example:8080")
    assert reply.get_json()["result"]["url"] == f"http://catalog.example:8080/datastore/dump/{resource_id}"
    link = api.call("resource_create", {"package_id": "open-table", "url": "https://example.gov.cn/a.csv"},
                    token=catalog.editor.token).result
    assert link["url"] == "https://example.gov.cn/a.csv" and link["datastore_active"] is False


def _form(catalog, **overrides) -> dict:
    from tests.web.test_dataset_form import form

    return form(catalog, **overrides)


def test_statuses_say_what_happened(browser, catalog, db_session):
    browser.login(catalog.editor.name)
    # a draft with no update cycle: no "up to date" badge
    response = browser.post("/dataset/new", {**_form(catalog, update_cycle=""), "action": "draft"})
    assert response.status_code == 302
    page = browser.text("/dataset/dibao-duixiang")
    assert "草稿已保存" in page and "按时更新" not in page
    response = browser.post("/dataset/edit/dibao-duixiang", {**_form(catalog, update_cycle="irregular"),
                                                              "revision": "1", "action": "publish"})
    assert response.status_code == 302
    page = browser.text("/dataset/dibao-duixiang")
    assert "数据资源已发布" in page and "发布了数据资源" in page
    assert "按时更新" not in page and "不定期更新" in page
    # a plain save of a published dataset is not announced as a publication, and says what changed
    revision = re.search(r'name="revision" value="(\d+)"', browser.text("/dataset/edit/dibao-duixiang")).group(1)
    response = browser.post("/dataset/edit/dibao-duixiang", {**_form(catalog, title="宁陕县低保对象名册"),
                                                              "revision": revision, "action": "save"})
    assert response.status_code == 302
    page = browser.text("/dataset/dibao-duixiang")
    assert "修改已保存" in page and "数据资源已发布" not in page
    assert re.search(r"修改了数据资源：[^<]*信息资源名称", page), page[page.find('class="activity"'):][:800]


def test_resources_are_added_edited_and_deleted_in_the_browser(browser, catalog, make, db_session, app):
    import io

    make.dataset("minzheng", name="dibao")
    browser.login(catalog.asker.name)  # another department's editor
    assert browser.get("/dataset/dibao/resource/new").status_code == 403
    browser.login(catalog.editor.name)
    assert "添加资源" in browser.text("/dataset/dibao")
    empty = browser.post("/dataset/dibao/resource/new", {"name": "名单"})
    assert empty.status_code == 422 and "请填写网址或选择要上传的文件" in empty.get_data(as_text=True)
    response = browser.post("/dataset/dibao/resource/new", {
        "name": "低保名单", "description": "按月更新", "url": "", "format": "",
        "upload": (io.BytesIO("姓名\n王芳\n".encode()), "dibao.csv")}, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    page = browser.text(response.headers["Location"])
    assert "资源已添加" in page and "低保名单" in page and "上传的文件" in page and "CSV" in page
    download = re.search(r'href="(/dataset/[^"]+/download/dibao.csv)"', page).group(1)
    assert browser.get(download).data == "姓名\n王芳\n".encode()
    edit_url = re.search(r'href="(/dataset/dibao/resource/[^"]+/edit)"', page).group(1)
    response = browser.post(edit_url, {"name": "低保对象名单", "description": "", "format": "CSV"})
    assert response.status_code == 302
    page = browser.text("/dataset/dibao")
    assert "低保对象名单" in page, page[page.find("class=\"activity\""):][:600]
    assert "修改了资源：描述、名称" in page, page[page.find("class=\"activity\""):][:600]
    delete_url = edit_url.replace("/edit", "/delete")
    browser.login(catalog.asker.name)
    assert browser.post(delete_url).status_code == 403
    browser.login(catalog.editor.name)
    assert browser.post(delete_url).status_code == 302
    page = browser.text("/dataset/dibao")
    assert "低保对象名单" not in page.split('id="res-h"')[1].split("</section>")[0]
    assert "删除了资源“低保对象名单”" in page


def test_the_explorer_pages_filters_labels_and_masks_as_the_grant_says(browser, catalog, make, db_session):
    from tests.web.test_sharing_sync_health import household_dataset

    _dataset, resource = household_dataset(make, db_session, catalog, records=45)
    url = f"/dataset/huji/resource/{resource.id}"
    browser.login(catalog.editor.name)
    page = browser.text(url)
    assert "共 45 条记录" in page and '<th scope="col" title="head_name">户主姓名</th>' in page
    assert '<table class="sub">' in page and 'aria-current="page" class="current">1<' in page
    assert f'href="{url}?page=3"' in page  # 20 a page: three pages, numbered
    first = re.findall(r'<th scope="col" title="household_number">|<td>(6109\d{14})</td>', page)
    number = next(n for n in first if n)
    page = browser.text(f"{url}?f.household_number={number}")
    assert "共 1 条记录" in page
    # another department with a grant for head_name only: the rest of the sensitive fields are masked,
    # and filtering on a masked field is refused, not answered
    from catalog.auth.models import User
    from catalog.datasets.service import get_dataset
    from catalog.sharing.service import approve_request, create_request

    asker = db_session.get(User, catalog.asker.id)
    request = create_request(db_session, asker, dataset=get_dataset(db_session, "huji"),
                             organization_id=catalog.consumer["id"], purpose="核实", basis="《社会救助暂行办法》第十一条", scenario="低保对象资格核查", fields=["head_name"],
                             expires=None, config={})
    approve_request(db_session, db_session.get(User, catalog.admin.id), request, fields=["head_name"],
                    expires=None)
    db_session.commit()
    browser.login(catalog.asker.name)
    page = browser.text(url)
    assert "共 45 条记录" in page and "已脱敏字段" in page and "户主公民身份号码" in page.split("已脱敏字段")[1][:300]
    assert not re.search(r"<td>6109\d{12}[0-9X]{2}</td>", page.split("<tbody>")[1].split("</tbody>")[0]
                         .replace(f"<td>{number}</td>", ""))  # no clear resident ID
    refused = browser.text(f"{url}?f.head_id_number=610923197101027800")
    section = refused.split('id="explore-h"')[1].split("</section>")[0]
    assert "不能按已脱敏的字段筛选：户主公民身份号码" in section and "<tbody>" not in section
    # an outsider sees nothing of the records
    browser.login(catalog.outsider.name)
    assert "户主姓名</th>" not in browser.text(url)


def test_the_dashboard_shows_what_waits_for_me(browser, catalog, make, db_session):
    from catalog.auth.models import User
    from catalog.datasets.service import get_dataset
    from catalog.sharing.service import create_request
    from tests.web.test_sharing_sync_health import household_dataset

    household_dataset(make, db_session, catalog, records=1)
    asker = db_session.get(User, catalog.asker.id)
    request = create_request(db_session, asker, dataset=get_dataset(db_session, "huji"),
                             organization_id=catalog.consumer["id"], purpose="核实", basis="《社会救助暂行办法》第十一条", scenario="低保对象资格核查", fields=[], expires=None,
                             config={})
    db_session.commit()
    response = browser.post("/user/login", {"name": catalog.admin.name, "password": "correct-horse"})
    assert response.headers["Location"] == "/dashboard"  # the landing page after login
    page = browser.text("/dashboard")
    approvals = page.split('id="appr-h"')[1].split("</section>")[0]
    assert "宁陕县住户信息" in approvals and request.deadline.isoformat() in approvals
    assert "宁陕县人力资源和社会保障局" in approvals
    browser.login(catalog.asker.name)
    page = browser.text("/dashboard")
    assert "暂无待您审批的申请" in page and "宁陕县住户信息" in page.split('id="mine-h"')[1].split("</section>")[0]
    assert "待处理" in page


def test_a_dataset_is_withdrawn_deleted_and_restored_in_the_browser(browser, catalog, make, db_session):
    make.dataset("minzheng", name="dibao", title="宁陕县低保对象")
    browser.login(catalog.asker.name)
    assert browser.post("/dataset/dibao/state/withdraw").status_code == 403
    browser.login(catalog.editor.name)
    assert browser.post("/dataset/dibao/state/withdraw").status_code == 302
    page = browser.text("/dataset/dibao")
    assert "已撤回" in page and "撤回了数据资源" in page and "草稿" in page
    browser.post("/user/logout")
    assert "宁陕县低保对象" not in browser.text("/dataset?q=低保")  # readers no longer find it
    browser.login(catalog.editor.name)
    assert browser.post("/dataset/dibao/state/delete").status_code == 302
    page = browser.text("/dataset/dibao")
    assert "已删除" in page and "恢复" in page
    assert browser.post("/dataset/dibao/state/restore").status_code == 302
    page = browser.text("/dataset/dibao")
    assert "恢复了数据资源" in page and "草稿" in page


def test_accounts_are_created_added_and_their_passwords_changed_in_the_browser(browser, catalog, sysadmin):
    browser.login(catalog.admin.name)
    assert browser.get("/user/new").status_code == 403  # a department admin does not create accounts
    browser.login(sysadmin.name)
    differ = browser.post("/user/new", {"name": "zhang_san", "fullname": "张三", "email": "",
                                        "password": "first-password", "password_confirm": "other"})
    assert differ.status_code == 422 and "两次输入的密码不一致" in differ.get_data(as_text=True)
    short = browser.post("/user/new", {"name": "zhang_san", "password": "short", "password_confirm": "short"})
    assert short.status_code == 422 and "至少 8 个字符" in short.get_data(as_text=True)
    created = browser.post("/user/new", {"name": "zhang_san", "fullname": "张三", "email": "",
                                         "password": "first-password", "password_confirm": "first-password"})
    assert created.status_code == 302 and "账号 zhang_san 已创建" in browser.text(created.headers["Location"])
    # the department admin adds the new account as an editor
    browser.login(catalog.admin.name)
    added = browser.post("/organization/minzheng/members", {"username": "zhang_san", "role": "editor"})
    assert added.status_code == 302
    # the new officer logs in, and changes the password (the current one is needed)
    browser.login("zhang_san", "first-password")
    assert "宁陕县民政局" in browser.text("/dashboard")
    wrong = browser.post("/user/zhang_san/password", {"current_password": "guess", "password": "second-password",
                                                      "password_confirm": "second-password"})
    assert wrong.status_code == 422 and "与当前密码不符" in wrong.get_data(as_text=True)
    changed = browser.post("/user/zhang_san/password", {"current_password": "first-password",
                                                        "password": "second-password",
                                                        "password_confirm": "second-password"})
    assert changed.status_code == 302
    browser.post("/user/logout")
    assert browser.post("/user/login", {"name": "zhang_san", "password": "first-password"}).status_code == 401
    browser.login("zhang_san", "second-password")
    # nobody else's password: another officer cannot reset it
    assert browser.post(f"/user/{catalog.editor.name}/password",
                        {"password": "taken-over-1", "password_confirm": "taken-over-1"}).status_code == 403
    # the sysadmin resets a forgotten one without knowing it
    browser.login(sysadmin.name)
    reset = browser.post("/user/zhang_san/password", {"password": "third-password",
                                                      "password_confirm": "third-password"})
    assert reset.status_code == 302
    browser.post("/user/logout")
    browser.login("zhang_san", "third-password")


def _visible_text(page: str) -> str:
    """What a reader sees: no tags, attributes, code samples or editable raw rows."""
    page = re.sub(r"(?s)<(script|style|pre|code|textarea)\b.*?</\1>", " ", page)
    return re.sub(r"<[^>]+>", " ", page)


def test_the_chinese_pages_show_no_field_keys_and_no_untranslated_messages(browser, catalog, make, db_session):
    from babel.messages.pofile import read_po
    from schemas import load_schema
    from tests.web.test_sharing_sync_health import TRANSLATIONS, household_dataset

    _dataset, resource = household_dataset(make, db_session, catalog, records=3)
    schema = load_schema("records", "household", 1)
    keys = set(schema["properties"]) | set(schema["properties"]["members"]["items"]["properties"])
    keys = {k for k in keys if "_" in k}  # e.g. head_id_number; plain words such as "name" are ambiguous
    with open(TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po", "rb") as f:
        english = [m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id]
    sentences = [m for m in english if " " in m and "%(" not in m and len(m) > 12]
    pages = ["/dataset/huji", f"/dataset/huji/resource/{resource.id}", "/dashboard", "/sharing", "/sync",
             "/sync/quarantine", f"/user/{catalog.editor.name}", "/dataset/new", "/dataset", "/organization",
             "/dataset/huji/resource/new"]
    browser.login(catalog.editor.name)
    for url in pages:
        text = _visible_text(browser.text(url))
        shown_keys = sorted(k for k in keys if re.search(rf"\b{k}\b", text))
        assert not shown_keys, (url, shown_keys)
        untranslated = [s for s in sentences if s in text]
        assert not untranslated, (url, untranslated[:5])
    browser.login(catalog.asker.name)
    text = _visible_text(browser.text("/dataset/huji/request-access"))
    assert not [k for k in keys if re.search(rf"\b{k}\b", text)]


def test_the_url_name_is_made_from_the_title_when_left_empty(browser, catalog, db_session):
    from catalog.datasets.models import Dataset

    browser.login(catalog.editor.name)
    first = browser.post("/dataset/new", {**_form(catalog, name="", title="宁陕县低保对象"), "action": "draft"})
    assert first.status_code == 302, re.findall(r"field-error[^>]*>([^<]+)", first.get_data(as_text=True))
    assert first.headers["Location"] == "/dataset/ning-shan-xian-di-bao-dui-xiang"
    second = browser.post("/dataset/new", {**_form(catalog, name="", title="宁陕县低保对象", resource_code="301001/000002"),
                                           "action": "draft"})
    assert second.headers["Location"] == "/dataset/ning-shan-xian-di-bao-dui-xiang-2"
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Dataset)) == 2


def test_facets_show_more_and_classifications_by_name(browser, catalog, make):
    for n in range(11):
        make.dataset("minzheng", name=f"ds-{n}", tags=[f"标签{n:02d}"], category="101")
    page = browser.text("/dataset")
    tags = page.split("<h2>标签</h2>")[1].split("</section>")[0]
    assert tags.count("<li>") == 10 and "显示更多" in tags
    more = re.search(r'href="([^"]*more=tags[^"]*)"', tags).group(1).replace("&amp;", "&")
    tags = browser.text(more).split("<h2>标签</h2>")[1].split("</section>")[0]
    assert tags.count("<li>") == 11 and "显示更多" not in tags
    assert "人口基础信息 (101)" in page  # the classification facet names the code
    assert "人口基础信息 (101)" in browser.text("/dataset/ds-0")


def test_the_english_pages_show_no_chinese_interface_strings(browser, catalog, make, db_session):
    from babel.messages.pofile import read_po
    from tests.web.test_sharing_sync_health import TRANSLATIONS, household_dataset

    _dataset, resource = household_dataset(make, db_session, catalog, records=3)
    with open(TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po", "rb") as f:
        chinese = {m.string if isinstance(m.string, str) else m.string[0] for m in read_po(f) if m.id and m.string}
    chinese = {s for s in chinese if "%(" not in s and len(s) >= 4}
    data = ("全县户籍人口基本信息",)  # the seeded dataset's own notes, not interface text
    browser.login(catalog.editor.name)
    browser.get("/lang/en")
    for url in ["/dataset/huji", f"/dataset/huji/resource/{resource.id}", "/dashboard", "/sharing", "/sync",
                f"/user/{catalog.editor.name}", "/dataset/new", "/dataset", "/dataset/huji/resource/new"]:
        text = _visible_text(browser.text(url))
        for value in data:
            text = text.replace(value, " ")
        shown = [s for s in chinese if s in text]
        assert not shown, (url, shown[:5])
    text = _visible_text(browser.text(f"/dataset/huji/resource/{resource.id}"))
    assert "Head of household" in text and ("Male" in text or "Female" in text)  # labels in English too
