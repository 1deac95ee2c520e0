"""Messages in the reader's language: the identifier checks, the JSON Schema messages and the sync
engine's conversions, shown in Chinese on the zh pages and in API answers that ask for Chinese, while
the API keeps its English codes and field names (and English text for clients that ask for none)."""
from __future__ import annotations

import re

import pytest

from catalog.messages import translate
from schemas import formats
from schemas.registry import get_validator

#: three or more English words in a row: what an untranslated message looks like
ENGLISH = re.compile(r"[A-Za-z]{2,}(?: [A-Za-z]{2,}){2,}")

# Inputs worked out from the standards (DOMAIN.md), one per rule of schemas/formats.py.
# 11010519491231002X is GB 11643's own example; 91350100M000100Y43 a published credit code.
BROKEN = [
    (formats.check_resident_id, "1101051949123100", "身份证号码应为 17 位数字加 1 位数字或 X（GB 11643）"),
    (formats.check_resident_id, "110105194913310028", "身份证号码中的出生日期 19491331 不是真实存在的日期（GB 11643）"),
    (formats.check_resident_id, "110105189901010028", "身份证号码中的出生日期 18990101 超出范围（GB 11643）"),
    (formats.check_resident_id, "110105194912310021", "身份证号码校验码应为 X（GB 11643）"),
    (formats.check_uscc, "91350100M000100YI3", "统一社会信用代码应为 18 位"),
    (formats.check_uscc, "91350100M000100Y44", "统一社会信用代码校验码应为 3（GB 32100）"),
    (formats.check_division_code, "61092", "行政区划代码应为 6 位数字"),
    (formats.check_division_code, "000923", "行政区划代码应以省级代码开头"),
    (formats.check_division_code, "610923600201", "乡级代码 600 应为 001–099（街道）"),
    (formats.check_mobile, "12912345678", "手机号码应为以 13 至 19 开头的 11 位数字"),
    (formats.check_household_number, "61092310020101157", "户编号应为 18 位数字"),
    (formats.check_date, "2026/01/03", "日期应写作 YYYY-MM-DD"),
    (formats.check_date, "2026-02-30", "日期 2026-02-30 不是真实存在的日期"),
    (formats.check_date_time, "2026-01-03 09:30", "日期时间应写作带时区的"),
    (formats.check_date_time, "2026-01-03T24:30:00+08:00", "日期时间 2026-01-03T24:30:00+08:00 不是真实存在的"),
    (formats.check_date_time, "2026-01-03T09:30:00+24:00", "2026-01-03T09:30:00+24:00 的时区偏移超出范围"),
]


@pytest.fixture
def zh(app):
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}):
        yield


@pytest.mark.parametrize(("check", "value", "chinese"), BROKEN, ids=[f"{c.__name__}-{v}" for c, v, _ in BROKEN])
def test_every_identifier_check_reads_in_chinese(zh, check, value, chinese):
    message = check(value)
    assert message is not None
    shown = translate(message)
    assert chinese in shown, (message, shown)
    assert not ENGLISH.search(shown), shown


def test_json_schema_messages_of_a_household_read_in_chinese(zh):
    household = {"household_number": "610923100201011572", "head_name": "", "head_id_number": "61092319800101001",
                 "members": [{"name": "马兰", "id_number": "110105194912310021", "sex": "3", "relation": "02",
                              "phone": "1381234567", "unknown": 1}],
                 "division_code": 610923, "extra": True}
    errors = get_validator("records", "household", 1).errors(household)
    assert len(errors) >= 6
    for error in errors:
        shown = translate(error.message)
        assert shown != error.message and not ENGLISH.search(shown), (error.path, error.message, shown)


def test_the_engines_conversion_messages_and_run_summaries_read_in_chinese(zh):
    assert translate("'2026年13月01日' is not a date") == "'2026年13月01日' 不是日期"
    assert translate("last_visit_date: Missing value; phone: mobile number must be 11 digits starting with 13 to "
                     "19") == "last_visit_date：此项必填；phone：手机号码应为以 13 至 19 开头的 11 位数字"
    assert translate("no such message, left as it is") == "no such message, left as it is"


def test_english_pages_and_programs_keep_the_english_text(app):
    message = formats.check_resident_id("110105194912310021")
    with app.test_request_context("/lang/en", headers={"Accept-Language": "en"}):
        assert translate(message) == message
    assert translate(message) == message  # outside a request (the CLI, the engine)


