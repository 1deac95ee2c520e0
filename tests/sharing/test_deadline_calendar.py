"""Share request deadlines against a calendar worked by hand: 10 working days (国发〔2016〕51号), weekends and
configured holidays excluded, make-up working days (调休) included; overdue only from the day after the deadline.

The calendar is National Day 2026 as this test configures it: holidays Thu 2026-10-01 .. Wed 2026-10-07,
make-up working days Sun 2026-09-20 and Sat 2026-10-10.

         September 2026                 October 2026
    Mo Tu We Th Fr Sa Su          Mo Tu We Th Fr Sa Su
    14 15 16 17 18 19 [20]                  (1)(2)(3)(4)
    21 22 23 24 25 26 27           (5)(6)(7) 8  9 [10] 11
    28 29 30                       12 13 14 15 16  17 18
                                   19 20 21 22 23  24 25
    (n) holiday, [n] make-up working day
"""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from catalog.sharing.models import ShareRequest
from catalog.sharing.service import _deadline, is_overdue
from catalog.sharing.workdays import add_working_days, is_working_day, parse_holidays

D = dt.date.fromisoformat
HOLIDAYS = "2026-10-01,2026-10-02,2026-10-03,2026-10-04,2026-10-05,2026-10-06,2026-10-07"
WORKDAYS = "2026-09-20,2026-10-10"


def national_day(start: str, days: int = 10, *, holidays: str = HOLIDAYS, workdays: str = WORKDAYS) -> dt.date:
    return add_working_days(D(start), days, parse_holidays(holidays), parse_holidays(workdays))


@pytest.mark.parametrize("filed, deadline", [
    # Mon 09-28: 29, 30 | holidays | 8, 9, 10 (make-up), 12, 13, 14, 15, 16
    ("2026-09-28", "2026-10-16"),
    # Fri 09-18: 20 (make-up Sunday), 21, 22, 23, 24, 25, 28, 29, 30 | holidays | Oct 8
    ("2026-09-18", "2026-10-08"),
    # Sat 10-03, inside the holiday: 8, 9, 10, 12, 13, 14, 15, 16, 19, 20
    ("2026-10-03", "2026-10-20"),
    # on the make-up Saturday 10-10 itself (the filing day never counts): 12 .. 16, 19 .. 23
    ("2026-10-10", "2026-10-23"),
    # Wed 09-30, the last day before the holiday: 8, 9, 10, 12, 13, 14, 15, 16, 19, 20
    ("2026-09-30", "2026-10-20"),
])
def test_ten_working_days_around_national_day(filed, deadline):
    assert national_day(filed) == D(deadline)


def test_without_the_holidays_the_same_request_would_be_due_four_days_earlier():
    assert national_day("2026-09-28", holidays="", workdays="") == D("2026-10-12")
    # holidays but no make-up Saturday: one working day fewer in the window, so one later
    assert national_day("2026-09-28", workdays="") == D("2026-10-19")


def test_shaanxi_five_day_variant_ends_on_the_make_up_saturday():
    # Mon 09-28: 29, 30 | holidays | 8, 9, 10
    assert national_day("2026-09-28", 5) == D("2026-10-10")


def test_zero_days_is_the_filing_day_and_one_day_skips_the_holiday():
    assert national_day("2026-09-30", 0) == D("2026-09-30")
    assert national_day("2026-09-30", 1) == D("2026-10-08")


@pytest.mark.parametrize("day, working", [
    ("2026-09-30", True), ("2026-10-01", False), ("2026-10-07", False), ("2026-10-08", True),
    ("2026-10-10", True), ("2026-10-11", False), ("2026-09-20", True), ("2026-09-19", False),
    ("2026-10-09", True), ("2026-10-12", True),
])
def test_which_days_are_working_days(day, working):
    assert is_working_day(D(day), parse_holidays(HOLIDAYS), parse_holidays(WORKDAYS)) is working


def test_a_weekday_is_a_working_day_and_a_weekend_is_not_without_configuration():
    assert is_working_day(D("2026-10-02")) is True      # Friday
    assert is_working_day(D("2026-10-03")) is False     # Saturday
    assert is_working_day(D("2026-10-04")) is False     # Sunday


@pytest.mark.parametrize("raw", [" 2026-10-01 , 2026-10-02,,", ["2026-10-01", " 2026-10-02 ", ""],
                                 ("2026-10-02", "2026-10-01")])
def test_holidays_are_read_from_a_comma_separated_setting_or_a_list(raw):
    assert parse_holidays(raw) == frozenset({D("2026-10-01"), D("2026-10-02")})


@pytest.mark.parametrize("raw", [None, "", [], ","])
def test_no_holidays(raw):
    assert parse_holidays(raw) == frozenset()


# --- overdue: not on the deadline day, from the day after ----------------------------------------


def _request(deadline: str, status: str = "pending") -> ShareRequest:
    return ShareRequest(status=status, deadline=D(deadline))


def test_not_overdue_on_the_deadline_day_overdue_the_day_after():
    request = _request("2026-10-16")
    assert is_overdue(request, today=D("2026-10-15")) is False
    assert is_overdue(request, today=D("2026-10-16")) is False
    assert is_overdue(request, today=D("2026-10-17")) is True


def test_without_a_date_overdue_is_judged_on_todays_utc_date():
    today = dt.datetime.now(dt.timezone.utc).date()
    assert is_overdue(_request(today.isoformat())) is False
    assert is_overdue(_request((today - dt.timedelta(days=1)).isoformat())) is True


