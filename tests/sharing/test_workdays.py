"""The share request clock: 10 working days, weekends and holidays excluded."""
import datetime as dt

from catalog.sharing.workdays import add_working_days, parse_holidays

D = dt.date.fromisoformat


def test_ten_working_days_from_a_saturday_end_on_the_second_friday():
    assert add_working_days(D("2026-11-28"), 10) == D("2026-12-11")


def test_ten_working_days_from_a_monday_skip_two_weekends():
    assert add_working_days(D("2026-11-30"), 10) == D("2026-12-14")


def test_holidays_push_the_deadline_and_make_up_workdays_pull_it():
    holidays = parse_holidays("2026-12-01, 2026-12-02")
    assert add_working_days(D("2026-11-28"), 10, holidays) == D("2026-12-15")
    weekend_workday = parse_holidays(["2026-12-05"])
    assert add_working_days(D("2026-11-28"), 10, holidays, weekend_workday) == D("2026-12-14")
