"""The quarterly ranking computed from a small quarter of cases worked by hand.

Quarter 2026Q4 (1 October – 31 December), as of 10 January 2027, in the county's calendar of National
Day 2026 (1–7 October off; Sunday 20 September and Saturday 10 October worked). Weights:
share_requests 20, objections 10, freshness 0 (it depends on the day the test runs), petitions 20,
service_cases 20, satisfaction 30; grades 满意 100, 基本满意 60, 不满意 0.

Share requests (deadline, decided):
  民政局 r1 10-20 decided 10-19 in time; r2 11-10 decided 11-12 late; r3 12-01 never decided: late;
         r4 due 2027-01-05: not in the quarter                                           → 1/3
  人社局 r5 11-30 decided 11-30 in time; r6 due 12-20 but returned for 补正 (clock stopped): pending → 1/1
Correction requests: 人社局 o1 due 10-15, resolved 10-20: late                          → 0/1
Petitions (60 calendar days from acceptance, an extension at most 30 more):
  p1 民政局, 城关镇: accepted 08-10 → due 10-09 (21 days left in August, 30 in September, 9); settled
     10-01: in time; 满意
  p2 民政局, 四亩地镇: accepted 09-01 → due 10-31, extended to 11-20 (within 10-31 + 30); settled
     11-25: late; 不满意
  p3 城关镇人民政府, 城关镇: accepted 10-10 → due 12-09; still processing: late
  p4 城关镇人民政府, 城关镇: accepted 11-20 → due 2027-01-19: not in the quarter; settled 12-01 基本满意
     (satisfaction counts what was settled in the quarter)
  p5 安康市生态环境局宁陕分局 (no catalog department), 城关镇: accepted 09-15 → due 11-14; settled 11-01
  p6 不予受理: in no figure
Service cases (promised working days after the day of acceptance):
  s1 人社局 accepted 09-30, 3 days → 10-08, 10-09, 10-10 (the make-up Saturday): due 10-10; completed
     10-10 16:00: in time (without the holiday calendar it would have been due 10-05: late); 非常满意 → 满意
  s2 人社局 accepted 12-01 (Tue), 2 days → due 12-03; completed 12-04: late
  s3 民政局 accepted 11-02 (Mon), 20 days → due 11-30; still processing: late
  s4 民政局 不予受理: in no figure; s5 宁陕县市场监督管理局: no catalog department

Departments:
  民政局  share 1/3, petitions 1/2, service 0/1, satisfaction (100 + 0) / 2 = 50
          → (20·1/3 + 20·0.5 + 20·0 + 30·0.5) / 90 = 31.667 / 90 = 35.19
  人社局  share 1/1, objections 0/1, service 1/2, satisfaction 100
          → (20·1 + 10·0 + 20·0.5 + 30·1) / 80 = 60 / 80 = 75.00
  城关镇人民政府 petitions 0/1, satisfaction 60 → (20·0 + 30·0.6) / 50 = 36.00
  ranks: 人社局 1, 城关镇人民政府 2, 民政局 3
Towns (petitions and satisfaction only):
  城关镇  petitions p1, p3, p5: 2/3; satisfaction (100 + 60) / 2 = 80 → (20·2/3 + 30·0.8) / 50 = 74.67
  四亩地镇 petitions 0/1; satisfaction 0 → 0.00
  新场镇  (named by the household register only): no figure, unranked
"""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from catalog.auth.models import User
from catalog.db import get_db
from catalog.objections.models import Objection
from catalog.reports import service
from catalog.reports.rules import Quarter
from catalog.sharing.models import ShareRequest
from tests.schemas.records_samples import households, petitions, services

CONFIG = {"REPORT_WEIGHTS": "share_requests=20,objections=10,freshness=0,petitions=20,service_cases=20,"
                            "satisfaction=30",
          "REPORT_SATISFACTION_WEIGHTS": "satisfied=100,basically_satisfied=60,dissatisfied=0",
          "HOLIDAYS": ",".join(f"2026-10-0{d}" for d in range(1, 8)), "WORKDAYS": "2026-09-20,2026-10-10",
          "FRESHNESS_GRACE": "10%"}
AS_OF = dt.date(2027, 1, 10)
MZJ, RSJ, CGZ = "宁陕县民政局", "宁陕县人力资源和社会保障局", "宁陕县城关镇人民政府"


