"""The review is due within 2 working days of submission (decree 809 art. 16), worked by hand over the 2026
National Day holiday; a review past its day is listed as overdue to both sides."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from catalog.review.models import DatasetReview
from catalog.review.policy import review_due

NATIONAL_DAY = ",".join(f"2026-10-0{d}" for d in range(1, 9))  # Thu 1 October to Thu 8 October


@pytest.mark.parametrize("submitted, holidays, workdays, due", [
    # Wednesday 30 September: Thursday 1 to Thursday 8 are holidays, so Friday 9 (1) and Monday 12 (2)
    ("2026-09-30", NATIONAL_DAY, "", "2026-10-12"),
    # the same, with Saturday 10 October made a working day (调休): Friday 9 (1), Saturday 10 (2)
    ("2026-09-30", NATIONAL_DAY, "2026-10-10", "2026-10-10"),
    # Friday 4 December: the weekend does not count, Monday 7 (1), Tuesday 8 (2)
    ("2026-12-04", "", "", "2026-12-08"),
    # submitted on a Sunday (the day itself never counts): Monday 7 (1), Tuesday 8 (2)
    ("2026-12-06", "", "", "2026-12-08"),
])
def test_the_review_is_due_two_working_days_after_submission(submitted, holidays, workdays, due):
    config = {"CATALOG_REVIEW_DAYS": 2, "HOLIDAYS": holidays, "WORKDAYS": workdays}
    assert review_due(dt.date.fromisoformat(submitted), config) == dt.date.fromisoformat(due)


def test_the_review_period_is_a_setting():
    """A county that gives its data authority five working days: submitted Friday 4 December 2026, due
    Friday 11 (Monday 7 to Friday 11)."""
    config = {"CATALOG_REVIEW_DAYS": 5, "HOLIDAYS": "", "WORKDAYS": ""}
    assert review_due(dt.date(2026, 12, 4), config) == dt.date(2026, 12, 11)


def test_a_late_review_is_listed_as_overdue_to_both_sides_and_hidden_from_others(api, db, people, submitted):
    today = dt.datetime.now(dt.timezone.utc).date()
    shown = api.call("package_review_list", {"package_id": submitted["package_id"]},
                     token=people["mz-member"].token).result
    assert shown[0]["due"] == submitted["due"] and shown[0]["overdue"] is False
    assert dt.date.fromisoformat(submitted["due"]) > today
    db.execute(sa.update(DatasetReview).where(DatasetReview.id == submitted["id"])
               .values(due=today - dt.timedelta(days=1)))
    db.commit()
    for who in ("sj-admin", "sj-editor", "sysadmin", "mz-member", "mz-admin"):
        late = api.call("package_review_list", {"overdue": True}, token=people[who].token).result
        assert [(r["id"], r["overdue"]) for r in late] == [(submitted["id"], True)], who
        assert api.call("package_review_list", {"overdue": False}, token=people[who].token).result == [], who
    for who in ("wj-admin", "wj-editor", "sj-member"):
        assert api.call("package_review_list", {"overdue": True}, token=people[who].token).result == [], who
    assert api.call("package_review_list", {"overdue": True}).result == []
    # once decided, it is no longer overdue
    api.call("package_review", {"id": submitted["package_id"], "decision": "approve"}, token=people["sj-admin"].token)
    assert api.call("package_review_list", {"overdue": True}, token=people["sj-admin"].token).result == []


def test_a_review_due_today_is_not_overdue(api, db, people, submitted):
    today = dt.datetime.now(dt.timezone.utc).date()
    db.execute(sa.update(DatasetReview).where(DatasetReview.id == submitted["id"]).values(due=today))
    db.commit()
    assert api.call("package_review_list", {"overdue": True}, token=people["sj-admin"].token).result == []


def test_bad_list_filters_are_named(api, people):
    bad = api.call("package_review_list", {"status": "pending"}, token=people["sj-admin"].token)
    assert bad.status == 409 and "status" in bad.error
    bad = api.call("package_review_list", {"overdue": "maybe"}, token=people["sj-admin"].token)
    assert bad.status == 409 and "overdue" in bad.error


def test_the_queue_is_filtered_by_department_id_or_name(api, people, submitted):
    authority = people["sj-admin"].token
    for key in (people["departments"]["mz"]["id"], "ningshan-mzj"):
        assert [r["id"] for r in api.call("package_review_list", {"organization_id": key}, token=authority).result] \
            == [submitted["id"]]
    assert api.call("package_review_list", {"organization_id": "ningshan-wjj"}, token=authority).result == []
