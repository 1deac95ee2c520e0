"""The rules of the quarterly ranking (county report; 政务数据共享条例 art. 38): quarters, the petition
deadlines of the 信访工作条例 (2022), satisfaction grades, scores and ranks. No database here.

Which cases a criterion counts: those **due in the quarter** (their deadline falls in it). A case
settled on or before its deadline is ``in_time``; one settled after it, or still open when the
deadline has passed (on the report's ``as_of`` day), is ``late``; one whose deadline is still ahead,
or whose clock is stopped (a share request returned for 补正), is ``pending`` and counts in no rate.
Rate = in time / (in time + late).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Iterable

#: the criteria in the order of the report, and what each counts
CRITERIA = ("share_requests", "objections", "freshness", "petitions", "service_cases", "satisfaction")
#: criteria that apply to towns (the others are a department's own work)
TOWN_CRITERIA = ("petitions", "satisfaction")
OUTCOMES = ("in_time", "late", "pending")

#: 信访工作条例 (2022) art. 32: a petition is settled within 60 days of its acceptance; an extension
#: may add at most 30 days. The regulation says 日 (days), not 工作日: calendar days.
PETITION_DAYS = 60
PETITION_EXTENSION_DAYS = 30

#: the three grades of the ranking; the service platform's five grades (好差评) fold onto them
GRADES = ("satisfied", "basically_satisfied", "dissatisfied")
GRADE_OF = {"very_satisfied": "satisfied", "satisfied": "satisfied", "basically_satisfied": "basically_satisfied",
            "dissatisfied": "dissatisfied", "very_dissatisfied": "dissatisfied"}

_QUARTER = re.compile(r"^(\d{4})[Qq]([1-4])$")


@dataclass(frozen=True)
class Quarter:
    """A calendar quarter, written ``2026Q4``."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: Any) -> "Quarter":
        """``2026Q4`` → Quarter(2026, 4); ``ValueError`` naming the expected form otherwise."""
        match = _QUARTER.match(str(text or "").strip())
        if not match or not 2000 <= int(match.group(1)) <= 2100:
            raise ValueError(f"{text!r} is not a quarter: write it as 2026Q4 (year, Q, 1 to 4)")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> dt.date:
        following = dt.date(self.year + (self.number == 4), 1 if self.number == 4 else 3 * self.number + 1, 1)
        return following - dt.timedelta(days=1)

    def __contains__(self, day: dt.date | None) -> bool:
        return day is not None and self.first_day <= day <= self.last_day

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"


def parse_weights(text: str, names: Iterable[str], setting: str) -> dict[str, float]:
    """``a=20,b=10`` as ``{"a": 20.0, "b": 10.0}``; every name must be given, none other; ``ValueError``
    naming the setting otherwise."""
    names = tuple(names)
    weights: dict[str, float] = {}
    for item in str(text or "").split(","):
        if not item.strip():
            continue
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in names:
            raise ValueError(f"{setting}: unknown name {name!r}; must be among: {', '.join(names)}")
        try:
            weights[name] = float(value)
        except ValueError:
            raise ValueError(f"{setting}: {name} must be a number, not {value.strip()!r}") from None
        if weights[name] < 0:
            raise ValueError(f"{setting}: {name} must not be negative")
    missing = [n for n in names if n not in weights]
    if missing:
        raise ValueError(f"{setting}: missing {', '.join(missing)}")
    return weights


def outcome(deadline: dt.date | None, done: dt.date | None, as_of: dt.date, *, stopped: bool = False) -> str:
    """``in_time``, ``late`` or ``pending`` of a case due on ``deadline`` and settled on ``done`` (None: not
    yet). A settlement after ``as_of`` is not known on that day."""
    if done is not None and done <= as_of:
        return "in_time" if deadline is None or done <= deadline else "late"
    if stopped or deadline is None or deadline >= as_of:
        return "pending"
    return "late"


def petition_deadline(accepted_on: dt.date, extended_deadline: dt.date | None = None) -> dt.date:
    """The day a petition must be settled by: 60 days after acceptance; an extension moves it to
    ``extended_deadline``, never beyond 30 more days (信访工作条例 art. 32)."""
    deadline = accepted_on + dt.timedelta(days=PETITION_DAYS)
    if extended_deadline is not None and extended_deadline > deadline:
        deadline = min(extended_deadline, deadline + dt.timedelta(days=PETITION_EXTENSION_DAYS))
    return deadline


def rate(tally: dict[str, int]) -> float | None:
    """In time / (in time + late); None when nothing was due."""
    due = tally.get("in_time", 0) + tally.get("late", 0)
    return tally.get("in_time", 0) / due if due else None


def satisfaction_score(grades: dict[str, int], weights: dict[str, float]) -> float | None:
    """The mean score (0–100 with the default weights) of the rated cases; None when none was rated."""
    total = sum(grades.get(g, 0) for g in GRADES)
    if not total:
        return None
    return sum(grades.get(g, 0) * weights[g] for g in GRADES) / total


def overall(figures: dict[str, float | None], weights: dict[str, float]) -> float | None:
    """The weighted mean of the criteria a unit has figures for (each 0–1), on 0–100; None without any.
    A criterion without cases leaves the unit's other weights to decide, not a zero."""
    known = [(weights[c], value) for c, value in figures.items() if value is not None and weights.get(c)]
    total = sum(w for w, _ in known)
    return None if not total else round(100 * sum(w * v for w, v in known) / total, 2)


def assign_ranks(rows: list[dict[str, Any]], key: str = "score") -> list[dict[str, Any]]:
    """Sort best first and give ranks; equal scores share a rank (1, 2, 2, 4); rows without a score last,
    unranked. Ties are listed by name."""
    rows.sort(key=lambda r: (r[key] is None, -(r[key] or 0), r["name"]))
    previous, rank = None, 0
    for position, row in enumerate(rows, start=1):
        if row[key] is None:
            row["rank"] = None
            continue
        if row[key] != previous:
            rank, previous = position, row[key]
        row["rank"] = rank
    return rows


_TOWN = re.compile(r"^(.+?(?:镇|乡|街道))")


def town_of(place: Any) -> str | None:
    """The town (镇 / 乡 / 街道) a place names: ``宁陕县城关镇东河村`` → ``城关镇``; None when it names none."""
    text = str(place or "").strip()
    if "县" in text[:8]:
        text = text[text.index("县") + 1:]
    match = _TOWN.match(text)
    return match.group(1) if match else None
