"""The demand list (需求清单): registering a need, the authority's assignment, the source department's
answer within 10 working days (worked by hand over the Spring Festival), search, and the webhooks."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from catalog.demands.models import Demand
from catalog.demands.service import deadline_after
from catalog.webhooks.models import WebhookDelivery
from tests.objections.conftest import county  # noqa: F401 - the county's departments and accounts

NEED = {"title": "残疾人两项补贴发放名单", "description": "按月发放的困难残疾人生活补贴和重度残疾人护理补贴",
        "fields": ["姓名", "身份证号", "补贴金额"], "basis": "《陕西省困难残疾人生活补贴和重度残疾人护理补贴实施办法》",
        "purpose": "核对低保对象重复享受"}


def create(api, county, who="mzj_editor", **changes):
    return api.call("demand_create", {"organization_id": county.mzj["id"], **NEED, **changes},
                    token=getattr(county, who).token if who else None)


def _id(reply) -> str:
    assert reply.status == 200, reply.body
    return reply.result["id"]


def assign(api, county, demand_id, who="sysadmin", to=None):
    return api.call("demand_assign", {"id": demand_id, "organization_id": to or county.gaj["id"]},
                    token=getattr(county, who).token)


def test_a_demand_goes_from_registered_to_assigned_to_fulfilled_and_the_dataset_shows_it(api, county):
    demand = create(api, county).result
    assert demand["status"] == "open" and demand["deadline"] is None and demand["fields"] == NEED["fields"]
    assigned = assign(api, county, demand["id"], who="sjj_editor").result
    assert assigned["status"] == "assigned" and assigned["assignee_name"] == "ningshan-gaj"
    deadline = dt.date.fromisoformat(assigned["deadline"])
    assert deadline.weekday() < 5 and 12 <= (deadline - dt.date.fromisoformat(assigned["assigned"][:10])).days <= 14
    done = api.call("demand_fulfil", {"id": demand["id"], "package_id": "people", "note": "已编目"},
                    token=county.gaj_editor.token)
    assert done.status == 200, done.body
    assert done.result["status"] == "fulfilled" and done.result["package_name"] == "people"
    shown = api.call("demand_list", {"package_id": "people"}, token=county.town_editor.token).result
    assert [d["id"] for d in shown] == [demand["id"]]


@pytest.mark.parametrize("who, status", [("mzj_member", 403), ("gaj_editor", 403), ("nobody", 403), (None, 403)])
def test_only_the_departments_editors_register_its_needs(api, county, who, status):
    assert create(api, county, who=who).status == status


@pytest.mark.parametrize("field", ["title", "basis", "purpose", "fields"])
def test_what_which_fields_basis_and_purpose_are_required(api, county, field):
    reply = create(api, county, **{field: [] if field == "fields" else "  "})
    assert reply.status == 409 and field in reply.error


@pytest.mark.parametrize("who", ["mzj_editor", "gaj_admin", "town_editor"])
def test_only_the_authority_assigns(api, county, who):
    demand = _id(create(api, county))
    assert assign(api, county, demand, who=who).status == 403


def test_a_demand_is_not_assigned_to_the_department_that_needs_it(api, county):
    reply = assign(api, county, _id(create(api, county)), to=county.mzj["id"])
    assert reply.status == 409 and "organization_id" in reply.error


@pytest.mark.parametrize("who", ["mzj_editor", "town_editor", "gaj_member", "sjj_editor"])
def test_only_the_source_departments_editors_answer(api, county, who):
    demand = _id(create(api, county))
    assign(api, county, demand)
    token = getattr(county, who).token
    assert api.call("demand_fulfil", {"id": demand, "package_id": "shops"}, token=token).status in (403, 404)
    assert api.call("demand_refuse", {"id": demand, "basis": "涉密"}, token=token).status == 403


def test_an_answer_needs_an_assignment_a_dataset_of_the_source_department_and_a_legal_basis(api, make, county):
    demand = _id(create(api, county))
    editor = county.gaj_editor.token
    assert api.call("demand_fulfil", {"id": demand, "package_id": "shops"}, token=editor).status == 409
    assign(api, county, demand)
    other = make.dataset(county.town["id"], name="town-list", share_type="unconditional", share_condition=None)
    reply = api.call("demand_fulfil", {"id": demand, "package_id": other["name"]}, token=editor)
    assert reply.status == 409 and "package_id" in reply.error
    reply = api.call("demand_refuse", {"id": demand, "basis": " "}, token=editor)
    assert reply.status == 409 and "basis" in reply.error
    refused = api.call("demand_refuse", {"id": demand, "basis": "《中华人民共和国保守国家秘密法》第二十八条"}, token=editor)
    assert refused.result["status"] == "refused" and refused.result["answer"].startswith("《中华人民共和国")
    assert api.call("demand_fulfil", {"id": demand, "package_id": "shops"}, token=editor).status == 409


def test_demands_are_searched_by_words_and_status(api, county):
    wanted = _id(create(api, county))
    other = _id(create(api, county, title="农村危房改造名单", description=None, purpose="住房保障核查"))
    assign(api, county, other)
    town = county.town_editor.token
    assert [d["id"] for d in api.call("demand_list", {"q": "残疾人 补贴"}, token=town).result] == [wanted]
    assert [d["id"] for d in api.call("demand_list", {"q": "住房"}, token=town).result] == [other]
    assert [d["id"] for d in api.call("demand_list", {"status": "assigned"}, token=town).result] == [other]
    assert api.call("demand_list", {"q": "100%_"}, token=town).result == []
    assert api.call("demand_list", {"status": "done"}, token=town).status == 409
    assert api.call("demand_list", {}).status == 403
    assert api.call("demand_list", {}, token=county.nobody.token).status == 403
    assert api.call("demand_show", {"id": wanted}, token=county.nobody.token).status == 403


#: a configured Spring Festival week: 5–11 February 2027 off; Sunday 31 January and Saturday 20 February
#: made working days (调休)
SPRING = {"HOLIDAYS": ",".join(f"2027-02-{d:02d}" for d in range(5, 12)), "WORKDAYS": "2027-01-31,2027-02-20"}


@pytest.mark.parametrize("assigned, due, days", [
    # Wed 3 Feb: Thu 4 (1), Fri 12 (2), Mon 15–Fri 19 (3–7), Sat 20 (8), Mon 22–Tue 23 (9–10)
    (dt.date(2027, 2, 3), dt.date(2027, 2, 23), 10),
    # Fri 29 Jan: Sun 31 (1), Mon 1–Thu 4 Feb (2–5), Fri 12 (6), Mon 15–Thu 18 (7–10)
    (dt.date(2027, 1, 29), dt.date(2027, 2, 18), 10),
    # CATALOG_DEMAND_DAYS=3 from Wed 3 Feb: Thu 4, Fri 12, Mon 15
    (dt.date(2027, 2, 3), dt.date(2027, 2, 15), 3),
])
def test_the_answer_is_due_ten_working_days_after_assignment(assigned, due, days):
    assert deadline_after(assigned, {**SPRING, "DEMAND_DAYS": days}) == due


def test_an_assigned_demand_past_its_deadline_is_listed_overdue(api, db, county):
    late, fresh = _id(create(api, county)), _id(create(api, county))
    assign(api, county, late)
    assign(api, county, fresh)
    db.execute(sa.update(Demand).where(Demand.id == late).values(deadline=dt.date.today() - dt.timedelta(days=1)))
    db.commit()
    overdue = api.call("demand_list", {"overdue": True}, token=county.gaj_member.token).result
    assert [d["id"] for d in overdue] == [late] and overdue[0]["overdue"] is True


def test_demand_events_go_once_per_url_to_departments_accounts_only(api, db, county):
    hooks = [("mzj_member", "shops", "http://127.0.0.1:9/mzj"), ("mzj_member", "people", "http://127.0.0.1:9/mzj"),
             ("nobody", "shops", "http://127.0.0.1:9/nobody")]
    names = {}
    for who, dataset, url in hooks:
        reply = api.call("webhook_create", {"package_id": dataset, "url": url,
                                            "events": ["demand.created", "demand.assigned"]},
                         token=getattr(county, who).token)
        assert reply.status == 200, reply.body
        names[reply.result["id"]] = who
    demand = _id(create(api, county))
    assign(api, county, demand)
    db.expire_all()
    sent = sorted((names[d.subscription_id], d.event) for d in db.scalars(sa.select(WebhookDelivery)))
    assert sent == [("mzj_member", "demand.assigned"), ("mzj_member", "demand.created")]
