"""Sharing requests, the record preview under the share rules, sync runs and the quarantine,
catalog health, and the translation catalogs."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from catalog.auth.models import User
from catalog.datasets.resources import create_resource
from catalog.datasets.service import get_dataset
from catalog.datastore.models import QuarantinedRecord, Record
from catalog.datastore.service import create_table, upsert_records
from catalog.sharing.models import ShareRequest
from catalog.sync.models import SyncJob, SyncRun
from tests.schemas.records_samples import households


def household_dataset(make, db_session, catalog, *, records: int = 3):
    """A conditionally shared household dataset with a DataStore resource holding ``records`` rows."""
    make.dataset("minzheng", name="huji", title="宁陕县住户信息", record_schema="household@1")
    dataset = get_dataset(db_session, "huji")
    editor = db_session.get(User, catalog.editor.id)
    resource = create_resource(db_session, editor, dataset, values={"name": "住户记录", "format": "JSON",
                                                                    "url": "http://localhost/pending"})
    table = create_table(db_session, editor, resource)
    upsert_records(db_session, editor, table, list(households(records, 3)))
    db_session.commit()
    return dataset, resource


def test_preview_is_masked_by_the_viewers_rights_and_logged(browser, catalog, make, db_session):
    _dataset, _resource = household_dataset(make, db_session, catalog)
    anonymous = browser.text("/dataset/huji")
    assert "您不能查看这些记录" in anonymous and "申请使用" not in anonymous
    browser.login(catalog.editor.name)
    own = browser.text("/dataset/huji")
    assert "共 3 条记录，显示 3 条" in own and "已脱敏字段" not in own
    browser.login(catalog.asker.name)
    page = browser.text("/dataset/huji")
    assert "您不能查看这些记录" in page and "/dataset/huji/request-access" in page  # conditional: ask first
    assert "该数据资源为有条件共享，请先申请使用" in page  # the refusal in the page language
    from catalog.sharing.models import AccessLogEntry

    assert db_session.scalar(sa.select(sa.func.count()).select_from(AccessLogEntry)) == 1


def test_request_access_then_approve_with_fields_and_expiry(browser, catalog, make, db_session):
    household_dataset(make, db_session, catalog)
    browser.login(catalog.asker.name)
    page = browser.text("/dataset/huji/request-access")
    # the fields are offered by their labels, never by their keys
    assert 'value="head_id_number"> 户主公民身份号码' in page and 'value="members.*.phone"> 家庭成员 › 联系电话' in page
    assert "宁陕县人力资源和社会保障局" in page
    response = browser.post("/dataset/huji/request-access", {"purpose": "", "organization_id": catalog.consumer["id"]})
    assert response.status_code == 422 and 'id="purpose-error"' in response.get_data(as_text=True)
    response = browser.post("/dataset/huji/request-access", [
        ("organization_id", catalog.consumer["id"]), ("purpose", "核实就业困难人员"),
        ("basis", "《就业促进法》第五十二条"), ("scenario", "就业困难人员认定"), ("fields", "head_name"),
        ("expires", (dt.date.today() + dt.timedelta(days=200)).isoformat())])
    assert response.status_code == 302
    outgoing = browser.text("/sharing")
    assert "核实就业困难人员" in outgoing and "待处理" in outgoing
    request_id = db_session.scalar(sa.select(ShareRequest.id))
    # the requester cannot decide; the provider's editor is not an admin either
    assert browser.post(f"/sharing/{request_id}/decide", {"action": "approve"}).status_code == 403
    browser.login(catalog.admin.name)
    page = browser.text("/sharing")
    assert f'action="/sharing/{request_id}/decide"' in page and "答复期限" in page
    response = browser.post(f"/sharing/{request_id}/decide", {"action": "reject", "reason": ""})
    assert response.status_code == 422 and "此项必填" in response.get_data(as_text=True) or \
        "refusal must state" in response.get_data(as_text=True)
    until = (dt.date.today() + dt.timedelta(days=90)).isoformat()
    response = browser.post(f"/sharing/{request_id}/decide", [("action", "approve"), ("fields", "head_name"),
                                                              ("expires", until)])
    assert response.status_code == 302
    browser.login(catalog.asker.name)
    page = browser.text("/dataset/huji")
    assert "共 3 条记录，显示 3 条" in page and "已脱敏字段" in page and "户主公民身份号码" in page.split(
        "已脱敏字段")[1][:200]
    # labelled columns, coded values by their names, members as a sub-table
    assert '<th scope="col" title="head_id_number">户主公民身份号码</th>' in page
    assert '<table class="sub">' in page and "与户主关系" in page
    preview = page.split('class="preview"')[1].split("</table></div>")[0]
    assert re.search(r"<td>(男|女)</td>", preview) and not re.search(r"<td>[12]</td>", preview)


def test_overdue_requests_are_highlighted(browser, catalog, make, db_session):
    household_dataset(make, db_session, catalog)
    asker = db_session.get(User, catalog.asker.id)
    from catalog.sharing.service import create_request

    request = create_request(db_session, asker, dataset=get_dataset(db_session, "huji"),
                             organization_id=catalog.consumer["id"], purpose="核实", basis="《社会救助暂行办法》第十一条", scenario="低保对象资格核查", fields=[], expires=None,
                             config={})
    request.deadline = dt.date.today() - dt.timedelta(days=2)
    db_session.commit()
    browser.login(catalog.admin.name)
    page = browser.text("/sharing")
    assert f'<tr id="req-{request.id}" class="overdue">' in page and "已逾期" in page


def test_sync_jobs_runs_and_quarantine(browser, catalog, make, db_session):
    dataset, resource = household_dataset(make, db_session, catalog, records=1)
    job = SyncJob(name="huji-sync", title="户籍同步", package_id=dataset.id, resource_id=resource.id,
                  source="csv", source_config={"connection": "gaj-exports", "path": "huji.csv"})
    db_session.add(job)
    db_session.flush()
    started = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.timezone.utc)
    run = SyncRun(job_id=job.id, status="failed", started=started, finished=started + dt.timedelta(seconds=75),
                  counts={"read": 10, "inserted": 7, "quarantined": 2, "skipped": 1}, error_message="源文件无法读取",
                  log=["08:00:00 started"])
    db_session.add(run)
    editor = db_session.get(User, catalog.editor.id)
    bad = next(iter(households(1, 9)))
    bad["household_number"] = "12"  # too short: refused by the record schema
    table = create_table(db_session, editor, resource)
    upsert_records(db_session, editor, table, [bad], on_invalid="quarantine", source=f"sync:{run.id}")
    db_session.commit()
    browser.login(catalog.editor.name)
    page = browser.text("/sync")
    assert "户籍同步" in page and "失败" in page and "1 分 15 秒" in page and " min " not in page
    page = browser.text("/sync/job/huji-sync")
    assert "立即运行" in page and f"/sync/run/{run.id}" in page
    assert "CSV 文件 · gaj-exports" in page  # the kind of source, and the connection it reads
    # the settings in words, not the stored codes
    assert "全量刷新（读取整个来源）" in page and "按主键新增或更新" in page and "隔离无效行" in page
    assert "full_refresh" not in page and ">upsert<" not in page
    page = browser.text(f"/sync/run/{run.id}")
    assert "源文件无法读取" in page and "08:00:00 开始运行" in page
    page = browser.text("/sync/quarantine?job=huji-sync")
    assert "household_number" in page
    entry_id = db_session.scalar(sa.select(QuarantinedRecord.id))
    # a fix that is still wrong stays in quarantine with the errors shown
    response = browser.post(f"/sync/quarantine/{entry_id}", {"action": "retry", "record": "{not json"})
    assert response.status_code == 422 and "不是有效的 JSON" in response.get_data(as_text=True)
    fixed = {**bad, "household_number": "610923100001010001"}
    import json

    response = browser.post(f"/sync/quarantine/{entry_id}", {"action": "retry", "record": json.dumps(fixed)})
    # the corrected record is written: the entry leaves the quarantine and the record is in the DataStore
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    db_session.expire_all()
    assert db_session.get(QuarantinedRecord, entry_id).status == "retried"
    assert "household_number" not in browser.text("/sync/quarantine?job=huji-sync")
    stored = db_session.scalar(sa.select(Record.data).where(Record.resource_id == resource.id,
                                                            Record.key == "610923100001010001"))
    assert stored == fixed
    # the other department sees nothing of it
    browser.login(catalog.asker.name)
    assert "户籍同步" not in browser.text("/sync")
    assert browser.get(f"/sync/run/{run.id}").status_code == 403
    assert browser.get("/sync/job/none-such").status_code == 404


def test_discard_needs_a_reason(browser, catalog, make, db_session):
    dataset, resource = household_dataset(make, db_session, catalog, records=0)
    editor = db_session.get(User, catalog.editor.id)
    table = create_table(db_session, editor, resource)
    upsert_records(db_session, editor, table, [{"household_number": "1"}], on_invalid="quarantine")
    db_session.commit()
    entry_id = db_session.scalar(sa.select(QuarantinedRecord.id))
    browser.login(catalog.editor.name)
    response = browser.post(f"/sync/quarantine/{entry_id}", {"action": "discard", "reason": ""})
    assert response.status_code == 422
    response = browser.post(f"/sync/quarantine/{entry_id}", {"action": "discard", "reason": "重复行"})
    assert response.status_code == 302 and "隔离区为空" in browser.text("/sync/quarantine")


def test_catalog_health_is_for_the_data_authority(browser, catalog, make, sysadmin):
    make.dataset("minzheng", name="aa")
    make.dataset("minzheng", name="bb")
    make.dataset("renshe", name="cc")
    browser.login(catalog.editor.name)
    assert browser.get("/health").status_code == 403  # an editor is not an admin
    browser.login(catalog.admin.name)
    page = browser.text("/health")  # a department admin: their own department only
    assert "宁陕县民政局" in page and "宁陕县人力资源和社会保障局" not in page
    assert 'href="/health"' in browser.text("/dashboard")
    browser.login(sysadmin.name)
    page = browser.text("/health")
    assert "各部门数据资源数" in page and "<svg" in page and "宁陕县民政局" in page
    assert re.search(r'<rect x="0" y="1" width="100\.0" height="6" class="bar"><title>宁陕县民政局: 2', page)
    assert "逾期未答复的共享申请" in page and "失败的同步任务" in page


TRANSLATIONS = Path(__file__).resolve().parents[2] / "catalog" / "translations"


@pytest.mark.parametrize("code", ["zh", "en"])
def test_translation_catalogs_are_complete_and_compiled(code):
    from babel.messages.extract import extract_from_dir
    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[2]
    method_map = [("catalog/web/**.py", "python"), ("catalog/web/templates/**.html", "jinja2"),
                  ("catalog/messages.py", "python")]
    used = {message for _f, _l, message, *_rest in extract_from_dir(
        str(root), method_map, keywords={"_": None, "gettext": None, "N_": None, "lazy_gettext": None})}
    used = {m if isinstance(m, str) else m[0] for m in used}
    with open(TRANSLATIONS / code / "LC_MESSAGES" / "messages.po", "rb") as f:
        po = read_po(f)
    with open(TRANSLATIONS / code / "LC_MESSAGES" / "messages.mo", "rb") as f:
        mo = read_mo(f)
    translated = {(m.id if isinstance(m.id, str) else m.id[0]): (m.string if isinstance(m.string, str) else
                                                                   tuple(m.string))
                  for m in po if m.id and m.string and all(m.string) and not m.fuzzy}
    assert not used - set(translated), f"untranslated in {code}: {sorted(used - set(translated))[:10]}"
    compiled = {(m.id if isinstance(m.id, str) else m.id[0]): (m.string if isinstance(m.string, str) else
                                                                tuple(m.string)) for m in mo if m.id}
    assert compiled == translated, "the .mo is stale: run pybabel compile"