def test_the_deadline_reads_days_holidays_and_make_up_days_from_the_configuration():
    # the one place the settings are read (share_request_create passes the app's configuration)
    assert _deadline(D("2026-09-28"), {}) == D("2026-10-12")                          # 10 days by default
    assert _deadline(D("2026-09-28"), {"HOLIDAYS": HOLIDAYS, "WORKDAYS": WORKDAYS}) == D("2026-10-16")
    assert _deadline(D("2026-09-28"), {"HOLIDAYS": HOLIDAYS, "WORKDAYS": WORKDAYS,
                                       "SHARE_DEADLINE_DAYS": "5"}) == D("2026-10-10")


@pytest.mark.parametrize("status", ["approved", "rejected", "revoked"])
def test_an_answered_request_is_never_overdue(status):
    assert is_overdue(_request("2026-10-16", status), today=D("2026-12-31")) is False


# --- through the API: the configured calendar and the boundary day -------------------------------


def independent_deadline(start: dt.date, days: int, holidays: set[dt.date], workdays: set[dt.date]) -> dt.date:
    """Walk the calendar one day at a time, as a person counting on a wall calendar would."""
    day, counted = start, 0
    while counted < days:
        day += dt.timedelta(days=1)
        weekend = day.isoweekday() in (6, 7)
        if day in workdays or (not weekend and day not in holidays):
            counted += 1
    return day


@pytest.fixture
def parties(api, make, sysadmin):
    provider_admin, consumer_editor = make.user("gaj-admin"), make.user("mzj-editor")
    outsider_admin = make.user("jyj-admin")
    provider = make.department("ningshan-gaj", members={"admin": provider_admin})
    consumer = make.department("ningshan-mzj", members={"editor": consumer_editor})
    make.department("ningshan-jyj", members={"admin": outsider_admin})
    dataset = make.dataset(provider["id"], name="households", share_type="conditional")
    return {"provider_admin": provider_admin, "consumer": consumer_editor, "outsider": outsider_admin,
            "dataset": dataset, "sysadmin": sysadmin}


def _file(api, parties) -> dict:
    made = api.call("share_request_create", {"package_id": parties["dataset"]["id"],
                                             "organization_id": "ningshan-mzj", "purpose": "核实低保对象", "basis": "《社会救助暂行办法》第十一条", "scenario": "低保对象资格核查"},
                    token=parties["consumer"].token)
    assert made.status == 200, made.body
    return made.result


def test_configured_holidays_and_make_up_days_move_the_deadline(api, app, parties, monkeypatch):
    today = dt.datetime.now(dt.timezone.utc).date()
    # the next three weeks are all holidays, except one make-up working day on the first Saturday
    holidays = {today + dt.timedelta(days=n) for n in range(1, 22)}
    saturday = next(d for d in sorted(holidays) if d.isoweekday() == 6)
    monkeypatch.setitem(app.config, "HOLIDAYS", ",".join(d.isoformat() for d in sorted(holidays)))
    monkeypatch.setitem(app.config, "WORKDAYS", saturday.isoformat())
    request = _file(api, parties)
    expected = independent_deadline(today, 10, holidays, {saturday})
    assert request["deadline"] == expected.isoformat()
    # 9 working days after the holidays and the make-up day, so at least 3 weeks + 9 weekdays away
    assert D(request["deadline"]) > today + dt.timedelta(days=21)


def test_the_number_of_days_comes_from_the_configuration(api, app, parties, monkeypatch):
    monkeypatch.setitem(app.config, "SHARE_DEADLINE_DAYS", 5)
    today = dt.datetime.now(dt.timezone.utc).date()
    assert _file(api, parties)["deadline"] == independent_deadline(today, 5, set(), set()).isoformat()


def _set_deadline(db, request_id: str, deadline: dt.date) -> None:
    db.execute(sa.update(ShareRequest).where(ShareRequest.id == request_id).values(deadline=deadline))
    db.commit()


def test_overdue_boundary_through_show_and_list(api, db, parties):
    request = _file(api, parties)
    today = dt.datetime.now(dt.timezone.utc).date()
    token = parties["provider_admin"].token

    def state():
        shown = api.call("share_request_show", {"id": request["id"]}, token=token).result
        late = [r["id"] for r in api.call("share_request_list", {"overdue": True}, token=token).result]
        on_time = [r["id"] for r in api.call("share_request_list", {"overdue": False}, token=token).result]
        return shown["overdue"], shown["escalated_to"], request["id"] in late, request["id"] in on_time

    _set_deadline(db, request["id"], today)
    assert state() == (False, None, False, True)         # the deadline day itself: still on time
    _set_deadline(db, request["id"], today - dt.timedelta(days=1))
    assert state() == (True, "sysadmin", True, False)    # the day after: overdue, escalated
    _set_deadline(db, request["id"], today + dt.timedelta(days=1))
    assert state() == (False, None, False, True)


def test_an_answered_request_past_its_deadline_is_not_listed_as_overdue(api, db, parties):
    request = _file(api, parties)
    _set_deadline(db, request["id"], dt.date(2026, 1, 5))
    token = parties["provider_admin"].token
    rejected = api.call("share_request_reject", {"id": request["id"], "reason": "用途与共享条件不符"}, token=token)
    assert rejected.status == 200 and rejected.result["overdue"] is False
    assert api.call("share_request_list", {"overdue": True}, token=token).result == []
    assert [r["id"] for r in api.call("share_request_list", {"overdue": False}, token=token).result] == [request["id"]]