def table(api, token, dataset_id, name):
    reply = api.call("datastore_create", {"resource": {"package_id": dataset_id, "name": name}}, token=token)
    assert reply.status == 200, reply.body
    return reply.result["resource_id"]


def upsert(api, token, resource_id, records):
    reply = api.call("datastore_upsert", {"resource_id": resource_id, "records": records, "method": "upsert"},
                     token=token)
    assert reply.status == 200, reply.body


def petition(n, unit, place, accepted, status, **extra):
    record = next(petitions(1, seed=n))
    for key in ("extended_deadline", "completed_on", "satisfaction", "follow_up_visit", "reply"):
        record.pop(key, None)
    record.update(petition_number=f"XF2026{n:06d}", responsible_unit=unit, place=place, accepted_on=accepted,
                  deadline=accepted, status=status, **extra)
    if status in ("replied", "completed"):
        record["reply"] = "已答复"
    return record


def case(n, department, accepted_at, days, status, **extra):
    record = next(services(1, seed=n))
    for key in ("completed_at", "satisfaction", "reason"):
        record.pop(key, None)
    record.update(case_number=f"NS2026{n:06d}", department=department, accepted_at=accepted_at,
                  promised_days=days, status=status, channel="once", **extra)
    if status in ("rejected", "returned"):
        record["reason"] = "申请人不符合申请条件"
    return record


def utc(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day + "T03:00:00+00:00")


@pytest.fixture
def quarter(api, make, sysadmin, db):
    """The hand-made quarter of the module docstring; the departments' ids."""
    ids = {title: make.department(name, title=title)["id"]
           for name, title in (("ningshan-mzj", MZJ), ("ningshan-rsj", RSJ), ("ningshan-cgz", CGZ))}
    token = sysadmin.token
    mzj_data = make.dataset(ids[MZJ], name="dibao", record_schema=None)
    rsj_data = make.dataset(ids[RSJ], name="shebao", record_schema=None)
    xf = make.dataset(ids[MZJ], name="petition-cases", record_schema="petition@1")
    fw = make.dataset(ids[RSJ], name="service-cases", record_schema="service@1")
    hh = make.dataset(ids[CGZ], name="households", record_schema="household@1")
    upsert(api, token, table(api, token, xf["id"], "信访件"), [
        petition(1, MZJ, "宁陕县城关镇东河村", "2026-08-10", "completed", completed_on="2026-10-01",
                 satisfaction="satisfied"),
        petition(2, MZJ, "宁陕县四亩地镇寨沟村", "2026-09-01", "completed", extended_deadline="2026-11-20",
                 completed_on="2026-11-25", satisfaction="dissatisfied"),
        petition(3, CGZ, "宁陕县城关镇新建村", "2026-10-10", "processing"),
        petition(4, CGZ, "宁陕县城关镇双河村", "2026-11-20", "completed", completed_on="2026-12-01",
                 satisfaction="basically_satisfied"),
        petition(5, "安康市生态环境局宁陕分局", "宁陕县城关镇龙潭村", "2026-09-15", "completed",
                 completed_on="2026-11-01"),
        petition(6, MZJ, "宁陕县城关镇东河村", "2026-10-12", "not_accepted"),
    ])
    upsert(api, token, table(api, token, fw["id"], "办件"), [
        case(1, RSJ, "2026-09-30T10:00:00+08:00", 3, "completed", completed_at="2026-10-10T16:00:00+08:00",
             satisfaction="very_satisfied"),
        case(2, RSJ, "2026-12-01T09:00:00+08:00", 2, "completed", completed_at="2026-12-04T09:00:00+08:00"),
        case(3, MZJ, "2026-11-02T09:00:00+08:00", 20, "processing"),
        case(4, MZJ, "2026-11-02T09:00:00+08:00", 5, "rejected"),
        case(5, "宁陕县市场监督管理局", "2026-11-02T09:00:00+08:00", 3, "processing"),
    ])
    homes = list(households(2, seed=3))
    homes[0]["town"], homes[1]["town"] = "城关镇", "新场镇"
    upsert(api, token, table(api, token, hh["id"], "住户"), homes)
    requests = [(mzj_data, "2026-10-20", "approved", "2026-10-19"), (mzj_data, "2026-11-10", "rejected", "2026-11-12"),
                (mzj_data, "2026-12-01", "pending", None), (mzj_data, "2027-01-05", "pending", None),
                (rsj_data, "2026-11-30", "approved", "2026-11-30"), (rsj_data, "2026-12-20", "returned", None)]
    for dataset, deadline, status, decided in requests:
        db.add(ShareRequest(package_id=dataset["id"], organization_id=ids[CGZ], purpose="核实救助对象", fields=[],
                            status=status, deadline=dt.date.fromisoformat(deadline),
                            decided_at=utc(decided) if decided else None, created=utc("2026-09-01")))
    db.add(Objection(package_id=rsj_data["id"], provider_id=ids[RSJ], organization_id=ids[MZJ], scope="dataset",
                     keys=[], fields=[], reason="参保状态与实际不符", status="resolved", outcome="corrected",
                     corrections=[], deadline=dt.date(2026, 10, 15), created=utc("2026-10-01"),
                     resolved=utc("2026-10-20"), filed_seq=0))
    db.commit()
    return ids


