"""The freshness clock: each update cycle, calendar months clamped to the month's end, grace, irregular."""
from __future__ import annotations

import datetime as dt

import pytest

from catalog.freshness import clock

UTC = dt.timezone.utc


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("cycle, last, due", [
    ("realtime", at(2026, 3, 1, 8, 30), at(2026, 3, 1, 9, 30)),
    ("daily", at(2026, 3, 1, 8), at(2026, 3, 2, 8)),
    ("weekly", at(2026, 3, 1, 8), at(2026, 3, 8, 8)),
    ("monthly", at(2026, 3, 15, 8), at(2026, 4, 15, 8)),
    ("quarterly", at(2026, 1, 15), at(2026, 4, 15)),
    ("semiannual", at(2026, 1, 15), at(2026, 7, 15)),
    ("yearly", at(2026, 1, 15), at(2027, 1, 15)),
])
def test_each_cycle_is_due_one_period_after_the_last_change(cycle, last, due):
    assert clock.due_at(cycle, last) == due
    assert clock.read(cycle, last, due - dt.timedelta(seconds=1)).status == "fresh"
    assert clock.read(cycle, last, due).status == "overdue"  # no grace: overdue when due


@pytest.mark.parametrize("cycle, last, due", [
    ("monthly", at(2026, 1, 31), at(2026, 2, 28)),
    ("monthly", at(2028, 1, 31), at(2028, 2, 29)),  # leap year
    ("monthly", at(2026, 3, 31), at(2026, 4, 30)),
    ("monthly", at(2026, 12, 31, 23, 59), at(2027, 1, 31, 23, 59)),
    ("quarterly", at(2026, 11, 30), at(2027, 2, 28)),
    ("semiannual", at(2026, 8, 31), at(2027, 2, 28)),
    ("yearly", at(2028, 2, 29), at(2029, 2, 28)),
])
def test_calendar_months_clamp_to_the_end_of_the_month(cycle, last, due):
    assert clock.due_at(cycle, last) == due


@pytest.mark.parametrize("cycle", ["irregular", None, "", "fortnightly"])
def test_irregular_or_unknown_cycles_are_never_overdue(cycle):
    reading = clock.read(cycle, at(2000, 1, 1), at(2026, 1, 1), clock.parse_grace("0"))
    assert reading == clock.Reading("fresh", None, None)
    assert clock.read(cycle, None, at(2026, 1, 1)).status == "fresh"


def test_a_cycle_without_any_known_change_is_overdue():
    assert clock.read("daily", None, at(2026, 1, 1)).status == "overdue"


def test_a_duration_grace_makes_the_dataset_due_before_overdue():
    grace = clock.parse_grace("2d")
    last = at(2026, 1, 31, 12)
    assert clock.read("monthly", last, at(2026, 2, 28, 11), grace).status == "fresh"
    reading = clock.read("monthly", last, at(2026, 2, 28, 12), grace)
    assert reading == clock.Reading("due", at(2026, 2, 28, 12), at(2026, 3, 2, 12))
    assert clock.read("monthly", last, at(2026, 3, 2, 11, 59), grace).status == "due"
    assert clock.read("monthly", last, at(2026, 3, 2, 12), grace).status == "overdue"


def test_a_share_grace_scales_with_the_cycle():
    grace = clock.parse_grace("10%")
    assert clock.read("realtime", at(2026, 1, 1, 8), at(2026, 1, 1, 9, 5), grace).overdue_at == at(2026, 1, 1, 9, 6)
    assert clock.read("daily", at(2026, 1, 1), at(2026, 1, 2), grace).overdue_at == at(2026, 1, 2, 2, 24)
    # February is shorter: 10% of 28 days
    reading = clock.read("monthly", at(2026, 2, 1), at(2026, 3, 2), grace)
    assert reading.status == "due" and reading.overdue_at == at(2026, 3, 3, 19, 12)


@pytest.mark.parametrize("text, expected", [
    ("0", dt.timedelta(0)), ("90s", dt.timedelta(seconds=90)), ("30m", dt.timedelta(minutes=30)),
    ("6h", dt.timedelta(hours=6)), ("2d", dt.timedelta(days=2)), (" 1.5 d ", dt.timedelta(hours=36)),
    (3600, dt.timedelta(hours=1)), (None, dt.timedelta(0)), ("", dt.timedelta(0)),
])
def test_grace_durations(text, expected):
    assert clock.parse_grace(text) == clock.Grace(duration=expected)


@pytest.mark.parametrize("text", ["two days", "-1d", "5w", "10 %%", -5])
def test_a_bad_grace_setting_is_refused_with_the_rule(text):
    with pytest.raises(ValueError, match="FRESHNESS_GRACE"):
        clock.parse_grace(text)


def test_every_cycle_of_the_metadata_profile_is_known():
    from schemas.registry import load_schema

    profile = load_schema("metadata", "dataset", 1)
    cycles = set(profile["properties"]["update_cycle"]["enum"])
    assert cycles == set(clock.CYCLES) | {clock.IRREGULAR}
