"""Who sees the quarterly ranking and the cases behind its figures, and what bad input answers.

The ranking (counts only) is for the data authority and every department's members; the cases behind a
figure for the authority and the unit's own department (a town's for its town government)."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from catalog.auth.models import User
from catalog.db import get_db
from catalog.departments.models import Department
from catalog.departments.service import set_member
from tests.reports.test_ranking import CGZ, CONFIG, MZJ, RSJ, quarter  # noqa: F401  (the hand-made quarter)

REPORT = {"quarter": "2026Q4", "as_of": "2027-01-10"}


@pytest.fixture
def accounts(app, make, quarter, monkeypatch):  # noqa: F811
    for name, value in CONFIG.items():
        monkeypatch.setitem(app.config, name, value)
    accounts = {"mzj": make.user("mzj-officer"), "cgz": make.user("cgz-member"), "loner": make.user("no-department")}
    make_member(app, quarter[MZJ], accounts["mzj"], "editor")
    make_member(app, quarter[CGZ], accounts["cgz"], "member")
    return accounts


def make_member(app, department_id, account, role):
    """Membership through the departments' service, as a sysadmin grants it."""
    with get_db(app).session() as session:
        admin = session.scalar(sa.select(User).where(User.sysadmin.is_(True)).limit(1))
        set_member(session, admin, session.get(Department, department_id), session.get(User, account.id), role)
        session.commit()


def test_a_department_sees_the_whole_ranking_with_counts_only(api, accounts, sysadmin):
    reply = api.call("performance_report", REPORT, token=accounts["cgz"].token)
    assert reply.status == 200, reply.body
    titles = [row["title"] for row in reply.result["departments"]]
    assert {MZJ, RSJ, CGZ} <= set(titles)
    assert [t["name"] for t in reply.result["towns"]][:2] == ["城关镇", "四亩地镇"]
    figure = reply.result["departments"][0]["figures"]["service_cases"]
    assert figure["cases"].startswith("/api/3/action/performance_report_cases?")
    # nothing of the records' people: names, ID numbers, contents are not in the report
    text = json.dumps(reply.body, ensure_ascii=False)
    for word in ("petitioner", "applicant", "id_number", "content", "反映"):
        assert word not in text
    assert api.call("performance_report", REPORT, token=sysadmin.token).status == 200


@pytest.mark.parametrize("who", [None, "loner"])
def test_anonymous_visitors_and_accounts_of_no_department_are_refused(api, accounts, who):
    reply = api.call("performance_report", REPORT, token=accounts[who].token if who else None)
    assert reply.status == 403, reply.body


def test_the_cases_behind_a_figure_are_for_the_authority_and_the_unit_itself(api, accounts, sysadmin):
    own = dict(REPORT, criterion="service_cases", kind="department", unit="ningshan-mzj")
    reply = api.call("performance_report_cases", own, token=accounts["mzj"].token)
    assert reply.status == 200 and [c["ref"] for c in reply.result] == ["NS2026000003"]
    other = dict(own, unit="ningshan-rsj")
    assert api.call("performance_report_cases", other, token=accounts["mzj"].token).status == 403
    assert api.call("performance_report_cases", other, token=sysadmin.token).status == 200
    town = dict(REPORT, criterion="petitions", kind="town", unit="城关镇", outcome="in_time")
    reply = api.call("performance_report_cases", town, token=accounts["cgz"].token)  # the town's government
    assert reply.status == 200 and sorted(c["ref"] for c in reply.result) == ["XF2026000001", "XF2026000005"]
    assert api.call("performance_report_cases", town, token=accounts["mzj"].token).status == 403


@pytest.mark.parametrize("change, field", [
    ({"quarter": "2026-Q4"}, "quarter"), ({"quarter": "2026Q5"}, "quarter"),
    ({"criterion": "speed"}, "criterion"), ({"kind": "village"}, "kind"),
    ({"kind": "town", "criterion": "share_requests", "unit": "城关镇"}, "criterion"),
    ({"outcome": "early"}, "outcome"), ({"unit": "no-such-department"}, "unit"),
])
def test_bad_input_is_a_409_naming_the_parameter(api, accounts, sysadmin, change, field):
    data = {**REPORT, "criterion": "petitions", "kind": "department", "unit": "ningshan-mzj", **change}
    reply = api.call("performance_report_cases", data, token=sysadmin.token)
    assert reply.status == 409 and field in reply.error, reply.body


def test_a_bad_weight_setting_is_named(api, accounts, sysadmin, app, monkeypatch):
    monkeypatch.setitem(app.config, "REPORT_WEIGHTS", "petitions=lots")
    reply = api.call("performance_report", REPORT, token=sysadmin.token)
    assert reply.status == 409 and "REPORT_WEIGHTS" in reply.error["settings"][0]