def report(app):
    with get_db(app).session() as session:
        return service.performance_report(session, None, {**app.config, **CONFIG}, quarter=Quarter(2026, 4),
                                          as_of=AS_OF, check=False)


def test_every_department_and_town_is_ranked_as_worked_by_hand(app, quarter):
    result = report(app)
    rows = {row["title"]: row for row in result["departments"]}
    assert [(r["title"], r["rank"], r["score"]) for r in result["departments"] if r["title"] in rows
            and r["title"] in (MZJ, RSJ, CGZ)] == [(RSJ, 1, 75.0), (CGZ, 2, 36.0), (MZJ, 3, 35.19)]
    mzj = rows[MZJ]["figures"]
    assert {k: mzj["share_requests"][k] for k in ("in_time", "late", "pending")} == {"in_time": 1, "late": 2,
                                                                                   "pending": 0}
    assert mzj["objections"]["rate"] is None
    assert (mzj["petitions"]["in_time"], mzj["petitions"]["late"]) == (1, 1)
    assert (mzj["service_cases"]["in_time"], mzj["service_cases"]["late"]) == (0, 1)
    assert (mzj["satisfaction"]["satisfied"], mzj["satisfaction"]["dissatisfied"], mzj["satisfaction"]["score"]) \
        == (1, 1, 50.0)
    rsj = rows[RSJ]["figures"]
    assert (rsj["share_requests"]["in_time"], rsj["share_requests"]["pending"]) == (1, 1)  # 补正 stops the clock
    assert (rsj["objections"]["late"], rsj["service_cases"]["in_time"], rsj["service_cases"]["late"]) == (1, 1, 1)
    assert [(t["name"], t["rank"], t["score"]) for t in result["towns"]] == [
        ("城关镇", 1, 74.67), ("四亩地镇", 2, 0.0), ("新场镇", None, None)]
    town = result["towns"][0]["figures"]
    assert (town["petitions"]["in_time"], town["petitions"]["late"]) == (2, 1)
    assert set(town) == {"petitions", "satisfaction"}
    assert result["units_not_in_catalog"] == ["宁陕县市场监督管理局", "安康市生态环境局宁陕分局"]
    assert result["weights"]["satisfaction"] == 30 and result["satisfaction_weights"]["basically_satisfied"] == 60


def test_the_cases_behind_a_figure_are_listed_without_personal_data(app, quarter):
    with get_db(app).session() as session:
        late = service.report_cases(session, _sysadmin(session), {**app.config, **CONFIG}, quarter=Quarter(2026, 4),
                                    criterion="petitions", kind="town", unit="城关镇", outcome="late", as_of=AS_OF)
        service_cases = service.report_cases(session, _sysadmin(session), {**app.config, **CONFIG},
                                             quarter=Quarter(2026, 4), criterion="service_cases",
                                             kind="department", unit="ningshan-rsj", as_of=AS_OF)
    assert [(c["ref"], c["due"], c["done"], c["outcome"]) for c in late] == [
        ("XF2026000003", "2026-12-09", None, "late")]
    assert sorted((c["ref"], c["due"], c["outcome"]) for c in service_cases) == [
        ("NS2026000001", "2026-10-10", "in_time"), ("NS2026000002", "2026-12-03", "late")]
    text = str(late + service_cases)
    assert "petitioner" not in text and "applicant" not in text and "content" not in text


def _sysadmin(session):
    return session.scalar(sa.select(User).where(User.sysadmin.is_(True)).limit(1))
