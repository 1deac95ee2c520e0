"""The ranking's rules on their own: quarters, the petition deadline of the 信访工作条例, outcomes, ranks."""
from __future__ import annotations

import datetime as dt

import pytest

from catalog.reports import rules
from catalog.reports.rules import Quarter

D = dt.date.fromisoformat


@pytest.mark.parametrize("text, first, last", [
    ("2026Q1", "2026-01-01", "2026-03-31"), ("2024q1", "2024-01-01", "2024-03-31"),
    ("2026Q2", "2026-04-01", "2026-06-30"), ("2026Q3", "2026-07-01", "2026-09-30"),
    ("2026Q4", "2026-10-01", "2026-12-31")])
def test_a_quarter_runs_from_its_first_to_its_last_day(text, first, last):
    quarter = Quarter.parse(text)
    assert (quarter.first_day, quarter.last_day) == (D(first), D(last))
    assert D(first) in quarter and D(last) in quarter and D(last) + dt.timedelta(days=1) not in quarter


@pytest.mark.parametrize("text", ["2026-Q4", "2026Q5", "2026Q0", "Q4", "", None, "1999Q1"])
def test_other_texts_are_not_quarters(text):
    with pytest.raises(ValueError, match="2026Q4"):
        Quarter.parse(text)


@pytest.mark.parametrize("accepted, extended, deadline", [
    ("2026-08-10", None, "2026-10-09"),          # 21 days of August, 30 of September, 9 of October
    ("2026-12-15", None, "2027-02-13"),          # over the year's end: 16 + 31 + 13
    ("2024-01-01", None, "2024-03-01"),          # a leap February: 30 + 29 + 1
    ("2026-09-01", "2026-11-20", "2026-11-20"),  # extended within the 30 days
    ("2026-09-01", "2026-12-31", "2026-11-30"),  # an extension beyond 30 days counts as 30
    ("2026-09-01", "2026-10-15", "2026-10-31"),  # an "extension" before the 60 days shortens nothing
])
def test_a_petition_is_due_60_calendar_days_after_acceptance_plus_at_most_30(accepted, extended, deadline):
    assert rules.petition_deadline(D(accepted), D(extended) if extended else None) == D(deadline)


@pytest.mark.parametrize("deadline, done, as_of, stopped, expected", [
    ("2026-11-10", "2026-11-10", "2027-01-10", False, "in_time"),   # on the day is in time
    ("2026-11-10", "2026-11-11", "2027-01-10", False, "late"),
    ("2026-11-10", None, "2026-11-11", False, "late"),              # open after its deadline
    ("2026-11-10", None, "2026-11-10", False, "pending"),           # its last day is not over
    ("2026-11-10", None, "2027-01-10", True, "pending"),            # 补正: the clock stands still
    ("2026-11-10", "2026-11-12", "2026-11-11", False, "late"),      # settled after the day judged: still open
])
def test_outcomes(deadline, done, as_of, stopped, expected):
    assert rules.outcome(D(deadline), D(done) if done else None, D(as_of), stopped=stopped) == expected


def test_equal_scores_share_a_rank_and_units_without_cases_come_last_unranked():
    rows = [{"name": "d", "score": None}, {"name": "c", "score": 80.0}, {"name": "b", "score": 90.0},
            {"name": "a", "score": 80.0}, {"name": "e", "score": 10.0}]
    ranked = rules.assign_ranks(rows)
    assert [(r["name"], r["rank"]) for r in ranked] == [("b", 1), ("a", 2), ("c", 2), ("e", 4), ("d", None)]


def test_the_score_weighs_only_the_criteria_with_cases():
    weights = {"petitions": 20, "satisfaction": 30, "objections": 10}
    assert rules.overall({"petitions": 0.5, "satisfaction": 1.0, "objections": None}, weights) == 80.0
    assert rules.overall({"petitions": None, "satisfaction": None, "objections": None}, weights) is None


@pytest.mark.parametrize("text, message", [
    ("a=1,b=x", "b must be a number"), ("a=1", "missing b"), ("a=1,b=2,c=3", "unknown name 'c'"),
    ("a=1,b=-2", "b must not be negative")])
def test_weight_settings_are_checked_naming_the_setting(text, message):
    with pytest.raises(ValueError, match=f"REPORT_WEIGHTS: {message}"):
        rules.parse_weights(text, ("a", "b"), "REPORT_WEIGHTS")


@pytest.mark.parametrize("place, town", [("宁陕县城关镇东河村", "城关镇"), ("江口回族镇沙坪村", "江口回族镇"),
                                         ("宁陕县太山庙镇", "太山庙镇"), ("宁陕县", None), ("", None)])
def test_the_town_a_place_names(place, town):
    assert rules.town_of(place) == town
