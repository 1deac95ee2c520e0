"""The pages of correction requests and demands: filing from the dataset page, both sides' lists with
the deadline, the provider's forms, the demand list's steps, the dashboard panel; in Chinese."""
from __future__ import annotations

import sqlalchemy as sa

from catalog.demands.models import Demand
from catalog.objections.models import Objection
from tests.web.conftest import Browser


def _login(client, account) -> Browser:
    browser = Browser(client)
    browser.login(account.name)
    return browser


def test_a_department_files_from_the_dataset_page_and_the_provider_settles_it(app, client, db, county):
    mzj = _login(client, county.mzj_editor)
    page = mzj.text("/dataset/shops")
    assert "提出数据异议" in page
    resource_page = mzj.text(f"/dataset/shops/resource/{county.shops_rid}")
    assert f"/dataset/shops/objection?resource_id={county.shops_rid}" in resource_page
    form = mzj.text("/dataset/shops/objection")
    assert "校核" in form or "异议" in form
    refused = mzj.post("/dataset/shops/objection", [("organization_id", county.mzj["id"]), ("scope", "records"),
                                                    ("resource_id", county.shops_rid), ("keys", "s9"),
                                                    ("fields", "name"), ("reason", "店名错误")])
    assert refused.status_code == 422 and "没有这条记录：s9" in refused.get_data(as_text=True)
    filed = mzj.post("/dataset/shops/objection", [("organization_id", county.mzj["id"]), ("scope", "filter"),
                                                  ("resource_id", county.shops_rid), ("filters", "town = 江口回族镇"),
                                                  ("fields", "name"), ("reason", "粮站已更名")])
    assert filed.status_code == 302
    objection = db.scalar(sa.select(Objection))
    assert objection.scope == "filter"
    detail = mzj.text(f"/objections/{objection.id}")
    assert "粮站已更名" in detail and objection.deadline.isoformat() in detail and "核实并办结" not in detail
    assert objection.deadline.isoformat() in mzj.text("/objections")

    client.get("/user/logout")
    gaj = _login(client, county.gaj_editor)
    assert "待核实的数据异议" in gaj.text("/dashboard")
    assert "核实并办结" in gaj.text(f"/objections/{objection.id}")
    assert gaj.post(f"/objections/{objection.id}/answer", {"action": "accept"}).status_code == 302
    bad = gaj.post(f"/objections/{objection.id}/answer", {"action": "resolve", "outcome": "corrected", "note": "已改"})
    assert bad.status_code == 422
    done = gaj.post(f"/objections/{objection.id}/answer", {"action": "resolve", "outcome": "rejected",
                                                           "note": "名称以登记为准"})
    assert done.status_code == 302
    db.expire_all()
    assert db.get(Objection, objection.id).outcome == "rejected"


def test_a_department_without_use_of_the_data_gets_no_filing_form_nor_the_objection(client, api, county):
    made = api.call("objection_create", {"package_id": "shops", "organization_id": county.mzj["id"],
                                         "resource_id": county.shops_rid, "keys": ["s1"], "fields": ["name"],
                                         "reason": "秘密理由"}, token=county.mzj_editor.token)
    town = _login(client, county.nobody)
    assert "提出数据异议" not in town.text("/dataset/shops")
    assert town.get("/dataset/shops/objection").status_code == 403
    assert town.get(f"/objections/{made.result['id']}").status_code == 404
    assert "秘密理由" not in town.text("/objections")


def test_the_demand_list_from_registration_to_fulfilment(client, db, county):
    mzj = _login(client, county.mzj_editor)
    assert "登记需求" in mzj.text("/demands")
    missing = mzj.post("/demands/new", {"organization_id": county.mzj["id"], "title": "残疾人补贴名单",
                                        "fields": "姓名、补贴金额", "basis": "", "purpose": "核对"})
    assert missing.status_code == 422
    made = mzj.post("/demands/new", {"organization_id": county.mzj["id"], "title": "残疾人补贴名单",
                                     "fields": "姓名、补贴金额", "basis": "补贴实施办法", "purpose": "核对"})
    assert made.status_code == 302
    demand = db.scalar(sa.select(Demand))
    assert demand.fields == ["姓名", "补贴金额"]
    assert "残疾人补贴名单" in mzj.text("/demands?q=补贴")
    assert "残疾人补贴名单" not in mzj.text("/demands?q=危房")
    assert mzj.post(f"/demands/{demand.id}/assign", {"organization_id": county.gaj["id"]}).status_code == 403
    client.get("/user/logout")
    authority = _login(client, county.sjj_editor)
    assert "待分派的需求" in authority.text("/dashboard")
    assert "分派给数源部门" in authority.text(f"/demands/{demand.id}")
    assert authority.post(f"/demands/{demand.id}/assign", {"organization_id": county.gaj["id"]}).status_code == 302
    client.get("/user/logout")
    gaj = _login(client, county.gaj_editor)
    assert "待答复的需求" in gaj.text("/dashboard") and "残疾人补贴名单" in gaj.text("/dashboard")
    wrong = gaj.post(f"/demands/{demand.id}/fulfil", {"package_id": "no-such"})
    assert wrong.status_code == 422
    assert gaj.post(f"/demands/{demand.id}/fulfil", {"package_id": "people"}).status_code == 302
    assert "残疾人补贴名单" in gaj.text("/dataset/people")


def test_anonymous_visitors_are_sent_to_log_in(client, county):
    for url in ("/objections", "/demands", "/demands/new", "/dataset/shops/objection"):
        assert client.get(url).status_code == 302, url
