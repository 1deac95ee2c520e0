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


def test_a_draft_submitted_before_national_day_shows_when_it_was_submitted_and_is_due_after_the_holiday(
        api, app, db, people, draft, monkeypatch):
    """Civil affairs' admin submits the draft on Wednesday 30 September 2026 at 10:00 in Ningshan (02:00 UTC).
    1 to 8 October are holidays, so the authority's two working days are Friday 9 and Monday 12 October.
    The authority's queue shows the moment of submission, the day due, nothing to fix yet, and on
    Tuesday 13 October the review is overdue."""
    monkeypatch.setitem(app.config, "HOLIDAYS", NATIONAL_DAY)
    submitted_at = dt.datetime(2026, 9, 30, 2, 0, tzinfo=dt.timezone.utc)
    monkeypatch.setattr("catalog.review.policy.utcnow", lambda: submitted_at)
    monkeypatch.setattr("catalog.review.service.utcnow", lambda: submitted_at)
    reply = api.call("package_submit", {"id": draft["id"]}, token=people["mz-admin"].token)
    assert reply.status == 200, reply.body
    db.expire_all()
    [queued] = api.call("package_review_list", {"package_id": draft["id"]}, token=people["sj-editor"].token).result
    assert (queued["submitted_at"], queued["due"], queued["overdue"]) == ("2026-09-30T02:00:00.000000",
                                                                          "2026-10-12", False)
    assert (queued["reason"], queued["field_reasons"], queued["reviewer_id"]) == (None, {}, None)
    on_the_due_day = dt.datetime(2026, 10, 12, 15, 59, tzinfo=dt.timezone.utc)   # 23:59 in Ningshan
    monkeypatch.setattr("catalog.review.service.utcnow", lambda: on_the_due_day)
    assert api.call("package_review_list", {"overdue": True}, token=people["sj-editor"].token).result == []
    the_day_after = dt.datetime(2026, 10, 13, 1, 0, tzinfo=dt.timezone.utc)
    monkeypatch.setattr("catalog.review.service.utcnow", lambda: the_day_after)
    late = api.call("package_review_list", {"overdue": True}, token=people["sj-editor"].token).result
    assert [(r["id"], r["overdue"]) for r in late] == [(reply.result["id"], True)]
