"""Freshness of datasets, the department ranking and the overdue list: service and actions."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from catalog.db import get_db, utcnow
from catalog.freshness import clock
from catalog.freshness.service import dataset_freshness, department_report, overdue_datasets
from catalog.datasets.models import Dataset
from tests.freshness.helpers import add_records, at, changed_at, records_changed_at, sync_succeeded_at

NOW = at(2026, 6, 30, 12)
GRACE = clock.parse_grace("2d")


@pytest.fixture
def county(make, sysadmin, db):
    """Three departments with datasets in known states at NOW (grace 2 days), and an empty one.

    good: 3 fresh (one irregular); late: one due, one overdue, one private overdue; fine: 1 fresh.
    """
    people = {role: make.user(role) for role in ("member", "outsider")}
    good = make.department("good", title="宁陕县民政局")
    late = make.department("late", title="宁陕县人社局", members={"member": people["member"]})
    fine = make.department("fine", title="宁陕县公安局")
    empty = make.department("empty", title="宁陕县林业局")
    d = {}

    def dataset(key, owner, cycle, last, **values):
        d[key] = make.dataset(owner["id"], update_cycle=cycle, **values)
        changed_at(db, d[key]["id"], last)

    dataset("good_monthly", good, "monthly", at(2026, 6, 15))
    dataset("good_daily", good, "daily", at(2026, 6, 30, 0))
    dataset("good_irregular", good, "irregular", at(2020, 1, 1))
    dataset("late_due", late, "weekly", at(2026, 6, 22))  # due 06-29 12:00 + 2 days grace
    dataset("late_overdue", late, "quarterly", at(2026, 1, 31))  # due 04-30
    dataset("late_private", late, "yearly", at(2024, 1, 1), private=True)  # due 2025-01-01
    dataset("fine_weekly", fine, "weekly", at(2026, 6, 29))
    return SimpleNamespace(d=d, good=good, late=late, fine=fine, empty=empty, sysadmin=sysadmin, **people)


def report_by_name(rows):
    return {row["name"]: row for row in rows}


def test_each_dataset_reads_its_state_from_its_cycle_and_last_change(county, db):
    states = {key: dataset_freshness(db, db.get(Dataset, ds["id"]), NOW, grace=GRACE)
              for key, ds in county.d.items()}
    assert {k: s["status"] for k, s in states.items()} == {
        "good_monthly": "fresh", "good_daily": "fresh", "good_irregular": "fresh", "late_due": "due",
        "late_overdue": "overdue", "late_private": "overdue", "fine_weekly": "fresh"}
    assert states["late_overdue"]["due_at"] == at(2026, 4, 30)  # Jan 31 + 3 months, clamped
    assert states["late_overdue"]["overdue_at"] == at(2026, 5, 2)
    assert states["late_overdue"]["last_change"] == at(2026, 1, 31)
    assert states["late_overdue"]["last_change_source"] == "metadata"
    assert states["good_irregular"]["due_at"] is None and states["good_irregular"]["update_cycle"] == "irregular"


def test_records_and_successful_syncs_are_the_last_change_once_there_are_records(county, db, api):
    ds = county.d["late_overdue"]
    resource = add_records(api, county.sysadmin.token, ds["id"])
    records_changed_at(db, resource, at(2026, 5, 20))
    changed_at(db, ds["id"], at(2026, 6, 29))  # a later metadata edit is not a data update
    state = dataset_freshness(db, db.get(Dataset, ds["id"]), NOW, grace=GRACE)
    assert (state["last_change"], state["last_change_source"], state["status"]) == (at(2026, 5, 20), "records", "fresh")
    sync_succeeded_at(db, ds["id"], resource, at(2026, 6, 1))
    sync_succeeded_at(db, ds["id"], resource, at(2026, 6, 25), status="failed")  # failed runs do not count
    state = dataset_freshness(db, db.get(Dataset, ds["id"]), NOW, grace=GRACE)
    assert (state["last_change"], state["last_change_source"]) == (at(2026, 6, 1), "sync")
    # a deletion is a change too: the tombstone's time counts
    reply = api.call("datastore_delete", {"resource_id": resource, "filters": {"id": "1"}}, token=county.sysadmin.token)
    assert reply.status == 200, reply.body
    state = dataset_freshness(db, db.get(Dataset, ds["id"]), utcnow(), grace=GRACE)
    assert state["last_change_source"] == "records" and utcnow() - state["last_change"] < dt.timedelta(minutes=5)


def test_the_report_ranks_departments_by_share_on_time(county, db):
    rows = department_report(db, NOW, grace=GRACE, everything=True)
    assert [r["name"] for r in rows] == ["good", "fine", "late", "empty"]
    good, fine, late, empty = rows
    assert (good["rank"], fine["rank"], late["rank"], empty["rank"]) == (1, 1, 3, None)
    assert good == {**good, "total": 3, "fresh": 3, "due": 0, "overdue": 0, "irregular": 1, "share_on_time": 1.0,
                    "title": "宁陕县民政局"}
    assert late == {**late, "total": 3, "fresh": 0, "due": 1, "overdue": 2, "share_on_time": pytest.approx(1 / 3)}
    assert empty["total"] == 0 and empty["share_on_time"] is None
    # anonymous callers: the private dataset is not counted
    public = report_by_name(department_report(db, NOW, grace=GRACE))
    assert public["late"]["total"] == 2 and public["late"]["share_on_time"] == 0.5
    assert public["late"]["rank"] == 3


def test_drafts_and_deleted_datasets_are_not_rated(county, db, make, api):
    draft = make.dataset(county.fine["id"], update_cycle="daily", state="draft")
    changed_at(db, draft["id"], at(2020, 1, 1))
    gone = make.dataset(county.fine["id"], update_cycle="daily")
    changed_at(db, gone["id"], at(2020, 1, 1))
    assert api.call("package_delete", {"id": gone["id"]}, token=county.sysadmin.token).status == 200
    fine = report_by_name(department_report(db, NOW, grace=GRACE, everything=True))["fine"]
    assert (fine["total"], fine["overdue"]) == (1, 0)


def test_the_overdue_list_is_longest_overdue_first(county, db):
    names = [e["name"] for e in overdue_datasets(db, NOW, grace=GRACE, everything=True)]
    assert names == [county.d["late_private"]["name"], county.d["late_overdue"]["name"]]
    assert [e["name"] for e in overdue_datasets(db, NOW, grace=GRACE)] == [county.d["late_overdue"]["name"]]
    assert overdue_datasets(db, NOW, grace=GRACE, owner_org=county.good["id"], everything=True) == []


def test_the_report_takes_a_fixed_number_of_queries_whatever_the_number_of_datasets(county, db, app, make):
    engine = get_db(app).engine
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        department_report(db, NOW, grace=GRACE, everything=True)
        few = len(statements)
        for _ in range(5):
            make.dataset(county.fine["id"], update_cycle="daily")
        statements.clear()
        department_report(db, NOW, grace=GRACE, everything=True)
        assert len(statements) == few == 2  # the datasets with their last changes, the departments
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


# --- the actions ----------------------------------------------------------------------------------


@pytest.fixture
def frozen(monkeypatch):
    """The actions' clock stopped at NOW, and the grace period of these tests."""
    monkeypatch.setattr("catalog.freshness.service.utcnow", lambda: NOW)


