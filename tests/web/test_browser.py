"""Real-browser tests: headless Chromium (Debian's package) driven by Playwright against the app served
on a loopback port. They run on SQLite only (the pages are the same on both databases; the
test-client tests cover PostgreSQL) and share one browser for the session. Each saves a screenshot
in build/screenshots/; with ``UPDATE_SCREENSHOTS=1`` they replace the tracked ones in docs/screenshots/
(the README shows two of them), so an ordinary test run leaves the working tree clean."""
from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = os.environ.get("CATALOG_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]


def screenshots_folder() -> Path:
    """build/screenshots, or the tracked docs/screenshots when ``UPDATE_SCREENSHOTS=1``."""
    return ROOT / ("docs" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else "build") / "screenshots"


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for every browser test of the session."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def site(request, database_url, live_url):
    """The live app's URL; SQLite only."""
    if not database_url.startswith("sqlite"):
        pytest.skip("browser tests run on SQLite only")
    return live_url


@pytest.fixture
def page_for(chromium, site):
    """``page_for(user)``: a fresh browser context (own cookies), logged in as ``user`` when given."""
    contexts = []

    def open_page(user=None, *, locale="zh-CN"):
        context = chromium.new_context(locale=locale, viewport={"width": 1280, "height": 900},
                                       extra_http_headers={"Accept-Language": locale})
        context.set_default_timeout(15000)
        contexts.append(context)
        page = context.new_page()
        if user is not None:
            english = locale.startswith("en")
            page.goto(f"{site}/user/login")
            page.get_by_label("User name" if english else "用户名").fill(user.name)
            page.get_by_label("Password" if english else "密码").fill("correct-horse")
            page.get_by_role("button", name="Log in" if english else "登录").click()
            page.wait_for_url(re.compile(r"/dashboard"))
        return page

    yield open_page
    for context in contexts:
        context.close()


def shot(page, name: str) -> None:
    folder = screenshots_folder()
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_register_publish_find_and_switch_language(page_for, site, catalog, make):
    make.dataset("minzheng", name="huji-renkou", title="宁陕县户籍人口信息表")
    page = page_for(catalog.editor)
    page.goto(f"{site}/dataset/new")
    page.get_by_label("信息资源名称").fill("")
    page.get_by_label("标识名").fill("dibao-duixiang")
    page.get_by_label("信息资源分类").fill("301")
    page.get_by_label("信息资源代码").fill("301001/000001")
    page.get_by_label("信息资源摘要").fill("全县城乡低保对象名单，按月更新。")
    page.get_by_label("标签").fill("低保, 救助")
    page.get_by_label("共享类型").select_option("conditional")
    page.get_by_label("共享条件").fill("仅限救助核实使用")
    page.get_by_label("开放类型").select_option("none")
    page.get_by_label("开放条件").fill("含个人信息")
    page.get_by_label("更新周期").select_option("monthly")
    page.get_by_label("发布日期").fill("2026-01-05")
    # two data items: the page offers blank rows; the JavaScript editor adds and moves rows in place
    page.locator("#items-0-name").fill("身份证号")
    page.locator("#items-0-type").select_option("C")
    page.locator("#items-1-name").fill("姓名")
    page.locator("#items-1-type").select_option("C")
    rows = page.locator("tr.item-row")
    before = rows.count()
    page.get_by_role("button", name="添加一行").click()
    assert rows.count() == before + 1
    page.get_by_role("button", name="第 2 行上移").click()  # 姓名 first, without a round trip
    assert page.locator("#items-0-name").input_value() == "姓名"
    page.get_by_role("button", name="发布").click()
    # the missing title is reported next to the field, and what was typed is kept
    error = page.locator("#title-error")
    assert error.inner_text() == "此项必填"
    assert page.locator("#f-title").get_attribute("aria-invalid") == "true"
    assert page.locator("#items-1-name").input_value() == "身份证号"
    page.get_by_label("信息资源名称").fill("宁陕县低保对象信息")
    page.get_by_role("button", name="发布").click()
    page.wait_for_url(f"{site}/dataset/dibao-duixiang")
    assert "数据资源已发布" in page.inner_text(".flashes")
    assert page.locator("table").nth(1).inner_text().index("姓名") < page.locator("table").nth(1).inner_text().index("身份证号")
    shot(page, "dataset")

    # find it by a Chinese word, then by pinyin
    page.goto(site)
    page.get_by_label("搜索词（中文、拼音或代码）").fill("低保")
    page.get_by_role("button", name="搜索").click()
    assert "找到 1 个数据资源" in page.inner_text(".summary")
    assert page.locator("mark").first.inner_text() == "低保"
    page.goto(f"{site}/dataset?q=dibao")
    link = page.get_by_role("link", name="宁陕县低保对象信息")
    assert link.count() == 1
    page.goto(f"{site}/dataset?q=宁陕")
    shot(page, "search")
    page.goto(f"{site}/dataset?q=dibao")
    link.click()
    page.wait_for_url(f"{site}/dataset/dibao-duixiang")

    # switch to English and back
    page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Core metadata").count() == 1
    assert "Conditional sharing" in page.inner_text("table.sheet")
    page.get_by_role("link", name="中文").click()
    assert page.get_by_role("heading", name="核心元数据").count() == 1


def test_create_and_revoke_a_token(page_for, site, catalog):
    page = page_for(catalog.editor)
    page.get_by_role("link", name=f"User {catalog.editor.name}").click()  # the account page, from the menu
    page.get_by_label("令牌名称").fill("同步脚本")
    page.get_by_label("权限范围").select_option("read")
    page.get_by_role("button", name="创建令牌").click()
    secret = page.locator("#new-token").inner_text()
    assert secret.startswith("cat_")
    shot(page, "token")
    import requests

    assert requests.get(f"{site}/api/3/action/package_list", headers={"Authorization": secret},
                        timeout=10).status_code == 200
    page.goto(f"{site}/user/{catalog.editor.name}")
    assert secret not in page.content()
    page.get_by_role("button", name="吊销令牌 同步脚本").click()
    assert "已吊销" in page.inner_text(".flashes")
    assert requests.get(f"{site}/api/3/action/package_list", headers={"Authorization": secret},
                        timeout=10).status_code == 403


def test_request_approve_explore_masked_records_and_download(page_for, site, catalog, make, db_session):
    """Another department asks for the household data, the provider approves it, and the asker explores the
    records masked as the grant says (the ID numbers in part, names in full) and downloads them."""
    from tests.web.test_sharing_sync_health import household_dataset

    _dataset, resource = household_dataset(make, db_session, catalog, records=25)
    asker = page_for(catalog.asker)
    asker.goto(f"{site}/dataset/huji")
    asker.get_by_role("link", name="申请使用").click()
    asker.get_by_label("用途").fill("核实就业困难人员的家庭情况")
    asker.locator("#f-basis").fill("《就业促进法》第五十二条")
    asker.locator("#f-scenario").fill("就业援助对象资格核查，仅经办人员查看")
    asker.get_by_label("户主姓名").check()  # a sensitive field asked for in clear
    asker.get_by_label("使用截止日期").fill((dt.date.today() + dt.timedelta(days=180)).isoformat())
    shot(asker, "request")
    asker.get_by_role("button", name="提交申请").click()
    asker.wait_for_url(f"{site}/sharing")
    assert "核实就业困难人员" in asker.inner_text("body")

    admin = page_for(catalog.admin)
    admin.goto(f"{site}/sharing")
    row = admin.locator("tr", has_text="核实就业困难人员")
    row.get_by_label("授权截止日期").fill((dt.date.today() + dt.timedelta(days=90)).isoformat())
    shot(admin, "sharing")
    row.get_by_role("button", name="同意", exact=True).click()
    assert "已同意该申请" in admin.inner_text(".flashes")
    asker.reload()
    assert "已同意" in asker.inner_text("table.requests >> nth=1")

    asker.goto(f"{site}/dataset/huji/resource/{resource.id}")
    assert "共 25 条记录" in asker.inner_text("body")
    table = asker.inner_text("table.preview")
    headers = asker.locator("table.preview > thead th").all_inner_texts()
    first = asker.locator("table.preview > tbody > tr").first.locator(":scope > td")
    head_id = first.nth(headers.index("户主公民身份号码")).inner_text()
    assert re.fullmatch(r"\d{6}\*{8}[\dX]{4}", head_id), head_id  # masked: 6 digits, 8 stars, the last 4
    assert "*" not in first.nth(headers.index("户主姓名")).inner_text()  # granted in clear
    shot(asker, "explorer-masked")
    download = asker.get_by_role("link", name="下载", exact=True).get_attribute("href")
    answer = asker.request.get(download if download.startswith("http") else site + download)
    assert answer.status == 200
    body = answer.text()
    assert head_id in body and "head_id_number" in body.splitlines()[0]  # the same masking as on the page


def test_attach_an_upload_and_explore_masked_records(page_for, site, catalog, make, db_session, tmp_path):
    """An officer attaches a file to a dataset; a granted reader explores the records, masked as the grant says."""
    from tests.web.test_sharing_sync_health import household_dataset

    _dataset, resource = household_dataset(make, db_session, catalog, records=30)
    editor = page_for(catalog.editor)
    assert "我的工作台" in editor.inner_text("h1")
    editor.goto(f"{site}/dataset/huji")
    editor.get_by_role("link", name="添加资源").click()
    editor.get_by_label("资源名称").fill("住户名册（表格）")
    upload = tmp_path / "huji.csv"
    upload.write_text("户编号,户主姓名\n610923110201051572,马兰\n", encoding="utf-8")
    editor.get_by_label("上传文件").set_input_files(str(upload))
    editor.get_by_role("button", name="保存").click()
    editor.wait_for_url(re.compile(r"/dataset/huji/resource/"))
    assert "资源已添加" in editor.inner_text(".flashes") and "上传的文件" in editor.inner_text("body")
    shot(editor, "resource-upload")
    editor.goto(f"{site}/dataset/huji/resource/{resource.id}")
    assert "共 30 条记录" in editor.inner_text("body") and "户主姓名" in editor.inner_text("table.preview thead")
    editor.get_by_role("link", name="2", exact=True).click()
    editor.wait_for_url(re.compile(r"page=2"))
    shot(editor, "explorer")


def test_the_dashboard_shows_a_pending_approval_with_its_deadline(page_for, site, catalog, make, db_session):
    from catalog.auth.models import User
    from catalog.datasets.service import get_dataset
    from catalog.sharing.service import create_request
    from tests.web.test_sharing_sync_health import household_dataset

    household_dataset(make, db_session, catalog, records=1)
    request = create_request(db_session, db_session.get(User, catalog.asker.id),
                             dataset=get_dataset(db_session, "huji"), organization_id=catalog.consumer["id"],
                             purpose="核实", basis="《社会救助暂行办法》第十一条", scenario="低保对象资格核查", fields=[], expires=None, config={})
    db_session.commit()
    admin = page_for(catalog.admin)
    card = admin.locator("section", has_text="待我审批的共享申请")
    assert "宁陕县住户信息" in card.inner_text() and request.deadline.isoformat() in card.inner_text()
    shot(admin, "dashboard")
    admin.get_by_role("link", name="目录运行情况").click()
    admin.get_by_role("link", name="1", exact=True).first.click()  # the department's dataset count opens its list
    assert "宁陕县住户信息" in admin.inner_text("main")
    admin.go_back()
    shot(admin, "health")


def test_create_an_account_add_it_to_a_department_and_log_in(page_for, site, catalog, sysadmin):
    admin = page_for(sysadmin)
    admin.get_by_role("link", name="创建账号").click()
    admin.get_by_label("用户名").fill("li_si")
    admin.get_by_label("姓名").fill("李四")
    admin.get_by_label("密码", exact=True).fill("li-si-password")
    admin.get_by_label("再次输入密码").fill("li-si-password")
    shot(admin, "account-new")
    admin.get_by_role("button", name="创建账号").click()
    admin.wait_for_url(f"{site}/user/li_si")
    department_admin = page_for(catalog.admin)
    department_admin.goto(f"{site}/organization/minzheng#members")
    department_admin.get_by_role("textbox", name="用户名").fill("li_si")
    department_admin.get_by_role("button", name="添加").click()
    assert "li_si" in department_admin.inner_text("#members")
    officer = page_for()
    officer.goto(f"{site}/user/login")
    officer.get_by_label("用户名").fill("li_si")
    officer.get_by_label("密码").fill("li-si-password")
    officer.get_by_role("button", name="登录").click()
    officer.wait_for_url(f"{site}/dashboard")
    assert "宁陕县民政局" in officer.inner_text("main")


def test_fix_a_quarantined_row_and_retry_it(page_for, site, catalog, make, db_session):
    """A mapped job's source row, refused for its date, is fixed in the edit box and written."""
    import json

    from catalog.datastore.models import QuarantinedRecord, Record
    from catalog.sync.models import SyncJob, SyncRun
    from tests.schemas.records_samples import households
    from tests.web.test_officer_workspace import COLUMNS
    from tests.web.test_sharing_sync_health import household_dataset

    dataset, resource = household_dataset(make, db_session, catalog, records=0)
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
    db_session.add(QuarantinedRecord(resource_id=resource.id, source=f"sync:{run.id}", row_number=7, raw=row,
                                     errors=[{"field": "last_visit_date", "keyword": "date",
                                              "message": "'2026年13月01日' is not a date"}]))
    db_session.commit()
    editor = page_for(catalog.editor)
    editor.goto(f"{site}/sync/quarantine?job=huji-csv")
    assert "最近走访日期：'2026年13月01日' 不是日期" in editor.inner_text("main")  # the engine's message, in Chinese
    box = editor.locator("textarea").first
    box.fill(json.dumps({**row, "最近走访日期": "2026年1月24日"}, ensure_ascii=False, indent=1))
    shot(editor, "quarantine")
    editor.get_by_role("button", name="修正后重试").click()
    assert "修正后的数据行已写入" in editor.inner_text(".flashes")
    db_session.expire_all()
    assert db_session.scalar(sa_count(Record, resource.id)) == 1


def sa_count(model, resource_id):
    import sqlalchemy as sa

    return sa.select(sa.func.count()).select_from(model).where(model.resource_id == resource_id)


def _chinese_interface_strings() -> set[str]:
    """The Chinese translations of the interface (zh catalog), as they would appear on a page."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    def strings(code: str) -> set[str]:
        with open(ROOT / "catalog" / "translations" / code / "LC_MESSAGES" / "messages.po", "rb") as f:
            return {m.string if isinstance(m.string, str) else m.string[0] for m in read_po(f) if m.id and m.string}

    # the English interface quotes a few Chinese terms on purpose ("not shared (不予共享)"): those may show
    method_map = [("catalog/web/**.py", "python"), ("catalog/web/templates/**.html", "jinja2"),
                  ("catalog/messages.py", "python")]
    msgids = [m[2] for m in extract_from_dir(str(ROOT), method_map, keywords={
        "_": None, "gettext": None, "N_": None, "lazy_gettext": None, "ngettext": (1, 2)})]
    english = [t for m in msgids for t in (m if isinstance(m, tuple) else (m,))] + list(strings("en"))
    quoted = {run for text in english for run in re.findall(r"[\u3000-\u9fff\uff00-\uffef]+", text or "")}
    return {s for s in strings("zh") if "%(" not in s and len(s) >= 3 and s not in quoted}


def _strings(value) -> set[str]:
    """Every text inside a JSON-like value (with at least one Chinese character)."""
    found, stack = set(), [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.update(part for part in re.split(r"[\s,，、]+", item) if re.search(r"[\u4e00-\u9fff]", part))
            found.add(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return found


def test_the_walk_in_english_shows_no_chinese_interface_strings(page_for, site, catalog, make, db_session, sysadmin):
    """The same pages in an English browser: every interface string in English; Chinese only in the data
    (titles, department names, record values)."""
    import sqlalchemy as sa

    from catalog.auth.models import User
    from catalog.datasets.service import get_dataset, metadata_of
    from catalog.datastore.models import Record
    from catalog.departments.models import Department
    from catalog.sharing.service import create_request
    from tests.web.test_sharing_sync_health import household_dataset

    _dataset, resource = household_dataset(make, db_session, catalog, records=3)
    create_request(db_session, db_session.get(User, catalog.asker.id), dataset=get_dataset(db_session, "huji"),
                   organization_id=catalog.consumer["id"], purpose="核实", basis="《社会救助暂行办法》第十一条",
                   scenario="低保对象资格核查", fields=[], expires=None, config={})
    db_session.commit()
    chinese = _chinese_interface_strings()
    data = sorted(_strings([metadata_of(get_dataset(db_session, "huji")),
                            [r.data for r in db_session.scalars(sa.select(Record))],
                            [d.title for d in db_session.scalars(sa.select(Department))],
                            ["核实", "《社会救助暂行办法》第十一条", "低保对象资格核查", "住户记录"]]),
                  key=len, reverse=True)
    walks = [
        (catalog.admin, ["/dashboard", "/sharing", "/health", "/dataset/huji", f"/dataset/huji/resource/{resource.id}",
                         "/organization/minzheng", "/sync", "/sync/quarantine"]),
        (catalog.editor, ["/dataset/new", "/dataset/huji/resource/new", f"/user/{catalog.editor.name}",
                          "/dataset?q=huji"]),
        (catalog.asker, ["/dataset/huji/request-access", f"/dataset/huji/resource/{resource.id}", "/dashboard"]),
        (sysadmin, ["/user/new", "/health"]),
    ]
    for user, urls in walks:
        page = page_for(user, locale="en-US")
        for url in urls:
            page.goto(site + url)
            assert page.locator("html").get_attribute("lang") == "en", url
            text = page.locator("body").inner_text()
            for value in data:  # the data's own Chinese (titles, data items, record values) is not interface
                text = text.replace(value, " ")
            shown = sorted(s for s in chinese if s in text)
            assert not shown, (user.name, url, shown[:8])
            controls = page.locator("button, label, legend, thead th, nav a").all_inner_texts()
            for control in controls:  # every control and column head, once the data is taken out
                for value in data:
                    control = control.replace(value, " ")
                assert not re.search(r"[\u4e00-\u9fff]", control) or control.strip() == "中文", (url, control)
        if user is catalog.editor:
            assert "1 dataset found" in page.inner_text(".summary")  # the singular, not "1 datasets"
            page.goto(f"{site}/dataset/huji/resource/{resource.id}")
            assert "Head of household" in page.inner_text("table.preview thead")
            shot(page, "explorer-en")