def test_the_api_answers_in_the_language_asked_for_with_english_codes(client, catalog, make):
    make.dataset("minzheng", name="huji")
    token = catalog.editor.token
    body = {"name": "huji", "record_schema": "nosuch"}
    english = client.post("/api/3/action/package_patch", json=body, headers={"Authorization": token}).get_json()
    chinese = client.post("/api/3/action/package_patch", json=body,
                          headers={"Authorization": token, "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).get_json()
    assert english["error"]["__type"] == chinese["error"]["__type"] == "Validation Error"
    assert english["error"].keys() == chinese["error"].keys()  # the same fields, named in English
    field = next(k for k in english["error"] if k != "__type")
    assert english["error"][field] == ["must name a record schema as name@version, e.g. household@1"]
    assert chinese["error"][field] == ["应以“名称@版本”指定记录模式，例如 household@1"]
    unknown = client.get("/api/3/action/no_such_action", headers={"Accept-Language": "zh-CN"}).get_json()
    assert unknown["error"] == {"__type": "Bad Request", "message": "未知的操作名称：no_such_action"}
    asked_english = client.get("/api/3/action/no_such_action", headers={"Accept-Language": "en-GB,zh;q=0.5"})
    assert asked_english.get_json()["error"]["message"] == "Action name not known: no_such_action"


def test_quarantine_errors_are_shown_in_chinese(browser, catalog, make, db_session):
    from catalog.datastore.models import QuarantinedRecord
    from catalog.sync.models import SyncJob, SyncRun
    from tests.web.test_sharing_sync_health import household_dataset

    dataset, resource = household_dataset(make, db_session, catalog, records=0)
    job = SyncJob(name="huji-csv", title="户籍CSV同步", package_id=dataset.id, resource_id=resource.id,
                  source="csv", source_config={"connection": "gaj", "path": "huji.csv"}, mapping={})
    db_session.add(job)
    db_session.flush()
    run = SyncRun(job_id=job.id, status="succeeded_with_errors", counts={"read": 1, "quarantined": 1})
    db_session.add(run)
    db_session.flush()
    db_session.add(QuarantinedRecord(resource_id=resource.id, source=f"sync:{run.id}", row_number=3,
                                     raw={"head_id_number": "110105194912310021"},
                                     errors=[{"field": "head_id_number", "keyword": "format",
                                              "message": formats.check_resident_id("110105194912310021")}]))
    db_session.commit()
    browser.login(catalog.editor.name)
    page = browser.text("/sync/quarantine")
    assert "身份证号码校验码应为 X（GB 11643）" in page and "check digit" not in page


def test_refusals_and_missing_objects_read_in_chinese(zh, browser, catalog, make):
    assert translate("Dataset not found: dibao") == "数据资源不存在：dibao"
    assert translate("Sync job not found: huji-csv") == "同步任务不存在：huji-csv"
    assert translate("Widget not found: 7") == "Widget not found: 7"  # not a thing the catalog has: left as it is
    assert translate("You cannot add resources to dataset huji") == "你不能向数据资源 huji 添加资源"


def test_an_api_refusal_reads_in_chinese_when_asked(client, catalog, make):
    make.dataset("minzheng", name="huji")
    body = {"package_id": "huji", "name": "名册", "url": "https://data.example.cn/a.csv"}
    headers = {"Authorization": catalog.asker.token}  # another department's editor
    english = client.post("/api/3/action/resource_create", json=body, headers=headers)
    chinese = client.post("/api/3/action/resource_create", json=body, headers={**headers, "Accept-Language": "zh"})
    assert english.status_code == chinese.status_code == 403
    assert english.get_json()["error"] == {"__type": "Authorization Error",
                                           "message": "You cannot add resources to dataset huji"}
    assert chinese.get_json()["error"] == {"__type": "Authorization Error", "message": "你不能向数据资源 huji 添加资源"}


def test_a_runs_counts_trigger_and_log_read_in_chinese(browser, catalog, make, db_session):
    from catalog.sync.models import SyncJob, SyncRun
    from tests.web.test_sharing_sync_health import household_dataset

    dataset, resource = household_dataset(make, db_session, catalog, records=0)
    job = SyncJob(name="huji-csv", title="户籍CSV同步", package_id=dataset.id, resource_id=resource.id,
                  source="csv", source_config={"connection": "gaj", "path": "huji.csv"}, mapping={})
    db_session.add(job)
    db_session.flush()
    run = SyncRun(job_id=job.id, trigger="manual", status="succeeded_with_errors",
                  counts={"read": 3, "inserted": 2, "quarantined": 1},
                  log=["09:30:00 queued for a worker", "09:30:01 started",
                       "09:30:01.250 INFO batch 1 committed: 3 rows: inserted 2, updated 0, unchanged 0, quarantined 1",
                       "09:30:01.300 WARNING something the catalog has no words for",
                       "09:30:02.100 INFO batch 2 committed: 2 rows: inserted 1, updated 0, unchanged 0, "
                       "quarantined 1; row 7: last_visit_date: '2026-13-01' is not a date; "
                       "members.1.phone: mobile number must be 11 digits starting with 13 to 19"])
    db_session.add(run)
    db_session.commit()
    browser.login(catalog.editor.name)
    page = browser.text(f"/sync/run/{run.id}")
    assert "<th scope=\"row\">读取行数</th><td>3</td>" in page and ">read<" not in page
    assert "手动运行（立即运行）" in page and ">manual<" not in page
    assert "09:30:00 排队等待执行" in page and "09:30:01 开始运行" in page
    assert "09:30:01.250 INFO 第 1 批已提交：3 行，新增 2，更新 0，未变 0，隔离 1" in page
    assert "09:30:01.300 WARNING something the catalog has no words for" in page  # shown as it is
    # a row's errors name the fields by the record schema's labels, as the quarantine page does
    assert ("第 7 行：最近走访日期：&#39;2026-13-01&#39; 不是日期；家庭成员 › 联系电话：手机号码应为以 13 至 19 开头的 11 位数字"
            in page), page
    assert "last_visit_date" not in page and "members.1.phone" not in page
    assert "<th scope=\"col\">读取行数</th>" in browser.text("/sync/job/huji-csv")