@pytest.fixture(autouse=True)
def two_days_grace(app, monkeypatch):
    monkeypatch.setitem(app.config, "FRESHNESS_GRACE", "2d")


def test_freshness_show_answers_status_last_change_and_due_date(county, api, db):
    ds = county.d["good_monthly"]
    changed_at(db, ds["id"], utcnow() - dt.timedelta(days=40))
    reply = api.call("freshness_show", {"id": ds["name"]}, method="GET")
    assert reply.status == 200, reply.body
    result = reply.result
    assert result["status"] == "overdue" and result["update_cycle"] == "monthly"
    assert result["last_change_source"] == "metadata" and result["petition_timeliness"] is None
    last = dt.datetime.fromisoformat(result["last_change"])
    assert last.tzinfo is None and dt.datetime.fromisoformat(result["due_at"]) > last


def test_freshness_show_keeps_private_datasets_to_their_readers(county, api, frozen):
    ds = county.d["late_private"]
    assert api.call("freshness_show", {"id": ds["id"]}).status == 404  # as if missing
    assert api.call("freshness_show", {"id": ds["id"]}, token=county.outsider.token).status == 404
    assert api.call("freshness_show", {"id": ds["id"]}, token=county.member.token).result["status"] == "overdue"
    missing = api.call("freshness_show", {"id": "no-such-dataset"})
    assert missing.status == 404
    assert api.call("freshness_show", {}).error == {"__type": "Validation Error", "id": ["Missing data for required field."]}


def test_freshness_report_counts_what_the_caller_may_read(county, api, frozen):
    anonymous = report_by_name(api.call("freshness_report", method="GET").result)
    member = report_by_name(api.call("freshness_report", token=county.member.token).result)
    assert anonymous["late"]["total"] == 2 and member["late"]["total"] == 3
    assert [r["rank"] for r in api.call("freshness_report").result][0] == 1


def test_freshness_overdue_list_action(county, api, frozen):
    anonymous = api.call("freshness_overdue_list", method="GET").result
    assert [e["name"] for e in anonymous] == [county.d["late_overdue"]["name"]]
    entry = anonymous[0]
    assert entry["status"] == "overdue" and entry["owner_org"] == county.late["id"]
    sysadmin = api.call("freshness_overdue_list", {"owner_org": "late"}, token=county.sysadmin.token).result
    assert len(sysadmin) == 2
    assert api.call("freshness_overdue_list", {"owner_org": "good"}).result == []
    assert api.call("freshness_overdue_list", {"limit": 1, "offset": 1}, token=county.sysadmin.token).result \
        == [sysadmin[1]]
    unknown = api.call("freshness_overdue_list", {"owner_org": "nowhere"})
    assert unknown.status == 409 and "owner_org" in unknown.error
    assert "limit" in api.call("freshness_overdue_list", {"limit": -1}).error


def test_a_bad_grace_setting_is_named_not_a_500(county, api, app, monkeypatch):
    monkeypatch.setitem(app.config, "FRESHNESS_GRACE", "soon")
    reply = api.call("freshness_report")
    assert reply.status == 409 and "FRESHNESS_GRACE" in reply.error
