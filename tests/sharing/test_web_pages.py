"""The share workflow in the officers' pages (Chinese by default): return and resubmit, extension,
grants with suspension and use records, and the dashboard panel."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from catalog.sharing.models import Grant, ShareRequest, UsageRecord
from tests.sharing.cast import approve, backdate, file_request
from tests.web.conftest import Browser


@pytest.fixture
def browser(client):
    return Browser(client)


def _login(browser, cast, role):
    browser.login(cast.people[role].name)


def test_return_and_resubmit_through_the_pages(api, browser, db, share_cast):
    made = file_request(api, share_cast)
    _login(browser, share_cast, "provider_admin")
    page = browser.text("/sharing")
    assert "《社会救助暂行办法》第十一条" in page and "退回补正" in page and "申请延期" in page
    response = browser.post(f"/sharing/{made['id']}/decide", {"action": "return", "missing_basis": "请写明具体条款",
                                                             "missing_other": "附上经办人联系方式"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    db.expire_all()
    assert db.get(ShareRequest, made["id"]).missing == {"basis": "请写明具体条款", "other": "附上经办人联系方式"}
    empty = browser.post(f"/sharing/{made['id']}/decide", {"action": "return"})
    assert empty.status_code == 422
    _login(browser, share_cast, "consumer_editor")
    page = browser.text("/sharing")
    assert "已退回补正" in page and "时限暂停" in page and "请写明具体条款" in page and "其他：附上经办人联系方式" in page
    dashboard = browser.text("/dashboard")
    assert "被退回补正的申请" in dashboard and "申请被退回补正" in dashboard
    blank = browser.post(f"/sharing/{made['id']}/resubmit", {"basis": " ", "scenario": "x", "purpose": "y"})
    assert blank.status_code == 422 and 'class="field invalid"><label for="re-basis-' in blank.get_data(as_text=True)
    assert "此项必填" in blank.get_data(as_text=True)
    done = browser.post(f"/sharing/{made['id']}/resubmit", {"basis": "《社会救助暂行办法》第十一条第二款",
                                                           "scenario": "低保核查", "purpose": "核实低保对象户籍"})
    assert done.status_code == 302
    db.expire_all()
    assert db.get(ShareRequest, made["id"]).status == "pending"


def test_an_older_request_shows_basis_and_scenario_as_not_stated(api, browser, db, share_cast):
    made = file_request(api, share_cast)
    backdate(db, ShareRequest, made["id"], basis="", scenario="")
    _login(browser, share_cast, "provider_member")
    assert browser.text("/sharing").count("未填写") == 2


def test_an_extension_asked_in_the_page_and_decided_by_the_authority(api, browser, db, share_cast):
    made = file_request(api, share_cast)
    _login(browser, share_cast, "provider_admin")
    bad = browser.post(f"/sharing/{made['id']}/decide", {"action": "extend", "days": "十", "extension_reason": "x"})
    assert bad.status_code == 422 and "须为整数个工作日" in bad.get_data(as_text=True)
    assert browser.post(f"/sharing/{made['id']}/decide", {"action": "extend", "days": "5",
                                                          "extension_reason": "需逐户核对"}).status_code == 302
    _login(browser, share_cast, "authority_editor")
    page = browser.text("/sharing")
    assert "待数据主管部门决定的延期申请" in page and "需逐户核对" in page
    refused = browser.post(f"/sharing/{made['id']}/extension", {"decision": "refuse", "reason": ""})
    assert refused.status_code == 422 and "不予共享须说明理由" in refused.get_data(as_text=True)
    assert browser.post(f"/sharing/{made['id']}/extension", {"decision": "approve"}).status_code == 302
    db.expire_all()
    assert db.get(ShareRequest, made["id"]).extension_status == "approved"
    _login(browser, share_cast, "consumer_member")
    assert "数据主管部门已就延期作出决定" in browser.text("/dashboard")


def test_grants_page_suspension_and_use_records(api, browser, db, share_cast):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    backdate(db, Grant, grant["id"], delivery_due=dt.date(2026, 1, 5))
    _login(browser, share_cast, "provider_admin")
    page = browser.text("/sharing/grants")
    assert "逾期未送达" in page and "尚未读取" in page and "2026-01-05" in page
    assert "逾期未送达" in browser.text("/dashboard")
    assert browser.post(f"/sharing/grants/{grant['id']}/suspend", {"reason": "x"}).status_code == 403
    _login(browser, share_cast, "authority_editor")
    assert browser.post(f"/sharing/grants/{grant['id']}/suspend", {"action": "suspend", "reason": ""}).status_code == 422
    assert browser.post(f"/sharing/grants/{grant['id']}/suspend", {"action": "suspend",
                                                                  "reason": "超范围使用"}).status_code == 302
    db.expire_all()
    assert db.get(Grant, grant["id"]).suspended_at is not None
    assert "恢复" in browser.text("/sharing/grants")
    _login(browser, share_cast, "consumer_editor")
    assert "共享授权被暂停" in browser.text("/dashboard")
    saved = browser.post(f"/sharing/grants/{grant['id']}/usage", {"kind": "storage", "description": "存于民政局内网库",
                                                                 "occurred_on": dt.date.today().isoformat()})
    assert saved.status_code == 302
    assert db.scalar(sa.select(UsageRecord.kind)) == "storage"
    assert "存于民政局内网库" in browser.text("/sharing/grants")
    future = browser.post(f"/sharing/grants/{grant['id']}/usage", {"kind": "use", "description": "x",
                                                                  "occurred_on": "2099-01-01"})
    assert future.status_code == 422


def test_an_outsider_gets_no_grant_pages_of_others(api, browser, share_cast):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    _login(browser, share_cast, "outsider_admin")
    assert "宁陕县公安局" not in browser.text("/sharing/grants")
    assert browser.post(f"/sharing/grants/{grant['id']}/usage", {"kind": "use", "description": "x"}).status_code == 404


def test_withdrawing_a_dataset_with_grants_in_the_page_asks_for_a_reason(api, browser, db, share_cast):
    approve(api, share_cast, file_request(api, share_cast)["id"])
    _login(browser, share_cast, "provider_editor")
    page = browser.text("/dataset/households")
    assert 'name="reason"' in page
    refused = browser.post("/dataset/households/state/withdraw", {})
    assert refused.status_code == 302
    assert "说明理由" in browser.text("/dataset/households")
    db.expire_all()
    assert db.scalar(sa.select(ShareRequest.status)) == "approved"
    done = browser.post("/dataset/households/state/withdraw", {"reason": "数据重新核校"})
    assert done.status_code == 302
    assert db.scalar(sa.text("SELECT state FROM dataset WHERE name = 'households'")) == "draft"
    assert db.scalar(sa.text("SELECT count(*) FROM share_notice WHERE kind = 'sharing.narrowed'")) == 1


def test_the_edit_form_takes_the_reason_for_narrowing(api, browser, db, share_cast):
    approve(api, share_cast, file_request(api, share_cast)["id"])
    _login(browser, share_cast, "provider_editor")
    form = browser.text("/dataset/edit/households")
    assert 'name="share_change_reason"' in form
