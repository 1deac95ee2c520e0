"""Petitions answered in time, per responsible unit, computed from a petition dataset's records."""
from __future__ import annotations

import datetime as dt

import pytest

from catalog.datasets.models import Dataset
from catalog.freshness.petitions import petition_timeliness

TODAY = dt.date(2026, 6, 30)
CIVIL, TOWN = "宁陕县民政局", "宁陕县城关镇人民政府"


def petition(number: str, unit: str, status: str, deadline: str, *, completed_on: str | None = None,
             extended: str | None = None) -> dict:
    record = {"petition_number": f"XF2026{number}", "channel": "hotline", "petitioner": {"name": "王建国"},
              "content": "反映村道路面损毁，请求修复。", "responsible_unit": unit, "accepted_on": "2026-01-05",
              "deadline": deadline, "status": status}
    if status in ("replied", "completed"):
        record["reply"] = "已安排修复。"
    if completed_on:
        record["completed_on"] = completed_on
    if extended:
        record["extended_deadline"] = extended
    return record


PETITIONS = [
    petition("000001", CIVIL, "completed", "2026-03-10", completed_on="2026-03-01"),  # in time
    petition("000002", CIVIL, "completed", "2026-03-10", completed_on="2026-03-20"),  # late
    petition("000003", CIVIL, "completed", "2026-03-10", completed_on="2026-03-20", extended="2026-04-09"),  # in time
    petition("000004", CIVIL, "processing", "2026-06-01"),  # open, overdue
    petition("000005", CIVIL, "accepted", "2026-08-01"),  # open, not yet due
    petition("000006", TOWN, "replied", "2026-05-10", completed_on="2026-05-01"),  # in time
    petition("000007", TOWN, "replied", "2026-07-10"),  # replied without a date: open
    petition("000008", TOWN, "not_accepted", "2026-03-10"),
]


@pytest.fixture
def petitions(make, sysadmin, api):
    """A public, conditionally shared petition dataset of the 信访局 with PETITIONS in its DataStore."""
    bureau = make.department("xfj", title="宁陕县信访局")
    dataset = make.dataset(bureau["id"], record_schema="petition@1", update_cycle="daily")
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"], "name": "信访件"},
                                            "records": PETITIONS}, token=sysadmin.token)
    assert created.status == 200, created.body
    return {**dataset, "resource_id": created.result["resource_id"]}


def test_answered_in_time_per_responsible_unit(petitions, db):
    result = petition_timeliness(db, db.get(Dataset, petitions["id"]), TODAY)
    town, civil = result["units"]  # best first
    assert civil == {"responsible_unit": CIVIL, "total": 5, "answered": 3, "answered_in_time": 2, "answered_late": 1,
                     "open": 2, "open_overdue": 1, "not_accepted": 0, "share_in_time": 0.5}
    assert town == {"responsible_unit": TOWN, "total": 3, "answered": 1, "answered_in_time": 1, "answered_late": 0,
                    "open": 1, "open_overdue": 0, "not_accepted": 1, "share_in_time": 1.0}
    assert result["total"] == {"total": 8, "answered": 4, "answered_in_time": 3, "answered_late": 1, "open": 3,
                               "open_overdue": 1, "not_accepted": 1, "share_in_time": 0.6}
    assert result["as_of"] == "2026-06-30" and result["resource_ids"] == [petitions["resource_id"]]


def test_later_days_turn_open_petitions_overdue_and_deleted_ones_leave(petitions, db, api, sysadmin):
    later = petition_timeliness(db, db.get(Dataset, petitions["id"]), dt.date(2026, 9, 1))
    assert {u["responsible_unit"]: u["open_overdue"] for u in later["units"]} == {CIVIL: 2, TOWN: 1}
    deleted = api.call("datastore_delete", {"resource_id": petitions["resource_id"],
                                            "filters": {"petition_number": "XF2026000004"}}, token=sysadmin.token)
    assert deleted.status == 200, deleted.body
    civil = next(u for u in petition_timeliness(db, db.get(Dataset, petitions["id"]), TODAY)["units"]
                 if u["responsible_unit"] == CIVIL)
    assert (civil["total"], civil["open_overdue"], civil["share_in_time"]) == (4, 0, pytest.approx(2 / 3))


def test_aggregates_are_shown_to_any_reader_of_the_dataset_without_revealing_records(petitions, api, make):
    outsider = make.user("outsider")  # no department: may not read the records at all
    records = api.call("datastore_search", {"resource_id": petitions["resource_id"]}, token=outsider.token)
    assert records.status == 403
    reply = api.call("petition_timeliness_show", {"id": petitions["name"]}, token=outsider.token)
    assert reply.status == 200, reply.body
    assert reply.result["total"]["total"] == 8
    text = str(reply.body)
    assert "王建国" not in text and "XF2026" not in text and "修复" not in text
    shown = api.call("freshness_show", {"id": petitions["id"]}, method="GET").result
    assert shown["petition_timeliness"]["total"]["answered_in_time"] == 3
    assert shown["last_change_source"] == "records" and shown["status"] == "fresh"


def test_petition_timeliness_of_other_datasets_is_refused_with_the_field(petitions, api, make, sysadmin):
    other = make.dataset(make.department("mzj")["id"])
    reply = api.call("petition_timeliness_show", {"id": other["id"]})
    assert reply.status == 409 and "petition" in reply.error["id"][0]
    private = make.dataset(make.department("gaj")["id"], record_schema="petition@1", private=True)
    assert api.call("petition_timeliness_show", {"id": private["id"]}).status == 404  # as if missing
    assert api.call("petition_timeliness_show", {"id": "nothing-here"}).status == 404
